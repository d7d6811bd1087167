"""Freeze windows: when one is open at a moment, and what is wrong with one. Pure.

An absolute window runs from ``from`` to ``until`` (ISO 8601 times with a zone). A
recurring one, as GitLab's deploy freezes, runs from the latest ``start`` (a cron
expression in the window's IANA ``timezone``) to the first ``end`` after that start;
both are read in local wall time, so a weekend window keeps its 16:00 and 08:00 across
a change of daylight saving time. The end is open: at ``until`` the stage thaws.

The cron expressions are cronsim's (imported only when a recurring window is read).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from .policy import Freeze


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
    else:
        zone = parse_zone(window.timezone)
        moment = datetime.fromtimestamp(now, zone)
        last = _cron(window.start, "start", moment + timedelta(seconds=1), reverse=True)
        if last is None:
            return None
        start = last
        following = _cron(window.end, "end", start, reverse=False)
        if following is None:
            return None
        end = following
    return (start, end) if start.timestamp() <= now < end.timestamp() else None


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
    """An ISO 8601 time with a zone (``Z`` for UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WindowError(key, f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise WindowError(key, f"{text!r} has no time zone (write it as {text}+01:00 or {text}Z)")
    return moment


def parse_zone(name: str) -> tzinfo:
    """An IANA time zone, by name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise WindowError("timezone", f"{name!r} is not an IANA time zone "
                          "(such as Europe/Berlin or UTC)") from None  # fmt: skip


def _cron(expression: str, key: str, moment: datetime, reverse: bool) -> datetime | None:
    """The first match of ``expression`` after ``moment`` (before it, ``reverse``), or
    None when there is none within cronsim's horizon (50 years)."""
    from cronsim import CronSim, CronSimError

    if len(expression.split()) != 5:
        raise WindowError(key, f"{expression!r} is not a five-field cron expression "
                          "(minute hour day month weekday, such as '0 16 * * 5')")  # fmt: skip
    try:
        return next(CronSim(expression, moment, reverse=reverse))
    except CronSimError as exc:
        raise WindowError(key, f"{expression!r} is not a usable cron expression: {exc}") from None
    except StopIteration:
        return None


def describe(moment: datetime, window: Freeze) -> str:
    """A window's start or end as the pusher reads it: in its own zone, named."""
    text = moment.strftime("%Y-%m-%d %H:%M")
    offset = moment.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    if window.timezone is None:
        return f"{text} {offset}".strip() if moment.tzinfo != timezone.utc else f"{text} UTC"
    return f"{text} {moment.tzname()} ({window.timezone}, {offset})"
