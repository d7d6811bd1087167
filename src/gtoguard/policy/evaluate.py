"""Evaluate a batch of ref updates against the registry state and the policy.

No git and no I/O, but not without effects: ``evaluate`` changes the registry it is given
(each new tag joins its artifact's state, so the caller's registry ends as the batch
would leave it) and spends the push's time budget (``timebudget``, one clock per
process) as it goes.

New tags are evaluated in one order (``order_key``: tagger date, then counter, action and
name), each against the state that includes the earlier tags of the same batch; a tag
that gto will place before existing events is judged at that place (docs/design.md §4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter

from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate, is_zero
from gtoguard.model.state import ArtifactState, Registry
from gtoguard.model.tagname import TagName, TagNameError, is_gto_shaped, parse_tag
from gtoguard.policy import timebudget
from gtoguard.policy.catalog import KEEPS_READERS_WORKING
from gtoguard.policy.context import MAX_MESSAGE, Context, Item, Outcome, event_of, order_key
from gtoguard.policy.placing import after_ahead, back_dated, history_of, place, replay, set_aside
from gtoguard.policy.rules.deletions import check_delete, check_move
from gtoguard.policy.rules.frozen import check_frozen
from gtoguard.policy.rules.names import check_name, check_one_name
from gtoguard.policy.rules.objects import check_object, check_size
from gtoguard.policy.rules.pushers import check_pusher
from gtoguard.policy.rules.stages import check_restored_order
from gtoguard.policy.rules.violation import GitObject, Violation
from gtoguard.policy.settings import Policy
from gtoguard.policy.tagrules import evaluate_tag
from gtoguard.policy.teampolicy import holders, holders_now

_TAG_CUT = len(TAG_PREFIX)
BUDGET_STRIDE = 64  # tags judged between two looks at the time budget


def evaluate(
    updates: Sequence[RefUpdate],
    objects: Mapping[str, GitObject],
    registry: Registry,
    ctx: Context,
) -> Outcome:
    """``objects`` holds the new side of every created or moved tag; ``registry`` the state
    of the touched artifacts before the batch. The registry is updated in place. The steps
    in docs/design.md §4's order: names, deletions and moves; objects; each tag in order."""
    outcome = Outcome()
    candidates: list[_Candidate] = []
    for update in updates:
        if not update.ref.startswith(TAG_PREFIX):
            continue
        name = update.ref[_TAG_CUT:]
        if "@" not in name and "#" not in name:  # GTO's only for a GTO-named object
            _plain_name(update, objects, ctx.policy, outcome)
            continue
        outcome.checked += 1
        if _removed(update, name, registry, ctx, outcome):
            continue
        candidates.append(_named(update, name, objects, ctx, outcome))
    _judge_in_order(_in_order(candidates, objects, outcome), registry, ctx, outcome)
    # each policy's mode covers its own rules; an audit takes each tag's policy of its time
    policies = {update.ref: here.policy for update, _, _, here in candidates}
    _apply_modes(outcome, lambda ref: policies.get(ref, ctx.policy))
    return outcome


# an update to judge: its tag name, the name parsed (None: not a valid name), its context
_Candidate = tuple[RefUpdate, str, "TagName | None", Context]


def _plain_name(
    update: RefUpdate, objects: Mapping[str, GitObject], policy: Policy, outcome: Outcome
) -> None:
    """A tag name that is not GTO-shaped: gto reads the name its object carries."""
    obj = None if is_zero(update.new) else objects.get(update.new)
    if obj is not None and obj.name is not None and is_gto_shaped(obj.name):
        outcome.checked += 1
        outcome.add(check_one_name(update.ref, obj))
    elif obj is not None and obj.kind == "tag" and obj.partial and obj.name is None:
        outcome.checked += 1  # its name, which gto reads, cannot be read cheaply
        outcome.add(check_size(update.ref, obj, policy))


