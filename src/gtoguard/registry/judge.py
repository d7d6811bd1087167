"""Gather what a check needs from a repository: the config files from the default branch,
the registry of the artifacts a batch touches, the pushed objects. Then run the check.

Shared by the hooks and the CLI. Imported only when there is GTO work to do, so that a
push without GTO tags never pays for yaml and jsonschema.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, NamedTuple

from gtoguard.config import files as cfg
from gtoguard.config.problems import ConfigInvalid, Problem
from gtoguard.config.verdictcache import VerdictCache, content_digest
from gtoguard.errors import CannotRun, ContentFailure, environmental_failure
from gtoguard.git.branches import Branch, branch_tips, config_changes
from gtoguard.git.objects import object_info, pushed_object
from gtoguard.git.repo import Repo
from gtoguard.git.tagrefs import tag_names, tag_targets, tags_of
from gtoguard.model.printable import short
from gtoguard.model.refupdate import BRANCH_PREFIX, NAMESPACE_PREFIX, TAG_PREFIX, RefUpdate
from gtoguard.model.signatureblock import Verdict
from gtoguard.model.state import Registry, TagEvent, build_registry
from gtoguard.model.tagname import DEPRECATE, TagNameError, is_gto_shaped, parse_tag
from gtoguard.model.tagobject import HEAD_CAP
from gtoguard.policy import clock, timebudget
from gtoguard.policy.evaluate import (
    NOTHING,
    Context,
    Facts,
    Outcome,
    evaluate,
    event_of,
)
from gtoguard.policy.identity import Pusher, identity_sources, pusher
from gtoguard.policy.rules.pushers import CI_IDENTITY_HINT
from gtoguard.policy.rules.violation import GitObject, Violation
from gtoguard.policy.scope import gto_updates, touched_artifacts
from gtoguard.policy.settings import (
    CONFIG_FILES,
    GTO_FILE,
    INDEX_FILE,
    POLICY_FILE,
    GtoConfig,
    Policy,
    policy_from_data,
)
from gtoguard.registry import tombstones


class Result:
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.notes: list[str] = []
        self.receipt: list[str] = []  # what an accepted push changes
        # the deletions a server must remember before it accepts them (tombstones.keep)
        self.deleted: list[RefUpdate] = []


class Settings(NamedTuple):
    config: GtoConfig
    policy: Policy
    origin: str
    cache: VerdictCache | None = None  # where verdicts reached are kept (save() it)

    def tag_checker(self) -> Callable[[Any], Any]:
        """jsonschema's check of decoded tags, its verdicts kept in the cache."""
        return cfg.tag_checker(self.config, self.policy, self.cache)


class Where(NamedTuple):
    """Where a check runs, which decides what it can know (docs/design.md §4)."""

    side: str  # "server" (pre-receive), "client" (pre-push, helper) or "ci" (check)
    env: Mapping[str, str] = NOTHING
    remote: str | None = None  # the remote whose branches count (client side)
    will_sign: bool = False


