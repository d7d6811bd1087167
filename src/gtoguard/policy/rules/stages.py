"""Stages: unassigning one held, the order stages are reached in (``from``,
``rollback``), the branches a stage takes commits from; and what a tag does to a stage,
in words, for every stage rule's message."""

from __future__ import annotations

from collections.abc import Mapping

from gtoguard.model.printable import short
from gtoguard.model.state import ArtifactState, TagEvent
from gtoguard.model.tagname import (
    ASSIGN,
    DEPRECATE,
    DEREGISTER,
    REGISTER,
    UNASSIGN,
    TagName,
)
from gtoguard.policy.rules.dates import iso_time
from gtoguard.policy.rules.violation import Reachability, Violation
from gtoguard.policy.settings import StageRules, span_text


def check_unassign(
    ref: str, tag: TagName, event: TagEvent, state: ArtifactState
) -> Violation | None:
    if tag.action is not UNASSIGN or tag.stage is None:
        return None
    if not state.registered_at(event.commit):
        return Violation(
            "version-not-registered",
            ref,
            f"commit {short(event.commit)} has no registered version of '{tag.artifact}'; "
            "gto readers ignore an unassignment there and keep the stage",
            f"register the commit first (gtoguard register {tag.artifact} "
            f"{short(event.commit)}), then unassign",
        )
    if state.stage_active(event.commit, tag.stage):
        return None
    version = state.version_label(event.commit)
    label = version if version != event.commit else f"commit {short(event.commit)}"
    held = state.active_stages(event.commit)
    holds = f" (it holds: {', '.join(held)})" if held else " (it holds no stage)"
    return Violation(
        "stage-not-active",
        ref,
        f"'{tag.artifact}' {label} does not hold stage '{tag.stage}'{holds}",
        f"see which version holds '{tag.stage}': gtoguard show {tag.artifact}",
    )


def check_stage_order(
    ref: str,
    tag: TagName,
    event: TagEvent,
    state: ArtifactState,
    rules: StageRules,
    holders: Mapping[str, str],
) -> Violation | None:
    """``from``: the version must hold one of the listed stages now, in the view ``gto
    show`` gives by default (``holders``: stage -> the commit shown in it; the page's
    Stages table). A version that held the stage it is given before may go back to it (a
    rollback) without holding a ``from`` stage again, unless the stage says ``rollback:
    false``."""
    if tag.action is not ASSIGN or not rules.from_stages or tag.stage is None:
        return None
    if any(holders.get(stage) == event.commit for stage in rules.from_stages):
        return None
    if rules.rollback and state.ever_held(event.commit, tag.stage):
        return None
    version = state.version_label(event.commit)
    label = version if version != event.commit else f"commit {short(event.commit)}"
    needed = " or ".join(rules.from_stages)
    held = (
        f"; it held {tag.stage} before, but rollback: false"
        if not rules.rollback and state.ever_held(event.commit, tag.stage)
        else ""
    )
    return Violation(
        "stage-order",
        ref,
        f"'{tag.artifact}' {label} must be in {needed} before {tag.stage} "
        f"({_shown_now(state, rules.from_stages, holders)}{held}; {rules.source})",
        f"promote it first: gtoguard assign {tag.artifact} --version {version} "
        f"--stage {rules.from_stages[0]}",
    )


def check_soak(
    ref: str,
    tag: TagName,
    event: TagEvent,
    state: ArtifactState,
    rules: StageRules,
    held: Mapping[str, tuple[str, int]],
    moment: int,
    hidden: bool = False,
) -> Violation | None:
    """``soak``: the version must hold each listed stage now, in the view ``gto show``
    gives by default, and have held it for the span listed, counted from the latest
    assignment of that stage to it (``held``: stage -> (the commit shown in it, when it
    was assigned)) to ``moment`` (the push's arrival; an audit: the tag's date). A
    rollback is exempt, as it is from ``from``, unless the stage says ``rollback: false``.
    ``hidden``: the artifact is deprecated, and gto shows none of its stages."""
    if tag.action is not ASSIGN or not rules.soak or tag.stage is None:
        return None
    if rules.rollback and state.ever_held(event.commit, tag.stage):
        return None
    version = state.version_label(event.commit)
    label = version if version != event.commit else f"commit {short(event.commit)}"
    for stage, needed in rules.soak:
        commit, since = held.get(stage, (None, 0))
        if commit != event.commit:
            shown = (
                f"'{tag.artifact}' is deprecated: gto shows none of its stages now"
                if hidden
                else _shown_now(state, (stage,), {s: c for s, (c, _) in held.items()})
            )
            return Violation(
                "soak-too-short",
                ref,
                f"'{tag.artifact}' {label} must hold {stage} for {span_text(needed)} before "
                f"{tag.stage}, and is not in {stage} ({shown}; {rules.source})",
                f"promote it first: gtoguard assign {tag.artifact} --version {version} "
                f"--stage {stage}; then {tag.stage} after {span_text(needed)}",
            )
        if moment - since < needed:
            return Violation(
                "soak-too-short",
                ref,
                f"'{tag.artifact}' {label} has held {stage} for {span_text(moment - since)} "
                f"of the {span_text(needed)} {tag.stage} asks (since {iso_time(since)}; "
                f"{rules.source})",
                f"wait until {iso_time(since + needed)}, then: gtoguard assign {tag.artifact} "
                f"--version {version} --stage {tag.stage}",
            )
    return None


