"""Evaluate a batch of ref updates against the registry state and the policy. Pure.

New tags are evaluated in tagger-date order (then name), each against the state that
includes the earlier tags of the same batch; then deletions and moves (DESIGN §4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import rules
from .identity import Pusher
from .policy import GtoConfig, Policy
from .refupdate import RefUpdate
from .registry import ArtifactState, Registry, TagEvent
from .rules import GitObject, Reachability, Verifier, Violation
from .tagname import Action, TagName, TagNameError, is_gto_shaped, parse_tag

# Same-second tags of one batch: registrations before the stages that use them.
_PRIORITY = {
    Action.REGISTER: 0,
    Action.DEREGISTER: 1,
    Action.ASSIGN: 2,
    Action.UNASSIGN: 3,
    Action.DEPRECATE: 4,
}

# (json pointer, schema keyword, message) for each way a decoded tag fails its schema
TagValidator = Callable[[dict[str, object]], Iterable[tuple[str, str, str]]]


@dataclass(frozen=True)
class Facts:
    """What the team-policy rules need from outside the tags: who pushes, which branches
    a commit is on, and who signed a tag. None where it cannot be known here."""

    pusher: Pusher | None = None
    identity_required: bool = True  # pre-receive: no identity declines; elsewhere it warns
    reachable: Reachability | None = None
    verify: Verifier | None = None  # None: no signers here; only presence is checked
    will_sign: bool = False  # the helper with --sign: the tag is not written yet


@dataclass(frozen=True)
class Context:
    config: GtoConfig
    policy: Policy
    validate: TagValidator
    now: int
    origin: str = "the default branch"  # where .gto was read, for messages
    facts: Facts = field(default_factory=Facts)


@dataclass
class Outcome:
    violations: list[Violation] = field(default_factory=list)
    checked: int = 0  # GTO-shaped tag updates looked at
    rejected_refs: set[str] = field(default_factory=set)

    def add(self, violation: Violation | None) -> None:
        if violation is not None:
            self.violations.append(violation)
            if violation.severity == "error":
                self.rejected_refs.add(violation.ref)

    @property
    def ok(self) -> bool:
        return not self.rejected_refs


def gto_updates(updates: Iterable[RefUpdate]) -> list[RefUpdate]:
    """The updates that are GTO's business: tags whose name holds '@' or '#'."""
    return [u for u in updates if u.is_tag and is_gto_shaped(u.tag_name)]


def touched_artifacts(updates: Iterable[RefUpdate]) -> set[str]:
    names = set()
    for update in gto_updates(updates):
        try:
            names.add(parse_tag(update.tag_name).artifact)
        except TagNameError:
            continue
    return names


def evaluate(
    updates: Sequence[RefUpdate],
    objects: Mapping[str, GitObject],
    registry: Registry,
    ctx: Context,
) -> Outcome:
    """``objects`` holds the new side of every created or moved tag; ``registry`` the state
    of the touched artifacts before the batch. The registry is updated in place."""
    outcome = Outcome()
    candidates: list[tuple[RefUpdate, TagName | None]] = []
    for update in gto_updates(updates):
        outcome.checked += 1
        if update.deleted or update.moved:
            try:
                old = parse_tag(update.tag_name)
            except TagNameError:
                continue  # removing a malformed or reserved name is cleaning up
            check = rules.check_delete if update.deleted else rules.check_move
            outcome.add(check(update.ref, old, ctx.policy))
            _forget(registry, old, update.tag_name)
            if update.deleted:
                continue
        tag, violation = rules.check_name(update.ref, update.tag_name, ctx.policy)
        outcome.add(violation)
        candidates.append((update, tag))

    events: list[tuple[RefUpdate, TagName, GitObject, TagEvent | None]] = []
    for update, tag in candidates:
        obj = objects[update.new]
        outcome.add(rules.check_annotated(update.ref, obj, ctx.policy))
        outcome.add(rules.check_target(update.ref, obj))
        if tag is None:
            continue
        outcome.add(rules.check_tagger_present(update.ref, obj))
        event = event_of(update.tag_name, tag, obj)
        events.append((update, tag, obj, event))

    events.sort(key=lambda item: order_key(item[0].tag_name, item[1], item[3]))
    for update, tag, _obj, event in events:
        _evaluate_tag(update, tag, event, registry, ctx, outcome)
    if ctx.policy.warn_only:
        outcome.violations = [_as_warning(v) for v in outcome.violations]
        outcome.rejected_refs.clear()
    return outcome