def _removed(
    update: RefUpdate, name: str, registry: Registry, ctx: Context, outcome: Outcome
) -> bool:
    """Judge the deletion or move of an existing tag, and forget it; True for a deletion
    (nothing of it is left to judge)."""
    if update.created or not (update.deleted or update.moved):
        return False
    try:
        old = parse_tag(name)
    except TagNameError:
        old = None  # removing a malformed or reserved name is cleaning up
    if old is not None:
        held = _held_by(registry, update.tag_name, old)
        if update.deleted:
            outcome.add(check_delete(update.ref, old, ctx.policy, held=held))
        else:
            outcome.add(check_move(update.ref, old, ctx.policy, held=held))
        _remove(update, old, registry, ctx, outcome)
    return update.deleted


def _named(
    update: RefUpdate,
    name: str,
    objects: Mapping[str, GitObject],
    ctx: Context,
    outcome: Outcome,
) -> _Candidate:
    """Judge a created or moved tag's name, and a tag made again where one was deleted."""
    here = ctx if ctx.at is None else _in_force(ctx, objects.get(update.new))
    outcome.config_commit = here.config_commit
    tag, violation = check_name(update.ref, name, here.policy)
    if violation is not None:
        outcome.add(violation)
    if tag is not None and update.created and ctx.deleted:
        was = ctx.deleted.get(name)
        obj = objects[update.new]
        if was is not None and (obj.target if obj.kind == "tag" else obj.oid) != was:
            outcome.add(check_move(update.ref, tag, ctx.policy, recreated=was))  # re-made
    return update, name, tag, here


_Keyed = tuple[tuple[bool, int, int, int, str], Item, Context]


def _in_order(
    candidates: Sequence[_Candidate], objects: Mapping[str, GitObject], outcome: Outcome
) -> list[_Keyed]:
    """Judge each candidate's object; the tags with a valid name, in ``order_key``'s order."""
    keyed: list[_Keyed] = []
    for update, name, tag, here in candidates:
        obj = objects[update.new]
        outcome.config_commit = here.config_commit
        for violation in check_object(update.ref, obj, here.policy, tag is not None):
            outcome.add(violation, MAX_MESSAGE if violation.rule == "tag-too-large" else None)
        if tag is not None:
            event = event_of(name, tag, obj)
            keyed.append((order_key(name, tag, event), (update, tag, event), here))
    keyed.sort(key=itemgetter(0))
    return keyed


def _judge_in_order(
    keyed: Sequence[_Keyed], registry: Registry, ctx: Context, outcome: Outcome
) -> None:
    """Each tag against the state the earlier ones left; back-dated ones at their place."""
    items = [item for _, item, _ in keyed]
    # tags dated ahead of the moment this batch arrives: judged after it (never in its way)
    ahead = set_aside(registry, ctx.now) if ctx.arrived else {}
    placed = back_dated(items, registry)
    for number, (_, (update, tag, event), here) in enumerate(keyed):
        if number % BUDGET_STRIDE == BUDGET_STRIDE - 1:
            timebudget.spend("checking the pushed tags")
        if tag.artifact not in placed:
            outcome.config_commit = here.config_commit
            evaluate_tag(update, tag, event, registry.artifact(tag.artifact), here, outcome)
    outcome.config_commit = None
    for artifact in sorted(placed):
        mine = [item for item in items if item[1].artifact == artifact]
        registry.artifacts[artifact] = place(registry.artifact(artifact), mine, ctx, outcome)
    for artifact, later in sorted(ahead.items()):
        mine = [item for item in items if item[1].artifact == artifact]
        after_ahead(registry.artifact(artifact), mine, later, ctx, outcome)


def _apply_modes(outcome: Outcome, policy_of: Callable[[str], Policy]) -> None:
    """A violation whose rule belongs only to policies in ``mode: warn`` is a warning
    (``Policy.warns``), unless gto's readers would fail on what it finds
    (``KEEPS_READERS_WORKING``); what is left an error declines its ref."""
    found = []
    for violation in outcome.violations:
        if (
            violation.severity == "error"
            and violation.rule not in KEEPS_READERS_WORKING
            and policy_of(violation.ref).warns(violation.origin)
        ):
            violation = _as_warning(violation)
        found.append(violation)
    outcome.violations = found
    outcome.declined_refs = {v.ref for v in found if v.severity == "error"}


