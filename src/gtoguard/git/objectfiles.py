"""The head of an object, read from git's own files without inflating the rest.

git (``cat-file``) and libgit2 both hold an object whole to hand out any of it: a pushed
tag object of 600 MB cost 600 MB to see its first line. The hook needs only the headers
of a large tag (its name, target and tagger), so this reads them straight from the
object's file: a loose object (a push of fewer than 100 objects arrives loose) inflated
only as far as wanted, or a pack entry stored whole (not as a delta) inflated likewise.
Anything else (a delta, an odd file) answers None, and the caller decides. Reads only.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Iterable

_OBJ_TAG = 4  # a pack entry's type for a tag object
_IDX_MAGIC = b"\377tOc"


def head(oid: str, directories: Iterable[str], limit: int) -> bytes | None:
    """The first ``limit`` bytes of object ``oid``'s content (past git's ``TYPE SIZE``
    header), from the first of ``directories`` (object directories) that holds it."""
    for directory in directories:
        found = _loose(os.path.join(directory, oid[:2], oid[2:]), limit)
        if found is not None:
            return found
        found = _packed(os.path.join(directory, "pack"), bytes.fromhex(oid), limit)
        if found is not None:
            return found
    return None


def _inflate(chunks: Iterable[bytes], limit: int) -> bytes | None:
    inflate = zlib.decompressobj()
    out = b""
    for chunk in chunks:
        try:
            out += inflate.decompress(chunk, limit - len(out))
        except zlib.error:
            return None
        if len(out) >= limit or inflate.unconsumed_tail or inflate.eof:
            break
    return out


def _loose(path: str, limit: int) -> bytes | None:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - read in chunks below
    except OSError:
        return None
    with handle:
        out = _inflate(iter(lambda: handle.read(1 << 14), b""), limit + 64)
    if out is None:
        return None
    _, nul, body = out.partition(b"\0")  # "tag <size>" NUL, then the object
    return body[:limit] if nul else None


def _packed(pack_dir: str, oid: bytes, limit: int) -> bytes | None:
    try:
        names = [n for n in os.listdir(pack_dir) if n.endswith(".idx")]
    except OSError:
        return None
    for name in names:
        offset = _offset(os.path.join(pack_dir, name), oid)
        if offset is None:
            continue
        try:
            with open(os.path.join(pack_dir, name[: -len(".idx")] + ".pack"), "rb") as pack:
                pack.seek(offset)
                first = pack.read(1)
                if not first or (first[0] >> 4) & 7 != _OBJ_TAG:
                    return None  # a delta, or not a tag: git answers
                byte = first[0]
                while byte & 0x80:  # the rest of the size, seven bits a byte
                    more = pack.read(1)
                    if not more:
                        return None
                    byte = more[0]
                return _inflate(iter(lambda: pack.read(1 << 14), b""), limit)
        except OSError:
            return None
    return None


def _offset(idx_path: str, oid: bytes) -> int | None:
    """The offset of ``oid`` in the pack of version-2 index ``idx_path``, or None."""
    try:
        with (
            open(idx_path, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as idx,
        ):
            if idx[:4] != _IDX_MAGIC or struct.unpack(">I", idx[4:8])[0] != 2:
                return None
            size = len(oid)
            fanout = 8
            low = (
                struct.unpack(">I", idx[fanout + 4 * (oid[0] - 1) : fanout + 4 * oid[0]])[0]
                if oid[0]
                else 0
            )
            high = struct.unpack(">I", idx[fanout + 4 * oid[0] : fanout + 4 * oid[0] + 4])[0]
            count = struct.unpack(">I", idx[fanout + 1020 : fanout + 1024])[0]
            names = fanout + 1024
            while low < high:
                middle = (low + high) // 2
                found = idx[names + middle * size : names + (middle + 1) * size]
                if found < oid:
                    low = middle + 1
                elif found > oid:
                    high = middle
                else:
                    offsets = names + count * size + count * 4
                    value = struct.unpack(
                        ">I", idx[offsets + 4 * middle : offsets + 4 * middle + 4]
                    )[0]
                    if value & 0x80000000:  # a large offset, in the table after
                        large = offsets + count * 4 + 8 * (value & 0x7FFFFFFF)
                        value = struct.unpack(">Q", idx[large : large + 8])[0]
                    return int(value)
            return None
    except (OSError, ValueError, struct.error):
        return None
