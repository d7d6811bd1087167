"""One lock per repository, held from the moment a push is judged until its refs landed.

The lock is a file, ``<git dir>/gtoguard-cache/lock``, holding its owner: the process
id of the ``git receive-pack`` serving the push (the hook shims pass it on as
``GTOGUARD_OWNER``: python, run behind a pipe, is not receive-pack's child) and that
process's start time (``/proc/<pid>/stat``), so that a reused pid is not taken for the
owner. It is created whole (``link`` of a written file: it exists complete or not at
all). A lock whose owner is gone is stale: the next push removes it.

The lock is a lease: a live owner that makes no progress for ``LEASE`` seconds
(``GTOGUARD_LEASE``) loses it to the next push that waits for it. Progress is what a push
that is being judged or landing shows: the hook touches the lock while it judges
(``renew``, from ``budget.spend``), the landing guard writes its plan's ``progress`` and
``pending`` on each ref, and receive-pack itself (or a hook it waited for) uses the CPU.
A receive-pack blocked on a client that stopped reading, or left behind by a killed hook,
shows none of these. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

CACHE_DIR = "gtoguard-cache"
LOCK_FILE = "lock"
TIMEOUT = 60.0  # seconds a push waits for the one before it; GTOGUARD_LOCK_TIMEOUT overrides
# seconds without progress after which a live owner loses the lock; GTOGUARD_LEASE overrides.
# Below TIMEOUT, so a push that waits behind a stuck one gets the lock, not "push again";
# above the 10 s a hook may wait for its client (clientstream), so a slow reader keeps it.
LEASE = 30.0
POLL = 0.03


class Owner(NamedTuple):
    pid: int
    start: str  # the process's start time in clock ticks since boot; "0" where unknown

    def line(self) -> str:
        return f"{self.pid} {self.start}"


class Busy(Exception):
    """Another push held the lock for the whole timeout."""

    def __init__(self, holder: Owner | None, waited: float) -> None:
        super().__init__(f"held by {holder}")
        self.holder = holder
        self.waited = waited


class Broken(NamedTuple):
    """A lease taken from a live owner that made no progress for ``idle`` seconds."""

    holder: Owner | None
    idle: float


class Taken(NamedTuple):
    took: bool  # False: the owner held the lock already
    broken: tuple[Broken, ...] = ()


def _stat(pid: int) -> list[bytes]:
    """The fields of ``/proc/<pid>/stat`` after the command name (the state first)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return stat.read().rsplit(b")", 1)[1].split()


def start_time(pid: int) -> str | None:
    """The start time of process ``pid``; None when it does not exist; "0" where the
    system has no /proc to tell (then a reused pid cannot be told from the owner)."""
    try:
        return _stat(pid)[19].decode("ascii")
    except FileNotFoundError:
        return None
    except (OSError, IndexError, UnicodeDecodeError):
        return "0" if _alive(pid) else None


def cpu_time(pid: int) -> int | None:
    """The CPU time (clock ticks) of process ``pid`` and of the children it waited for:
    it grows while receive-pack writes refs or runs hooks, never while it is blocked on
    a client. None where /proc cannot tell."""
    try:
        return sum(int(f) for f in _stat(pid)[11:15])  # utime stime cutime cstime
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def serves_a_push(owner: Owner) -> bool | None:
    """Whether the owner is a ``git receive-pack`` (None: no /proc to tell). Only then
    does it write the refs it was judged for and end with the push: a hook runner
    (Gitaly runs custom hooks from its long-lived server) or a hand run is not."""
    try:
        with open(f"/proc/{owner.pid}/cmdline", "rb") as cmdline:
            return b"receive-pack" in cmdline.read(4096)
    except FileNotFoundError:
        return False if os.path.isdir("/proc/self") else None
    except OSError:
        return None


def owner_from_env(env: Mapping[str, str]) -> Owner:
    """The receive-pack serving this push: ``GTOGUARD_OWNER`` (the shim's ``$PPID``),
    else this process's parent."""
    raw = env.get("GTOGUARD_OWNER", "")
    pid = int(raw) if raw.isdigit() and int(raw) > 1 else os.getppid()
    return Owner(pid, start_time(pid) or "0")