def facts_for(repo: Repo, where: Where, policy: Policy, updates: Sequence[RefUpdate] = ()) -> Facts:
    """Identity, branch reachability (branches as they will be after the push) and
    signature verification, as far as they can be known on this side."""
    # a clone's environment names nobody: only a server (or a CI system) authenticates
    who = (
        None
        if where.side == "client"
        else pusher(where.env, policy.identity_variable, ci=where.side == "ci")
    )
    tips: dict[str, str] | None = None

    def reachable(commit: str, patterns: tuple[str, ...]) -> tuple[bool, list[str]]:
        nonlocal tips
        if tips is None:
            tips = branch_tips(repo, where.remote if where.side != "server" else None)
            for update in updates:
                if update.ref.startswith(BRANCH_PREFIX):
                    name = update.ref[len(BRANCH_PREFIX) :]
                    if update.deleted:
                        tips.pop(name, None)
                    else:
                        tips[name] = update.new
        names = sorted(n for n in tips if any(fnmatchcase(n, p) for p in patterns))
        return any(reaches(tips[n], commit) for n in names), names

    walked: dict[tuple[str, str], bool] = {}

    def reaches(tip: str, commit: str) -> bool:
        """One history walk per (tip, commit): a hundred tags on one commit cost one."""
        key = (tip, commit)
        if key not in walked:
            timebudget.spend("walking branch history for the stages' branches rule")
            walked[key] = repo.reaches(tip, commit)
        return walked[key]

    verify = None
    if where.side == "server" or policy.signers.any:

        def verify(oid: str, block: str) -> Verdict:
            from gtoguard.git.signature import (
                verify as verify_signature,  # git runs: only when asked
            )

            return verify_signature(repo.path, oid, policy.signers, block)

    elif where.side == "ci":  # CI is the last check there is: text shaped like a signature

        def verify(oid: str, block: str) -> Verdict:  # is no signature
            return Verdict(
                False,
                "there are no signers to verify it against in this CI job "
                "(give gtoguard check a policy with signers: GTOGUARD_POLICY)",
            )

    # the server knows who pushes (none named declines); elsewhere it is not checkable
    return Facts(
        who,
        where.side == "server",
        reachable,
        verify,
        where.will_sign,
        repository_name(repo, where),
        identity_note(where.side, policy.identity_variable, where.env),
        CI_IDENTITY_HINT if where.side == "ci" else "",
        repo.commit_time,
    )


def identity_note(side: str, variable: str | None, env: Mapping[str, str]) -> str:
    """Where the pusher is read from (the server), or why this side cannot know it: the
    variables looked at, and why each was or was not used (a message's own words)."""
    if side == "server":
        return f"{identity_sources(variable)}: none is set"
    if side == "ci":
        if variable:
            return (
                f"{identity_sources(variable)}: none is set in this job (the policy "
                "GTOGUARD_POLICY gives names the variable)"
            )
        return (
            f"{identity_sources(ci=True)} name who started a CI job, and neither is set: "
            "run it in the job the push started (a server's variables are not read in "
            "CI unless the job's policy names one with identity: anyone who starts a "
            "pipeline can set them)"
        )
    return "who pushes is known only to the server, which checks it against the account you push as"


def log_pushers(repo: Repo) -> Callable[[str, str], Pusher | None] | None:
    """Who pushed each tag, as the server's decision log says (an audit on the server,
    whose policy names a log it can read); None where there is none."""
    try:
        policy = server_policy(repo)
    except CannotRun:
        return None
    if policy is None or policy.log is None or not os.path.isfile(policy.log):
        return None
    from gtoguard.model.refupdate import printable_ref
    from gtoguard.registry.decisionlog import pushers

    found = pushers(policy.log)

    def pusher_of(ref: str, oid: str) -> Pusher | None:
        entry = found.get((printable_ref(ref), oid))
        return Pusher(entry[0], f"{entry[1]}, in the decision log") if entry else None

    return pusher_of


AUDIT_IDENTITY = (
    "an audit does not know who pushed each tag (GITHUB_ACTOR and "
    "GITLAB_USER_LOGIN name who started this job, not who pushed the history); the "
    "server's decision log does, where the server policy keeps one (log:)"
)


# where each host names the repository a hook or job runs for (signed: repository)
SERVER_NAMES = ("GL_PROJECT_PATH", "GL_REPO")  # GitLab, gitolite
CI_NAMES = ("GITHUB_REPOSITORY", "CI_PROJECT_PATH")  # GitHub Actions, GitLab CI


def repository_name(repo: Repo, where: Where) -> str | None:
    """The name a signed tag must carry in its ``Repository:`` trailer: the admin's
    ``git config gtoguard.repository``, else the host's own name for the repository."""
    configured = repo.config_value("gtoguard.repository")
    if configured:
        return configured.strip()
    env = where.env
    if where.side == "server":
        if env.get("GITEA_REPO_USER") and env.get("GITEA_REPO_NAME"):
            return f"{env['GITEA_REPO_USER']}/{env['GITEA_REPO_NAME']}"
        names = SERVER_NAMES
    elif where.side == "ci":
        names = CI_NAMES
    else:
        return None
    return next((env[n] for n in names if env.get(n)), None)


