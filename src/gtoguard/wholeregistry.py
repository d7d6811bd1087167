"""Every GTO tag of a repository, artifact by artifact: what ``check --all`` and ``show``
replay.

One ``git for-each-ref`` lists the tags into a single buffer. Each share of the work
(``parallel``) picks its artifacts out of that buffer, asks git for their objects in
bulk (``gitbatch``) and gets them back one artifact at a time: an artifact's state
depends only on its own tags, so no more than one artifact's objects are held at once.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from . import gitbatch
from .gitrepo import Repo
from .refupdate import decode_ref
from .rules import GitObject

Tags = list[tuple[str, str]]  # (tag name, object id)


@dataclass(frozen=True)
class Listing:
    """``<oid> <ref>`` lines of every tag, and the prefix they share (namespace and all)."""

    lines: bytes
    prefix: bytes

    @property
    def size(self) -> int:
        return self.lines.count(b"\n")


def list_tags(repo: Repo) -> Listing:
    prefix = repo.tags_prefix
    return Listing(gitbatch.refs_under(repo.path, prefix),
                   prefix.encode("utf-8", "surrogateescape"))  # fmt: skip


def share(listing: Listing, part: int = 0, parts: int = 1) -> dict[bytes, Tags]:
    """The GTO-shaped tags (a name holding '@' or '#') of the artifacts in share ``part``
    of ``parts``, by artifact as tag names spell it, in name order. An artifact's share
    is fixed by its name, so all of its tags land in one share."""
    line = re.compile(rb"^([0-9a-f]{40,64}) " + re.escape(listing.prefix)
                      + rb"([^@#\n]*)([@#][^\n]*)$", re.MULTILINE)  # fmt: skip
    groups: dict[bytes, Tags] = {}
    crc32 = zlib.crc32
    for found in line.finditer(listing.lines):
        oid, key, rest = found.groups()
        if parts > 1 and crc32(key) % parts != part:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
        group.append((decode_ref(key + rest), oid.decode("ascii")))
    return groups


def objects_by_artifact(repo: Repo, groups: dict[bytes, Tags]
                        ) -> Iterator[list[tuple[str, GitObject]]]:  # fmt: skip
    """Each artifact's tags with their objects, as ``Repo.object_info`` reads them, read
    in bulk by one ``git cat-file --batch`` streaming while they are judged."""
    read = gitbatch.objects(repo.path, [oid for group in groups.values() for _, oid in group])
    for group in groups.values():
        found = []
        for name, oid in group:
            kind, size, fields, data = next(read, ("missing", 0, None, None))
            if fields is not None:
                obj = repo.tag_from_fields(oid, size, fields)
            elif data is not None:
                obj = repo.tag_info(oid, size, data)
            elif kind == "tag":  # past READ_CAP: its head only, as object_info reads it
                obj = repo.object_info(oid)
            else:
                obj = GitObject(oid, kind, size=size)
            found.append((name, obj))
        yield found
    read.close()
