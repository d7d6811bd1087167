"""The helper commands' work on a repository: plan tags and check them with the engine,
write and push them, read the registry, audit existing tags. Prints nothing (cli.py does).

A planned tag goes through ``check.evaluate`` exactly as a pushed one would, against the
same files (``.gto`` and the policies of the default branch) and the same registry state,
before anything is written. Tags are then written with ``git tag`` (identity and signing
as git does them) and removed again if any of a plan fails, so register+assign is all or
nothing.
"""

from __future__ import annotations

import bisect
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gtoguard.config import files as cfg
from gtoguard.config import timeline
from gtoguard.config.problems import MAX_CONFIG_BYTES, ConfigInvalid
from gtoguard.config.timeline import Era
from gtoguard.errors import CannotRun, UsageError
from gtoguard.git.branches import Branch, named_branch, remote_default_branch
from gtoguard.git.objects import object_info
from gtoguard.git.prefetch import Early
from gtoguard.git.remote import ask_remote_tag_names, push_tags, remote_tag_names
from gtoguard.git.repo import Repo, open_repo
from gtoguard.git.tagrefs import tag_names, tags_of
from gtoguard.git.tagwriting import create_tag, delete_tag, identity
from gtoguard.model import gtoshow, history
from gtoguard.model.gtoshow import artifact_view, version_rows
from gtoguard.model.printable import printable
from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate
from gtoguard.model.state import ArtifactState, Registry, TagEvent
from gtoguard.model.tagging import NewTag, Planner
from gtoguard.model.tagname import (
    Action,
    TagName,
    TagNameError,
    is_gto_shaped,
    is_valid_artifact,
    parse_tag,
)
from gtoguard.policy import clock
from gtoguard.policy.evaluate import Context, Outcome, evaluate, event_of, order_key
from gtoguard.policy.rules.violation import GitObject, Violation
from gtoguard.policy.settings import GTO_FILE, INDEX_FILE, GtoConfig
from gtoguard.registry import alltags, parallel
from gtoguard.registry.judge import (
    AUDIT_IDENTITY,
    CommitTimes,
    Settings,
    Where,
    _day,
    commit_times,
    facts_for,
    load_settings,
    log_pushers,
    registry_of,
)

ZERO = "0" * 40


@dataclass(frozen=True)
class Request:
    """One creating command as the user typed it."""

    action: Action
    artifact: str
    rev: str | None = None
    version: str | None = None
    stage: str | None = None
    bump: str | None = None
    message: str | None = None
    simple: bool | None = None
    force: bool = False


@dataclass
class Plan:
    tags: list[NewTag]
    outcome: Outcome
    settings: Settings
    notes: list[str] = field(default_factory=list)


def config_branch(repo: Repo, branch: str | None, remote: str | None = None) -> Branch:
    """Where .gto and the policy are read from: ``--branch``, else the remote's default
    branch as last fetched (``branches.remote_default_branch``): never a local commit the
    server has not seen, since the server judges by its own."""
    if branch:
        return named_branch(repo, branch)
    return remote_default_branch(repo, remote or "origin", ask=True)


def plan(repo: Repo, request: Request, branch: Branch, remote: str | None = None,
         sign: bool = False, early: Early | None = None) -> Plan:  # fmt: skip
    """``early``: the remote's tags of the artifact, asked for when the command began."""
    asking = _ask_remote(repo, remote, request.artifact, early)
    settings = load_settings(repo, branch)
    names = tag_names(repo, {request.artifact})
    registry = registry_of(tags_of(repo, {request.artifact}, names), {request.artifact})
    state = registry.artifact(request.artifact)
    times = commit_times(repo, registry)
    notes: list[str] = []
    there = _remote_names(asking, remote, notes)
    floor = _max_counter(there or (), request.artifact)
    if floor > state.max_counter:
        notes.append(f"{remote or 'origin'} has counters up to #{floor} for {request.artifact}")
    if not state.events and not floor:
        close = similar_artifacts(repo, request.artifact)
        if close:  # a new artifact is fine; a typo of an existing one is likelier
            notes.append(f"'{request.artifact}' is a new artifact here; did you mean "
                         f"{' or '.join(repr(c) for c in close)}?")  # fmt: skip
    planner = Planner(
        state,
        artifact_view(state, times),
        simple=request.simple,
        counter_required=settings.policy.tags.counter_required,
        existing=frozenset(names),
        counter_floor=floor,
        taken_versions=frozenset(_versions_of(there or (), request.artifact)),
    )
    head = repo.resolve("HEAD")[0] if request.rev is None else None
    tags = _plan_tags(repo, planner, request, head, times)
    where = Where("client", os.environ, remote or "origin", will_sign=sign)
    said = clock.clock_note(os.environ)
    if said is not None and any(r.freeze for r in settings.policy.stages):
        notes.append(said)
    _after_the_latest(state)
    outcome = _evaluate(repo, tags, registry, settings, where)
    taken = [new.name for new in tags if new.name in planner.existing]
    if taken and outcome.ok:  # the engine's reason, when it has one, says more
        raise UsageError(f"tag {taken[0]!r} exists already",
                         "leave out --simple: a counter makes the name unique")  # fmt: skip
    if not outcome.ok and there is not None:
        notes += _local_only(names, set(there), remote or "origin")
    return Plan(tags, outcome, settings, notes)


