"""Branches: the default branch (a server's HEAD, a client's view of its remote's), a
branch the user names, the branch tips, and which config files an update of the default
branch changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from gtoguard.errors import UsageError
from gtoguard.git.repo import Repo
from gtoguard.model.refupdate import BRANCH_PREFIX, RefUpdate, decode_ref
from gtoguard.policy.settings import CONFIG_FILES, INDEX_FILE


class Branch(NamedTuple):
    ref: str  # e.g. refs/heads/main (without the GIT_NAMESPACE prefix)
    commit: str | None  # None: the branch does not exist (yet)
    # Set when a bare repository's HEAD names this branch, it does not exist and other
    # branches do: why the default branch cannot be read, and how to fix it. gtoguard then
    # refuses to judge GTO tags rather than silently apply the default rules.
    missing: str | None = None
    fix: str | None = None
    remote: str | None = None  # a client: the remote whose branch this is, as last fetched

    @property
    def short(self) -> str:
        for prefix in ("refs/heads/", "refs/remotes/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref

    @property
    def label(self) -> str:
        """How messages name it, as git names the revision: ``main`` on a server,
        ``origin/main`` on a client (the remote's branch as last fetched)."""
        return f"{self.remote}/{self.short}" if self.remote else self.short


def default_branch(repo: Repo, remote: str | None = None) -> Branch:
    """The bare repo's HEAD; for pre-push the remote's HEAD as last fetched, else ours.
    In a namespace its own HEAD, else the branch of the name the repository's HEAD
    names, inside the namespace (receive-pack never creates a namespace's HEAD).
    Resolved to the end of its symref chain: with HEAD -> master -> main the default
    branch is main, the ref a push of either name writes (``landing_ref``)."""
    candidates = [f"refs/remotes/{remote}/HEAD"] if remote else []
    candidates.append("HEAD")
    for head in candidates:
        points_to = repo.symbolic_target(head)
        if points_to is None and head == "HEAD" and repo.namespace:
            if repo.stored_target(repo.full(head)) is not None:
                break  # the namespace's HEAD is detached
            points_to = repo.stored_symbolic("HEAD")
        if points_to is None:
            continue
        # to the end of the chain (HEAD -> master -> main is main), as git writes it
        points_to = repo.landing_ref(points_to)
        if points_to.startswith("refs/remotes/"):
            branch = "refs/heads/" + points_to.split("/", 3)[3]
            return Branch(branch, repo.ref_target(points_to))
        commit = repo.ref_target(points_to)
        if commit is None and head == "HEAD" and repo.bare:
            return _missing_head(repo, points_to)
        return Branch(points_to, commit)
    return Branch("HEAD", repo.ref_target("HEAD"))  # detached: no branch name to report


def remote_default_branch(repo: Repo, remote: str, ask: bool = False) -> Branch:
    """A client's view of ``remote``'s default branch, never a local commit the
    remote has not seen: ``refs/remotes/<remote>/HEAD``; else, with ``ask``, the
    branch ``git ls-remote --symref`` names; else ``<remote>/<current branch>``.
    A remote that is not configured here: the branch HEAD is on (a local registry)."""
    if repo.config_value(f"remote.{remote}.url") is None:
        return default_branch(repo)
    points_to = repo.symbolic_target(f"refs/remotes/{remote}/HEAD")
    name = points_to.split("/", 3)[3] if points_to and points_to.count("/") >= 3 else None
    if name is None and ask:
        done = repo.git("ls-remote", "--symref", "--", remote, "HEAD")
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                name = line[len("ref: refs/heads/") : -len("\tHEAD")]
    if name is None:
        current = repo.symbolic_target("HEAD")
        if current and current.startswith(BRANCH_PREFIX):
            name = current[len(BRANCH_PREFIX) :]
    if name is None:
        return Branch("HEAD", None, remote=remote)
    tracking = f"refs/remotes/{remote}/{name}"
    return Branch(BRANCH_PREFIX + name, repo.ref_target(tracking), remote=remote)


def _missing_head(repo: Repo, ref: str) -> Branch:
    """The default branch ``ref`` does not exist: fine while no branch exists (the
    first push), an error to report once others do."""
    others = sorted(branch_tips(repo))
    if not others:
        return Branch(ref, None)
    head = repo.full("HEAD")
    own = repo.stored_symbolic(head) is not None
    where = f" in namespace {repo.namespace}" if repo.namespace else ""
    names = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
    said = (
        f"{head} names {ref}"
        if own or not repo.namespace
        else f"namespace {repo.namespace} has no HEAD of its own and the "
        f"repository's HEAD names {ref}"
    )
    missing = (
        f"{said}, which does not exist{where} (branches: {names}); .gto and "
        ".gtoguard.yaml are read from the default branch, so GTO tags cannot "
        "be checked"
    )
    best = next((n for n in ("main", "master") if n in others), others[0])
    fix = (
        f"on the server, point HEAD at the default branch: git symbolic-ref {head} "
        f"{repo.full(BRANCH_PREFIX + best)}"
    )
    return Branch(ref, None, missing, fix)


def named_branch(repo: Repo, name: str) -> Branch:
    """A branch given by the user: ``main``, ``origin/main`` or a full ref."""
    for ref in (name, f"{BRANCH_PREFIX}{name}", f"refs/remotes/{name}"):
        if ref.startswith("refs/") and (commit := repo.ref_target(ref)) is not None:
            return Branch(ref, commit)
    raise UsageError(
        f"no branch {name!r} here",
        "give a local branch (main) or a remote-tracking one (origin/main); in CI fetch it first",
    )


def branch_tips(repo: Repo, remote: str | None = None) -> dict[str, str]:
    """Branch name -> commit: the remote's branches as last fetched when ``remote``
    has any here, else the local branches (only those refs are read, not the tags).
    for-each-ref knows no namespace: the prefix is ours to add and strip."""
    prefixes = ([f"refs/remotes/{remote}/"] if remote else []) + [BRANCH_PREFIX]
    for prefix in prefixes:
        full = repo.full(prefix)
        done = repo.git("for-each-ref", "--format=%(refname)%00%(objectname)", full)
        if done.returncode != 0:
            continue
        tips = {}
        for line in done.stdout.splitlines():
            raw, _, oid = line.partition(b"\0")
            name = decode_ref(raw)
            if not name.endswith("/HEAD"):
                tips[name[len(full) :]] = oid.decode("ascii")
        if tips:
            return tips
    return {}


def config_changes(
    repo: Repo, updates: Iterable[RefUpdate], branch: Branch
) -> list[tuple[RefUpdate, str]]:
    """(update, file) for each config file a default-branch update changes; blob ids
    only, so nothing is parsed for a push that leaves the files alone. An
    ``artifacts.yaml`` counts whenever the new tip has one: gto dates its entries by
    the tip commit, which every such update replaces."""
    changes = []
    for update in updates:
        if update.ref != branch.ref:
            continue
        if update.deleted:  # the branch goes, and the files it holds with it
            changes += [
                (update, name)
                for name in CONFIG_FILES
                if repo.blob_id_at(update.old, name) is not None
            ]
            continue
        old = None if update.created else update.old
        for name in CONFIG_FILES:
            new = repo.blob_id_at(update.new, name)
            if new != repo.blob_id_at(old, name) or (name == INDEX_FILE and new is not None):
                changes.append((update, name))
    return changes
