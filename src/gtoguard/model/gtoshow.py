"""What GTO readers see: the registry views of ``gto show``, computed from tag events. Pure.

``gto show --json`` is what deployment pipelines and Studio read, so its document
(``gtojson``) reproduces it exactly, quirks included (docs/gto-format.md §5.3-§5.4):
same-second ties, stages of unregistered commits that an unassignment never reaches, the
latest version chosen by semver among registered active versions, and per stage the
version whose assignment is the most recent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from gtoguard.model.state import ArtifactState, Registry, TagEvent
from gtoguard.model.tagname import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, SEMVER, UNASSIGN

# Compiled on first use (re caches it): 1.8 ms that a push which shows no version skips.
_SEMVER = rf"v(?P<core>{SEMVER})"
_TIME_THEN_NAME = attrgetter("time", "tag")


class StageView:
    """One stage on one version: its assignment and unassignment times, in tag order.
    Built by ``add`` (which keeps the answers below current), then read. (Plain slotted
    classes here, not dataclasses: the hook's receipt imports this module, and each
    dataclass costs about a millisecond to build at import.)"""

    __slots__ = ("_active", "_assigned", "_latest", "events", "stage", "tags")

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.events: list[tuple[int, bool]] = []  # (time, is assignment)
        self.tags: list[TagEvent] = []
        self._latest = 0
        self._active = False  # every event at the latest time is an assignment
        self._assigned: int | None = None  # the latest assignment

    def __repr__(self) -> str:
        return f"StageView({self.stage!r}, {self.events!r})"

    def add(self, event: TagEvent, assign: bool) -> None:
        when = event.time
        if not self.events or when > self._latest:
            self._latest, self._active = when, assign
        elif when == self._latest:
            self._active = self._active and assign
        if assign and (self._assigned is None or when > self._assigned):
            self._assigned = when
        self.events.append((when, assign))
        self.tags.append(event)

    @property
    def active(self) -> bool:
        # gto sorts by time and reverses: among same-second events the unassignment wins
        return self._active

    @property
    def created_at(self) -> int:
        """gto's "authoring event" of a stage: its most recent assignment."""
        return self._assigned if self._assigned is not None else self._latest


class VersionView:
    __slots__ = ("commit", "deregistrations", "name", "registrations", "stages", "times")

    def __init__(self, name: str, commit: str, times: Mapping[str, int]) -> None:
        self.name = name  # the version, or the commit hexsha for gto's "unregistered version"
        self.commit = commit
        self.times = times  # committer dates by commit: read only when asked for
        self.registrations: list[TagEvent] = []
        self.deregistrations: list[TagEvent] = []
        self.stages: dict[str, StageView] = {}

    def __repr__(self) -> str:
        return f"VersionView({self.name!r}, {self.commit!r})"

    @property
    def commit_time(self) -> int:
        """The committer date of the commit (gto's "enrichment" event). Few views need
        it, so a whole registry looks up only the commits whose date matters."""
        return self.times.get(self.commit, 0)

    @property
    def registered(self) -> bool:
        return bool(self.registrations)

    @property
    def discovered(self) -> bool:
        return not self.registrations and not self.deregistrations

    @property
    def active(self) -> bool:
        if not self.registrations:
            return not self.deregistrations  # gto: stage or commit events only: active
        latest_reg = max(e.time for e in self.registrations)
        if not self.deregistrations:
            return True
        return latest_reg > max(e.time for e in self.deregistrations)

    @property
    def created_at(self) -> int:
        """gto's "authoring event": the latest registration; without one, the latest of
        the stage events *and the commit's date* (gto means to skip its commit-date
        "enrichment" event here, but that event is named "commit", so it counts)."""
        if self.registrations:
            return max(e.time for e in self.registrations)
        return max([s._latest for s in self.stages.values()] + [self.commit_time])

    def active_stages(self) -> list[StageView]:
        """Active stages, oldest activation first (gto's ``get_vstages(ascending=True)``)."""
        found = [s for s in self.stages.values() if s._active]
        if len(found) < 2:
            return found
        return sorted(found, key=lambda s: s._latest)

    def add_stage_event(self, event: TagEvent) -> None:
        stage = event.name.stage
        assert stage is not None
        view = self.stages.get(stage)
        if view is None:
            view = self.stages[stage] = StageView(stage)
        view.add(event, event.name.action is ASSIGN)


