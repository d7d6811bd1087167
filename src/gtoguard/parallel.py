"""Work on a whole registry split across the machine's cores, by artifact.

Everything gto computes about an artifact comes from that artifact's own tags (versions,
stages, counters, dates), so the tags of different artifacts can be replayed apart and
the results joined. The processes are forked: each starts with gtoguard imported and
the tag listing in memory (shared, not copied or sent), picks its own artifacts out
of it (``wholeregistry.share``) and opens the repository itself. Small registries stay
in one process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable
from typing import Any, TypeVar

MIN_TAGS = 20_000  # below this, starting processes costs more than it saves
MAX_WORKERS = 4
T = TypeVar("T")
_shared: Any = None  # what the forked workers inherit


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def by_share(work: Callable[..., T], shared: Any, size: int, *args: Any) -> list[T]:
    """``work(shared, part, parts, *args)`` for each part, in parallel where it pays
    (``size``: how many tags ``shared`` holds)."""
    global _shared
    parts = min(cores(), MAX_WORKERS)
    forking = "fork" in multiprocessing.get_all_start_methods()
    if parts < 2 or size < MIN_TAGS or not forking:
        return [_run(work, 0, 1, (shared, *args))]
    _shared = shared
    try:
        with multiprocessing.get_context("fork").Pool(parts) as pool:
            return pool.starmap(_run, [(work, part, parts, (None, *args))
                                       for part in range(parts)])  # fmt: skip
    finally:
        _shared = None


def _run(work: Callable[..., T], part: int, parts: int, args: tuple[Any, ...]) -> T:
    """One share of the work, with the cyclic garbage collector paused: a replay makes
    millions of small objects and no cycles, and each collection would walk them all
    again (a third of the time at 100,000 tags). ``args[0]`` None: the shared data."""
    shared = _shared if args[0] is None else args[0]
    enabled = gc.isenabled()
    gc.disable()
    try:
        return work(shared, part, parts, *args[1:])
    finally:
        if enabled:
            gc.enable()