def load_settings(
    repo: Repo, branch: Branch, as_of: tuple[str | None, int] | None = None
) -> Settings:
    """``.gto`` and ``.gtoguard.yaml`` from the default branch, plus the server policy;
    ``artifacts.yaml`` there is only checked (gto cannot read a registry without it).
    Blobs validated before come from the verdict cache. A default branch that a bare
    repository's HEAD names but that does not exist while other branches do is an error
    (``config-invalid``), never a silent fall back to the default rules.

    ``as_of``: (commit, its date) of the branch's history whose files to read instead of
    the tip's (an audit by the rules of the time; None as the commit: no files yet);
    messages then name that commit."""
    if branch.missing is not None:
        raise ConfigInvalid([Problem("HEAD", "/", branch.missing, branch.fix)])
    where = f"{branch.label}:" if branch.ref != "HEAD" else "HEAD:"
    commit, origin = branch.commit, branch.label
    if as_of is not None:
        commit = as_of[0]
        where = f"{short(commit)}:" if commit else where
        origin = (
            f"{branch.label} as of {short(commit)} ({_day(as_of[1])})"
            if commit
            else f"{branch.label} before it had one"
        )
    verdicts = VerdictCache(Path(repo.path) / "gtoguard-cache")

    def document(path: str, parse: Callable[[bytes, str], Any]) -> tuple[bool, Any]:
        entry = repo.entry_at(commit, path)
        if entry is None:
            return False, None
        problem = not_a_file(entry[1], where + path)
        if problem is not None:
            raise ConfigInvalid([problem])
        blob = entry[0]
        data = repo.file_at(commit, path)
        if data is None:
            return False, None
        with as_content(where + path):
            return True, verdicts.document(
                path, blob, lambda: data, lambda raw: parse(raw, where + path)
            )

    has_gto, gto_doc = document(GTO_FILE, cfg.gto_document)
    # gto reads the tip's artifacts.yaml for every registry; an era's is history
    if as_of is None and document(INDEX_FILE, cfg.index_document)[0]:
        problems = _undated_index(repo, commit, where + INDEX_FILE)
        if problems:
            raise ConfigInvalid(problems)
    with as_content(where + GTO_FILE):
        config = cfg.gto_config_from(gto_doc) if has_gto else GtoConfig()
    has_policy, policy_doc = document(POLICY_FILE, cfg.policy_document)
    with as_content(where + POLICY_FILE):
        policy = (
            policy_from_data(policy_doc or {}, source=where + POLICY_FILE) if has_policy else None
        )
        problems = [] if policy is None else cfg.stage_problems(config, policy, where + POLICY_FILE)
    if problems:
        raise ConfigInvalid(problems)
    server = server_policy(repo, verdicts=verdicts)
    verdicts.save()
    if policy is None:
        policy = server or Policy()
    elif server is not None:
        policy = policy.strictest(server)
    return Settings(config, policy, origin, verdicts)


@contextmanager
def as_content(file: str) -> Iterator[None]:
    """Whatever goes wrong while gtoguard reads one of the repository's files is a
    ``config-invalid`` of that file: a push may bring such a file, and what a push brings
    must never choose the server's ``fail: open`` (a policy of 1,100 chained groups once
    raised RecursionError, an internal error, and fail: open then accepted every push)."""
    try:
        yield
    except (CannotRun, timebudget.OverBudget):
        raise
    except Exception as exc:
        if environmental_failure(exc):
            raise  # the server's own failure (a library that cannot load): not the file's
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise ConfigInvalid(
            [
                Problem(
                    file,
                    "/",
                    f"gtoguard cannot read what the file holds ({reason})",
                    "simplify the file (gtoguard config validate FILE says more)",
                )
            ]
        ) from None


