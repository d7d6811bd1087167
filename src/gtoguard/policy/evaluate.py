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

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from types import MappingProxyType
from typing import NamedTuple

from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate, is_zero
from gtoguard.model.state import ArtifactState, Registry, TagEvent
from gtoguard.model.tagname import (
    ASSIGN,
    DEPRECATE,
    DEREGISTER,
    REGISTER,
    UNASSIGN,
    TagName,
    TagNameError,
    is_gto_shaped,
    parse_tag,
)
from gtoguard.policy import timebudget
from gtoguard.policy.catalog import KEEPS_READERS_WORKING
from gtoguard.policy.identity import Pusher
from gtoguard.policy.rules.counters import check_counter, check_counter_order, check_counter_step
from gtoguard.policy.rules.dates import check_tagger_time, iso_time
from gtoguard.policy.rules.deletions import check_delete, check_move
from gtoguard.policy.rules.frozen import check_frozen
from gtoguard.policy.rules.messages import check_message
from gtoguard.policy.rules.names import check_name, check_one_name
from gtoguard.policy.rules.objects import check_object, check_size
from gtoguard.policy.rules.pushers import check_pusher
from gtoguard.policy.rules.schema import schema_violation
from gtoguard.policy.rules.signatures import check_bound, check_signed, check_signed_now
from gtoguard.policy.rules.stages import (
    check_branches,
    check_restored_order,
    check_stage_order,
    check_unassign,
)
from gtoguard.policy.rules.versions import (
    check_commit_has_version,
    check_deregister,
    check_version_exists,
    check_version_for_stage,
    check_version_increasing,
)
from gtoguard.policy.rules.violation import GitObject, Reachability, Verifier, Violation
from gtoguard.policy.settings import GtoConfig, Policy, StageRules

_TAG_CUT = len(TAG_PREFIX)
# the settings a rule's verdict comes from, where a policy made it stricter than built in
# (``Violation.origin``; ``Policy.warns`` says whose mode applies)
SKEW, MAX_MESSAGE = "knob:tags.clock_skew", "knob:tags.max_message"
COUNTER, INCREASING = "knob:tags.counter", "knob:versions.increasing"
REGISTRATION = "knob:versions.registration"
BUDGET_STRIDE = 64  # tags judged between two looks at the time budget
NOTHING: Mapping[str, str] = MappingProxyType({})  # an empty mapping no one can change

# Same-second tags of one batch: registrations before the stages that use them.
_PRIORITY = {
    REGISTER: 0,
    DEREGISTER: 1,
    ASSIGN: 2,
    UNASSIGN: 3,
    DEPRECATE: 4,
}

# (json pointer, schema keyword, message) for each way a decoded tag fails its schema
TagValidator = Callable[[TagName], Iterable[tuple[str, str, str]]]


class Facts(NamedTuple):
    """What the team-policy rules need from outside the tags: who pushes, which branches
    a commit is on, and who signed a tag. None where it cannot be known here."""

    pusher: Pusher | None = None
    identity_required: bool = True  # pre-receive: no identity declines; elsewhere it warns
    reachable: Reachability | None = None
    verify: Verifier | None = None  # None: no signers here; only presence is checked
    will_sign: bool = False  # the helper with --sign: the tag is not written yet
    repository: str | None = None  # the server's name for the repository (signed: repository)
    # where the pusher is read from (the server), or why this side cannot know who pushed
    identity_from: str = ""
    identity_fix: str = ""  # what to do when no pusher is known where one is required
    # a commit's committer date (gto counts the dates of the versions' commits as events
    # when it decides whether an artifact is deprecated); None: not known here
    commit_time: Callable[[str], int] | None = None
    # an audit with the server's decision log: who pushed the tag (ref, object id)
    pusher_of: Callable[[str, str], Pusher | None] | None = None


class Context(NamedTuple):
    config: GtoConfig
    policy: Policy
    validate: TagValidator
    now: int
    origin: str = "the default branch"  # where .gto was read, for messages
    facts: Facts = Facts()
    deleted: Mapping[str, str] = NOTHING  # tag -> commit, deleted before
    arrived: bool = False  # ``now`` is when the tags arrive (a hook): tags.max_age applies
    # An audit by the rules of the time: the context in force at a tagger date (None:
    # this one throughout), and the commit whose files this one reads.
    at: Callable[[int], Context] | None = None
    config_commit: str | None = None
    freeze_at: int | None = None  # the moment freeze windows are judged at; None: not judged
    # the registry holds none of the judged tags (a hook): every counter in it came first.
    # (CI judges tags already there, beside the later ones of the same push.)
    fresh: bool = False

    @property
    def age_limit(self) -> int | None:
        return self.policy.tags.age_limit if self.arrived else None


