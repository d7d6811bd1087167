"""A stage's message pattern: every change to the stage needs a message matching it."""

from __future__ import annotations

from gtoguard.model.signatureblock import split_signature
from gtoguard.model.tagname import (
    TagName,
)
from gtoguard.policy.rules.stages import describe_change
from gtoguard.policy.rules.violation import Violation
from gtoguard.policy.settings import StageRules


def check_message(
    ref: str, tag: TagName, message: str, rules: StageRules, restoring: bool = False
) -> Violation | None:
    if rules.message is None:
        return None
    from gtoguard.policy.patterns import (  # RE2: only where a stage has a pattern
        PatternError,
        search,
    )

    text = split_signature(message)[0].strip()
    try:
        if search(rules.message, text):
            return None
    except PatternError:  # config validation refuses such patterns; never let one pass
        pass
    shown = text.splitlines()[0][:80] if text else ""
    return Violation(
        "message-mismatch",
        ref,
        f"the tag message {shown!r} does not match {rules.message!r}, which every change "
        f"to stage {rules.stage} needs ({rules.source}); this tag would "
        f"{describe_change(tag, rules.stage, restoring=restoring)}",
        f"give the tag a message matching {rules.message!r} (-m on the command line, "
        "Message in the page's dialog)",
    )
