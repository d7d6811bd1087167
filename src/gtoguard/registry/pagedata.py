"""What the registry page (``gtoguard ui``) needs besides the documents: the remotes, the
stages configured, a key for its cache, the recent commits."""

from __future__ import annotations

from dataclasses import dataclass

from gtoguard.git.branches import Branch
from gtoguard.git.repo import Repo
from gtoguard.registry import alltags
from gtoguard.registry.rulefiles import load_settings


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
