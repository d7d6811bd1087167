"""The team policy's rules for one tag (``versions`` and ``stages``, docs/design.md §2), and
the stage holders gto shows, which ``from`` is judged against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from gtoguard.model.refupdate import RefUpdate
from gtoguard.model.state import ArtifactState, TagEvent
from gtoguard.model.tagname import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, TagName
from gtoguard.policy.context import INCREASING, REGISTRATION, Context, Facts, Outcome, order_key
from gtoguard.policy.identity import Pusher
from gtoguard.policy.rules.approvals import Registrars, check_approvals, check_logged
from gtoguard.policy.rules.evidence import check_evidence
from gtoguard.policy.rules.frozen import check_frozen
from gtoguard.policy.rules.messages import check_message
from gtoguard.policy.rules.pushers import check_pusher
from gtoguard.policy.rules.signatures import check_bound, check_signed, check_signed_now
from gtoguard.policy.rules.stages import (
    check_branches,
    check_restored_order,
    check_soak,
    check_stage_order,
)
from gtoguard.policy.rules.versions import check_version_for_stage, check_version_increasing
from gtoguard.policy.rules.violation import UNCHECKED
from gtoguard.policy.settings import StageRules, span_text


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


def holders_now(state: ArtifactState, stage_rules: StageRules, facts: Facts) -> dict[str, str]:
    """Stage -> the commit gto shows in it, for the stages ``from`` lists."""
    found = {}
    for stage in stage_rules.from_stages or ():
        holder = shown_holder(state, stage, facts)
        if holder is not None:
            found[stage] = holder
    return found


def soak_holders(
    state: ArtifactState, stage_rules: StageRules, facts: Facts, hidden: bool
) -> dict[str, tuple[str, int]]:
    """Stage -> (the commit gto shows in it now, since when gto has shown it there
    without a break), for the stages ``soak`` lists. A break is any moment gto showed
    another version there, or none, or the artifact as deprecated: a version pushed out
    of staging and given it back by an unassignment starts counting again then.
    ``hidden``: the artifact is deprecated now, and gto shows none of its stages."""
    found: dict[str, tuple[str, int]] = {}
    if hidden:
        return found
    for stage, _ in stage_rules.soak:
        holder = shown_holder(state, stage, facts)
        if holder is not None:
            since = _shown_since(state, stage, holder, facts)
            if since is not None:
                found[stage] = (holder, since)
    return found


def _shown_since(state: ArtifactState, stage: str, commit: str, facts: Facts) -> int | None:
    """When ``commit`` last became the version gto shows in ``stage`` (the artifact not
    deprecated) and stayed it through every later event: the artifact's events replayed
    in the one order (``order_key``), the view read after each."""
    replay = ArtifactState(state.name)
    since = None
    for event in sorted(state.events, key=lambda e: order_key(e.tag, e.name, e)):
        replay.add(event)
        shown = None if deprecated(replay, facts) else shown_holder(replay, stage, facts)
        if shown != commit:
            since = None
        elif since is None:  # when it arrived, where the server's log says; else its date
            landed = facts.arrived(event.tag) if facts.arrived is not None else None
            since = landed if landed is not None else event.time
    return since


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


def team_policy(
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
                            holders_now(state, stage_rules, facts),
                            reactivating=True,
                        ),
                        own,
                    )
            else:
                outcome.add(
                    check_stage_order(
                        ref, tag, event, state, stage_rules, holders_now(state, stage_rules, facts)
                    ),
                    own,
                )
            if not restoring:
                passed = outcome.passed if pushed else []  # (a replayed old tag: not said)
                _soak_and_evidence(ref, tag, event, state, stage_rules, ctx, outcome, passed)
            outcome.add(check_message(ref, tag, event.message, stage_rules, restoring), own)
            if not pushed:
                continue
            outcome.add(check_branches(ref, tag, event, stage_rules, facts.reachable), own)
            if stage_rules.approvals is not None and tag.action is ASSIGN and not restoring:
                _approvals(update, tag, event, state, stage_rules, ctx, outcome)
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


def _soak_and_evidence(
    ref: str,
    tag: TagName,
    event: TagEvent,
    state: ArtifactState,
    stage_rules: StageRules,
    ctx: Context,
    outcome: Outcome,
    passed: list[str],
) -> None:
    """``soak`` and ``requires`` of an assignment (not of a stage given back); what
    passes is said in ``passed`` (``Outcome.passed`` for a tag being judged)."""
    facts, own = ctx.facts, stage_rules.source
    if stage_rules.soak:
        moment = ctx.now if ctx.arrived else event.time
        hidden = deprecated(state, facts)
        held = soak_holders(state, stage_rules, facts, hidden)
        soaked = check_soak(ref, tag, event, state, stage_rules, held, moment, hidden)
        outcome.add(soaked, own)
        if soaked is None and tag.action is ASSIGN:
            passed += [
                f"{s} held for {span_text(moment - held[s][1])} of {span_text(n)}"
                for s, n in stage_rules.soak
                if s in held and held[s][0] == event.commit
            ]
    for missing in check_evidence(ref, tag, event, stage_rules, facts.evidence, passed):
        outcome.add(missing, own)


def _approvals(
    update: RefUpdate,
    tag: TagName,
    event: TagEvent,
    state: ArtifactState,
    stage_rules: StageRules,
    ctx: Context,
    outcome: Outcome,
) -> None:
    """Four eyes, where the promotion arrives (a hook, the helper, CI's ``--pushed-at``);
    an audit of history cannot know them (the server's cleanup drops them once they
    are used): the decision log holds who approved."""
    facts = ctx.facts
    if not ctx.arrived and facts.logged_approvals is not None:  # an audit on the server
        given = facts.logged_approvals(update.ref, update.new)
        if given is not None:
            outcome.add(check_logged(update.ref, stage_rules, given), stage_rules.source)
            return
    ballot = facts.ballots(update.new, event.tag) if facts.ballots and ctx.arrived else None
    who = _who(facts, update) if ballot is not None and ballot.complete else None
    want = stage_rules.approvals
    registrars = (
        _registrars(event, state, facts, who) if want and want.not_registrar else Registrars()
    )
    violation, counted = check_approvals(
        update.ref,
        tag,
        update.new,
        stage_rules,
        ballot,
        who.name if who else None,
        registrars,
        ctx.freeze_at if ctx.freeze_at is not None else ctx.now,  # the server's clock
    )
    outcome.add(violation, stage_rules.source)
    if (violation is None or violation.severity == UNCHECKED) and counted:
        outcome.approved[update.ref] = counted
        outcome.passed.append(f"approved by {', '.join(counted)}")


def _registrars(
    event: TagEvent, state: ArtifactState, facts: Facts, who: Pusher | None
) -> Registrars:
    """Who pushed the registrations of the promoted commit: every one the repository
    holds, dated before the promotion or after it (one made after a request is still the
    version's), as the decision log says, and those of this push (its pusher)."""
    if facts.registrars is None:
        return Registrars(checkable=False)
    known = facts.registrars(event.name.artifact, event.commit)
    if known is None:
        return Registrars(unknown="this server keeps no decision log (log:)")
    names = set(known.values())
    here = [e.tag for e in state.events if e.name.action is REGISTER and e.commit == event.commit]
    for tag in here:
        if tag not in known:  # not in the repository yet: this push's
            names.add(who.name if who else None)
    missing = sorted(tag for tag, name in known.items() if name is None)
    if missing or None in names:
        which = ", ".join(missing) or "a registration in this push"
        return Registrars(unknown=f"the decision log does not say who pushed {which}")
    return Registrars(frozenset(n for n in names if n is not None))


def _who(facts: Facts, update: RefUpdate) -> Pusher | None:
    """Who pushed ``update``: this push's pusher, or in an audit the decision log's."""
    if facts.pusher_of is not None:
        return facts.pusher_of(update.ref, update.new)
    return facts.pusher


def holders(state: ArtifactState, facts: Facts) -> dict[str, set[tuple[str, str]]]:
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