def order_key(name: str, tag: TagName, event: TagEvent | None) -> tuple[bool, int, int, str]:
    """The order tags are evaluated in: tagger time, then action, then name; tags that
    make no registry event (lightweight, not on a commit) last, so that their counters do
    not count against the real events."""
    return (event is None, event.time if event else 0, _PRIORITY[tag.action], name)


def _evaluate_tag(
    update: RefUpdate,
    tag: TagName,
    event: TagEvent | None,
    registry: Registry,
    ctx: Context,
    outcome: Outcome,
) -> None:
    state = registry.artifact(tag.artifact)
    commit = event.commit if event else None
    for path, keyword, message in ctx.validate(tag.as_event()):
        outcome.add(
            rules.schema_violation(
                update.ref, tag, path, keyword, message, ctx.config, ctx.origin, state, commit
            )
        )
    outcome.add(rules.check_counter(update.ref, tag, state))
    if event is None:  # lightweight or not on a commit: no registry event, but a counter
        state.note_counter(tag.counter)
        return
    outcome.add(
        rules.check_tagger_time(update.ref, event, state, ctx.now, ctx.policy.tags.clock_skew)
    )
    outcome.add(rules.check_version_exists(update.ref, tag, state))
    outcome.add(rules.check_commit_has_version(update.ref, tag, event, state))
    outcome.add(rules.check_deregister(update.ref, tag, event, state))
    outcome.add(rules.check_unassign(update.ref, tag, event, state))
    _team_policy(update, tag, event, state, ctx, outcome)
    state.add(event)  # later tags of the batch see this one, accepted or not


def _team_policy(update: RefUpdate, tag: TagName, event: TagEvent, state: ArtifactState,
                 ctx: Context, outcome: Outcome) -> None:  # fmt: skip
    """The rules of ``versions`` and ``stages`` in the policies (DESIGN §2)."""
    policy, facts, ref = ctx.policy, ctx.facts, update.ref
    if policy.versions_increasing:
        outcome.add(rules.check_version_increasing(ref, tag, state, policy))
    if tag.action is Action.ASSIGN:
        outcome.add(rules.check_version_for_stage(ref, tag, event, state, policy))
    if tag.stage is None or not policy.stages:
        return
    for stage_rules in policy.rules_for(tag.stage):
        outcome.add(rules.check_stage_order(ref, tag, event, state, stage_rules))
        outcome.add(rules.check_branches(ref, tag, event, stage_rules, facts.reachable))
        outcome.add(rules.check_pusher(ref, tag, stage_rules, facts.pusher,
                                       facts.identity_required))  # fmt: skip
        outcome.add(rules.check_signed(ref, tag, update.new, event.message, stage_rules,
                                       facts.verify, facts.will_sign))  # fmt: skip
        outcome.add(rules.check_message(ref, tag, event.message, stage_rules))


def event_of(name: str, tag: TagName, obj: GitObject) -> TagEvent | None:
    """The registry event of an annotated tag on a commit; None for anything else."""
    if obj.kind != "tag" or obj.target_kind != "commit" or obj.target is None:
        return None
    return TagEvent(
        tag=name,
        name=tag,
        time=obj.time if obj.time is not None else 0,
        commit=obj.target,
        offset=obj.offset,
        tagger=obj.tagger,
        email=obj.email,
        message=obj.message,
    )


def _forget(registry: Registry, tag: TagName, name: str) -> None:
    state = registry.artifacts.get(tag.artifact)
    if state is not None:
        state.forget(name)


def _as_warning(violation: Violation) -> Violation:
    return Violation(violation.rule, violation.ref, violation.message, violation.hint, "warning")
