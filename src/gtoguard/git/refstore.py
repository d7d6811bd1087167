"""Refs read straight from git's files ref store: loose refs are files under the
repository, packed ones are the sorted lines of ``packed-refs`` (a binary search in a
memory map touches a few pages, also at a million tags).

The hook asks for a few artifacts' tags on every push. Asking ``git for-each-ref``
costs a process start and, in Python, the import of ``subprocess``: about 9 ms of a
160 ms hook. Only the plain case is answered here; anything else (a symbolic or
unreadable loose ref, a lock or dot file, a ``packed-refs`` that does not say it is
sorted or has an odd line, a linked worktree, another ref backend) answers None, and the
caller asks git. Loose refs are read before ``packed-refs``: ``git pack-refs`` writes the
packed file before it deletes a loose ref, so a ref being packed is seen in one of the
two. Reads only.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable

_OID_SIZES = (41, 65)  # a SHA-1 or SHA-256 hex id and its newline
_HEX = frozenset(b"0123456789abcdef")
_SORTED = b" sorted "


class Unusual(Exception):
    """Something git reads by rules this module does not carry: ask git."""


class RefStore:
    def __init__(self, path: str) -> None:
        self._path = os.fsencode(path)
        self._packed: bytes | mmap.mmap | None = None
        self._sorted = True
        self.plain = not any(
            os.path.exists(os.path.join(self._path, name)) for name in (b"commondir", b"reftable")
        )

    def under(self, prefixes: Iterable[bytes]) -> dict[bytes, bytes] | None:
        """Full ref name -> object id (hex) of every ref that starts with one of
        ``prefixes``, as ``for-each-ref`` lists them; None where git must be asked."""
        if not self.plain:
            return None
        try:
            found: dict[bytes, bytes] = {}
            loose: dict[bytes, bytes] = {}
            wanted = sorted(set(prefixes))
            for prefix in wanted:
                loose.update(self._loose_under(prefix))
            data = self._packed_refs()
            if not self._sorted:
                return None  # git sorts such a file itself; this module does not
            for prefix in wanted:
                found.update(_packed_under(data, prefix))
        except (Unusual, OSError, ValueError):
            return None
        found.update(loose)  # a loose ref wins over its packed line
        return found

    def has_below(self, prefix: bytes) -> bool:
        """Whether any ref starts with ``prefix`` (which ends in ``/``). A ref git could
        not read still holds its name: it is counted."""
        directory = os.path.join(self._path, prefix.rstrip(b"/"))
        if os.path.isdir(directory) and any(files for _, _, files in os.walk(directory)):
            return True
        try:
            data = self._packed_refs()
            if not self._sorted:
                return data.find(b" " + prefix) >= 0  # no ref name holds a space
            return bool(_packed_under(data, prefix, first_only=True))
        except (Unusual, OSError, ValueError):
            return False

    def _loose_under(self, prefix: bytes) -> dict[bytes, bytes]:
        directory, _, start = prefix.rpartition(b"/")
        found: dict[bytes, bytes] = {}
        try:
            entries = list(os.scandir(os.path.join(self._path, directory)))
        except (FileNotFoundError, NotADirectoryError):
            return found
        for entry in entries:
            if entry.name.startswith(start):
                self._read_loose(directory + b"/" + entry.name, entry, found)
        return found

    def _read_loose(
        self, name: bytes, entry: os.DirEntry[bytes], found: dict[bytes, bytes]
    ) -> None:
        last = entry.name
        if last.startswith(b".") or last.endswith(b".lock"):
            raise Unusual(name)
        if entry.is_dir(follow_symlinks=False):
            for inner in os.scandir(entry.path):
                self._read_loose(name + b"/" + inner.name, inner, found)
            return
        if not entry.is_file(follow_symlinks=False):
            raise Unusual(name)
        with open(entry.path, "rb") as ref:
            content = ref.read(66)
        if (
            len(content) not in _OID_SIZES
            or content[-1:] != b"\n"
            or not _HEX.issuperset(content[:-1])
        ):
            raise Unusual(name)  # a symbolic ref, or one git reads by other rules
        found[name] = content[:-1]

    def _packed_refs(self) -> bytes | mmap.mmap:
        """``packed-refs``, mapped rather than read: reading a million tags' file
        (112 MB) cost the hook 0.15 s."""
        if self._packed is None:
            try:
                with open(os.path.join(self._path, b"packed-refs"), "rb") as packed:
                    size = os.fstat(packed.fileno()).st_size
                    self._packed = (
                        mmap.mmap(packed.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
                    )
            except FileNotFoundError:
                self._packed = b""
            header = self._packed[: self._packed.find(b"\n") + 1]
            self._sorted = not self._packed or (
                header.startswith(b"# pack-refs with:") and _SORTED in header
            )
        return self._packed


def _packed_under(
    data: bytes | mmap.mmap, prefix: bytes, first_only: bool = False
) -> dict[bytes, bytes]:
    """The refs of the sorted ``packed-refs`` text that start with ``prefix``."""
    low, high = 0, len(data)
    while low < high:  # the start of the first line whose name is >= prefix
        middle = (low + high) // 2
        start = data.rfind(b"\n", 0, middle) + 1
        end = _end(data, start)
        if _name(data, start) < prefix:
            low = end + 1
        else:
            high = start
    found: dict[bytes, bytes] = {}
    while low < len(data):
        end = _end(data, low)
        line = data[low:end]
        low = end + 1
        if line.startswith(b"^"):
            continue  # the peeled value of the ref before
        oid, space, name = line.partition(b" ")
        if not name.startswith(prefix):
            break
        if not space or len(oid) + 1 not in _OID_SIZES or not _HEX.issuperset(oid):
            raise Unusual(name)
        found[name] = oid
        if first_only:
            break
    return found


def _end(data: bytes | mmap.mmap, start: int) -> int:
    end = data.find(b"\n", start)
    return len(data) if end < 0 else end


def _name(data: bytes | mmap.mmap, start: int) -> bytes:
    """The ref name of the ``packed-refs`` line at ``start``: a peeled line (``^oid``)
    counts as the ref above it, the header as less than any name."""
    while data[start : start + 1] == b"^" and start > 0:
        start = data.rfind(b"\n", 0, start - 1) + 1
    line = data[start : _end(data, start)]
    if line.startswith(b"#") or b" " not in line:
        return b""
    return line.split(b" ", 1)[1]
