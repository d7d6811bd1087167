"""Work on a whole registry split across the machine's cores, by artifact.

Everything gto computes about an artifact comes from that artifact's own tags (versions,
stages, counters, dates), so the tags of different artifacts can be replayed apart and
the results joined. The processes are forked, so each starts with gtoguard imported;
each opens the repository itself. Small registries stay in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import zlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

MIN_TAGS = 20_000  # below this, starting processes costs more than it saves
MAX_WORKERS = 4
T = TypeVar("T")


def artifact_key(tag_name: str) -> str:
    """The artifact part of a tag name: everything before the first '@' or '#'."""
    cuts = [i for i in (tag_name.find("@"), tag_name.find("#")) if i >= 0]
    return tag_name[: min(cuts)] if cuts else tag_name


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def split(pairs: Sequence[tuple[str, str]], parts: int) -> list[list[tuple[str, str]]]:
    """(tag name, oid) pairs in ``parts`` groups; all tags of an artifact in one group."""
    groups: list[list[tuple[str, str]]] = [[] for _ in range(parts)]
    for pair in pairs:
        key = artifact_key(pair[0]).encode("utf-8", "surrogateescape")
        groups[zlib.crc32(key) % parts].append(pair)
    return groups


def by_artifact(work: Callable[..., T], pairs: Sequence[tuple[str, str]], *args: Any) -> list[T]:
    """``work(group, *args)`` for each group of tags, in parallel where it pays."""
    parts = min(cores(), MAX_WORKERS)
    forking = "fork" in multiprocessing.get_all_start_methods()
    if parts < 2 or len(pairs) < MIN_TAGS or not forking:
        return [work(list(pairs), *args)]
    with multiprocessing.get_context("fork").Pool(parts) as pool:
        return pool.starmap(work, [(group, *args) for group in split(pairs, parts)])
