"""Freeze windows: no change to a stage while one of its windows is open."""

from __future__ import annotations

from gtoguard.model.tagname import (
    TagName,
)
from gtoguard.policy.rules.stages import describe_change
from gtoguard.policy.rules.violation import Violation
from gtoguard.policy.settings import StageRules


def check_frozen(
    ref: str,
    tag: TagName,
    rules: StageRules,
    now: int,
    removing: bool = False,
    restoring: bool = False,
) -> Violation | None:
    """``now``: the moment the change arrives (the server's clock at the push, never a
    tagger date). Of the windows open then, the one that ends last is named; a window
    that cannot be read counts as open (config validation refuses such windows)."""
    if not rules.freeze:
        return None
    from gtoguard.policy.freeze import WindowError, describe, open_window

    found = []
    for window in rules.freeze:
        try:
            span = open_window(window, now)
        except WindowError as exc:
            return Violation(
                "stage-frozen",
                ref,
                f"stage {rules.stage} has a freeze window "
                f"gtoguard cannot read ({window.reason}: {exc.message}; "
                f"{rules.source}), so it stays frozen",
                "fix the window (gtoguard config validate says how)",
            )
        if span is not None:
            found.append((span[1], window))
    if not found:
        return None
    end, window = max(found, key=lambda pair: pair[0].timestamp())
    until = describe(end, window)
    return Violation(
        "stage-frozen",
        ref,
        f"stage {rules.stage} is frozen until {until} ({window.reason}; {rules.source}): "
        f"no one may {describe_change(tag, rules.stage, removing, restoring)} now",
        f"push it again after {until}",
    )