_COARSE_CLOCK_LAG = 0.02  # seconds


def _after_the_latest(state: ArtifactState, longest: float = 2.0) -> None:
    """Wait, if need be, for the second after the artifact's latest event. gto orders by
    tagger second, and within one it does not follow the order of creation: a deprecation
    made in the second of a registration changes nothing. (A date set by hand through
    ``GIT_COMMITTER_DATE`` is left alone, and so is a latest event beyond ``longest``
    seconds ahead, a skewed clock that ``tagger-time`` speaks of.)"""
    if os.environ.get("GIT_COMMITTER_DATE") or not state.events:
        return
    # git dates a tag by time(2), the kernel's coarse clock, which may still give the old
    # second a tick (1-10 ms) after time.time() shows the new one: wait a little past it
    second = max(e.time for e in state.events) + 1
    if second - time.time() > longest:
        return
    target = second + _COARSE_CLOCK_LAG
    while (wait := target - time.time()) > 0:
        time.sleep(wait)


def _ask_remote(repo: Repo, remote: str | None, artifact: str,
                early: Early | None) -> Callable[[], list[str]] | None:  # fmt: skip
    """Ask the remote for the artifact's tag names, or take the question ``early``
    asked (``_remote_names`` collects the answer); None without a remote."""
    asked = remote or "origin"
    if remote is None and repo.config_value(f"remote.{asked}.url") is None:
        if early is not None:
            early.close()
        return None
    running = early.take(asked, artifact) if early is not None else None
    return ask_remote_tag_names(repo, asked, {artifact}, running)


def _remote_names(asking: Callable[[], list[str]] | None, remote: str | None,
                  notes: list[str]) -> list[str] | None:  # fmt: skip
    """The remote's tag names, so that counters and versions never collide with tags this
    clone has not fetched; None without a remote, or when it cannot be reached (said in
    ``notes``, unless ``--push`` needs it: then that is an error)."""
    if asking is None:
        return None
    try:
        return asking()
    except CannotRun as exc:
        if remote is not None:
            raise
        notes.append(f"{exc.message}; counters and versions come from the local tags only")
        return None


def _versions_of(names: Sequence[str], artifact: str) -> set[str]:
    return {tag.version for tag in _tags_of(names, artifact) if tag.version is not None}


def _local_only(names: Sequence[str], there: set[str], remote: str) -> list[str]:
    """A refusal may come from a tag only this clone has (one the server declined): say
    which, and how to drop or push it."""
    mine = sorted(name for name in names if name not in there)
    if not mine:
        return []
    quoted = " ".join(shlex.quote(name) for name in mine)
    return [
        f"only this clone has {', '.join(mine)} ({remote} does not): if the server "
        f"declined it, delete it (git tag -d {quoted}); else push it "
        f"(git push {remote} {quoted})"
    ]


