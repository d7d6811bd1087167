"""What an accepted push changes in the registry, one line per change. Pure.

Computed from the state the check used: each touched artifact's events before the push
and after it (``policy/evaluate.evaluate`` adds the pushed tags to the registry and forgets the
deleted ones), both read as gto readers show them (``views``): the versions registered,
and per stage the versions that hold it, the most recently assigned first (the one
``gto show`` and ``NAME#stage`` give).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from gtoguard.model.gtoshow import ArtifactView, artifact_view, sort_by_semver
from gtoguard.model.state import ArtifactState, Registry, TagEvent


class Shown(NamedTuple):
    """One artifact as gto readers show it."""

    known: bool  # it has events at all
    active: bool  # not deprecated
    versions: tuple[str, ...]  # registered and active, highest first
    deregistered: frozenset[str]  # names with a deregistration in force
    # stage -> its holders as (commit, version shown), the most recently assigned first
    stages: Mapping[str, tuple[tuple[str, str], ...]]
    unassigned: frozenset[tuple[str, str]]  # (stage, commit) an unassignment took away


def shown(view: ArtifactView) -> Shown:
    versions = sort_by_semver(v for v in view.versions if v.registered and v.active)
    gone = frozenset(v.name for v in view.versions if v.registered and not v.active)
    unassigned = frozenset(
        (s.stage, v.commit)
        for v in view.versions
        if v.active
        for s in v.stages.values()
        if not s.active
    )
    commits = {v.name: v.commit for v in view.versions}
    holders = {
        stage: tuple((commits[name], name) for name in names)
        for stage, names in view.stage_holders(-1).items()
    }
    return Shown(
        bool(view.versions or view.deprecations),
        view.active,
        tuple(v.name for v in versions),
        gone,
        holders,
        unassigned,
    )


def receipt(
    before: Mapping[str, Sequence[TagEvent]],
    after: Registry,
    commit_times: Mapping[str, int],
    stage_order: Sequence[str] | None = None,
) -> list[str]:
    """The lines for every artifact in ``before`` (its events before the push) whose view
    changed in ``after``; ``stage_order``: .gto's stages, the order stages are listed."""
    lines = []
    for name in sorted(before):
        old = artifact_view(ArtifactState(name, list(before[name])), commit_times)
        state = after.artifacts.get(name, ArtifactState(name))
        lines += changes(name, shown(old), shown(artifact_view(state, commit_times)), stage_order)
    return lines


def changes(
    name: str, was: Shown, now: Shown, stage_order: Sequence[str] | None = None
) -> list[str]:
    """What ``was`` → ``now`` changes for readers of artifact ``name``."""
    if was.active and not now.active:
        return [f"{name}: deprecated"]  # readers hide the whole artifact now
    lines = []
    if was.known and not was.active and now.active:
        lines.append(f"{name}: active again (was deprecated)")
    for version in now.versions:
        if version not in was.versions:
            lines.append(f"{name}: {_label(version)} registered")
    for version in was.versions:
        if version not in now.versions:
            how = (
                "deregistered"
                if version in now.deregistered
                else ("no longer registered (its registration tag was deleted)")
            )
            lines.append(f"{name}: {_label(version)} {how}")
    if not now.active:
        if now.known and not was.known:  # made and deprecated in one push
            lines.append(f"{name}: deprecated")
        return lines
    order = list(stage_order or ())
    stages = sorted(
        set(was.stages) | set(now.stages),
        key=lambda s: (order.index(s) if s in order else len(order), s),
    )
    for stage in stages:
        lines += _stage_changes(
            name, stage, was.stages.get(stage, ()), now.stages.get(stage, ()), now
        )
    return lines


def _stage_changes(
    name: str,
    stage: str,
    was: tuple[tuple[str, str], ...],
    now: tuple[tuple[str, str], ...],
    after: Shown,
) -> list[str]:
    """A stage's holders are commits: registering a commit that holds a stage renames
    what readers show there (from the commit to the version), and says so."""
    if was == now:
        return []
    lines = []
    before = {commit for commit, _ in was}
    still = {commit for commit, _ in now}
    # the one readers show last: several versions given a stage in one push end with it
    added = [(c, v) for c, v in reversed(now) if c not in before]
    removed = [(c, v) for c, v in was if c not in still]
    for commit, version in added:
        previous = f" (was {_label(was[0][1])})" if was and commit == now[0][0] else ""
        lines.append(f"{name}: {_label(version)} → {stage}{previous}")
    for commit, version in removed:
        if (stage, commit) in after.unassigned:
            how = f"{stage} unassigned from {_label(version)}"
        elif version in after.deregistered:
            how = f"{stage} no longer held by {_label(version)} (deregistered)"
        else:
            how = f"{stage} no longer held by {_label(version)} (its tag was deleted)"
        if now and commit == was[0][0] and now[0] not in added:
            how += f"; {stage} is {_label(now[0][1])} now"
        lines.append(f"{name}: {how}")
    if not added and not removed and now[0] != was[0]:
        # assigned again ahead of the others, or the commit holding it got a version name
        lines.append(f"{name}: {_label(now[0][1])} → {stage} (was {_label(was[0][1])})")
    return lines


def _label(version: str) -> str:
    """A version's name; the commit (7 characters, as gto's tables) for a stage on a
    commit no version is registered on."""
    return version if version.startswith("v") else version[:7]
