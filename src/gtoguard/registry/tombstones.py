"""Tags deleted under ``tags.delete: allow``, remembered so that creating one again
elsewhere is judged as what it is: a move (which ``tags.move: deny`` forbids).

A line per deletion, ``name<TAB>commit``, in ``<git dir>/gtoguard-cache/deleted-tags``
(for a ``GIT_NAMESPACE``, ``deleted-tags.ns-<digest of the namespace>``: the namespace as
``Repo.namespace`` reads it, so ``a/b``, ``a//b`` and ``/a/b`` share one file and ``a.b``
has its own), appended with one write (O_APPEND) so concurrent pushes cannot interleave
lines, and synced to disk before the push is accepted. A deletion whose tombstone cannot
be written is not accepted: a lost tombstone would let the tag come back elsewhere unseen.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gtoguard.errors import CannotRun
from gtoguard.model.refupdate import RefUpdate
from gtoguard.policy.rules.violation import GitObject

if TYPE_CHECKING:
    from gtoguard.git.repo import Repo

CACHE = "gtoguard-cache"
NAME = "deleted-tags"


def _digest(text: str) -> str:
    from gtoguard.config.verdictcache import content_digest

    return content_digest(text.encode("utf-8", "surrogateescape"))


def path_of(git_dir: str, namespace: str = "") -> Path:
    """The file of ``namespace`` (as ``Repo.namespace`` gives it: parts joined by '/')."""
    name = NAME if not namespace else f"{NAME}.ns-{_digest(namespace)}"
    return Path(git_dir) / CACHE / name


def _legacy(git_dir: str, namespace: str) -> Path | None:
    """Where earlier releases kept a namespace's tombstones (ambiguous: ``a/b`` and ``a.b``
    shared it): read still, so that no deletion they recorded is forgotten; never written."""
    if not namespace:
        return None
    return Path(git_dir) / CACHE / f"{NAME}.{namespace.replace('/', '.')}"


def read(git_dir: str, namespace: str = "") -> dict[str, str]:
    """Deleted tag name -> the commit it pointed at (the latest deletion wins)."""
    found: dict[str, str] = {}
    for path in (_legacy(git_dir, namespace), path_of(git_dir, namespace)):
        try:
            data = path.read_bytes() if path is not None else b""
        except OSError:
            continue
        for line in data.split(b"\n"):
            name, tab, commit = line.partition(b"\t")
            if tab:
                found[name.decode("utf-8", "surrogateescape")] = commit.decode("ascii", "replace")
    return found


def keep(repo: Repo, deleted: Sequence[RefUpdate]) -> None:
    """Record the deletions a server's check accepted (``Result.deleted``), before the push
    is accepted; raises ``CannotRun`` when they cannot be."""
    from gtoguard.git.objects import object_info

    old = {}
    for update in deleted:
        try:
            old[update.old] = object_info(repo, update.old)
        except KeyError:
            continue  # not in this repository: the tombstone names the oid itself
    try:
        record(repo.path, deleted, old, repo.namespace)
    except OSError as exc:
        raise CannotRun(
            f"cannot remember the deleted tags ({exc.strerror or exc}); a deletion is "
            "accepted only once it is recorded, or the tag could come back elsewhere "
            "unseen",
            "the server admin makes gtoguard-cache/ in the repository writable for the "
            "hooks' account",
        ) from None


def record(
    git_dir: str, updates: Iterable[RefUpdate], old: Mapping[str, GitObject], namespace: str = ""
) -> None:
    """Remember the accepted deletions of ``updates``, synced to disk; raises ``OSError``
    when they cannot be (the caller declines the push)."""
    lines = []
    for update in updates:
        if update.is_tag and update.deleted:
            target = _commit_of(update.old, old)
            name = update.tag_name.encode("utf-8", "surrogateescape")
            lines.append(name + b"\t" + target.encode("ascii") + b"\n")
    if not lines:
        return
    path = path_of(git_dir, namespace)
    path.parent.mkdir(exist_ok=True)
    data = b"".join(lines)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        if os.write(fd, data) != len(data):
            raise OSError(f"{path}: the disk took only part of the line")
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit_of(oid: str, objects: Mapping[str, GitObject]) -> str:
    obj = objects.get(oid)
    if obj is not None and obj.kind == "tag" and obj.target:
        return obj.target
    return oid
