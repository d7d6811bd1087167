"""What a push may not bring beyond its tags: invalid config files on the default branch,
a tip commit or a ``.gitattributes`` there that gto cannot read, a tag on a commit whose
``artifacts.yaml`` gto cannot load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gtoguard.config import files as cfg
from gtoguard.config.problems import ConfigInvalid, Problem
from gtoguard.config.verdictcache import VerdictCache
from gtoguard.git.branches import Branch
from gtoguard.git.repo import Repo
from gtoguard.model.printable import short
from gtoguard.model.refupdate import BRANCH_PREFIX, RefUpdate
from gtoguard.policy.rules.violation import GitObject, Violation
from gtoguard.policy.settings import CONFIG_FILES, GTO_FILE, INDEX_FILE, POLICY_FILE
from gtoguard.registry.rulefiles import _undated_index, as_content, not_a_file


def check_config_changes(repo: Repo, changes: Iterable[tuple[RefUpdate, str]]) -> list[Violation]:
    """A default-branch update may not bring an invalid ``.gto``, ``.gtoguard.yaml`` or
    ``artifacts.yaml``, nor a policy naming stages the new ``.gto`` does not allow."""
    violations = []
    updates = {}
    gone: dict[str, list[str]] = {}  # a deleted default branch: the files it held
    for update, name in changes:
        if update.deleted:
            gone.setdefault(update.ref, []).append(name)
            continue
        updates[update.ref] = update
        entry = repo.entry_at(update.new, name)
        problem = not_a_file(entry[1], name) if entry is not None else None
        if problem is not None:
            violations.append(_config_violation(update, problem))
            continue
        data = repo.file_at(update.new, name)
        if data is None:
            continue  # deleting a config file is allowed: the defaults apply again
        try:
            with as_content(name):
                problems = cfg.validate_file(data, name)
        except ConfigInvalid as exc:
            problems = exc.problems
        if name == INDEX_FILE:
            problems += _undated_index(repo, update.new, name)
        for problem in problems:
            violations.append(_config_violation(update, problem))
    for ref, names in gone.items():
        branch = ref.removeprefix(BRANCH_PREFIX)
        violations.append(
            Violation(
                "branch-deleted",
                ref,
                f"{branch} is the default branch: deleting it takes away {', '.join(names)} and "
                "the history that audits read the rules from (and the next push would see none)",
                "to change the rules, push a commit that changes the files; to retire the "
                "branch, have the server's HEAD name another one first (git symbolic-ref HEAD "
                "refs/heads/NEW)",
            )
        )
    if violations:
        return violations
    for update in updates.values():
        policy_data = repo.file_at(update.new, POLICY_FILE)
        if policy_data is None:
            continue
        with as_content(POLICY_FILE):
            config = cfg.parse_gto_config(repo.file_at(update.new, GTO_FILE))
            policy = cfg.parse_policy(policy_data)
            problems = cfg.stage_problems(config, policy, POLICY_FILE)
        for problem in problems:
            violations.append(_config_violation(update, problem))
    return violations


ATTRIBUTES = ".gitattributes"
# attributes that make a checkout differ from the committed blob (gto reads the files of
# the working tree: a .gto checked out as UTF-16, or as an LFS pointer, fails every reader)
_REWRITING = ("working-tree-encoding", "filter")


def tip_problems(repo: Repo, updates: Iterable[RefUpdate], branch: Branch) -> list[Violation]:
    """What a default-branch update must not bring, beyond its config files: a tip commit
    gto cannot read (every gto reader reads the default branch's tip: its author and
    committer lines, its encoding), and a ``.gitattributes`` that rewrites ``.gto``,
    ``.gtoguard.yaml`` or ``artifacts.yaml`` on checkout, where gto reads them."""
    found = []
    for update in updates:
        if update.ref != branch.ref or update.deleted:
            continue
        why = repo.undatable(update.new)
        if why is not None:
            found.append(
                Violation(
                    "config-invalid",
                    update.ref,
                    f"every gto reader reads the default branch's tip commit, and gto cannot "
                    f"read this one ({why})",
                    "commit again with git itself (a well-formed author and committer, no "
                    "encoding header the message does not match), and push that",
                )
            )
        before = None if update.created else repo.blob_id_at(update.old, ATTRIBUTES)
        after = repo.blob_id_at(update.new, ATTRIBUTES)
        if after is not None and after != before:
            for path, attribute, value in repo.checkout_attributes(update.new, CONFIG_FILES):
                if attribute in _REWRITING and value not in ("unset", "unspecified"):
                    found.append(
                        Violation(
                            "config-invalid",
                            update.ref,
                            f"{ATTRIBUTES} gives {path} '{attribute}: {value}': a checkout then "
                            f"holds another file than the one committed, and gto reads {path} "
                            "from the checkout (every reader would fail or read other rules)",
                            f"leave {path} out of {ATTRIBUTES} (or give it -{attribute})",
                        )
                    )
    return found


def index_problems(
    repo: Repo,
    gto: Iterable[RefUpdate],
    objects: Mapping[str, GitObject],
    verdicts: VerdictCache | None,
) -> list[Violation]:
    """gto reads ``artifacts.yaml`` at the commit of every version it shows: a tag on a
    commit whose index it cannot load fails every reader, for as long as the tag stays."""
    found = []
    checked: dict[str, list[Problem]] = {}
    for update in gto:
        obj = objects.get(update.new)
        if update.deleted or obj is None or obj.kind != "tag" or obj.target_kind != "commit":
            continue
        commit = obj.target
        assert commit is not None
        if commit not in checked:
            checked[commit] = _index_at(repo, commit, verdicts)
        for problem in checked[commit]:
            found.append(
                Violation(
                    "tag-unreadable",
                    update.ref,
                    f"gto reads artifacts.yaml at every version's commit, and cannot load the "
                    f"one at {short(commit)} ({problem.path}: {problem.message})",
                    "tag a commit whose artifacts.yaml gto can load (gtoguard config validate "
                    "artifacts.yaml), or one without it",
                )
            )
    return found


def _index_at(repo: Repo, commit: str, verdicts: VerdictCache | None) -> list[Problem]:
    entry = repo.entry_at(commit, INDEX_FILE)
    if entry is None:
        return []
    problem = not_a_file(entry[1], INDEX_FILE)
    if problem is not None:
        return [problem]
    data = repo.file_at(commit, INDEX_FILE) or b""
    try:
        with as_content(INDEX_FILE):
            if verdicts is None:
                cfg.index_document(data, INDEX_FILE)
            else:
                verdicts.document(
                    INDEX_FILE,
                    entry[0],
                    lambda: data,
                    lambda raw: cfg.index_document(raw, INDEX_FILE),
                )
    except ConfigInvalid as exc:
        return exc.problems
    return []


def _config_violation(update: RefUpdate, problem: Problem) -> Violation:
    hint = problem.hint or f"fix {problem.file} and push again"
    return Violation("config-invalid", update.ref, str(problem), hint)