class Outcome:
    def __init__(
        self,
        violations: list[Violation] | None = None,
        checked: int = 0,
        rejected_refs: set[str] | None = None,
    ) -> None:
        self.violations: list[Violation] = [] if violations is None else violations
        self.checked = checked  # GTO-shaped tag updates looked at
        self.rejected_refs: set[str] = set() if rejected_refs is None else rejected_refs
        self.stamp: str | None = None  # the config commit to name on violations added now

    def __repr__(self) -> str:
        return (
            f"Outcome(checked={self.checked}, violations={self.violations!r}, "
            f"rejected_refs={sorted(self.rejected_refs)!r})"
        )

    def add(self, violation: Violation | None, origin: str | None = None) -> None:
        """``origin``: whose rule it is (``Violation.origin``), where the rule does not say."""
        if violation is not None:
            if origin is not None and violation.origin is None:
                violation = violation._replace(origin=origin)
            if self.stamp is not None and violation.config is None:
                violation = violation._replace(config=self.stamp)
            self.violations.append(violation)
            if violation.severity == "error":
                self.rejected_refs.add(violation.ref)

    @property
    def ok(self) -> bool:
        return not self.rejected_refs


Item = tuple[RefUpdate, TagName, "TagEvent | None"]


def evaluate(  # noqa: C901, PLR0912, PLR0915 (a batch's steps in one place, in docs/design.md §4's order)
    updates: Sequence[RefUpdate],
    objects: Mapping[str, GitObject],
    registry: Registry,
    ctx: Context,
) -> Outcome:
    """``objects`` holds the new side of every created or moved tag; ``registry`` the state
    of the touched artifacts before the batch. The registry is updated in place."""
    outcome = Outcome()
    add = outcome.add
    policy = ctx.policy
    candidates: list[tuple[RefUpdate, str, TagName | None, Context]] = []
    for update in updates:
        ref = update.ref
        if not ref.startswith(TAG_PREFIX):
            continue
        name = ref[_TAG_CUT:]
        if "@" not in name and "#" not in name:  # GTO's only for a GTO-named object
            obj = None if is_zero(update.new) else objects.get(update.new)
            if obj is not None and obj.name is not None and is_gto_shaped(obj.name):
                outcome.checked += 1
                add(check_one_name(ref, obj))
            elif obj is not None and obj.kind == "tag" and obj.partial and obj.name is None:
                outcome.checked += 1  # its name, which gto reads, cannot be read cheaply
                add(check_size(ref, obj, policy))
            continue
        outcome.checked += 1
        created = update.created
        if not created:
            deleted = update.deleted
            if deleted or update.moved:
                try:
                    old = parse_tag(name)
                except TagNameError:
                    old = None  # removing a malformed or reserved name is cleaning up
                if old is not None:
                    held = _held_by(registry, update.tag_name, old)
                    if deleted:
                        add(check_delete(ref, old, policy, held=held))
                    else:
                        add(check_move(ref, old, policy, held=held))
                    _remove(update, old, registry, ctx, outcome)
                if deleted:
                    continue
        here = ctx if ctx.at is None else _in_force(ctx, objects.get(update.new))
        outcome.stamp = here.config_commit
        tag, violation = check_name(ref, name, here.policy)
        if violation is not None:
            add(violation)
        if tag is not None and created and ctx.deleted:
            was = ctx.deleted.get(name)
            obj = objects[update.new]
            if was is not None and (obj.target if obj.kind == "tag" else obj.oid) != was:
                add(check_move(ref, tag, policy, recreated=was))  # re-made
        candidates.append((update, name, tag, here))

    keyed: list[tuple[tuple[bool, int, int, int, str], Item, Context]] = []
    for update, name, tag, here in candidates:
        obj = objects[update.new]
        outcome.stamp = here.config_commit
        for violation in check_object(update.ref, obj, here.policy, tag is not None):
            add(violation, MAX_MESSAGE if violation.rule == "tag-too-large" else None)
        if tag is not None:
            event = event_of(name, tag, obj)
            keyed.append((order_key(name, tag, event), (update, tag, event), here))
    keyed.sort(key=itemgetter(0))
    items = [item for _, item, _ in keyed]
    # tags dated ahead of the moment this batch arrives: judged after it (never in its way)
    ahead = _set_aside(registry, ctx.now) if ctx.arrived else {}
    placed = _back_dated(items, registry)
    for number, (_, (update, tag, event), here) in enumerate(keyed):
        if number % BUDGET_STRIDE == BUDGET_STRIDE - 1:
            timebudget.spend("checking the pushed tags")
        if tag.artifact not in placed:
            outcome.stamp = here.config_commit
            _evaluate_tag(update, tag, event, registry.artifact(tag.artifact), here, outcome)
    outcome.stamp = None
    for artifact in sorted(placed):
        mine = [item for item in items if item[1].artifact == artifact]
        registry.artifacts[artifact] = _place(registry.artifact(artifact), mine, ctx, outcome)
    for artifact, later in sorted(ahead.items()):
        mine = [item for item in items if item[1].artifact == artifact]
        _after_ahead(registry.artifact(artifact), mine, later, ctx, outcome)
    # each policy's mode covers its own rules; an audit takes each tag's policy of its time
    policies = {update.ref: here.policy for update, _, _, here in candidates}
    _apply_modes(outcome, lambda ref: policies.get(ref, ctx.policy))
    return outcome


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
    outcome.rejected_refs = {v.ref for v in found if v.severity == "error"}


