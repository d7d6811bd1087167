"""One tag judged against its artifact's state: its schema, its counter, its tagger date,
the registry's own rules, then the team policy; the tag then joins the state.
"""

from __future__ import annotations

from gtoguard.model.refupdate import RefUpdate
from gtoguard.model.state import ArtifactState, TagEvent
from gtoguard.model.tagname import ASSIGN, DEREGISTER, REGISTER, UNASSIGN, TagName
from gtoguard.policy.context import COUNTER, SKEW, Context, Outcome
from gtoguard.policy.rules.counters import check_counter, check_counter_order, check_counter_step
from gtoguard.policy.rules.dates import check_tagger_time
from gtoguard.policy.rules.schema import schema_violation
from gtoguard.policy.rules.stages import check_unassign
from gtoguard.policy.rules.versions import (
    check_commit_has_version,
    check_deregister,
    check_version_exists,
)
from gtoguard.policy.teampolicy import team_policy


def evaluate_tag(
    update: RefUpdate,
    tag: TagName,
    event: TagEvent | None,
    state: ArtifactState,
    ctx: Context,
    outcome: Outcome,
    pushed: bool = True,
) -> None:
    """``pushed``: a tag of this push (judged on every rule); False for an existing tag
    replayed for its history (the push-time facts, pusher and signature, are not its)."""
    commit = event.commit if event else None
    add = outcome.add
    ref = update.ref
    for path, keyword, message in ctx.validate(tag):
        found = schema_violation(
            ref, tag, path, keyword, message, ctx.config, ctx.origin, state, commit
        )
        add(found, COUNTER if found.rule == "counter-missing" else None)
    if tag.counter is not None:
        if ctx.arrived or event is None or tag.counter > state.max_counter:
            add(check_counter(ref, tag, state))
        else:
            _counter_evidence(ref, tag, event, state, ctx, outcome)
        add(check_counter_step(ref, tag, state))
    if event is None:  # lightweight or not on a commit: no registry event, but a counter
        state.note_counter(tag.counter)
        return
    policy = ctx.policy
    skew, age = policy.tags.clock_skew, ctx.age_limit if pushed else None  # history is old
    age = requested_age_limit(ctx, update, event, age)
    add(check_tagger_time(ref, event, state, ctx.now, skew, age), SKEW)
    action = tag.action
    if action is REGISTER:
        add(check_version_exists(ref, tag, state))
        add(check_commit_has_version(ref, tag, event, state))
    elif action is DEREGISTER:
        add(check_deregister(ref, tag, event, state))
    elif action is UNASSIGN:
        add(check_unassign(ref, tag, event, state))
    if policy.versions_increasing or action is ASSIGN or policy.stages:
        team_policy(update, tag, event, state, ctx, outcome, pushed)
    state.add(event)  # later tags of the batch see this one, accepted or not


def requested_age_limit(
    ctx: Context, update: RefUpdate, event: TagEvent, age: int | None
) -> int | None:
    """``tags.max_age`` for one tag: none for the object of a pending request (stages'
    approvals), whose date was bounded when the request arrived: it lands when the
    approvals are in, days later perhaps. Asked only of an assignment older than the
    bound, to a stage with approvals."""
    ballots, tag = ctx.facts.ballots, event.name
    if age is None or ballots is None or event.time >= ctx.now - age or tag.action is not ASSIGN:
        return age
    if not any(r.approvals for r in ctx.policy.rules_for(tag.stage or "")):
        return age  # no request can hold it: no ref to read (a clone's is a round trip)
    return None if ballots(update.new, event.tag).requesters else age


def _counter_evidence(
    ref: str, tag: TagName, event: TagEvent, state: ArtifactState, ctx: Context, outcome: Outcome
) -> None:
    """An audit, where no tag's arrival is known: this tag's counter is not above the
    counters of tags dated before it. Counters and dates are both written by the pusher,
    so the audit cannot tell which tag arrived out of order: a warning on this tag that
    names the others (``check_counter_order``), never an error, never pruned. A counter
    equal to another's, or below a lightweight tag's, is this tag's own fault."""
    assert tag.counter is not None
    later = [
        e for e in state.events if e.name.counter is not None and e.name.counter >= tag.counter
    ]
    if not later or any(e.name.counter == tag.counter for e in later):
        outcome.add(check_counter(ref, tag, state))
        return
    if max(e.name.counter or 0 for e in later) < state.max_counter:
        outcome.add(check_counter(ref, tag, state))  # a lightweight tag's counter
        return
    outcome.add(check_counter_order(ref, tag, event, later))
