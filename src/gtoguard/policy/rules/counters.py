"""Counters (``#N``): each above the artifact's highest, and not too far above it."""

from __future__ import annotations

from gtoguard.model.state import ArtifactState, TagEvent
from gtoguard.model.tagname import (
    TagName,
)
from gtoguard.policy.rules.violation import Violation


def check_counter(ref: str, tag: TagName, state: ArtifactState) -> Violation | None:
    if tag.counter is None or tag.counter > state.max_counter:
        return None
    following = state.max_counter + 1
    hint = (
        f"use '{_with_counter(tag, following)}'"
        if len(str(following)) <= 18
        else "this artifact's counters are used up (18 digits): push tags without one "
        "(gtoguard ... --simple)"
    )
    return Violation(
        "counter-not-increasing",
        ref,
        f"counter #{tag.counter} is not greater than #{state.max_counter}, "
        f"the highest counter of '{tag.artifact}'",
        hint,
    )


def check_counter_order(
    ref: str, tag: TagName, event: TagEvent, earlier: list[TagEvent]
) -> Violation:
    """An audit found ``tag`` (``ref``) with a counter below those of ``earlier`` tags,
    dated before it. Either one of those was back-dated, or this one came after them with
    a counter it should not have taken: a hook, knowing the arrival, declined whichever
    came second; an audit does not know it, and both a counter and a date are written by
    the pusher, so it cannot tell which (a warning, never a fault of either: the fresh
    review's one low counter, dated now, made the audit condemn every tag before it)."""
    first = max(earlier, key=lambda e: e.name.counter or 0)
    names = ", ".join(f"'{e.tag}'" for e in earlier[:3]) + (" ..." if len(earlier) > 3 else "")
    gap = event.time - min(e.time for e in earlier)
    return Violation(
        "counter-not-increasing",
        ref,
        f"its counter #{tag.counter} is below #{first.name.counter} of {names}, dated up to "
        f"{gap}s before it: either this tag came after them with a counter it should not "
        "have taken, or one of them was back-dated; the tags alone cannot tell which (a "
        "hook judged them as they arrived; the server's decision log tells when)",
        "nothing to do if the server's hook accepted both; in CI, the job of each push "
        "judged it as it arrived (check TAG --pushed-at)",
        "warning",
    )


MAX_COUNTER_STEP = 1_000_000  # how far past the artifact's highest counter a new one may go


def check_counter_step(ref: str, tag: TagName, state: ArtifactState) -> Violation | None:
    """A counter far past every counter of the artifact: every later tag of the artifact
    must go past it, and a counter has at most 18 digits, so one tag dated #999…9 would
    lock the artifact's counters for good (the fresh review: bob, allowed only dev, did
    that with churn#dev#999999999999999999)."""
    if tag.counter is None or tag.counter <= state.max_counter + MAX_COUNTER_STEP:
        return None
    return Violation(
        "counter-too-high",
        ref,
        f"counter #{tag.counter} is more than {MAX_COUNTER_STEP:,} past #{state.max_counter}, "
        f"the highest counter of '{tag.artifact}' (counters take at most 18 digits: one this "
        "high would leave the next tags none to take)",
        f"use '{_with_counter(tag, state.max_counter + 1)}' (gtoguard picks the next counter)",
    )


def _with_counter(tag: TagName, counter: int) -> str:
    return TagName(tag.artifact, tag.action, tag.version, tag.stage, counter).tag