def _shown_now(state: ArtifactState, stages: tuple[str, ...], holders: Mapping[str, str]) -> str:
    """Who holds ``stages`` now, as gto show shows them, for a message."""
    said = []
    for stage in stages:
        commit = holders.get(stage)
        said.append(
            f"{stage} is {state.version_label(commit)}"
            if commit is not None
            else f"no version is in {stage}"
        )
    return ", ".join(said) + " now"


def check_restored_order(
    ref: str,
    tag: TagName,
    commit: str,
    state: ArtifactState,
    rules: StageRules,
    holders: Mapping[str, str],
    reactivating: bool = False,
) -> Violation | None:
    """Deleting an unassignment (or a deregistration) gives a stage back to a version, and
    so does making a deprecated artifact active again (``reactivating``): an assignment by
    other means. Giving a version back a stage it held is a rollback, which ``from`` lets
    through unless the stage says ``rollback: false``; then the version must hold one of
    the ``from`` stages (``holders``, after the change)."""
    if not rules.from_stages or rules.rollback:
        return None
    if any(holders.get(stage) == commit for stage in rules.from_stages):
        return None
    version = state.version_label(commit)
    label = version if version != commit else f"commit {short(commit)}"
    how = (
        f"'{tag.tag}' makes '{tag.artifact}' active again, which gives stage "
        f"{rules.stage} back to {label}"
        if reactivating
        else f"removing '{tag.tag}' gives stage {rules.stage} back to '{tag.artifact}' {label}"
    )
    return Violation(
        "stage-order",
        ref,
        f"{how}, which is not in {' or '.join(rules.from_stages)} "
        f"({_shown_now(state, rules.from_stages, holders)}; rollback: false; {rules.source})",
        f"assign it properly: gtoguard assign {tag.artifact} --version {version} "
        f"--stage {rules.from_stages[0]}",
    )


def check_branches(
    ref: str, tag: TagName, event: TagEvent, rules: StageRules, reachable: Reachability | None
) -> Violation | None:
    if tag.action is not ASSIGN or not rules.branches or reachable is None:
        return None
    ok, branches = reachable(event.commit, rules.branches)
    if ok:
        return None
    wanted = ", ".join(rules.branches)
    seen = f" (branches checked: {', '.join(branches)})" if branches else " (no such branch)"
    return Violation(
        "branch-not-allowed",
        ref,
        f"commit {short(event.commit)} is not on {wanted}{seen}; stage {tag.stage} only takes "
        f"commits from there ({rules.source})",
        f"merge the commit into {rules.branches[0]} first, then tag the merged commit",
    )


def describe_change(
    tag: TagName, stage: str, removing: bool = False, restoring: bool = False
) -> str:
    """What the tag does to ``stage``, for messages: every way a stage changes counts."""
    if removing:
        return f"delete or move tag '{tag.tag}', which changes stage {stage}"
    if restoring:
        return (
            f"make deprecated '{tag.artifact}' active again ({tag.tag}), which gives "
            f"stage {stage} back to its versions"
        )
    if tag.action is DEREGISTER:
        return f"deregister {tag.version}, which holds stage {stage}"
    if tag.action is DEPRECATE:
        return f"deprecate '{tag.artifact}', whose versions hold stage {stage}"
    if tag.action is REGISTER:
        return (
            f"register {tag.version} on a commit in stage {stage}, which renames the "
            "version gto shows there"
        )
    return f"{tag.action.value} stage {stage}"
