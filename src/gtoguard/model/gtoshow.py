"""What GTO readers see: the registry views of ``gto show``, computed from tag events. Pure.

``gto show --json`` is what deployment pipelines and Studio read, so ``registry_document``
reproduces it exactly, quirks included (docs/gto-format.md §5.3-§5.4): same-second ties, stages
of unregistered commits that an unassignment never reaches, the latest version chosen by
semver among registered active versions, and per stage the version whose assignment is
the most recent.
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
        assignments = [
            (v, s)
            for v in sort_by_time(self.candidates(include_unregistered=True))
            for s in v.active_stages()
        ]
        assignments = _stable_desc(assignments, key=lambda a: a[1].created_at)
        holders: dict[str, list[str]] = {}
        for version, stage in assignments:
            found = holders.setdefault(stage.stage, [])
            if -1 < versions_per_stage <= len(found):
                continue
            if version.name not in found:
                found.append(version.name)
        return holders


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
    registry: Registry, commit_times: Mapping[str, int], declared: Declared = NOTHING_DECLARED
) -> list[Summary]:
    summaries = []
    for state in registry.artifacts.values():
        if not state.events:
            continue
        view = artifact_view(state, commit_times, declared.at(state.name))
        latest = view.latest()
        every = view.stage_holders(-1)  # gto's default shows the first of each: one pass
        summaries.append(
            Summary(
                view.name,
                view.active,
                latest.name if latest else None,
                {stage: names[:1] for stage, names in every.items()},
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


def registry_document(
    summaries: Iterable[Summary],
    configured_stages: tuple[str, ...] | None,
    include_deprecated: bool = False,
) -> dict[str, dict[str, Any]]:
    """The document ``gto show --json`` prints for the whole registry."""
    rows = list(summaries)
    if configured_stages is not None:
        stages = list(configured_stages)
    else:  # gto lists the stages in use: active on an active version of any artifact
        stages = sorted({stage for row in rows for stage in row.used})
    document: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=attrgetter("order")):
        if not (row.active or include_deprecated):
            continue
        document[row.name] = {
            "version": row.latest,
            "stage": {s: ", ".join(row.holders.get(s, [])) or None for s in stages},
            "registered": row.registered,
            "active": row.active,
        }
    return document


def version_rows(view: ArtifactView, include_deregistered: bool = False) -> list[dict[str, Any]]:
    """One artifact's versions, highest first, with the stages each holds now.
    Unlike ``gto show NAME``, an unregistered commit is listed once."""
    rows: dict[str, dict[str, Any]] = {}
    for version in sort_by_semver(view.versions):
        if not version.active and not include_deregistered:
            continue
        row = rows.setdefault(
            version.name,
            {
                "artifact": view.name,
                "version": version.name,
                "registered": version.registered,
                "active": version.active,
                "commit": version.commit,
                "stages": [],
                "ref": version.registrations[-1].tag if version.registrations else None,
                "created_at": _iso(version.created_at),
            },
        )
        for stage in version.active_stages():
            if stage.stage not in row["stages"]:
                row["stages"].append(stage.stage)
    return list(rows.values())


def _iso(seconds: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


# --- ``gto show NAME --json``: gto's own version objects ---------------------------------
#
# gto prints its pydantic models: events in field order (priority, addition, artifact,
# created_at, author, author_email, message, commit_hexsha, then their own fields), times
# in the tagger's (or committer's) own zone. Its sorts are stable sorts by time alone, so
# same-second ties keep the order of the lists, which this code keeps too.

# gto's event classes: their ``priority`` and the name ``gto history`` prints
EVENTS = {
    DEPRECATE: (2, "deprecation"),
    REGISTER: (3, "registration"),
    DEREGISTER: (4, "deregistration"),
    ASSIGN: (5, "assignment"),
    UNASSIGN: (6, "unassignment"),
}


class CommitInfo:
    """What gto's enrichment event says of a version's commit."""

    __slots__ = (
        "author",
        "author_email",
        "committer",
        "committer_email",
        "index",
        "message",
        "offset",
        "time",
    )

    def __init__(
        self,
        time: int,
        offset: int,
        author: str,
        author_email: str,
        committer: str,
        committer_email: str,
        message: str,
        index: dict[str, Any] | None = None,
    ) -> None:
        self.time = time
        self.offset = offset  # the committer's, minutes east of UTC
        self.author, self.author_email = author, author_email
        self.committer, self.committer_email = committer, committer_email
        self.message = message
        self.index = index  # the artifact's entry in artifacts.yaml there


def iso_at(seconds: int, offset: int) -> str:
    """A time as gto's JSON writes it: ISO 8601 in the tagger's own zone."""
    from datetime import datetime, timedelta, timezone

    return datetime.fromtimestamp(seconds, timezone(timedelta(minutes=offset))).isoformat()


def _tag_event(artifact: str, version: str, event: TagEvent) -> dict[str, Any]:
    action = event.name.action
    document: dict[str, Any] = {
        "priority": EVENTS[action][0],
        "addition": action in (REGISTER, ASSIGN),
        "artifact": artifact,
        "created_at": iso_at(event.time, event.offset),
        "author": event.tagger,
        "author_email": event.email,
        "message": event.message.strip(),  # gto strips a tag's message
        "commit_hexsha": event.commit,
        "tag": event.tag,
        "version": version,
    }
    if event.name.stage is not None:
        document["stage"] = event.name.stage
    return document


def _enrichment(artifact: str, version: VersionView, info: CommitInfo) -> dict[str, Any]:
    return {
        "priority": 0,
        "addition": True,
        "artifact": artifact,
        "created_at": iso_at(info.time, info.offset),
        "author": info.author,
        "author_email": info.author_email,
        "message": info.message,
        "commit_hexsha": version.commit,
        "version": version.name,
        "enrichments": [] if info.index is None else [{"source": "gto", "artifact": info.index}],
        "committer": info.committer,
        "committer_email": info.committer_email,
    }


def _latest_first(events: list[tuple[int, Any]]) -> list[Any]:
    """gto's ``sorted(events, key=created_at)[::-1]``: ties in reverse list order."""
    return [e for _, e in sorted(events, key=lambda pair: pair[0])[::-1]]


