"""Tags judged where gto places them in history: a back-dated tag among the existing
events (``back_dated``, ``place``), and the events dated ahead of the clock after a batch
(``set_aside``, ``after_ahead``); each by replaying the artifact's history (``replay``).
"""

from __future__ import annotations

from collections.abc import Sequence

from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate
from gtoguard.model.state import ArtifactState, Registry, TagEvent
from gtoguard.policy.context import SKEW, Context, Item, Outcome, item_key, order_key
from gtoguard.policy.rules.counters import check_counter
from gtoguard.policy.rules.dates import check_tagger_time, iso_time
from gtoguard.policy.rules.violation import Violation
from gtoguard.policy.tagrules import evaluate_tag, requested_age_limit


def set_aside(registry: Registry, now: int) -> dict[str, list[TagEvent]]:
    """Artifact -> its events dated after ``now``, taken out of the registry. A tag its
    pusher dated ahead of the clock (up to ``clock_skew``) was judged when it arrived;
    a batch arriving before that date is judged on the history up to now, so that such
    a tag cannot hold everyone else's tags back (third review: a dev tag dated 290 s
    ahead made every promotion of its artifact fail for five minutes)."""
    found = {}
    for name, state in registry.artifacts.items():
        later = state.set_aside(now)
        if later:
            found[name] = later
    return found


def after_ahead(
    state: ArtifactState,
    new: Sequence[Item],
    later: Sequence[TagEvent],
    ctx: Context,
    outcome: Outcome,
) -> None:
    """Put back the events dated ahead of the clock, and hold the batch to them: gto
    places them after the batch's tags, and there each must still pass as it did when it
    arrived. One that fails only with the batch before it declines the batch's first tag
    there (its lower counter is no failure: it came first, as the counters say). They are
    judged as pushed, by someone unknown here: one that would now change a stage it did
    not change when it arrived (the fresh review: bob's registration dated 250 s ahead
    made alice's later deprecation void, so that it made churn active again and gave prod
    back) changes it unjudged, which declines the batch."""
    if new:
        mine = {update.ref for update, _, _ in new}
        history = [item for item in history_of(state) if item[0].ref not in mine]
        ahead: list[Item] = [
            (RefUpdate(TAG_PREFIX + e.tag, e.commit, e.commit), e.name, e) for e in later
        ]
        refs = {update.ref for update, _, _ in ahead}
        unknown = ctx._replace(
            facts=ctx.facts._replace(pusher=None, pusher_of=None, identity_required=True)
        )
        before, after = Outcome(), Outcome()
        replay(state.name, history + ahead, unknown, before, refs)
        replay(state.name, history + list(new) + ahead, unknown, after, refs)
        seen = {(v.ref, v.rule) for v in before.violations}
        first = min(new, key=item_key)
        for violation in after.violations:
            if violation.ref not in refs or (violation.ref, violation.rule) in seen:
                continue
            if violation.rule == "counter-not-increasing":
                continue
            other = violation.ref.removeprefix(TAG_PREFIX)
            when = next(e.time for e in later if e.tag == other)
            if violation.rule in ("identity-unknown", "pusher-not-allowed"):
                what = (
                    "there it changes a stage it did not change when it arrived, a change "
                    f"its pusher was never judged for ({violation.message.split(', and')[0]})"
                )
            else:
                what = f"there it fails: {violation.message}"
            outcome.add(
                Violation(
                    violation.rule,
                    first[0].ref,
                    f"'{other}' is dated after this push arrived, so gto places it after this "
                    f"tag, and {what}",
                    f"date this tag after it (GIT_COMMITTER_DATE=@{when + 1} git tag ..., within "
                    f"tags.clock_skew), or push once {iso_time(when)} has passed",
                )
            )
    for event in later:
        state.add(event)


def back_dated(items: Sequence[Item], registry: Registry) -> set[str]:
    """Artifacts where a new event sorts before an existing one: gto will place it
    earlier in history, so it is judged there (``place``), not at the end."""
    found: set[str] = set()
    if not registry.artifacts:  # a replay from nothing: nothing to be placed before
        return found
    for update, tag, event in items:
        if event is None or tag.artifact in found:
            continue
        state = registry.artifacts.get(tag.artifact)
        if state is None or not state.events:
            continue
        key = order_key(update.tag_name, tag, event)
        latest = max(order_key(e.tag, e.name, e) for e in state.events)
        if key < latest:
            found.add(tag.artifact)
    return found


def place(
    state: ArtifactState, new: Sequence[Item], ctx: Context, outcome: Outcome
) -> ArtifactState:
    """Judge back-dated tags where gto puts them: replay the artifact's history with and
    without them. A new tag fails on its own rules at its place, and also for any existing
    tag that its place makes fail (which ``check --all`` would then report)."""
    late = set()
    for update, _tag, event in new:
        if event is None:
            continue
        age = requested_age_limit(ctx, update, event, ctx.age_limit)
        behind = check_tagger_time(
            update.ref, event, state, ctx.now, ctx.policy.tags.clock_skew, age
        )
        if behind is not None:  # declined for its date alone: not placed anywhere
            outcome.add(behind, SKEW)
            late.add(update.ref)
    new = [item for item in new if item[0].ref not in late]
    if not new:
        return state
    new_refs = {update.ref for update, _, _ in new}
    history = history_of(state)
    before = Outcome()
    replay(state.name, history, ctx, before, set())
    seen = {(v.ref, v.rule) for v in before.violations}
    after = Outcome()
    merged = replay(state.name, history + list(new), ctx, after, new_refs)
    merged.note_counter(state.max_counter)
    # A counter is held to every counter the artifact has, not only to those its date
    # sorts after: '#3' dated in the second of an existing '#5' sorts before it (same
    # second: counter order), where the replay sees no #5.
    low = set()
    for update, tag, _event in new if ctx.fresh else ():
        violation = check_counter(update.ref, tag, state)
        if violation is not None:
            outcome.add(violation)
            low.add(update.ref)
    first = min(new, key=item_key)[0].ref
    # what the replay found of the new tags themselves: who approved, what passed
    outcome.approved.update({ref: who for ref, who in after.approved.items() if ref in new_refs})
    outcome.passed += after.passed
    for violation in after.violations:
        if violation.ref in low and violation.rule == "counter-not-increasing":
            continue  # said above, against the highest counter
        if violation.ref in new_refs:
            outcome.add(violation)
        elif (violation.ref, violation.rule) not in seen:
            other = violation.ref.removeprefix(TAG_PREFIX)
            outcome.add(
                Violation(
                    violation.rule,
                    first,
                    f"its tagger date places it before '{other}' in gto's history, and there "
                    f"'{other}' fails: {violation.message}",
                    "create the tag again with the current date (gto orders events by tagger date)",
                )
            )
    return merged


def replay(
    name: str, items: Sequence[Item], ctx: Context, outcome: Outcome, judged: set[str]
) -> ArtifactState:
    state = ArtifactState(name)
    for update, tag, event in sorted(items, key=item_key):
        evaluate_tag(update, tag, event, state, ctx, outcome, update.ref in judged)
    return state


def history_of(state: ArtifactState) -> list[Item]:
    """An artifact's existing events as items to replay."""
    return [(RefUpdate(TAG_PREFIX + e.tag, e.commit, e.commit), e.name, e) for e in state.events]