def _day(seconds: int) -> str:
    try:
        return time.strftime("%Y-%m-%d", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return f"@{seconds}"


_KINDS_OF_MODE = {0o120000: "a symbolic link", 0o160000: "a submodule", 0o040000: "a directory"}


def not_a_file(mode: int, where: str) -> Problem | None:
    """A config file must be a regular file in the commit: gtoguard reads the committed
    blob, while gto and `cat` follow a symlink, so the two would read different rules."""
    if mode in (0o100644, 0o100755):
        return None
    kind = _KINDS_OF_MODE.get(mode, f"an entry of mode {mode:o}")
    return Problem(
        where,
        "/",
        f"{kind}, not a regular file",
        "commit the file itself (git rm --cached, copy it in, git add)",
    )


def server_policy(
    repo: Repo, env: Mapping[str, str] | None = None, verdicts: VerdictCache | None = None
) -> Policy | None:
    """The server admin's policy; with ``verdicts``, a file validated before (by its
    content's digest) is not parsed again."""
    path = (os.environ if env is None else env).get("GTOGUARD_POLICY") or repo.config_value(
        "gtoguard.policy"
    )
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigInvalid(
            [
                Problem(
                    path,
                    "/",
                    f"cannot read the server policy: {exc.strerror}",
                    "fix the path in 'git config gtoguard.policy' or GTOGUARD_POLICY",
                )
            ]
        ) from None
    try:
        if verdicts is None:
            return cfg.parse_policy(data, path, server=True)._replace(server=True)
        digest = content_digest(data)
        doc = verdicts.document(
            "server-policy",
            digest,
            lambda: data,
            lambda raw: cfg.policy_document(raw, path, server=True),
        )
        return policy_from_data(doc or {}, source=path)._replace(server=True)
    except ConfigInvalid as exc:
        exc.environmental = True  # the admin's file: fail: open may apply
        raise


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


def _undated_index(repo: Repo, commit: str | None, where: str) -> list[Problem]:
    """gto dates the entries of ``artifacts.yaml`` by the commit that holds it."""
    why = repo.undatable(commit) if commit else None
    if why is None:
        return []
    return [
        Problem(
            where,
            "/",
            f"its commit {why}; gto dates the file's artifacts by it",
            "commit again with a real date (git commit --amend --reset-author)",
        )
    ]


def claimed_default(repo: Repo, updates: Sequence[RefUpdate], branch: Branch) -> list[Violation]:
    """HEAD names a branch that does not exist while others do (``Branch.missing``), and
    this push creates it. Before any GTO tag that is a repository being set up; once the
    registry has tags, the branch's files would replace the rules GTO tags cannot be
    judged by now, chosen by whoever pushes first: declined, for the server's admin to
    point HEAD at the branch that holds them."""
    if branch.missing is None:
        return []
    claimed = [u for u in updates if u.ref == branch.ref and u.created]
    if not claimed or not any(is_gto_shaped(name) for name in tag_names(repo)):
        return []
    return [
        Violation(
            "config-invalid",
            claimed[0].ref,
            f"{branch.missing}; this push would create it, and so choose the rules of a "
            "registry that has GTO tags already",
            branch.fix,
        )
    ]


def namespaced_refs(updates: Iterable[RefUpdate], namespace: str) -> list[Violation]:
    """Refs of a namespace (``refs/namespaces/<ns>/…``) written from outside it: judged
    there, they would escape that namespace's ``.gto`` and policy, so they are declined.
    (A push into a namespace names its refs without the prefix; this is a write into
    another namespace, or one nested in the push's own ``namespace``.)"""
    violations = []
    for update in updates:
        if not update.ref.startswith(NAMESPACE_PREFIX):
            continue
        parts = [namespace] if namespace else []
        rest = update.ref
        while rest.startswith(NAMESPACE_PREFIX):
            name, _, rest = rest[len(NAMESPACE_PREFIX) :].partition("/")
            parts.append(name)
        space = "/".join(parts)
        violations.append(
            Violation(
                "ref-namespaced",
                update.ref,
                f"this ref belongs to the namespace '{space}'; gtoguard judges a namespace's tags "
                "and config only in a push through that namespace",
                f"push through it (GIT_NAMESPACE={space}, or the URL your host gives it)",
            )
        )
    return violations


REPLACE_PREFIX = "refs/replace/"  # git reads the object such a ref names in place of another
WRITABLE = (BRANCH_PREFIX, TAG_PREFIX)  # what a push may write unless the server allows more


def is_other_ref(ref: str) -> bool:
    """Neither a branch nor a tag (nor another namespace's ref: ``namespaced_refs``)."""
    return not ref.startswith(WRITABLE) and not ref.startswith(NAMESPACE_PREFIX)


def refs_not_allowed(
    updates: Iterable[RefUpdate], allow: Sequence[str], server: bool = True
) -> list[Violation]:
    """A push writes branches and tags, and the refs the server policy's ``refs.allow``
    names. ``refs/replace/`` is never allowed: a replace ref makes every later git
    command read another object in place of the one it names (a forged signature, a
    commit on another branch, an old ``.gto``); deleting one is always allowed. On a
    client (``server`` False) the server's list is unknown: other refs are warnings."""
    violations = []
    for update in updates:
        ref = update.ref
        if not is_other_ref(ref):
            continue
        if ref.startswith(REPLACE_PREFIX):
            if update.deleted:
                continue  # git reads the real object again
            violations.append(
                Violation(
                    "ref-not-allowed",
                    ref,
                    "a replace ref makes git read another object in place of the one it names, "
                    "for every later command on the server; gtoguard never accepts one",
                    "push the objects themselves (branches and tags); to drop replace refs "
                    "from the push, leave refs/replace/* out of its refspecs",
                )
            )
            continue
        if any(fnmatchcase(ref, pattern) for pattern in allow):
            continue
        listed = ", ".join(allow) if allow else "nothing else"
        violations.append(
            Violation(
                "ref-not-allowed",
                ref,
                "a push may write branches (refs/heads/) and tags (refs/tags/), and what the "
                f"server policy's refs.allow lists ({listed})",
                "push a branch or a tag instead; if the server should take such refs, its "
                "admin adds a pattern to refs.allow in the server policy",
                "error" if server else "warning",
            )
        )
    return violations


def _allowed_refs(repo: Repo, where: Where | None) -> tuple[str, ...]:
    """The server policy's ``refs.allow`` (on the server; a client cannot know it)."""
    if where is not None and where.side != "server":
        return ()
    policy = server_policy(repo, where.env if where is not None else None)
    return policy.refs_allow if policy is not None else ()


def _config_violation(update: RefUpdate, problem: Problem) -> Violation:
    hint = problem.hint or f"fix {problem.file} and push again"
    return Violation("config-invalid", update.ref, str(problem), hint)


def registry_of(
    tags: Iterable[tuple[str, GitObject]], artifacts: set[str] | None = None
) -> Registry:
    """The registry gto reads from these tags (of ``artifacts`` only, when given);
    lightweight ones count for counters only."""
    events: list[TagEvent] = []
    counters: list[tuple[str, int | None]] = []
    for name, obj in tags:
        try:
            tag = parse_tag(name)
        except TagNameError as err:
            if err.decoded is None:
                continue
            tag = err.decoded  # past gtoguard's limits, but gto reads it
        if artifacts is not None and tag.artifact not in artifacts:
            continue
        counters.append((tag.artifact, tag.counter))
        event = event_of(name, tag, obj)
        if event is not None:
            events.append(event)
    registry = build_registry(events)
    for artifact, counter in counters:
        registry.artifact(artifact).note_counter(counter)
    return registry


def commit_times(repo: Repo, registry: Registry) -> dict[str, int]:
    """Committer dates of the commits that carry versions: gto's enrichment events."""
    commits = {
        e.commit
        for state in registry.artifacts.values()
        for e in state.events
        if e.name.action is not DEPRECATE
    }
    return {c: repo.commit_time(c) for c in commits}


class CommitTimes(Mapping[str, int]):
    """Committer dates looked up as the views ask for them (most never need one): what
    ``commit_times`` gives, without reading every commit of a whole registry."""

    def __init__(self, repo: Repo) -> None:
        self._repo = repo
        self._known: dict[str, int] = {}

    def __getitem__(self, commit: str) -> int:
        found = self._known.get(commit)
        if found is None:
            found = self._known[commit] = self._repo.commit_time(commit)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)


