"""What a server hook writes to the pusher, with a deadline (``GTOGUARD_WRITE_TIMEOUT``).

A server hook's stderr reaches the pusher through ``receive-pack`` (over side-band,
behind ``remote:``). A client that stops reading fills the pipes on the way, and a plain
write then blocks; if the client hangs up after that, receive-pack's side-band thread dies
with the connection while the pipe it read stays open, and the hook and receive-pack wait
on each other for ever (an accepted push with the repository's lock held). So the server
hooks' stdout and stderr are replaced by these streams: before each write they wait with
``poll()`` until the pipe has room, and all the waits of the process together last at
most ``TIMEOUT`` seconds. Past that, or once the reader is gone (EPIPE), the rest of the
output is dropped and counted (``dropped()``: the decision log says so); the verdict
stands. A client that reads gets the same bytes as before, in the same order.

The descriptor itself stays blocking: ``O_NONBLOCK`` belongs to the open file, which the
hook shares with receive-pack and, for a reference-transaction hook under a local push,
with the pusher's own terminal (a shell would find it non-blocking afterwards). Instead
each write is at most ``PIPE_BUF`` bytes, made once ``poll()`` said there is room: a pipe
with room takes that much without blocking.
"""

from __future__ import annotations

import io
import math
import os
import select
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

TIMEOUT = 10.0  # seconds a hook waits, in all, for a client to read; GTOGUARD_WRITE_TIMEOUT
CHUNK = select.PIPE_BUF

_waited = 0.0  # one push per process: module state is that push's (as in policy/timebudget.py)
_dropped = 0
_gone = False  # the deadline passed or the reader went away: nothing more is tried


def dropped() -> int:
    """Bytes this process could not deliver to the pusher."""
    return _dropped


def timeout_from_env(env: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(env.get("GTOGUARD_WRITE_TIMEOUT", "")))
    except ValueError:
        return TIMEOUT


class _Deadline(io.RawIOBase):
    """Writes to ``fd`` that never wait past the process's deadline."""

    def __init__(self, fd: int, seconds: float) -> None:
        super().__init__()
        self.fd, self.seconds = fd, seconds

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, data: ReadableBuffer) -> int:
        global _dropped
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view) and self._room():
            try:
                done += os.write(self.fd, view[done : done + CHUNK])
            except BlockingIOError:
                continue  # a descriptor someone else made non-blocking: poll again
            except OSError:
                _give_up()  # EPIPE (the reader is gone), EBADF (no stderr at all)
        _dropped += len(view) - done
        return len(view)  # what was not written is dropped, never retried by the caller

    def _room(self) -> bool:
        """Wait until the descriptor takes a write; False once the time is up."""
        global _waited
        left = self.seconds - _waited
        if _gone or left <= 0:
            _give_up()
            return False
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        began = time.monotonic()
        events = poller.poll(math.ceil(left * 1000))
        _waited += time.monotonic() - began
        if not events:
            _give_up()
            return False
        return True  # POLLOUT, or POLLERR/POLLHUP: the write says which


def _give_up() -> None:
    global _gone
    _gone = True


def stream(base: TextIO, env: Mapping[str, str]) -> TextIO:
    """A text stream on ``base``'s descriptor with ``base``'s encoding and error handler
    (the same bytes), every write bounded by the process's deadline."""
    raw = _Deadline(base.fileno(), timeout_from_env(env))
    # a raw stream that takes every write whole: no buffer of its own to flush
    return io.TextIOWrapper(
        raw,
        encoding=base.encoding,
        errors=base.errors,  # type: ignore[type-var]
        write_through=True,
    )


def take_std_streams(env: Mapping[str, str]) -> TextIO:
    """Route this process's stdout and stderr through deadline streams (a server hook's
    stdout goes to the pusher too); returns the new stderr. ``exit_now``'s final flush
    then goes through them as well."""
    for name in ("stdout", "stderr"):
        base = getattr(sys, name)
        try:
            base.flush()
            setattr(sys, name, stream(base, env))
        except (OSError, ValueError, AttributeError):
            pass  # no descriptor (a test's capture): left as it is
    return sys.stderr