def _plan_tags(repo: Repo, planner: Planner, request: Request, head: str | None,
               times: dict[str, int]) -> list[NewTag]:  # fmt: skip
    commit = repo.resolve(request.rev)[0] if request.rev is not None else head
    action, stage = request.action, request.stage or ""
    if action is Action.REGISTER:
        assert commit is not None
        return planner.register(commit, request.version, request.bump, request.message)
    if action is Action.ASSIGN:
        if request.rev is None and request.version is not None:
            return planner.assign(stage, None, request.version, None, None, request.message,
                                  request.force)  # fmt: skip
        return planner.assign(stage, commit, None, request.version, request.bump,
                              request.message, request.force)  # fmt: skip
    if action is Action.UNASSIGN:
        if (request.rev is None) == (request.version is None):
            raise UsageError("give either --version V or a REF, not both and not neither",
                             f"gtoguard unassign {request.artifact} --stage {stage} "
                             "--version v1.2.3")  # fmt: skip
        return planner.unassign(stage, commit if request.rev else None, request.version,
                                request.message)  # fmt: skip
    if action is Action.DEREGISTER:
        assert request.version is not None and head is not None
        return planner.deregister(request.version, head, request.message)
    assert head is not None
    return planner.deprecate(times, head, request.message, request.force)


def _evaluate(repo: Repo, tags: Sequence[NewTag], registry: Registry, settings: Settings,
              where: Where) -> Outcome:  # fmt: skip
    """The engine's verdict on the planned tags, as if they were pushed now."""
    misread = [v for v in map(_reads_back, tags) if v is not None]
    if misread:  # the engine would judge a different tag than the one asked for
        outcome = Outcome(checked=len(tags))
        for violation in misread:
            outcome.add(violation)
        return outcome
    who = identity(repo)
    updates, objects = [], {}
    for number, new in enumerate(tags, start=1):
        oid = f"{number:040x}"  # stands in for the tag object git will write
        _, kind = repo.resolve(new.commit)
        updates.append(RefUpdate(TAG_PREFIX + new.name, ZERO, oid))
        objects[oid] = GitObject(oid, "tag", new.commit, kind, who.time, who.offset,
                                 who.name, who.email, new.message)  # fmt: skip
    ctx = Context(
        settings.config,
        settings.policy,
        settings.tag_checker(),
        int(time.time()),
        settings.origin,
        facts_for(repo, where, settings.policy),
        arrived=True,  # as the server judges them: arriving now, after every tag there
        freeze_at=clock.freeze_now(where.env),  # refused now, as the server would
        fresh=True,
    )
    return evaluate(updates, objects, registry, ctx)


def _reads_back(new: NewTag) -> Violation | None:
    """A stage like 'prod!' would make a tag that parses as something else."""
    try:
        parsed = parse_tag(new.name)
    except TagNameError:
        return None  # the engine reported it already
    if parsed._replace(counter_width=0) == new.tag:
        return None
    return Violation(
        "tag-malformed",
        TAG_PREFIX + new.name,
        f"{new.name!r} would read as a different tag ({parsed.action.value} of "
        f"{parsed.artifact}): the stage or artifact name holds '@', '#', '!' or '='",
        "stage and artifact names use letters, digits, '_', '-' and '/' only",
    )


def _max_counter(names: Sequence[str], artifact: str) -> int:
    return max((tag.counter for tag in _tags_of(names, artifact) if tag.counter is not None),
               default=0)  # fmt: skip


def _tags_of(names: Sequence[str], artifact: str) -> Iterator[TagName]:
    """The decoded tag names of ``artifact`` among ``names`` (others skipped)."""
    for name in names:
        try:
            tag = parse_tag(name)
        except TagNameError:
            continue
        if tag.artifact == artifact:
            yield tag


# --- writing and pushing -----------------------------------------------------------------


def write(repo: Repo, tags: Sequence[NewTag], sign: bool) -> list[tuple[NewTag, str]]:
    """Create every tag of a plan, or none: on a failure the ones made are deleted."""
    written: list[tuple[NewTag, str]] = []
    try:
        for new in tags:
            written.append((new, create_tag(repo, new.name, new.commit, new.message, sign)))
    except BaseException:
        for new, oid in reversed(written):
            delete_tag(repo, new.name, oid)
        raise
    return written


@dataclass
class PushResult:
    accepted: bool
    declined: bool  # by the server's (or the local pre-push) hook, not a transport error
    remote_lines: list[str]
    reason: str


