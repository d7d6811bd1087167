"""The tagger date: not in the future, not before the artifact's latest event, not too
old at the push."""

from __future__ import annotations

import time as _time

from gtoguard.model.state import ArtifactState, TagEvent
from gtoguard.policy.rules.violation import Violation


def check_tagger_time(
    ref: str,
    event: TagEvent,
    state: ArtifactState,
    now: int,
    skew: int,
    max_age: int | None = None,
) -> Violation | None:
    """``max_age``: how far before ``now`` (the push) a new tag may be dated; None where
    the time of the push is not known, or the bound is off."""
    if event.time > now + skew:
        ahead = event.time - now
        return Violation(
            "tagger-time",
            ref,
            f"tagger date {iso_time(event.time)} is {ahead}s in the future (allowed: {skew}s)",
            "fix the clock (date -u) and create the tag again",
        )
    latest = state.latest_time()
    if latest is not None and event.time < latest - skew:
        return Violation(
            "tagger-time",
            ref,
            f"tagger date {iso_time(event.time)} is {latest - event.time}s before the latest event "
            f"of '{event.name.artifact}' ({iso_time(latest)}); gto orders events by this date, "
            "so a back-dated tag rewrites history",
            "create the tag again with the current date",
        )
    if max_age is not None and event.time < now - max_age:
        return Violation(
            "tagger-time",
            ref,
            f"tagger date {iso_time(event.time)} is {now - event.time}s before the push (allowed: "
            f"{max_age}s, tags.max_age); gto orders events by this date, so an old date "
            "rewrites history",
            f"create it again now and push it right away: git tag -d {event.tag}, then "
            "gtoguard ... --push (to mirror old history, the server admin sets "
            "tags.max_age: off in the server policy)",
        )
    return None


def iso_time(seconds: int) -> str:
    try:
        return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return f"@{seconds}"  # beyond what the C library can show