def read_owner(path: Path) -> Owner | None:
    try:
        pid, start = path.read_text(encoding="ascii").split()
        return Owner(int(pid), start)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def is_stale(holder: Owner | None) -> bool:
    if holder is None:
        return False  # unreadable: leave it to the timeout rather than break a live lock
    now = start_time(holder.pid)
    return now is None or (now != holder.start and "0" not in (now, holder.start))


def plan_dir(cache: Path, owner: Owner) -> Path:
    """Where ``owner`` keeps the plan of its landing (``server/landing.py``)."""
    return cache / f"plan.{owner.pid}.{owner.start}"


class _Watch:
    """What a waiting push saw of the holder: when it last showed progress."""

    def __init__(self) -> None:
        self.holder: Owner | None = None
        self.cpu: int | None = None
        self.since = time.time()

    def idle(self, holder: Owner | None, marks: float | None) -> float:
        """Seconds since the holder last showed progress (never more than this push has
        watched it): its lock or plan written (``marks``: the latest mtime), or its CPU
        time grown since the last look."""
        cpu = cpu_time(holder.pid) if holder else None
        now = time.time()
        if holder != self.holder or cpu != self.cpu:
            self.holder, self.cpu, self.since = holder, cpu, now
        return now - max(self.since, marks or 0.0)


class RepoLock(NamedTuple):
    cache: Path  # <git dir>/gtoguard-cache
    owner: Owner

    @property
    def path(self) -> Path:
        return self.cache / LOCK_FILE

    def held(self) -> bool:
        return read_owner(self.path) == self.owner

    def renew(self) -> None:
        """Show progress: the lease is measured from the lock's last change."""
        if self.held():
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def acquire(self, timeout: float = TIMEOUT, lease: float = LEASE) -> Taken:
        """Take the lock, waiting for a live holder that makes progress. Raises ``Busy``
        after ``timeout`` seconds; ``lease`` 0: a live holder keeps it however long."""
        self.cache.mkdir(exist_ok=True)
        began = time.monotonic()
        broken: list[Broken] = []
        watch = _Watch()
        while True:
            if self._create():
                return Taken(True, tuple(broken))
            holder = read_owner(self.path)
            if holder == self.owner:
                return Taken(False, tuple(broken))
            if is_stale(holder):
                self._break(holder)
                continue
            marks = self._marks(self.path, holder)
            idle = watch.idle(holder, marks)
            if lease and marks is not None and idle >= lease:
                if self._break(holder, marks):
                    broken.append(Broken(holder, idle))
                continue
            waited = time.monotonic() - began
            if waited >= timeout:
                raise Busy(holder, waited)
            time.sleep(POLL)

    def _marks(self, lock: Path, holder: Owner | None) -> float | None:
        """The latest change of ``lock`` and of the holder's plan progress; None when
        the lock is gone."""
        found: list[float] = []
        plan = plan_dir(self.cache, holder) if holder else None
        for path in (lock, *((plan / "progress", plan / "pending") if plan else ())):
            try:
                found.append(path.stat().st_mtime)
            except OSError:
                if path == lock:
                    return None
        return max(found)

    def _create(self) -> bool:
        draft = self.cache / f".lock.{os.getpid()}"
        draft.write_text(self.owner.line() + "\n", encoding="ascii")
        try:
            os.link(draft, self.path)
        except FileExistsError:
            return False
        finally:
            draft.unlink()
        return True

    def _break(self, holder: Owner | None, marks: float | None = None) -> bool:
        """Remove a stale lock, or (``marks``: its last progress as judged) one whose
        lease ran out. The lock is moved aside in one step and looked at there: if, in
        between, another push replaced it with its own or the holder showed progress,
        it is put back. True if this call removed the lock judged."""
        grave = self.cache / f".stale.{os.getpid()}"
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return False
        same = read_owner(grave) == holder
        if same and marks is not None:
            now = self._marks(grave, holder)
            same = now is not None and now <= marks
        if not same:
            with contextlib.suppress(FileExistsError):
                os.link(grave, self.path)
        grave.unlink()
        return same

    def release(self) -> None:
        if self.held():
            self.path.unlink(missing_ok=True)


def timeout_from_env(env: Mapping[str, str]) -> float:
    return _seconds(env, "GTOGUARD_LOCK_TIMEOUT", TIMEOUT)


def lease_from_env(env: Mapping[str, str]) -> float:
    return _seconds(env, "GTOGUARD_LEASE", LEASE)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return max(0.0, float(env.get(name, "")))
    except ValueError:
        return default