def _set_aside(registry: Registry, now: int) -> dict[str, list[TagEvent]]:
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


def _after_ahead(
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
        history = [item for item in _history(state) if item[0].ref not in mine]
        ahead: list[Item] = [
            (RefUpdate(TAG_PREFIX + e.tag, e.commit, e.commit), e.name, e) for e in later
        ]
        refs = {update.ref for update, _, _ in ahead}
        unknown = ctx._replace(
            facts=ctx.facts._replace(pusher=None, pusher_of=None, identity_required=True)
        )
        before, after = Outcome(), Outcome()
        _replay(state.name, history + ahead, unknown, before, refs)
        _replay(state.name, history + list(new) + ahead, unknown, after, refs)
        seen = {(v.ref, v.rule) for v in before.violations}
        first = min(new, key=_item_key)
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


def _in_force(ctx: Context, obj: GitObject | None) -> Context:
    """The context of the rules in force when ``obj`` was tagged (an audit by the rules of
    the time); a tag with no date, the latest rules."""
    if ctx.at is None or obj is None or obj.kind != "tag" or obj.time is None:
        return ctx
    return ctx.at(obj.time)


def order_key(name: str, tag: TagName, event: TagEvent | None) -> tuple[bool, int, int, int, str]:
    """The one order of events, in the hook, ``check`` and the registry replay: tagger
    time; within one second the counter (tags without one first), then the action, then
    the name. A script's same-second batch ``#8 … #12`` is read in the order it was made,
    not in name order (``#10`` before ``#9``). Tags that make no registry event
    (lightweight, not on a commit) come last, so that their counters do not count
    against the real events. (gto's own views order same-second events by name; the
    views in ``views.py`` keep gto's order.)"""
    counter = tag.counter if tag.counter is not None else -1
    return (event is None, event.time if event else 0, counter, _PRIORITY[tag.action], name)


def _item_key(item: Item) -> tuple[bool, int, int, int, str]:
    return order_key(item[0].tag_name, item[1], item[2])


def _back_dated(items: Sequence[Item], registry: Registry) -> set[str]:
    """Artifacts where a new event sorts before an existing one: gto will place it
    earlier in history, so it is judged there (``_place``), not at the end."""
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


def _place(
    state: ArtifactState, new: Sequence[Item], ctx: Context, outcome: Outcome
) -> ArtifactState:
    """Judge back-dated tags where gto puts them: replay the artifact's history with and
    without them. A new tag fails on its own rules at its place, and also for any existing
    tag that its place makes fail (which ``check --all`` would then report)."""
    late = set()
    for update, _tag, event in new:
        if event is None:
            continue
        behind = check_tagger_time(
            update.ref, event, state, ctx.now, ctx.policy.tags.clock_skew, ctx.age_limit
        )
        if behind is not None:  # declined for its date alone: not placed anywhere
            outcome.add(behind, SKEW)
            late.add(update.ref)
    new = [item for item in new if item[0].ref not in late]
    if not new:
        return state
    new_refs = {update.ref for update, _, _ in new}
    history = _history(state)
    before = Outcome()
    _replay(state.name, history, ctx, before, set())
    seen = {(v.ref, v.rule) for v in before.violations}
    after = Outcome()
    merged = _replay(state.name, history + list(new), ctx, after, new_refs)
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
    first = min(new, key=_item_key)[0].ref
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


def _replay(
    name: str, items: Sequence[Item], ctx: Context, outcome: Outcome, judged: set[str]
) -> ArtifactState:
    state = ArtifactState(name)
    for update, tag, event in sorted(items, key=_item_key):
        _evaluate_tag(update, tag, event, state, ctx, outcome, update.ref in judged)
    return state


def _evaluate_tag(
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
        _team_policy(update, tag, event, state, ctx, outcome, pushed)
    state.add(event)  # later tags of the batch see this one, accepted or not


def deprecated(state: ArtifactState, facts: Facts) -> bool:
    """Whether gto shows ``state`` as deprecated: its latest deprecation is later than every
    other event, the commit dates of its versions included (looked up only when the tags
    alone say deprecated)."""
    if not state.deprecated():
        return False
    when = facts.commit_time
    return state.deprecated([when(c) for c in state.commits()] if when is not None else ())


def shown_holder(state: ArtifactState, stage: str, facts: Facts) -> str | None:
    """The commit whose version holds ``stage`` in the view ``gto show`` gives by default
    (one version per stage: the most recently assigned of those that hold it), or None.
    This is what ``from`` asks (docs/policy.md): not every version gto still counts as
    holding the stage until it is unassigned, but the one every screen shows. Deprecation
    aside: a promotion of a deprecated artifact makes it active again. Two assigned in the
    same second: gto's own order decides (``views``)."""
    found = state.holders_of(stage)
    if not found:
        return None
    latest = max(found)[0]
    tied = [commit for when, commit in found if when == latest]
    if len(tied) == 1:
        return tied[0]
    from gtoguard.model.gtoshow import artifact_view  # a same-second tie: build the view gto builds

    view = artifact_view(state, _CommitTimes(facts.commit_time))
    shown = view.stage_holders(1).get(stage) or []
    commits = {v.name: v.commit for v in view.versions}
    return commits.get(shown[0]) if shown else None


class _CommitTimes(Mapping[str, int]):
    """Committer dates as the views ask for them (0 where this side cannot know them)."""

    def __init__(self, lookup: Callable[[str], int] | None) -> None:
        self._lookup = lookup

    def __getitem__(self, commit: str) -> int:
        return self._lookup(commit) if self._lookup is not None else 0

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _holders_now(state: ArtifactState, stage_rules: StageRules, facts: Facts) -> dict[str, str]:
    """Stage -> the commit gto shows in it, for the stages ``from`` lists."""
    found = {}
    for stage in stage_rules.from_stages or ():
        holder = shown_holder(state, stage, facts)
        if holder is not None:
            found[stage] = holder
    return found


def restored_stages(tag: TagName, event: TagEvent, state: ArtifactState, facts: Facts) -> list[str]:
    """The stages an event brings back by making a deprecated artifact active again: any
    event dated from the deprecation on (a registration, an assignment, an unassignment;
    its commit's date counts too) restores every stage the artifact's versions held."""
    if tag.action is DEPRECATE or not deprecated(state, facts):
        return []
    latest = state.latest_deprecation()
    when = facts.commit_time
    moment = max(event.time, when(event.commit) if when is not None else event.time)
    if latest is None or moment < latest:
        return []  # dated before the deprecation: gto shows the artifact deprecated still
    return sorted(state.stages_held())


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


def _stages_changed(tag: TagName, event: TagEvent, state: ArtifactState) -> list[str]:
    """Every stage the tag changes: the one it assigns or unassigns, the stages it takes
    away by deregistering the version or deprecating the artifact that holds them, and the
    stages a registration renames (held by the commit's unregistered version)."""
    if tag.stage is not None:
        return [tag.stage]
    if tag.action is DEREGISTER:
        return state.active_stages(event.commit)
    if tag.action is DEPRECATE:
        return sorted(state.stages_held())
    if tag.action is REGISTER and not state.registered_at(event.commit):
        # gto files a stage under the version registered at its commit, whatever the
        # times: registering here renames what those stages show
        return state.active_stages(event.commit)
    return []


def _team_policy(
    update: RefUpdate,
    tag: TagName,
    event: TagEvent,
    state: ArtifactState,
    ctx: Context,
    outcome: Outcome,
    pushed: bool = True,
) -> None:
    """The rules of ``versions`` and ``stages`` in the policies (docs/design.md §2)."""
    policy, facts, ref = ctx.policy, ctx.facts, update.ref
    if policy.versions_increasing:
        outcome.add(check_version_increasing(ref, tag, state, policy, event.commit), INCREASING)
    if tag.action is ASSIGN:
        found = check_version_for_stage(ref, tag, event, state, policy)
        outcome.add(
            found, REGISTRATION if found and found.rule == "version-not-registered" else None
        )
    if not policy.stages:
        return
    changed = _stages_changed(tag, event, state)
    restored = [s for s in restored_stages(tag, event, state, facts) if s not in changed]
    for stage in changed + restored:
        restoring = stage in restored
        for stage_rules in policy.rules_for(stage):
            own = stage_rules.source  # each stage rule is its policy's, in that one's mode
            if restoring:
                for commit in sorted(state.stages_held().get(stage, ())):
                    outcome.add(
                        check_restored_order(
                            ref,
                            tag,
                            commit,
                            state,
                            stage_rules,
                            _holders_now(state, stage_rules, facts),
                            reactivating=True,
                        ),
                        own,
                    )
            else:
                outcome.add(
                    check_stage_order(
                        ref, tag, event, state, stage_rules, _holders_now(state, stage_rules, facts)
                    ),
                    own,
                )
            outcome.add(check_message(ref, tag, event.message, stage_rules, restoring), own)
            if not pushed:
                continue
            outcome.add(check_branches(ref, tag, event, stage_rules, facts.reachable), own)
            outcome.add(
                check_pusher(
                    ref,
                    tag,
                    stage_rules,
                    _who(facts, update),
                    facts.identity_required,
                    restoring=restoring,
                    sources=facts.identity_from,
                    fix=facts.identity_fix,
                ),
                own,
            )
            outcome.add(
                check_signed(
                    ref,
                    tag,
                    update.new,
                    event.message,
                    stage_rules,
                    facts.verify,
                    facts.will_sign,
                    restoring,
                ),
                own,
            )
            outcome.add(
                check_bound(
                    ref, tag, event.message, stage_rules, facts.repository, facts.verify is not None
                ),
                own,
            )
            if ctx.age_limit is not None:
                outcome.add(
                    check_signed_now(ref, tag, event, stage_rules, ctx.now, policy.tags.clock_skew),
                    own,
                )
            if ctx.freeze_at is not None:
                outcome.add(
                    check_frozen(ref, tag, stage_rules, ctx.freeze_at, restoring=restoring), own
                )


def _who(facts: Facts, update: RefUpdate) -> Pusher | None:
    """Who pushed ``update``: this push's pusher, or in an audit the decision log's."""
    if facts.pusher_of is not None:
        return facts.pusher_of(update.ref, update.new)
    return facts.pusher


def event_of(name: str, tag: TagName, obj: GitObject) -> TagEvent | None:
    """The registry event of an annotated tag on a commit; None for anything else."""
    if obj.kind != "tag" or obj.target_kind != "commit" or obj.target is None:
        return None
    return TagEvent(
        name,
        tag,
        obj.time if obj.time is not None else 0,
        obj.target,
        obj.offset,
        obj.tagger,
        obj.email,
        obj.message,
    )


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
    before = _holders(state, ctx.facts) if ctx.policy.stages else {}
    history = _history(state)
    state.forget(update.tag_name)
    _judge_what_remains(update, history, state, ctx, outcome)
    if not ctx.policy.stages:
        return
    after = _holders(state, ctx.facts)
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
                        _holders_now(state, stage_rules, facts),
                    ),
                    own,
                )


def _holders(state: ArtifactState, facts: Facts) -> dict[str, set[tuple[str, str]]]:
    """Stage -> (commit, version shown) of each holder, as gto shows them: none while the
    artifact is deprecated (deleting its deprecation gives every stage back); deleting a
    registration keeps the commit in the stage but renames what gto shows there (the
    commit's hexsha)."""
    if deprecated(state, facts):
        return {}
    return {
        stage: {(c, state.version_label(c)) for c in commits}
        for stage, commits in state.stages_held().items()
    }


def _history(state: ArtifactState) -> list[Item]:
    """An artifact's existing events as items to replay."""
    return [(RefUpdate(TAG_PREFIX + e.tag, e.commit, e.commit), e.name, e) for e in state.events]


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
    _replay(state.name, history, ctx, before, set())
    _replay(state.name, _history(state), ctx, after, set())
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