class ArtifactView:
    __slots__ = ("deprecations", "name", "versions")

    def __init__(
        self, name: str, versions: list[VersionView], deprecations: list[TagEvent]
    ) -> None:
        self.name, self.versions, self.deprecations = name, versions, deprecations

    def __repr__(self) -> str:
        return f"ArtifactView({self.name!r}, {len(self.versions)} versions)"

    @property
    def active(self) -> bool:
        if not self.versions:
            return False
        deprecated = max((e.time for e in self.deprecations), default=None)
        if deprecated is None:
            return True
        # any event from the deprecation on makes it active again (a tie: the other event
        # wins); the commits' dates count too, asked for only when the tags do not decide
        for v in self.versions:
            if any(e.time >= deprecated for e in v.registrations + v.deregistrations):
                return True
            if any(t >= deprecated for s in v.stages.values() for t, _ in s.events):
                return True
        return any(v.commit_time >= deprecated for v in self.versions)

    def candidates(self, include_unregistered: bool) -> list[VersionView]:
        return [
            v
            for v in self.versions
            if v.active and (v.registered or (include_unregistered and not v.registered))
        ]

    def latest(self) -> VersionView | None:
        """gto's "latest": the highest semver among registered, active versions."""
        ordered = sort_by_semver(self.candidates(include_unregistered=False))
        return ordered[0] if ordered else None

    def stage_holders(self, versions_per_stage: int = 1) -> dict[str, list[str]]:
        """Per stage, the versions that hold it, most recently assigned first (gto's
        ``get_vstages`` with the CLI defaults: timestamp order, one version per stage)."""
        chosen = self.vstages(Options(per_stage=versions_per_stage))
        return {stage: [v.name for v, _ in pairs] for stage, pairs in chosen.items()}

    def vstages(self, options: Options) -> dict[str, list[tuple[VersionView, StageView]]]:
        """gto's ``Artifact.get_vstages``: the active stages of the active versions (only
        registered ones with ``--ro``), each version's ``--av`` earliest activated; in
        timestamp order (the latest assignment first) or in semver order (the highest
        version first, each version's stages oldest first); per stage the first ``--vs``
        distinct version names. A stage none is kept for still has its (empty) entry."""
        versions = self.candidates(include_unregistered=not options.registered_only)
        ordered = sort_by_semver(versions) if options.by_semver else sort_by_time(versions)
        pairs = [
            (v, s)
            for v in ordered
            for s in (v.active_stages() if options.per_version < 0
                      else v.active_stages()[: options.per_version])
        ]  # fmt: skip
        if not options.by_semver:
            pairs = _stable_desc(pairs, key=lambda pair: pair[1].created_at)
        chosen: dict[str, list[tuple[VersionView, StageView]]] = {}
        for version, stage in pairs:
            found = chosen.setdefault(stage.stage, [])
            if -1 < options.per_stage <= len(found):
                continue
            if all(held.name != version.name for held, _ in found):
                found.append((version, stage))
        return chosen


class Options(NamedTuple):
    """What ``gto show``'s ``--ro``, ``--av N``, ``--vs N`` and ``--sort`` choose (its
    defaults: every registered and unregistered version, every stage of each, one version
    per stage, the latest assignment first)."""

    registered_only: bool = False
    per_version: int = -1  # --av: assignments per version, -1 all
    per_stage: int = 1  # --vs: versions per stage, -1 all
    by_semver: bool = False  # --sort semver (else timestamp)

    def problem(self) -> str | None:
        """gto's refusal of a count below -1 (its own words), or None."""
        if self.per_version < -1:
            return "'assignments_per_version' must be >= -1"
        if self.per_stage < -1:
            return "'versions_per_stage' must be >=-1"
        return None


DEFAULT_OPTIONS = Options()


def _stable_desc(items: list[Any], key: Any) -> list[Any]:
    """gto's ``sorted(...)[::-1]``: descending, and same-key items in reverse order too."""
    return sorted(items, key=key)[::-1]


