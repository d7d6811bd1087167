"""One lock per repository, held from the moment a push is judged until its refs landed.

The lock is a file, ``<git dir>/gtoguard-cache/lock``, holding its owner: the process
id of the ``git receive-pack`` serving the push (the hook shims pass it on as
``GTOGUARD_OWNER``: python, run behind a pipe, is not receive-pack's child) and that
process's start time (``/proc/<pid>/stat``), so that a reused pid is not taken for the
owner. It is created whole (``link`` of a written file: it exists complete or not at
all). A lock whose owner is gone is stale: the next push removes it. Nothing here prints.
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


def start_time(pid: int) -> str | None:
    """The start time of process ``pid``; None when it does not exist; "0" where the
    system has no /proc to tell (then a reused pid cannot be told from the owner)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return fields[19].decode("ascii")
    except FileNotFoundError:
        return None
    except (OSError, IndexError, UnicodeDecodeError):
        return "0" if _alive(pid) else None


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


class RepoLock(NamedTuple):
    cache: Path  # <git dir>/gtoguard-cache
    owner: Owner

    @property
    def path(self) -> Path:
        return self.cache / LOCK_FILE

    def held(self) -> bool:
        return read_owner(self.path) == self.owner

    def acquire(self, timeout: float = TIMEOUT) -> bool:
        """Take the lock, waiting for a live holder; True if this call took it (False:
        the owner held it already). Raises ``Busy`` after ``timeout`` seconds."""
        self.cache.mkdir(exist_ok=True)
        began = time.monotonic()
        while True:
            if self._create():
                return True
            holder = read_owner(self.path)
            if holder == self.owner:
                return False
            if is_stale(holder):
                self._break(holder)
                continue
            waited = time.monotonic() - began
            if waited >= timeout:
                raise Busy(holder, waited)
            time.sleep(POLL)

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

    def _break(self, holder: Owner | None) -> None:
        """Remove a stale lock; if, in between, another push replaced it with its own,
        put that one back."""
        grave = self.cache / f".stale.{os.getpid()}"
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return
        if read_owner(grave) != holder:
            with contextlib.suppress(FileExistsError):
                os.link(grave, self.path)
        grave.unlink()

    def release(self) -> None:
        if self.held():
            self.path.unlink(missing_ok=True)


def timeout_from_env(env: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(env.get("GTOGUARD_LOCK_TIMEOUT", "")))
    except ValueError:
        return TIMEOUT