def registry_for(
    repo: Repo, artifacts: set[str], targets: Mapping[str, str], exclude: set[str]
) -> Registry:
    """The state of ``artifacts`` from existing tags (name -> object; names in
    ``exclude`` left out)."""
    candidates = {n: oid for n, oid in targets.items() if n not in exclude}
    return registry_of(tags_of(repo, artifacts, candidates), artifacts)


def pushed_objects(repo: Repo, updates: Iterable[RefUpdate]) -> dict[str, GitObject]:
    """The new side of every created or moved tag (gto reads a tag by its object), by its
    head for now: its name, target and tagger are all a plain tag needs, and a GTO tag's
    message is read whole once the policy says how long it may be (``whole_messages``)."""
    objects = {}
    for number, update in enumerate(updates):
        if number % 16 == 15:
            timebudget.spend("reading the pushed tag objects")
        if update.is_tag and not update.deleted and update.new not in objects:
            try:
                objects[update.new] = pushed_object(repo, update.new, HEAD_CAP)
            except KeyError:
                raise ContentFailure(f"object {update.new} of {update.ref} is missing") from None
    return objects


MAX_MESSAGES = 64 << 20  # bytes of pushed tag messages one push may make the hook hold


def whole_messages(
    repo: Repo, objects: dict[str, GitObject], gto: Iterable[RefUpdate], max_message: int
) -> None:
    """Read whole the GTO tags' objects read by their heads, where the policy allows
    their size (past it, ``tag-too-large`` needs no message). At most MAX_MESSAGES bytes
    in all: a push past that is too large to judge (``push-too-large``)."""
    held = 0
    for update in gto:
        obj = objects.get(update.new)
        if obj is None or not obj.partial or obj.size > max_message:
            continue
        held += obj.size
        if held > MAX_MESSAGES:
            raise timebudget.TooMuch(
                f"its tag objects hold more than {MAX_MESSAGES >> 20} MiB of messages to read"
            )
        timebudget.spend("reading the pushed tag messages")
        objects[update.new] = pushed_object(repo, update.new, max_message)