@lru_cache(maxsize=1 << 16)  # a registry reuses its version names across artifacts
def semver_key(version: str) -> tuple[Any, ...] | None:
    """Semver precedence (build metadata ignored); None for a name that is not semver."""
    match = re.fullmatch(_SEMVER, version)
    if match is None:
        return None
    core = match["core"].partition("+")[0]  # build metadata does not count
    release, _, pre = core.partition("-")
    numbers = tuple(int(n) for n in release.split("."))
    if not pre:
        return (numbers, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (numbers, 0, ids)


def sort_by_semver(versions: Iterable[VersionView]) -> list[VersionView]:
    semver, other = [], []
    for version in versions:
        key = semver_key(version.name)
        if key is None:
            other.append(version)
        else:
            semver.append((key, version))
    ordered = [v for _, v in _stable_desc(semver, key=itemgetter(0))]
    return ordered + _stable_desc(other, key=attrgetter("name"))


def sort_by_time(versions: Iterable[VersionView]) -> list[VersionView]:
    return _stable_desc(list(versions), key=attrgetter("created_at"))


def artifact_view(
    state: ArtifactState,
    commit_times: Mapping[str, int],
    declared_at: tuple[str, int] | None = None,
) -> ArtifactView:
    """The artifact as gto builds it: versions from register/deregister tags (in time
    order), then stage tags bound to the version registered at their commit, else each to
    an "unregistered version" of its own, named by the commit. ``declared_at``: (commit,
    committer time) of HEAD when HEAD's ``artifacts.yaml`` declares the artifact: gto
    gives it a version there too (a "discovered" one, unless that commit has one)."""
    ordered = sorted(state.events, key=_TIME_THEN_NAME)  # near-sorted already: cheap
    versions: list[VersionView] = []
    by_key: dict[tuple[str, str], VersionView] = {}
    by_commit: dict[str, VersionView] = {}
    for event in ordered:
        tag = event.name
        if tag.action not in (REGISTER, DEREGISTER) or tag.version is None:
            continue
        key = (tag.version, event.commit)
        view = by_key.get(key)
        if view is None:
            view = VersionView(tag.version, event.commit, commit_times)
            by_key[key] = view
            versions.append(view)
            by_commit.setdefault(event.commit, view)
        (view.registrations if tag.action is REGISTER else view.deregistrations).append(event)
    for event in ordered:
        if event.name.action not in (ASSIGN, UNASSIGN):
            continue
        view = by_commit.get(event.commit)
        if view is None:
            view = VersionView(event.commit, event.commit, commit_times)
            versions.append(view)
        view.add_stage_event(event)
    if declared_at is not None and declared_at[0] not in by_commit:
        # gto looks for a version with a registration or deregistration there; a commit
        # with stage tags only gets one more "unregistered version"
        versions.append(
            VersionView(declared_at[0], declared_at[0], {declared_at[0]: declared_at[1]})
        )
    deprecations = [e for e in ordered if e.name.action is DEPRECATE]
    return ArtifactView(state.name, versions, deprecations)


class Summary(NamedTuple):
    """One artifact's row of ``gto show``, before the registry-wide stage list is known."""

    name: str
    active: bool
    latest: str | None
    holders: dict[str, list[str]]  # stage -> versions shown (gto's default: one)
    used: frozenset[str]  # stages active on an active version (gto's "used" stages)
    order: tuple[int, int, str] = (0, 0, "")  # where gto's registry lists it (first_seen)
    registered: bool = True  # False: known only from artifacts.yaml (gto's "*name")


class Declared(NamedTuple):
    """The artifacts HEAD's ``artifacts.yaml`` declares (gto's legacy index), in file
    order, with HEAD's commit and committer time."""

    names: tuple[str, ...] = ()
    head: tuple[str, int] | None = None

    def at(self, name: str) -> tuple[str, int] | None:
        return self.head if name in self.names else None


NOTHING_DECLARED = Declared()


def summarize(
    registry: Registry,
    commit_times: Mapping[str, int],
    declared: Declared = NOTHING_DECLARED,
    options: Options = DEFAULT_OPTIONS,
) -> list[Summary]:
    summaries = []
    for state in registry.artifacts.values():
        if not state.events:
            continue
        view = artifact_view(state, commit_times, declared.at(state.name))
        latest = view.latest()
        every = view.stage_holders(-1)  # gto's default shows the first of each: one pass
        holders = (
            {stage: names[:1] for stage, names in every.items()}
            if options == DEFAULT_OPTIONS
            else {s: [v.name for v, _ in p] for s, p in view.vstages(options).items()}
        )
        summaries.append(
            Summary(
                view.name,
                view.active,
                latest.name if latest else None,
                holders,
                frozenset(every),
                first_seen(state),
            )
        )
    return summaries


def declared_only(summaries: Iterable[Summary], declared: Declared) -> list[Summary]:
    """Rows for the artifacts ``artifacts.yaml`` declares that no tag names: gto lists
    them last, in the file's order, active, with no version and no stage."""
    seen = {row.name for row in summaries}
    return [
        Summary(name, True, None, {}, frozenset(), (3, number, name), registered=False)
        for number, name in enumerate(declared.names)
        if name not in seen
    ]


# gto builds its registry in three passes (artifact tags, then version tags, then stage
# tags), each over the tags in time order, ties in name order; an artifact is listed
# where it first appears
_PASS = {DEPRECATE: 0, REGISTER: 1, DEREGISTER: 1, ASSIGN: 2, UNASSIGN: 2}


def first_seen(state: ArtifactState) -> tuple[int, int, str]:
    """(pass, tagger time, tag name) of the tag by which gto's registry first lists the
    artifact: ``gto show --json`` keeps that order, so ours does too."""
    return min(
        ((_PASS[e.name.action], e.time, e.tag) for e in state.events), default=(3, 0, state.name)
    )
