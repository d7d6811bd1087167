"""Reading the registry: the documents ``show`` and ``history`` print (and the page
shows), gto's own view of an artifact, and what to suggest for a name that is not one."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from gtoguard.config import files as cfg
from gtoguard.config.problems import MAX_CONFIG_BYTES, ConfigInvalid
from gtoguard.errors import CannotRun, Refused, UsageError
from gtoguard.git.branches import Branch
from gtoguard.git.repo import Repo, open_repo
from gtoguard.git.tagrefs import tag_names, tags_of
from gtoguard.model import gtojson, gtoshow, history
from gtoguard.model.gtojson import version_rows
from gtoguard.model.gtoshow import artifact_view
from gtoguard.model.printable import printable
from gtoguard.model.state import Registry, TagEvent
from gtoguard.model.tagname import (
    TagNameError,
    is_valid_artifact,
    parse_tag,
)
from gtoguard.policy.settings import GTO_FILE, INDEX_FILE, GtoConfig
from gtoguard.registry import alltags, parallel
from gtoguard.registry.tagstate import CommitTimes, commit_times, registry_of


def registry_document(
    repo: Repo,
    branch: Branch,
    include_deprecated: bool = False,
    options: gtoshow.Options = gtoshow.DEFAULT_OPTIONS,
) -> dict[str, dict[str, Any]]:
    """The document of ``gto show --json`` (``-d``: ``include_deprecated``; the stage
    columns: what ``options`` choose). gto refuses a count below -1 once it fills a stage
    column (an artifact listed, a stage in use or configured), and so does this."""
    config = reader_gto_config(repo, branch)
    declared = declared_artifacts(repo)
    listing = alltags.list_tags(repo)
    parts = parallel.by_share(_summarize, listing, listing.size, repo.path, declared, options)
    rows = [s for part in parts for s in part]
    rows += gtoshow.declared_only(rows, declared)
    document = gtojson.registry_document(rows, config.stages, include_deprecated)
    problem = options.problem()
    if problem and any(entry["stage"] for entry in document.values()):
        raise _bad_count(problem)  # gto asks for the stages per artifact and stage column
    return document


def _summarize(
    listing: alltags.Listing,
    part: int,
    parts: int,
    path: str,
    declared: gtoshow.Declared,
    options: gtoshow.Options,
) -> list[gtoshow.Summary]:
    """One process's share of ``show``: its artifacts, one at a time."""
    repo = open_repo(path)
    rows = []
    times = CommitTimes(repo)  # only the dates a view asks for
    if options.problem():  # gto's refusal, once the rows are known: the default's columns
        options = gtoshow.DEFAULT_OPTIONS
    for tags in alltags.objects_by_artifact(repo, alltags.share(listing, part, parts)):
        rows += gtoshow.summarize(registry_of(tags), times, declared, options)
    return rows


def _bad_count(problem: str) -> Refused:
    return Refused(problem, "--av and --vs take -1 (all), 0 or more")


def declared_artifacts(repo: Repo) -> gtoshow.Declared:
    """What ``artifacts.yaml`` at HEAD declares, as gto 1.10.1 reads it (its legacy
    index: each top-level key an artifact). Absent, or not a mapping of names: nothing
    (gto itself fails on such a file; ``show`` says so on stderr)."""
    try:
        head = repo.resolve("HEAD")[0]
    except UsageError:
        return gtoshow.Declared()  # an empty repository
    data = repo.file_at(head, INDEX_FILE)
    if data is None:
        return gtoshow.Declared()
    try:
        loaded = cfg.index_document(data, f"HEAD:{INDEX_FILE}")
    except ConfigInvalid as exc:
        sys.stderr.write(
            f"gtoguard: warning: {printable(str(exc.problems[0]))}; gto fails on "
            "every registry command with it, gtoguard leaves the file out\n"
        )
        return gtoshow.Declared()
    return gtoshow.Declared(tuple(loaded), (head, repo.commit_time(head)))


def artifact_document(
    repo: Repo, name: str, include_deregistered: bool = False
) -> list[dict[str, Any]]:
    registry = _registry_of_one(repo, name)
    state = registry.artifacts.get(name)
    if state is None or not state.events:
        raise _no_such_artifact(repo, name)
    view = artifact_view(state, commit_times(repo, registry))
    return version_rows(view, include_deregistered)


def gto_artifact_document(
    repo: Repo,
    name: str,
    include_inactive: bool = False,
    options: gtoshow.Options = gtoshow.DEFAULT_OPTIONS,
) -> list[dict[str, Any]]:
    """The document ``gto show NAME --json`` prints (``-d``: ``include_inactive``)."""
    return gto_artifact_answer(repo, name, include_inactive, options)[0]


def gto_artifact_answer(
    repo: Repo,
    name: str,
    include_inactive: bool = False,
    options: gtoshow.Options = gtoshow.DEFAULT_OPTIONS,
) -> tuple[list[dict[str, Any]], bool]:
    """gto's document of artifact ``name``, and whether a tag names the artifact (gto's
    table marks one known only from ``artifacts.yaml`` as ``*name``). As gto, a name it
    cannot find is refused first (exit 1, gto's), then a count below -1."""
    if not is_valid_artifact(name):
        raise Refused(f"{name!r} is not an artifact name", _NAMES)
    registry = _registry_of_one(repo, name)
    state = registry.artifact(name)
    declared = declared_artifacts(repo)
    if not state.events and name not in declared.names:
        raise _no_such_artifact(repo, name)
    problem = options.problem()
    if problem:
        raise _bad_count(problem)
    view = artifact_view(state, commit_times(repo, registry), declared.at(name))
    commits = {}
    for version in view.versions:
        facts = repo.commit_facts(version.commit)
        if facts is not None:
            entry = _index_entry(repo, version.commit, name)
            commits[version.commit] = gtojson.CommitInfo(*facts, index=entry)
    document = gtojson.gto_versions_document(view, commits, include_inactive, options)
    return document, bool(state.events)


