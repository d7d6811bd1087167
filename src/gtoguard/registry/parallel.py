"""Work on a whole registry split across the machine's cores, by artifact.

Everything gto computes about an artifact comes from that artifact's own tags (versions,
stages, counters, dates), so the tags of different artifacts can be replayed apart and
the results joined. The processes are forked: each starts with gtoguard imported and
the tag listing in memory (shared, not copied or sent), picks its own artifacts out
of it (``alltags.share``) and opens the repository itself. Small registries stay
in one process.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

MIN_TAGS = 20_000  # below this, starting processes costs more than it saves
MAX_WORKERS = 4
T = TypeVar("T")
_shared: Any = None  # what the forked workers inherit
_later: Any = None  # likewise, the Later they take their value from
_LATER = "<later>"  # stands in for it among the (sent) arguments


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Later:
    """A value the parent computes while the workers start, for each of them to take when
    it needs it (as JSON, through a pipe of its own): ``check --all`` walks the config
    history while the workers pick their artifacts out of the listing."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self._compute = compute
        self._value: Any = None
        self._ready = False
        self._pipes: list[tuple[int, int]] = []
        self.error: BaseException | None = None  # raised by the parent once all is done

    def get(self, part: int) -> Any:
        """The value (in a worker, once the parent has sent it)."""
        if not self._ready:
            data = b""
            while not data.endswith(b"\n"):
                chunk = os.read(self._pipes[part][0], 1 << 16)
                if not chunk:
                    break
                data += chunk
            self._value, self._ready = json.loads(data or b"null"), True
        return self._value

    def _now(self) -> None:
        self._value, self._ready = self._compute(), True

    def _send(self) -> None:
        try:
            value = self._compute()
        except BaseException as exc:  # the parent raises it; the workers get null
            self.error, value = exc, None
        data = (json.dumps(value) + "\n").encode()
        for _, write in self._pipes:
            view = memoryview(data)
            while view:
                view = view[os.write(write, view) :]


def by_share(
    work: Callable[..., T], shared: Any, size: int, *args: Any, later: Later | None = None
) -> list[T]:
    """``work(shared, part, parts, *args)`` for each part, in parallel where it pays
    (``size``: how many tags ``shared`` holds). ``later``: computed in the parent once
    the workers run (``work`` gets it as its last argument and calls ``get(part)``)."""
    global _shared, _later
    parts = min(cores(), MAX_WORKERS)
    forking = "fork" in multiprocessing.get_all_start_methods()
    extra: tuple[Any, ...] = () if later is None else (later,)
    if parts < 2 or size < MIN_TAGS or not forking:
        if later is not None:
            later._now()
        return [_run(work, 0, 1, (shared, *args, *extra))]
    _shared, _later = shared, later
    if later is not None:
        later._pipes = [os.pipe() for _ in range(parts)]
        extra = (_LATER,)  # the workers inherit it: a computation cannot be sent
    try:
        with multiprocessing.get_context("fork").Pool(parts) as pool:  # the workers fork here
            sending = None
            if later is not None:  # after the fork: no thread runs while the workers start
                sending = threading.Thread(target=later._send, daemon=True)
                sending.start()
            done = pool.starmap(_run, [(work, part, parts, (None, *args, *extra))
                                       for part in range(parts)])  # fmt: skip
            if sending is not None:
                sending.join()
    finally:
        _shared = _later = None
        if later is not None:
            for read, write in later._pipes:
                os.close(read)
                os.close(write)
    if later is not None and later.error is not None:
        raise later.error
    return done


def _run(work: Callable[..., T], part: int, parts: int, args: tuple[Any, ...]) -> T:
    """One share of the work, with the cyclic garbage collector paused: a replay makes
    millions of small objects and no cycles, and each collection would walk them all
    again (a third of the time at 100,000 tags). ``args[0]`` None: the shared data."""
    shared = _shared if args[0] is None else args[0]
    if args and args[-1] == _LATER:
        args = (*args[:-1], _later)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return work(shared, part, parts, *args[1:])
    finally:
        if enabled:
            gc.enable()