def relied_on(repo: Repo, tags: Sequence[NewTag], remote: str) -> list[str]:
    """The local registration tags the new tags build on (a stage or a deregistration on
    a commit registered here) that ``remote`` lacks: pushed with them, so that the server
    never holds a stage on a version it has not seen registered."""
    wanted = {new.commit for new in tags
              if parse_tag(new.name).action not in (Action.REGISTER, Action.DEPRECATE)}  # fmt: skip
    if not wanted:
        return []
    artifacts = {parse_tag(new.name).artifact for new in tags}
    registry = registry_of(tags_of(repo, artifacts, tag_names(repo, artifacts)), artifacts)
    there = set(remote_tag_names(repo, remote, artifacts)) | {new.name for new in tags}
    found = []
    for state in registry.artifacts.values():
        for event in state.events:
            if (event.name.action is Action.REGISTER and event.commit in wanted
                    and event.tag not in there):  # fmt: skip
                found.append(event.tag)
    return found


def push(repo: Repo, remote: str, written: Sequence[tuple[NewTag, str]],
         carried: Sequence[str] = ()) -> PushResult:  # fmt: skip
    """Push these tags (and the ``carried`` ones they rely on) atomically. If a hook
    declines them, the new local tags are removed too: a promotion the server refused
    must not linger in the clone. Carried tags stay: they were there before."""
    done = push_tags(repo, remote, [*carried, *(new.name for new, _ in written)])
    stderr = done.stderr.decode("utf-8", "replace").splitlines()
    stdout = done.stdout.decode("utf-8", "replace").splitlines()
    # git pads what a hook printed (to clear its progress lines): drop the padding
    remote_lines = [line.rstrip() for line in stderr if line.startswith("remote:")]
    if done.returncode == 0:
        return PushResult(True, False, remote_lines, "")
    rejected = [line for line in stdout if line.startswith("!")]
    ours = [line for line in stderr if line.startswith("gtoguard:")]
    declined = bool(ours) or any("rejected" in line for line in rejected)
    if declined:
        for new, oid in written:
            delete_tag(repo, new.name, oid)
    reason, said = push_failure(done)
    return PushResult(False, declined, said, reason)


def push_failure(done: subprocess.CompletedProcess[bytes]) -> tuple[str, list[str]]:
    """Why a ``git push --porcelain`` failed: its first refusal or error line (git's own
    words, whole: "fatal: ... does not appear to be a git repository"), and what the
    server's hooks said (``remote:`` lines)."""
    stderr = done.stderr.decode("utf-8", "replace").splitlines()
    stdout = done.stdout.decode("utf-8", "replace").splitlines()
    rejected = [line for line in stdout if line.startswith("!")]
    errors = [line for line in stderr if line.startswith(("error:", "fatal:"))]
    fatal = [line for line in errors if line.startswith("fatal:")]
    reason = (fatal or [_refused(line) for line in rejected] or errors or ["git push failed"])[0]
    return reason, [line.rstrip() for line in stderr if line.startswith(("remote:", "gtoguard:"))]


def _refused(line: str) -> str:
    """A ``git push --porcelain`` refusal in words: ``!<TAB>FROM:TO<TAB>[remote rejected]
    (pre-receive hook declined)`` reads "TO: remote rejected (pre-receive hook declined)"."""
    fields = line.split("\t")
    if len(fields) < 3:
        return line.lstrip("!").strip()
    summary = fields[2].strip()
    if summary.startswith("[") and "]" in summary:
        summary = summary[1:].replace("]", "", 1)
    return f"{fields[1].rpartition(':')[2]}: {summary}"


# --- reading -----------------------------------------------------------------------------