def _freeze_at(policy: Policy, where: Where | None, now: int | None, notes: list[str]) -> int:
    """The moment the freeze windows are judged at: the push's (``now``, else this
    machine's clock, else the test clock). Said in a note when the test clock is set."""
    if now is not None:
        return now
    env = where.env if where is not None else os.environ
    note = clock.clock_note(env) if any(r.freeze for r in policy.stages) else None
    if note is not None:
        notes.append(note)
    return clock.freeze_now(env)


def _add_removed(
    repo: Repo, updates: Sequence[RefUpdate], before: dict[str, list[TagEvent]]
) -> None:
    """The receipt's "before" holds what a deleted or moved tag was, where the registry
    did not (pre-push: the clone's registry leaves the pushed names out, and a deleted
    tag is gone from the clone already); its old object, if this repository has it."""
    for update in updates:
        if update.created or not (update.deleted or update.moved):
            continue
        try:
            tag = parse_tag(update.tag_name)
            obj = object_info(repo, update.old)
        except (TagNameError, KeyError):
            continue
        events = before.setdefault(tag.artifact, [])
        event = event_of(update.tag_name, tag, obj)
        if event is not None and all(e.tag != event.tag for e in events):
            events.append(event)


RECEIPT_RESERVE = 0.5  # seconds of the budget the receipt leaves to git and the landing