def _stage_lists(stage: StageView) -> tuple[list[TagEvent], list[TagEvent]]:
    """gto's ``assignments`` and ``unassignments`` of a stage, each in time order."""
    assigned = [e for e in stage.tags if e.name.action is ASSIGN]
    unassigned = [e for e in stage.tags if e.name.action is UNASSIGN]
    return sorted(assigned, key=attrgetter("time")), sorted(unassigned, key=attrgetter("time"))


def _stage_document(artifact: str, version: VersionView, stage: StageView) -> dict[str, Any]:
    assigned, unassigned = _stage_lists(stage)
    latest = _latest_first([(e.time, e) for e in assigned + unassigned])
    additions = [e for e in latest if e.name.action is ASSIGN]
    author = additions[0] if additions else latest[0]
    active = latest[0].name.action is ASSIGN
    return {
        "artifact": artifact,
        "commit_hexsha": version.commit,
        "version": version.name,
        "stage": stage.stage,
        "assignments": [
            {**_tag_event(artifact, version.name, e), "event": "assignment"} for e in assigned
        ],
        "unassignments": [
            {**_tag_event(artifact, version.name, e), "event": "unassignment"} for e in unassigned
        ],
        "is_active": active,
        "activated_at": iso_at(latest[0].time, latest[0].offset) if active else None,
        "created_at": iso_at(author.time, author.offset),
        "author": author.tagger,
        "author_email": author.email,
        "message": author.message.strip(),
        "ref": author.tag,
    }


def gto_versions_document(
    view: ArtifactView, commits: Mapping[str, CommitInfo], include_inactive: bool = False
) -> list[dict[str, Any]]:
    """The document ``gto show NAME --json`` prints (``-d``: ``include_inactive``)."""
    if not (view.active or include_inactive):
        return []
    documents: dict[int, dict[str, Any]] = {}
    for version in view.versions:
        info = commits[version.commit]
        enrichment = _enrichment(view.name, version, info)
        registrations = sorted(version.registrations, key=attrgetter("time"))
        deregistrations = sorted(version.deregistrations, key=attrgetter("time"))
        direct = _latest_first([(e.time, e) for e in registrations + deregistrations])
        stage_events = []
        for stage in version.stages.values():
            assigned, unassigned = _stage_lists(stage)
            stage_events += _latest_first([(t.time, t) for t in assigned + unassigned])
        indirect = _latest_first([(info.time, None)] + [(e.time, e) for e in stage_events])
        # gto's authoring event: the latest registration, else the latest of the commit
        # and the stage events (None: the commit itself)
        additions = [e for e in direct if e.name.action is REGISTER]
        author: TagEvent | None = additions[0] if additions else indirect[0]
        # gto's get_events(ascending=True)[0]: the earliest, ties in list order
        every = ([(e.time, e) for e in registrations + deregistrations] + [(info.time, None)]
                 + [(e.time, e) for e in stage_events])  # fmt: skip
        first = registrations[0] if registrations else min(every, key=lambda p: p[0])[1]
        documents[id(version)] = {
            "artifact": view.name,
            "commit_hexsha": version.commit,
            "version": version.name,
            "enrichments": [enrichment],
            "registrations": [_tag_event(view.name, version.name, e) for e in registrations],
            "deregistrations": [_tag_event(view.name, version.name, e) for e in deregistrations],
            "stages": [],
            "is_active": version.active,
            "activated_at": (
                enrichment["created_at"] if first is None else iso_at(first.time, first.offset)
            ),
            "created_at": (
                enrichment["created_at"] if author is None else iso_at(author.time, author.offset)
            ),
            "author": info.author if author is None else author.tagger,
            "author_email": info.author_email if author is None else author.email,
            "message": info.message if author is None else author.message.strip(),
            "ref": version.commit if author is None else author.tag,
            "discovered": version.discovered,
        }
    # the stages shown: gto's get_vstages with the CLI's defaults (timestamp order, one
    # version per stage), over the active versions
    shown: dict[str, list[tuple[VersionView, StageView]]] = {}
    for version, stage in _stable_desc(
        [
            (v, s)
            for v in sort_by_time(view.candidates(include_unregistered=True))
            for s in v.active_stages()
        ],
        key=lambda pair: pair[1].created_at,
    ):
        holders = shown.setdefault(stage.stage, [])
        if not holders:  # one version per stage
            holders.append((version, stage))
    chosen = [pair for holders in shown.values() for pair in holders]
    result = []
    for version in sort_by_semver(v for v in view.versions if v.active or include_inactive):
        document = documents[id(version)]
        document["stages"] = [
            _stage_document(view.name, v, s) for v, s in chosen if v.name == version.name
        ]
        result.append(document)
        if version.discovered and version.stages:
            # gto files the commit's enrichment of a stage-only version once more, as a
            # version of its own (docs/gto-format.md §5.2: "listed twice"); stages go by version name
            info = commits[version.commit]
            enrichment = _enrichment(view.name, version, info)
            result.append({
                **document, "enrichments": [enrichment], "registrations": [],
                "deregistrations": [], "is_active": True,
                "activated_at": enrichment["created_at"], "created_at": enrichment["created_at"],
                "author": info.author, "author_email": info.author_email,
                "message": info.message, "ref": version.commit, "discovered": True,
            })  # fmt: skip
    return result
