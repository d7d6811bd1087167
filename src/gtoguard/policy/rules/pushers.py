"""Who may change a stage (``pushers``), and what to do when no pusher is known."""

from __future__ import annotations

from collections.abc import Collection

from gtoguard.model.tagname import (
    TagName,
)
from gtoguard.policy.identity import Pusher
from gtoguard.policy.rules.stages import describe_change
from gtoguard.policy.rules.violation import UNCHECKED, Violation
from gtoguard.policy.settings import StageRules

SERVER_IDENTITY_HINT = (
    "the server admin sets the variable that names the pusher (identity: "
    "in the server policy) for the way pushes arrive (docs/servers/)"
)


CI_IDENTITY_HINT = "run the check in the job the push started, as the CI templates in docs/ci/ do"


def check_pusher(  # noqa: PLR0913, PLR0917 (the facts of one stage change, as the rule reads them)
    ref: str,
    tag: TagName,
    rules: StageRules,
    who: Pusher | None,
    required: bool,
    removing: bool = False,
    sources: str = "",
    restoring: bool = False,
    fix: str = "",
) -> Violation | None:
    """``rules`` are the rules of a stage the tag changes (assigns, unassigns, or takes
    away by deregistering or deprecating what holds it; ``removing``: by deleting or
    moving the tag itself). ``sources``: where the pusher was looked for; ``fix``: what
    to do when it was found nowhere (the server's hint by default)."""
    if rules.pushers is None:
        return None
    allowed = ", ".join(rules.pushers_as_written) or "nobody"
    if who is None:
        if not required:  # a fact this side cannot know: never a violation here
            return Violation(
                "identity-unknown",
                ref,
                f"stage {rules.stage} may only be changed by {allowed}; {sources}",
                None,
                UNCHECKED,
            )
        where = f" ({sources})" if sources else ""
        return Violation(
            "identity-unknown",
            ref,
            f"stage {rules.stage} may only be changed by {allowed}, and no pusher identity is "
            f"available here{where}; the tagger is not an identity: anyone can write it",
            fix or SERVER_IDENTITY_HINT,
        )
    if who.name in rules.pushers:
        return None
    ask = _ask(rules.pushers_as_written, rules.pushers)
    return Violation(
        "pusher-not-allowed",
        ref,
        f"{who.name} (from {who.source}) may not {describe_change(tag, rules.stage, removing, restoring)}; "
        f"allowed: {allowed} ({rules.source})",
        ask,
    )


def _ask(written: tuple[str, ...], people: Collection[str] = ()) -> str:
    """Who to ask, in words: one person, a member of a group, or one of several; a
    group is followed by the people it stands for (the first ten)."""
    if not written:
        return "nobody may; the stage's pushers in the policy say who can"
    if len(written) == 1:
        one = written[0]
        ask = f"ask {'a member of ' if one.startswith('@') else ''}{one} to do it"
    else:
        ask = f"ask one of {', '.join(written[:-1])} or {written[-1]} to do it"
    if not any(w.startswith("@") for w in written):
        return ask
    if not people:
        return f"{ask} (the group has no members: the policy's groups say who is in it)"
    names = sorted(people)
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"{ask} ({', '.join(names[:10])}{more})"
