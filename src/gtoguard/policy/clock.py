"""The moment freeze windows are judged at: the clock of the machine that judges.

``GTOGUARD_NOW`` (epoch seconds, or ISO 8601 with a zone) sets that moment instead, for
tests only: like ``GTOGUARD_POLICY`` it comes from the hook's environment, which a pusher
cannot set on a server set up as docs/servers/ describes. Tagger dates never count
(anyone writes them). Pure, but for reading the real clock.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gtoguard.errors import CannotRun

if TYPE_CHECKING:
    from datetime import datetime

TEST_CLOCK = "GTOGUARD_NOW"
# 9999-12-29T23:59:59Z: two days short of the last second datetime holds, so that a
# window or a skew added to a moment never runs past it
LAST_SECOND = 253402300799 - 2 * 86400


class NoZone(ValueError):
    """An ISO 8601 time without a zone: which moment it names depends on the machine."""


def parse_iso(text: str) -> datetime:
    """A moment written in ISO 8601 with a zone (``Z`` for UTC): the one reading of a
    written time (freeze windows, ``GTOGUARD_NOW``, ``--pushed-at``). Raises
    ``ValueError`` for what is not a time, ``NoZone`` for one without a zone."""
    from datetime import datetime

    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise NoZone("no time zone")
    return moment


def parse_time(text: str) -> int:
    """Epoch seconds from ``1796104937`` or ISO 8601 with a zone (``2026-12-01T06:00:00Z``,
    ``2026-12-01T06:00:00.123+00:00``), up to the end of 29 December 9999; raises
    ``ValueError`` saying what is wrong."""
    value = text.strip()
    if value.isdigit():
        if int(value) > LAST_SECOND:
            raise ValueError("past the year 9999")
        return int(value)
    seconds = int(parse_iso(value).timestamp())
    if seconds > LAST_SECOND:
        raise ValueError("past the year 9999")
    return seconds


def freeze_now(env: Mapping[str, str]) -> int:
    """Epoch seconds: ``GTOGUARD_NOW`` if set, else now."""
    value = env.get(TEST_CLOCK, "").strip()
    if not value:
        return int(time.time())
    try:
        return parse_time(value)
    except ValueError:
        raise CannotRun(
            f"{TEST_CLOCK}={value!r} is not a time",
            "it is for tests only: unset it, or give epoch seconds or ISO 8601 "
            "with a zone (2026-12-24T12:00:00+01:00)",
        ) from None


def clock_note(env: Mapping[str, str]) -> str | None:
    """What to tell the pusher when the test clock is in force (it never should be on a
    real server)."""
    value = env.get(TEST_CLOCK, "").strip()
    if not value:
        return None
    return f"freeze windows are judged at {TEST_CLOCK}={value}, a test setting, not the clock"