def _receipt(
    repo: Repo,
    before: Mapping[str, list[TagEvent]],
    registry: Registry,
    config: GtoConfig,
    notes: list[str],
) -> list[str]:
    """The push's receipt, from the state the check judged it against (``before``) and the
    state the check left (``registry``). Never worth declining a push for: with the time
    budget nearly spent it is left out, and said so."""
    from gtoguard.model.receipt import receipt

    left = timebudget.left()
    if left is not None and left < RECEIPT_RESERVE:
        notes.append("no receipt: this push used its time budget up")
        return []
    commits = {e.commit for events in before.values() for e in events}
    commits |= {e.commit for state in registry.artifacts.values() for e in state.events}
    lines = receipt(before, registry, {c: repo.commit_time(c) for c in commits}, config.stages)
    return lines or ["nothing that gto readers show (the tags join the history only)"]


def run(
    repo: Repo,
    updates: Sequence[RefUpdate],
    branch: Branch,
    *,
    changes: list[tuple[RefUpdate, str]] | None = None,
    existing_exclude: set[str] | None = None,
    now: int | None = None,
    where: Where | None = None,
    receipt: bool = False,
) -> Result:
    """Check a batch of updates; raises ``CannotRun`` (e.g. ``ConfigInvalid``) if it cannot.
    ``changes``: ``config_changes(repo, updates, branch)``, when the caller has it already;
    ``receipt``: say in ``Result.receipt`` what an accepted batch changes (the hooks)."""
    result = Result(Outcome())
    if changes is None:
        changes = config_changes(repo, updates, branch)
    config_violations = check_config_changes(repo, changes)
    config_violations += namespaced_refs(updates, repo.namespace)
    config_violations += claimed_default(repo, updates, branch)
    config_violations += tip_problems(repo, updates, branch)
    other = [u for u in updates if is_other_ref(u.ref)]
    if other:
        server = where is None or where.side == "server"
        config_violations += refs_not_allowed(other, _allowed_refs(repo, where), server)
    objects = pushed_objects(repo, updates)
    gto = gto_updates(updates, objects)
    if changes and gto:
        changed = ", ".join(dict.fromkeys(name for _, name in changes))
        result.notes.append(
            f"this push changes {changed} on {branch.short}; its tags are checked "
            "against the files as they were before the push"
        )
    if gto:
        if branch.missing is not None and any(
            u.ref == branch.ref and not u.deleted for u in updates
        ):  # this push creates the default branch: before it, no config (no GTO tag yet
            # either: ``claimed_default`` declines the push otherwise)
            branch = Branch(branch.ref, None)
        settings = load_settings(repo, branch)
        timebudget.limit(settings.policy.budget)
        whole_messages(repo, objects, gto, settings.policy.tags.max_message)
        config_violations += index_problems(repo, gto, objects, settings.cache)
        touched = touched_artifacts(gto)
        names = tag_targets(repo, touched)
        exclude = (
            {u.tag_name for u in gto if u.created} if existing_exclude is None else existing_exclude
        )
        registry = registry_for(repo, touched, names, exclude)
        before = {
            name: list(registry.artifacts[name].events) if name in registry.artifacts else []
            for name in touched
        }
        if receipt:
            _add_removed(repo, gto, before)
        ctx = Context(
            settings.config,
            settings.policy,
            settings.tag_checker(),
            int(time.time()) if now is None else now,
            settings.origin,
            facts_for(repo, where or Where("server"), settings.policy, updates),
            deleted=(
                tombstones.read(repo.path, repo.namespace)
                if settings.policy.tags.allow_delete
                else {}
            ),
            arrived=True,
            freeze_at=_freeze_at(settings.policy, where, now, result.notes),
            fresh=True,
        )
        result.outcome = evaluate(gto, objects, registry, ctx)
        if settings.cache is not None:
            settings.cache.save()  # the verdicts jsonschema reached, for the next push
        if receipt and result.outcome.ok:
            result.receipt = _receipt(repo, before, registry, settings.config, result.notes)
        if (
            result.outcome.ok
            and settings.policy.tags.allow_delete
            and (where is None or where.side == "server")
        ):  # the server's caller records them (tombstones.keep) before it accepts the push
            result.deleted = [u for u in gto if u.deleted]
    for violation in config_violations:
        result.outcome.add(violation)
    return result
