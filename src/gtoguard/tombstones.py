"""Tags deleted under ``tags.delete: allow``, remembered so that creating one again
elsewhere is judged as what it is: a move (which ``tags.move: deny`` forbids).

A line per deletion, ``name<TAB>commit``, in ``<git dir>/gtoguard-cache/deleted-tags``,
appended with one write (O_APPEND) so concurrent pushes cannot interleave lines.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .refupdate import RefUpdate
from .rules import GitObject

FILE = Path("gtoguard-cache") / "deleted-tags"


def _path(git_dir: str) -> Path:
    namespace = os.environ.get("GIT_NAMESPACE", "")
    name = FILE.name + (f".{namespace.replace('/', '.')}" if namespace else "")
    return Path(git_dir) / FILE.parent / name


def read(git_dir: str) -> dict[str, str]:
    """Deleted tag name -> the commit it pointed at (the latest deletion wins)."""
    try:
        data = _path(git_dir).read_bytes()
    except OSError:
        return {}
    found = {}
    for line in data.split(b"\n"):
        name, tab, commit = line.partition(b"\t")
        if tab:
            found[name.decode("utf-8", "surrogateescape")] = commit.decode("ascii", "replace")
    return found


def record(git_dir: str, updates: Iterable[RefUpdate], old: Mapping[str, GitObject]) -> None:
    """Remember the accepted deletions of ``updates``. Never fails a push: a tombstone
    that cannot be written is only a move that goes unseen later."""
    lines = []
    for update in updates:
        if update.is_tag and update.deleted:
            target = _commit_of(update.old, old)
            name = update.tag_name.encode("utf-8", "surrogateescape")
            lines.append(name + b"\t" + target.encode("ascii") + b"\n")
    if not lines:
        return
    path = _path(git_dir)
    try:
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, b"".join(lines))
        finally:
            os.close(fd)
    except OSError:
        pass


def _commit_of(oid: str, objects: Mapping[str, GitObject]) -> str:
    obj = objects.get(oid)
    if obj is not None and obj.kind == "tag" and obj.target:
        return obj.target
    return oid
