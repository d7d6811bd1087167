"""A time budget for one push: past it, the push is declined with ``push-too-large``.

GitHub Enterprise Server kills a pre-receive hook after 5 s, and a bare server just waits:
a push that costs too much to judge must get an answer that says what to do (split it),
never a hang. The clock starts when the hook starts; the server policy's ``budget`` sets
the seconds (default 5; ``off`` for a migration that pushes a whole history at once).
The checks call ``spend()`` between units of work, and a verifier asks ``left()`` for
its own timeout. ``spend()`` is also the heartbeat of work in progress (``heartbeat``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

_started: float | None = None
_seconds: float | None = None  # None: no budget
_beat: Callable[[], None] | None = None
_beaten = 0.0
BEAT = 1.0  # seconds between two heartbeats at most


class OverBudget(Exception):
    """Judging this push would take longer than the budget."""

    def __init__(self, seconds: float, doing: str) -> None:
        super().__init__(f"over the {seconds:g} s budget while {doing}")
        self.seconds = seconds
        self.doing = doing


class TooMuch(OverBudget):
    """A push that holds more than the hook may read for it, whatever the time."""

    def __init__(self, what: str) -> None:
        Exception.__init__(self, what)
        self.seconds = 0.0
        self.doing = what


def start(seconds: float | None) -> None:
    """Start the clock (a hook, at its start); ``None``: no budget."""
    global _started, _seconds  # one push per process: module state is that push's
    _started = time.monotonic()
    _seconds = seconds


def limit(seconds: float | None) -> None:
    """Set the budget once the server policy is read; the clock keeps running."""
    global _seconds
    if _started is not None:
        _seconds = seconds


def stop() -> None:
    global _started, _seconds
    _started = _seconds = None


def seconds() -> float | None:
    """The budget in force, or None."""
    return _seconds if _started is not None else None


def left() -> float | None:
    """Seconds left, or None when no budget runs (a CLI command, ``budget: off``)."""
    if _started is None or _seconds is None:
        return None
    return _seconds - (time.monotonic() - _started)


def heartbeat(beat: Callable[[], None] | None) -> None:
    """Have ``spend()`` call ``beat`` (at most once a second) while work goes on: the
    repository lock's lease is renewed while a push is judged (``server/lock``)."""
    global _beat, _beaten
    _beat, _beaten = beat, 0.0


def spend(doing: str) -> None:
    """Raise ``OverBudget`` when the budget is used up."""
    global _beaten
    if _beat is not None and time.monotonic() - _beaten >= BEAT:
        _beaten = time.monotonic()
        _beat()
    remaining = left()
    if remaining is not None and remaining <= 0:
        assert _seconds is not None
        raise OverBudget(_seconds, doing)