def registry_document(repo: Repo, branch: Branch, include_deprecated: bool = False
                      ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The document of ``gto show --json``."""
    config = reader_gto_config(repo, branch)
    declared = declared_artifacts(repo)
    listing = alltags.list_tags(repo)
    parts = parallel.by_share(_summarize, listing, listing.size, repo.path, declared)
    rows = [s for part in parts for s in part]
    rows += gtoshow.declared_only(rows, declared)
    return gtoshow.registry_document(rows, config.stages, include_deprecated)


def _summarize(listing: alltags.Listing, part: int, parts: int, path: str,
               declared: gtoshow.Declared) -> list[gtoshow.Summary]:  # fmt: skip
    """One process's share of ``show``: its artifacts, one at a time."""
    repo = open_repo(path)
    rows = []
    times = CommitTimes(repo)  # only the dates a view asks for
    for tags in alltags.objects_by_artifact(repo, alltags.share(listing, part, parts)):
        rows += gtoshow.summarize(registry_of(tags), times, declared)
    return rows


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
        sys.stderr.write(f"gtoguard: warning: {printable(str(exc.problems[0]))}; gto fails on "
                         "every registry command with it, gtoguard leaves the file out\n")  # fmt: skip
        return gtoshow.Declared()
    return gtoshow.Declared(tuple(loaded), (head, repo.commit_time(head)))


def artifact_document(repo: Repo, name: str, include_deregistered: bool = False
                      ) -> list[dict[str, Any]]:  # fmt: skip
    registry = _registry_of_one(repo, name)
    state = registry.artifacts.get(name)
    if state is None or not state.events:
        raise _no_such_artifact(repo, name)
    view = artifact_view(state, commit_times(repo, registry))
    return version_rows(view, include_deregistered)


def gto_artifact_document(repo: Repo, name: str, include_inactive: bool = False
                          ) -> list[dict[str, Any]]:  # fmt: skip
    """The document ``gto show NAME --json`` prints (``-d``: ``include_inactive``)."""
    registry = _registry_of_one(repo, name)
    state = registry.artifact(name)
    declared = declared_artifacts(repo)
    if not state.events and name not in declared.names:
        raise _no_such_artifact(repo, name)
    view = artifact_view(state, commit_times(repo, registry), declared.at(name))
    commits = {}
    for version in view.versions:
        facts = repo.commit_facts(version.commit)
        if facts is not None:
            entry = _index_entry(repo, version.commit, name)
            commits[version.commit] = gtoshow.CommitInfo(*facts, index=entry)
    return gtoshow.gto_versions_document(view, commits, include_inactive)


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


def _journal(listing: alltags.Listing, part: int, parts: int,
             path: str) -> list[tuple[tuple[int, int, str], list[history.Entry]]]:  # fmt: skip
    """One process's share of ``history``: (where gto lists the artifact, its events)."""
    repo = open_repo(path)
    found = []
    for tags in alltags.objects_by_artifact(repo, alltags.share(listing, part, parts)):
        for state in registry_of(tags).artifacts.values():
            if state.events:  # the commit dates play no part in the journal
                entries = history.artifact_entries(artifact_view(state, {}))
                found.append((gtoshow.first_seen(state), entries))
    return found


_INDEX_FIELDS: tuple[tuple[str, Any], ...] = (("type", None), ("path", None), ("virtual", True), ("labels", []),
                 ("description", ""), ("custom", None))  # fmt: skip


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


def _no_such_artifact(repo: Repo, name: str) -> UsageError:
    close = similar_artifacts(repo, name)
    if close:
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?"
    elif tag_names(repo, {name}):
        hint = ("its tags here are lightweight, and gto ignores them; register it with an "
                f"annotated tag: gtoguard register {shlex.quote(name)}")  # fmt: skip
    else:
        hint = "see the artifacts: gtoguard show"
    return UsageError(f"no artifact named {name!r} has GTO tags here", hint)


def _registry_of_one(repo: Repo, name: str) -> Registry:
    """The registry of the one artifact a user named to read; a name no artifact can have
    is refused (it could match other artifacts' tags, or none, by accident)."""
    if not is_valid_artifact(name):
        raise UsageError(f"{name!r} is not an artifact name",
                         "artifact names are letters, digits and '_-/.', with an optional "
                         "dir: prefix; see them: gtoguard show")  # fmt: skip
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
        raise CannotRun(f"cannot read {path}: {exc.strerror}",
                        "check the file's permissions") from None  # fmt: skip
    return cfg.parse_gto_config(data, f"{GTO_FILE} (working tree)")


def _where(branch: Branch) -> str:
    return f"{branch.label}:{GTO_FILE}" if branch.ref != "HEAD" else f"HEAD:{GTO_FILE}"


# --- auditing ----------------------------------------------------------------------------


@dataclass
class Audit:
    outcome: Outcome
    notes: list[str] = field(default_factory=list)


def _context(repo: Repo, branch: Branch, env: Mapping[str, str], audit: bool = False,
             eras: Sequence[Era] = (), now: int | None = None, arrived: bool = False,
             at: int | None = None) -> Context:  # fmt: skip
    """The audit's context. ``audit``: replaying history, whose pushers no CI job knows
    (a note, not a fault). ``eras`` (the usable ones, oldest first): each tag is judged
    by the files of its time (``confighistory``), or of the time ``at`` when given."""

    def made(as_of: tuple[str | None, int] | None) -> Context:
        return era_context(repo, branch, env, as_of, audit, now, arrived)

    latest = made(None)
    if not eras or (len(eras) == 1 and eras[0].commit is None):
        return latest  # no config history: judged as today
    latest = latest._replace(config_commit=eras[-1].commit)
    contexts: dict[int, Context] = {len(eras) - 1: latest}
    starts = [era.since for era in eras]

    last = starts[-1]

    def in_force(when: int) -> Context:
        moment = when if at is None else at
        if moment >= last:  # most tags: today's rules
            return latest
        index = max(0, bisect.bisect_right(starts, moment) - 1)
        found = contexts.get(index)
        if found is None:
            era = eras[index]
            found = contexts[index] = made((era.commit, era.since))._replace(
                                              config_commit=era.commit)  # fmt: skip
        return found

    return latest._replace(at=in_force)


def era_context(repo: Repo, branch: Branch, env: Mapping[str, str],
                as_of: tuple[str | None, int] | None, audit: bool = True,
                now: int | None = None, arrived: bool = False) -> Context:  # fmt: skip
    """The context of the rules of one era (``as_of``: its commit and date; None: the
    tip's), on the CI side."""
    settings = load_settings(repo, branch, as_of)
    facts = facts_for(repo, Where("ci", env, "origin"), settings.policy)
    # the job a push started (--pushed-at) is the last check there is: it must know the
    # pusher; a check by hand, or an audit, cannot
    facts = facts._replace(identity_required=arrived and not audit)
    if audit:
        facts = facts._replace(identity_required=False, identity_from=AUDIT_IDENTITY,
                               pusher_of=log_pushers(repo))  # fmt: skip
    return Context(settings.config, settings.policy, settings.tag_checker(),
                   int(time.time()) if now is None else now, settings.origin, facts,
                   arrived=arrived, freeze_at=now if arrived else None)  # fmt: skip


def usable_eras(repo: Repo, branch: Branch, notes: list[str]) -> list[Era]:
    """The eras of the branch's config whose files can be read; one that cannot (gto's
    readers failed on it too) is left out, and its time judged by the era before it.
    The files at the tip must be valid: the audit stops on them (``config-invalid``)."""
    found = timeline.eras(repo, branch)
    for era in found:
        if era.dated is not None:
            notes.append(f"commit {(era.commit or '')[:12]} (a config change on {branch.label}) "
                         f"is dated {_day(era.dated)}, after a commit that follows it or after "
                         f"now: its files are taken to apply from {_day(era.since)}, when the "
                         "commit before it was made")  # fmt: skip
    usable = []
    for era in found[:-1]:
        try:
            load_settings(repo, branch, (era.commit, era.since))
        except ConfigInvalid as exc:
            notes.append(f"the config files of {branch.label} as of {(era.commit or '')[:12]} "
                         f"({_day(era.since)}) are invalid ({exc.problems[0]}); tags of that "
                         "time are judged by the files before them")  # fmt: skip
            continue
        usable.append(era)
    usable.append(found[-1])
    return usable


def _replay(listing: alltags.Listing, part: int, parts: int, path: str,
            branch: Branch, later: parallel.Later) -> Outcome:  # fmt: skip
    """One process's share of ``check --all``: its artifacts, one at a time, each in
    gto's order. The CI job's user did not push the history, so no pusher is known.
    ``later`` brings the config's eras, walked meanwhile."""
    repo = open_repo(path)
    groups = alltags.share(listing, part, parts)
    eras = [Era(since, commit) for since, commit in later.get(part) or ()]
    ctx = _context(repo, branch, {}, audit=True, eras=eras)
    outcome = Outcome()
    for tags in alltags.objects_by_artifact(repo, groups):
        objects = {obj.oid: obj for _, obj in tags}
        updates = [RefUpdate(TAG_PREFIX + name, ZERO, obj.oid) for name, obj in tags]
        _merge(outcome, evaluate(updates, objects, Registry(), ctx))
    return outcome


def audit(repo: Repo, branch: Branch, names: Sequence[str] | None,
          pushed_at: int | None = None) -> Audit:  # fmt: skip
    """``names``: evaluate each tag at its tagger date onto the tags that come before it
    in gto's order, by the rules of that time; None: replay the whole history so.

    ``pushed_at`` (CI: the time of the push, from the event): each tag is judged as it
    arrived, the newest event on every other tag there by then (tagger date up to
    ``pushed_at`` + clock_skew), with ``tagger-time`` against that time: a tag back-dated
    into another time of the registry is declined."""
    result = Audit(Outcome())
    if branch.ref == "HEAD":
        result.notes.append(
            "reading .gto and .gtoguard.yaml from HEAD (no default branch known); "
            "pass --branch origin/main to read them from the default branch"
        )
    settings = load_settings(repo, branch)  # an invalid file stops here, not in a worker
    if names is None:
        if any(rules.freeze for rules in settings.policy.stages):
            result.notes.append(
                "freeze windows are not checkable here: they are judged at the moment a tag "
                "arrives (the server hook, or check TAG --pushed-at in CI), which an audit "
                "of the history does not know"
            )
        listing = alltags.list_tags(repo)
        # the config history is walked while the workers pick out their artifacts
        later = parallel.Later(
            lambda: [[era.since, era.commit] for era in usable_eras(repo, branch, result.notes)]
        )
        for part in parallel.by_share(_replay, listing, listing.size, repo.path, branch,
                                      later=later):  # fmt: skip
            _merge(result.outcome, part)
        return result
    eras = usable_eras(repo, branch, result.notes)
    # the CI job's user pushed these tags; as they arrived, by the rules of that moment
    # (freeze windows too: at the moment of the push)
    ctx = _context(repo, branch, os.environ, eras=eras, now=pushed_at,
                   arrived=pushed_at is not None, at=pushed_at)  # fmt: skip
    if pushed_at is None:
        result.notes.append(
            "the time of the push is unknown, so each tag is judged at its own tagger date "
            "and freeze windows are not judged: pass --pushed-at (the CI templates do) to "
            "judge it as it arrived"
        )
    wanted = [n.removeprefix(TAG_PREFIX) for n in names]
    oids = {name: repo.ref_target(TAG_PREFIX + name) for name in wanted}
    missing = [name for name, oid in oids.items() if oid is None]
    if missing:
        raise UsageError(f"no tag {missing[0]!r} in this repository",
                         "fetch the tags first (git fetch --tags; in CI: fetch-depth: 0)")  # fmt: skip
    for name, oid in oids.items():
        if not is_gto_shaped(name):
            result.notes.append(f"{name} is not a GTO tag (no '@' or '#'); nothing to check")
        elif oid is not None:
            _merge(result.outcome, _audit_one(repo, name, oid, ctx, pushed_at is not None))
    return result


def prunable(repo: Repo, outcome: Outcome, cutoff: int, branch: Branch | None = None
             ) -> tuple[list[str], list[tuple[str, str]]]:  # fmt: skip
    """(tags to delete, [(tag kept, why)]) among the tags ``outcome`` declines: annotated
    ones whose tagger date is after ``cutoff``. A tag that passes is never listed, and
    (with ``branch``) neither is one that fails only by the rules of a config change it
    may be older than (``_only_by_a_later_era``)."""
    doomed, kept = [], []
    eras: list[Era] | None = None
    for ref in sorted(outcome.rejected_refs):
        if not ref.startswith(TAG_PREFIX):
            continue
        name = ref[len(TAG_PREFIX) :]
        oid = repo.ref_target(ref)
        obj = object_info(repo, oid) if oid is not None else None
        if obj is None or obj.kind != "tag" or obj.time is None:
            kept.append((name, "no tagger date (a lightweight tag): delete it by hand"))
            continue
        if obj.time <= cutoff:
            kept.append((name, "made before the cutoff"))
            continue
        if branch is not None and oid is not None:
            if eras is None:
                eras = usable_eras(repo, branch, [])
            era = _only_by_a_later_era(repo, branch, eras, outcome, ref, name, oid)
            if era is not None:
                kept.append((name, f"it fails only by the rules of {branch.label} as of "
                                   f"{(era.commit or '')[:12]} ({_day(era.since)}), and a "
                                   "commit date is written by whoever commits: the tag may be "
                                   "older than those rules; delete it by hand if it is not"))  # fmt: skip
                continue
        doomed.append(name)
    return doomed, kept


def _only_by_a_later_era(repo: Repo, branch: Branch, eras: Sequence[Era], outcome: Outcome,
                         ref: str, name: str, oid: str) -> Era | None:  # fmt: skip
    """The era whose rules alone make ``ref`` fail, if it passes by the rules just before
    that era's: a config change back-dated onto the default branch would otherwise let
    prune delete tags made before it (the fresh review: a commit dated two hours back that
    took prod out of .gto condemned a prod tag of an hour ago)."""
    judged = {v.config for v in outcome.violations if v.ref == ref and v.severity == "error"}
    target = object_info(repo, oid).target
    for index, era in enumerate(eras):
        if index == 0 or era.commit not in judged:
            continue
        if era.commit is not None and target is not None and repo.reaches(target, era.commit):
            continue  # the tagged commit holds the change: the tag came after the rules
        before = eras[index - 1]
        ctx = era_context(repo, branch, {}, (before.commit, before.since))
        if _audit_one(repo, name, oid, ctx).ok:
            return era
    return None


def unpushed_tags(repo: Repo, remote: str) -> list[str]:
    """Local GTO-shaped tags that ``remote`` does not have."""
    there = set(remote_tag_names(repo, remote))
    return [name for name in sorted(tag_names(repo)) if is_gto_shaped(name) and name not in there]


def _audit_one(repo: Repo, name: str, oid: str, ctx: Context, arrived: bool = False) -> Outcome:
    """One tag against the tags of its artifact that come before it in gto's order (or,
    ``arrived``, every tag there when it was pushed at ``ctx.now``); only that artifact's
    tags are read."""
    obj = object_info(repo, oid)
    update = RefUpdate(TAG_PREFIX + name, ZERO, oid)
    try:
        tag = parse_tag(name)
    except TagNameError:
        return evaluate([update], {oid: obj}, Registry(), ctx)
    key = order_key(name, tag, event_of(name, tag, obj))
    before = []
    artifact = {tag.artifact}
    for other, other_obj in tags_of(repo, artifact, tag_names(repo, artifact)):
        if other == name:
            continue
        try:
            other_tag = parse_tag(other)
        except TagNameError:
            continue
        event = event_of(other, other_tag, other_obj)
        if other_tag.artifact != tag.artifact or event is None:
            continue
        there = (event.time <= ctx.now + ctx.policy.tags.clock_skew if arrived
                 else order_key(other, other_tag, event) < key)  # fmt: skip
        if there:
            before.append((other, other_obj))
    return evaluate([update], {oid: obj}, registry_of(before, artifact), ctx)


def _merge(into: Outcome, outcome: Outcome) -> None:
    into.checked += outcome.checked
    into.violations.extend(outcome.violations)
    into.rejected_refs |= outcome.rejected_refs


# --- what the registry page (gtoguard ui) needs besides the above ------------------------


def remote_names(repo: Repo) -> list[str]:
    """The remotes configured here (``git remote``)."""
    done = repo.git("remote")
    return done.stdout.decode("utf-8", "replace").split() if done.returncode == 0 else []


def configured_stages(repo: Repo, branch: Branch) -> tuple[str, ...] | None:
    """The stages ``.gto`` on ``branch`` allows, in its order; None: any valid stage."""
    return load_settings(repo, branch).config.stages


def registry_key(repo: Repo, branch: Branch) -> str:
    """Changes whenever what the registry shows may change: a tag ref, the commit of the
    branch ``.gto`` and the policy come from, or HEAD (``artifacts.yaml``, commits)."""
    import hashlib

    listing = alltags.list_tags(repo)
    digest = hashlib.sha256(listing.lines)
    digest.update(b"\0" + listing.extra)  # loose tags: packed-refs alone misses new ones
    digest.update(f"\n{branch.ref} {branch.commit} {repo.ref_target('HEAD')}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class CommitSummary:
    oid: str
    time: int
    author: str
    subject: str


def recent_commits(repo: Repo, limit: int = 30) -> list[CommitSummary]:
    """The latest ``limit`` commits of HEAD, newest first (none in an empty repository)."""
    done = repo.git("log", f"--max-count={limit}", "--format=%H%x00%ct%x00%an%x00%s", "HEAD", "--")
    if done.returncode != 0:
        return []  # no commit yet
    found = []
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        oid, when, author, subject = line.split("\0", 3)
        found.append(CommitSummary(oid, int(when), author, subject))
    return found