def _in_force(ctx: Context, obj: GitObject | None) -> Context:
    """The context of the rules in force when ``obj`` was tagged (an audit by the rules of
    the time); a tag with no date, the latest rules."""
    if ctx.at is None or obj is None or obj.kind != "tag" or obj.time is None:
        return ctx
    return ctx.at(obj.time)


def _held_by(registry: Registry, tag_name: str, tag: TagName) -> str | None:
    """The version a tag already in the registry is on (its commit, for a version gto
    calls unregistered): what an undo hint names."""
    state = registry.artifacts.get(tag.artifact)
    event = next((e for e in state.events if e.tag == tag_name), None) if state else None
    return state.version_label(event.commit) if state and event else None


def _remove(
    update: RefUpdate, tag: TagName, registry: Registry, ctx: Context, outcome: Outcome
) -> None:
    """Forget a deleted or moved tag. Where the knobs allow that, it is still a stage
    change like any other: each stage whose holders it changes applies its ``pushers``,
    and a stage it gives back applies its ``from``. (``signed`` cannot apply: a deletion
    carries no signature.)"""
    state = registry.artifacts.get(tag.artifact)
    if state is None:
        return
    before = holders(state, ctx.facts) if ctx.policy.stages else {}
    history = history_of(state)
    state.forget(update.tag_name)
    _judge_what_remains(update, history, state, ctx, outcome)
    if not ctx.policy.stages:
        return
    after = holders(state, ctx.facts)
    facts = ctx.facts
    for stage in sorted(set(before) | set(after)):
        was, now = set(before.get(stage, ())), set(after.get(stage, ()))
        if was == now:
            continue
        for stage_rules in ctx.policy.rules_for(stage):
            own = stage_rules.source
            outcome.add(
                check_pusher(
                    update.ref,
                    tag,
                    stage_rules,
                    facts.pusher,
                    facts.identity_required,
                    removing=True,
                    sources=facts.identity_from,
                    fix=facts.identity_fix,
                ),
                own,
            )
            if ctx.freeze_at is not None:
                outcome.add(
                    check_frozen(update.ref, tag, stage_rules, ctx.freeze_at, removing=True), own
                )
            for commit in sorted({c for c, _ in now} - {c for c, _ in was}):
                outcome.add(
                    check_restored_order(
                        update.ref,
                        tag,
                        commit,
                        state,
                        stage_rules,
                        holders_now(state, stage_rules, facts),
                    ),
                    own,
                )


def _judge_what_remains(
    update: RefUpdate, history: list[Item], state: ArtifactState, ctx: Context, outcome: Outcome
) -> None:
    """A deletion must not leave the history failing: with ``churn#staging#1`` gone, the
    ``churn#prod#2`` that relied on it breaks ``from`` in gto's history (and ``check
    --all`` reports it). Replay the artifact with and without the tag; what fails only
    without it declines the deletion."""
    if len(history) == len(state.events):
        return
    before, after = Outcome(), Outcome()
    replay(state.name, history, ctx, before, set())
    replay(state.name, history_of(state), ctx, after, set())
    seen = {(v.ref, v.rule) for v in before.violations}
    for violation in after.violations:
        if (violation.ref, violation.rule) in seen or violation.severity != "error":
            continue
        other = violation.ref.removeprefix(TAG_PREFIX)
        outcome.add(
            Violation(
                violation.rule,
                update.ref,
                f"without this tag, '{other}' fails in gto's history: {violation.message}",
                f"keep the tag; if '{other}' must go too, delete it first, in a push of its own",
            )
        )


def _as_warning(violation: Violation) -> Violation:
    return violation._replace(severity="warning")
