"""Freeze windows: when one is open at a moment, and what is wrong with one. Pure.

An absolute window runs from ``from`` to ``until`` (ISO 8601 times with a zone). A
recurring one, as GitLab's deploy freezes, runs from the latest ``start`` (a cron
expression in the window's IANA ``timezone``) to the first ``end`` after that start;
both are read in local wall time, so a weekend window keeps its 16:00 and 08:00 across
a change of daylight saving time. The end is open: at ``until`` the stage thaws.

Wall time is not monotonic, so the window's edges are moments chosen from it: a window
opens at the first moment the wall clock reads its start (or a later time) and closes at
the last moment it reads a time before its end. When the clocks go back, an hour happens
twice: a start in it opens at its first occurrence, an end in it closes at its second,
so both 02:10s of the night are inside a 02:00-02:30 window (and so is 02:40 in between:
the window is one stretch, and its end is the one the pusher is told). When the clocks
jump forward, no clock reads the skipped times: a start or an end in the gap takes effect
at the jump (03:00 in Berlin), as cron runs a job of the skipped hour, so a window that
lies wholly inside the gap is not held that night.

The cron expressions are cronsim's (imported only when a recurring window is read).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from gtoguard.policy.clock import NoZone, parse_iso
from gtoguard.policy.settings import Freeze

ZERO = timedelta(0)


class WindowError(ValueError):
    """A window that cannot be read; ``key`` is the field at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def open_window(window: Freeze, now: int) -> tuple[datetime, datetime] | None:
    """(start, end) of ``window`` when ``now`` (epoch seconds) lies inside it, each in the
    window's own zone; None when it does not. A window that cannot be read raises
    ``WindowError`` (``config validate`` and the policy's validation catch those first)."""
    if window.timezone is None:
        start, end = parse_time("from", window.start), parse_time("until", window.end)
        return (start, end) if start.timestamp() <= now < end.timestamp() else None
    return _recurring(window, parse_zone(window.timezone), now)


def _recurring(window: Freeze, zone: tzinfo, now: int) -> tuple[datetime, datetime] | None:
    """A cron window at ``now``: its edges are wall times, mapped to moments by
    ``_moments`` (the first moment for a start, the last for an end)."""
    here = datetime.fromtimestamp(now, zone)
    wall = here.replace(tzinfo=None)
    if here.fold:  # the second pass of a repeated hour: the clock read later times already
        wall += (here.replace(fold=0).utcoffset() or ZERO) - (here.utcoffset() or ZERO)
    # the latest start whose first moment has come; wall times run in cronsim's naive
    # arithmetic, with no time zone of its own, and the zone maps them to moments here
    for start in _matches(window.start, "start", wall + timedelta(seconds=1), reverse=True):
        opened = _moments(start, zone)[0]
        if opened <= now:
            break
    else:
        return None
    end = _cron(window.end, "end", start, reverse=False)
    if end is None:
        return None
    closed = _moments(end, zone)[1]
    if not opened <= now < closed:
        return None
    return datetime.fromtimestamp(opened, zone), datetime.fromtimestamp(closed, zone)


def _moments(wall: datetime, zone: tzinfo) -> tuple[int, int]:
    """The first and the last moment (epoch seconds) the clocks of ``zone`` read the
    naive ``wall``: two apart in a repeated hour, one otherwise; for a time they skip,
    both are the jump, the first moment they read a later time."""
    readings = sorted(int(wall.replace(tzinfo=zone, fold=fold).timestamp()) for fold in (0, 1))
    real = [moment for moment in readings if _wall(moment, zone) == wall]
    if real:
        return real[0], real[-1]
    low, high = readings  # before the jump, its wall time earlier; after it, later
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if _wall(middle, zone) >= wall else (middle, high)
    return high, high


def _wall(moment: int, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(moment, zone).replace(tzinfo=None, fold=0)


def problems(window: Any) -> list[tuple[str, str]]:
    """(key, what is wrong) for a window that passed the schema."""
    try:
        if "timezone" in window:
            zone = parse_zone(window["timezone"])
            moment = datetime(2026, 1, 1, tzinfo=zone)
            for key in ("start", "end"):
                if _cron(window[key], key, moment, reverse=False) is None:
                    return [(key, f"cron expression {window[key]!r} never matches")]
            return []
        start, end = parse_time("from", window["from"]), parse_time("until", window["until"])
    except WindowError as exc:
        return [(exc.key, exc.message)]
    if end <= start:
        return [("until", f"until ({window['until']}) is not after from ({window['from']})")]
    return []


def parse_time(key: str, text: str) -> datetime:
    """An ISO 8601 time with a zone (``Z`` for UTC), read as ``clock.parse_iso`` reads
    every written time."""
    try:
        return parse_iso(text)
    except NoZone:
        raise WindowError(
            key, f"{text!r} has no time zone (write it as {text}+01:00 or {text}Z)"
        ) from None
    except ValueError:
        raise WindowError(key, f"{text!r} is not an ISO 8601 time") from None


def parse_zone(name: str) -> tzinfo:
    """An IANA time zone, by name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise WindowError(
            "timezone", f"{name!r} is not an IANA time zone (such as Europe/Berlin or UTC)"
        ) from None


def _cron(expression: str, key: str, moment: datetime, reverse: bool) -> datetime | None:
    """The first match of ``expression`` after ``moment`` (before it, ``reverse``), or
    None when there is none within cronsim's horizon (50 years)."""
    return next(_matches(expression, key, moment, reverse), None)


def _matches(expression: str, key: str, moment: datetime, reverse: bool) -> Iterator[datetime]:
    """The matches of ``expression`` after ``moment`` (before it, ``reverse``), nearest
    first, ending where cronsim's horizon (50 years) does."""
    from cronsim import CronSim, CronSimError

    if len(expression.split()) != 5:
        raise WindowError(
            key,
            f"{expression!r} is not a five-field cron expression "
            "(minute hour day month weekday, such as '0 16 * * 5')",
        )
    try:
        found = CronSim(expression, moment, reverse=reverse)
    except CronSimError as exc:
        raise WindowError(key, f"{expression!r} is not a usable cron expression: {exc}") from None
    return found


def describe(moment: datetime, window: Freeze) -> str:
    """A window's start or end as the pusher reads it: in its own zone, named."""
    text = moment.strftime("%Y-%m-%d %H:%M")
    offset = moment.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    if window.timezone is None:
        return f"{text} {offset}".strip() if moment.tzinfo != timezone.utc else f"{text} UTC"
    return f"{text} {moment.tzname()} ({window.timezone}, {offset})"
