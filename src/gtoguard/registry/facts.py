"""What a check can know on the side it runs on (``Where``): who pushes, which branches
reach a commit, whether a signature verifies, the repository's name (docs/design.md §4).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import NamedTuple

from gtoguard.errors import CannotRun
from gtoguard.git.branches import branch_tips
from gtoguard.git.repo import Repo
from gtoguard.model.refupdate import BRANCH_PREFIX, RefUpdate
from gtoguard.model.signatureblock import Verdict
from gtoguard.policy import timebudget
from gtoguard.policy.context import NOTHING, Evidence, Facts
from gtoguard.policy.identity import Pusher, identity_sources, pusher
from gtoguard.policy.rules.approvals import BallotReader
from gtoguard.policy.rules.pushers import CI_IDENTITY_HINT
from gtoguard.policy.rules.violation import Verifier
from gtoguard.policy.settings import Policy
from gtoguard.registry.rulefiles import server_policy


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

    log = LogIndex(repo) if where.side == "server" else None
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
        evidence=evidence_reader(repo),  # read only where a stage's requires asks
        ballots=_ballots(repo, where, verify),
        registrars=registrars_reader(repo, log) if log is not None else None,
        arrived=log.arrived if log is not None else None,
    )


def _ballots(repo: Repo, where: Where, verify: Verifier | None) -> BallotReader | None:
    """Where a promotion's requests and approvals are read: the repository's own refs
    on the server (and in CI, which fetches them, and where only a signature tells who
    approved), the remote's on a clone."""
    from gtoguard.registry.approvals import local_ballots, remote_ballots

    if where.side == "client":
        return remote_ballots(repo, where.remote) if where.remote else None
    if where.side == "ci":
        return local_ballots(repo, verify or _no_signers)
    return local_ballots(repo)


def _no_signers(_oid: str, _block: str) -> Verdict:
    return Verdict(False, "there are no signers to verify it against (GTOGUARD_POLICY's signers)")


class LogIndex:
    """What the server's decision log says of each tag name: who last landed it, and
    when. Nothing is read until a rule asks, not even the server policy that names the
    log: a push no such rule judges loads no YAML for it."""

    def __init__(self, repo: Repo) -> None:
        self._repo = repo
        self._path: str | None = None
        self._looked = False
        self._by_ref: dict[str, tuple[str, int]] | None = None

    @property
    def path(self) -> str | None:
        """The log the server policy names; None where it names none."""
        if not self._looked:
            self._looked = True
            try:
                policy = server_policy(self._repo)
            except CannotRun:
                policy = None
            self._path = policy.log if policy is not None else None
        return self._path

    def _index(self) -> dict[str, tuple[str, int]]:
        if self._by_ref is None:
            from gtoguard.registry.decisionlog import landings

            path = self.path
            found = landings(path) if path is not None else {}
            self._by_ref = {ref: (who, when) for (ref, _), (who, _, when) in found.items()}
        return self._by_ref

    def registrar(self, name: str) -> str | None:
        found = self._index().get(f"refs/tags/{name}")
        return found[0] if found else None

    def arrived(self, name: str) -> int | None:
        found = self._index().get(f"refs/tags/{name}")
        return found[1] if found else None


def registrars_reader(
    repo: Repo, log: LogIndex
) -> Callable[[str, str], dict[str, str | None] | None]:
    """(artifact, commit) -> every registration tag of the artifact the repository holds
    on the commit, and who pushed it as the decision log says; None without a log."""
    from gtoguard.git.objects import object_info
    from gtoguard.git.tagrefs import tag_targets
    from gtoguard.model.tagname import REGISTER, TagNameError, parse_tag

    def read(artifact: str, commit: str) -> dict[str, str | None] | None:
        if log.path is None:
            return None
        found: dict[str, str | None] = {}
        for name, oid in tag_targets(repo, {artifact}).items():
            try:
                tag = parse_tag(name)
            except TagNameError:
                continue
            if tag.action is not REGISTER or tag.artifact != artifact:
                continue
            try:
                target = object_info(repo, oid).target
            except (KeyError, ValueError):
                continue
            if target == commit:
                found[name] = log.registrar(name)
        return found

    return read


def evidence_reader(repo: Repo) -> Callable[[str, str, bool], Evidence]:
    """What a commit's tree holds at a path, for ``requires``: a file or not, and parsed
    as gto parses YAML and JSON (at most MAX_CONFIG_BYTES; a larger file is not read)."""
    from gtoguard.config.problems import MAX_CONFIG_BYTES, ConfigInvalid

    def read(commit: str, path: str, parse: bool) -> Evidence:
        timebudget.spend("reading the evidence stages require")
        twice = repo.listed_twice(commit, path)
        if twice is not None:
            return Evidence(
                True,
                None,
                f"the commit's tree lists {twice} twice (git fsck: duplicateEntries), and "
                "git's readers disagree on which one they read",
            )
        entry = repo.entry_at(commit, path)
        if entry is None or entry[1] not in (0o100644, 0o100755):
            return Evidence(False)  # absent, a directory, a symlink or a submodule
        if not parse:
            return Evidence(True)
        try:
            size = repo.header(entry[0])[1]
        except KeyError:
            return Evidence(True, None, "its blob is not in the repository")
        if size > MAX_CONFIG_BYTES:
            return Evidence(True, None, f"{size} bytes, more than the {MAX_CONFIG_BYTES} read")
        from gtoguard.config.yamlfile import load

        try:
            return Evidence(True, load(repo.raw(entry[0]), path))
        except ConfigInvalid as exc:
            return Evidence(True, None, "; ".join(p.message for p in exc.problems))

    return read


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


def log_approvals(repo: Repo) -> Callable[[str, str], list[str] | None] | None:
    """Who approved each promotion as it landed, as the server's decision log says (an
    audit on the server); None where there is no log."""
    path = LogIndex(repo).path
    if path is None:
        return None
    from gtoguard.model.refupdate import printable_ref
    from gtoguard.registry.decisionlog import logged_approvals

    index: dict[tuple[str, str], list[str]] | None = None

    def approved(ref: str, oid: str) -> list[str] | None:
        nonlocal index
        if index is None:
            index = logged_approvals(path)
        return index.get((printable_ref(ref), oid))

    return approved


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