def history_document(repo: Repo, name: str | None) -> list[dict[str, Any]]:
    """The document ``gto history [NAME] --json`` prints: every registry event, newest
    first, from the replay ``show`` uses. gto sorts the whole registry before it keeps
    NAME's events, and a stable sort keeps the order of what it keeps: NAME's own tags
    give the same list."""
    if name is not None:
        registry = _registry_of_one(repo, name)
        state = registry.artifacts.get(name)
        if state is None or not state.events:
            return []
        return history.history_document([history.artifact_entries(artifact_view(state, {}))])
    listing = alltags.list_tags(repo)
    parts = parallel.by_share(_journal, listing, listing.size, repo.path)
    ordered = sorted((entry for part in parts for entry in part), key=lambda pair: pair[0])
    return history.history_document(entries for _, entries in ordered)


def _journal(
    listing: alltags.Listing, part: int, parts: int, path: str
) -> list[tuple[tuple[int, int, str], list[history.Entry]]]:
    """One process's share of ``history``: (where gto lists the artifact, its events)."""
    repo = open_repo(path)
    found = []
    for tags in alltags.objects_by_artifact(repo, alltags.share(listing, part, parts)):
        for state in registry_of(tags).artifacts.values():
            if state.events:  # the commit dates play no part in the journal
                entries = history.artifact_entries(artifact_view(state, {}))
                found.append((gtoshow.first_seen(state), entries))
    return found


_INDEX_FIELDS: tuple[tuple[str, Any], ...] = (
    ("type", None),
    ("path", None),
    ("virtual", True),
    ("labels", []),
    ("description", ""),
    ("custom", None),
)


def _index_entry(repo: Repo, commit: str, name: str) -> dict[str, Any] | None:
    """The artifact's entry in ``artifacts.yaml`` at ``commit``, with gto's defaults filled
    in (gto shows it as the version's "gto" enrichment); None if it declares none."""
    data = repo.file_at(commit, INDEX_FILE)
    if data is None:
        return None
    try:
        loaded = cfg.load_yaml(data, INDEX_FILE)
    except ConfigInvalid:
        return None
    if not isinstance(loaded, dict) or name not in loaded:
        return None
    entry = loaded[name] if isinstance(loaded[name], dict) else {}
    return {key: entry.get(key, default) for key, default in _INDEX_FIELDS}


def deprecation(repo: Repo, name: str) -> TagEvent | None:
    """The deprecation tag that makes gto hide artifact ``name`` (its latest event), or
    None while the artifact is active."""
    registry = _registry_of_one(repo, name)
    state = registry.artifacts.get(name)
    if state is None or not state.events:
        return None
    view = artifact_view(state, commit_times(repo, registry))
    if view.active or not view.deprecations:
        return None
    return max(view.deprecations, key=lambda e: (e.time, e.tag))


def similar_artifacts(repo: Repo, name: str) -> list[str]:
    """Artifacts with tags here whose names are close to ``name`` (a typo)."""
    import difflib

    known = set()
    for tag in tag_names(repo):
        try:
            known.add(parse_tag(tag).artifact)
        except TagNameError:
            continue
    known.discard(name)  # its tags are lightweight ones, which gto ignores
    return difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.75)


def _no_such_artifact(repo: Repo, name: str) -> Refused:
    close = similar_artifacts(repo, name)
    if close:
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?"
    elif tag_names(repo, {name}):
        hint = (
            "its tags here are lightweight, and gto ignores them; register it with an "
            f"annotated tag: gtoguard register {shlex.quote(name)}"
        )
    else:
        hint = "see the artifacts: gtoguard show"
    return Refused(f"no artifact named {name!r} has GTO tags here", hint)


_NAMES = (
    "artifact names are letters, digits and '_-/.', with an optional dir: prefix; see "
    "them: gtoguard show"
)


def _registry_of_one(repo: Repo, name: str) -> Registry:
    """The registry of the one artifact a user named to read; a name no artifact can have
    is refused (it could match other artifacts' tags, or none, by accident)."""
    if not is_valid_artifact(name):
        raise UsageError(f"{name!r} is not an artifact name", _NAMES)
    return registry_of(tags_of(repo, {name}, tag_names(repo, {name})), {name})


def reader_gto_config(repo: Repo, branch: Branch) -> GtoConfig:
    """The ``.gto`` gto's readers use: in a clone, the working tree's file, committed or
    not (gto reads it from disk); in a bare repository, the branch's. (The rules that
    judge new tags come from the branch: this only shapes what ``show`` prints.)"""
    if not repo.workdir:
        return cfg.parse_gto_config(repo.file_at(branch.commit, GTO_FILE), _where(branch))
    path = os.path.join(repo.workdir, GTO_FILE)
    try:
        with open(path, "rb") as handle:
            data: bytes | None = handle.read(MAX_CONFIG_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        data = None
    except OSError as exc:
        raise CannotRun(
            f"cannot read {path}: {exc.strerror}", "check the file's permissions"
        ) from None
    return cfg.parse_gto_config(data, f"{GTO_FILE} (working tree)")


def _where(branch: Branch) -> str:
    return f"{branch.label}:{GTO_FILE}" if branch.ref != "HEAD" else f"HEAD:{GTO_FILE}"
