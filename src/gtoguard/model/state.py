"""Registry state from tag events, with GTO's semantics (docs/gto-format.md §5). Pure.

State is kept as the raw events of each artifact and every question is answered from
them on demand, so adding the tags of a push one by one gives exactly what gto computes
from the finished history (gto binds a stage to the version registered at its commit
"whatever the times", and resolves same-second ties by event kind).
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import NamedTuple

from gtoguard.model.tagname import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, TagName


class TagEvent(NamedTuple):
    """One annotated GTO tag on a commit, as the registry reads it."""

    tag: str  # the tag name, without refs/tags/
    name: TagName
    time: int  # tagger time, seconds since the epoch
    commit: str  # the tagged commit, hex
    offset: int = 0  # tagger's UTC offset in minutes
    tagger: str = ""
    email: str = ""
    message: str = ""


class VersionRecord:
    """A version is a (name, commit) pair; these are its latest register and deregister
    times (None: never). A plain class: the hook's imports cost less than a dataclass's."""

    __slots__ = ("commit", "deregistered", "name", "registered")

    def __init__(
        self, name: str, commit: str, registered: int | None = None, deregistered: int | None = None
    ) -> None:
        self.name, self.commit = name, commit
        self.registered, self.deregistered = registered, deregistered

    def __repr__(self) -> str:
        return (
            f"VersionRecord({self.name!r}, {self.commit!r}, registered={self.registered}, "
            f"deregistered={self.deregistered})"
        )

    @property
    def active(self) -> bool:
        # gto: latest of the two wins; a same-second tie goes to the deregistration
        if self.registered is None:
            return False
        return self.deregistered is None or self.registered > self.deregistered


class ArtifactState:
    """One artifact's events, with indexes kept up to date as events are added, so that
    every question a rule asks costs O(1) or O(versions on one commit), not O(events):
    replaying a long history (``check --all``, a mirror push) stays linear."""

    def __init__(
        self, name: str, events: list[TagEvent] | None = None, max_counter: int = 0
    ) -> None:
        self.name = name
        self.events: list[TagEvent] = [] if events is None else events
        self.max_counter = max_counter  # over every tag name of the artifact, lightweight too
        self._versions: dict[tuple[str, str], VersionRecord] = {}
        self._by_commit: dict[str, list[VersionRecord]] = {}
        self._names: set[str] = set()
        # (commit, stage) -> [latest assignment, latest unassignment]
        self._stages: dict[tuple[str, str], list[int | None]] = {}
        self._stages_at: dict[str, set[str]] = {}
        self._commits_with: dict[str, set[str]] = {}  # stage -> commits with its events
        self._latest_deprecation: int | None = None
        self._latest_other: int | None = None
        self._indexed = 0  # events[:_indexed] are in the indexes
        self._latest_added: int | None = max((e.time for e in self.events), default=None)

    def __repr__(self) -> str:
        return f"ArtifactState({self.name!r}, {len(self.events)} events)"

    def add(self, event: TagEvent) -> None:
        self.events.append(event)
        counter = event.name.counter
        if counter is not None and counter > self.max_counter:
            self.max_counter = counter
        if self._latest_added is None or event.time > self._latest_added:
            self._latest_added = event.time  # latest_time() needs no index

    def _sync(self) -> None:
        """Index the events added since the last question: a reader that only wants the
        events (the gto views) never pays for the indexes."""
        if self._indexed < len(self.events):
            for event in self.events[self._indexed :]:
                self._index(event)
            self._indexed = len(self.events)

    def forget(self, tag: str) -> None:
        """Drop the events of tag ``tag`` (a deleted or moved tag); counters stay."""
        kept = [e for e in self.events if e.tag != tag]
        if len(kept) == len(self.events):
            return
        self.events = kept
        self._latest_added = max((e.time for e in kept), default=None)
        self._reset_indexes()

    def _reset_indexes(self) -> None:
        """Forget what the indexes hold: they are rebuilt from the events when asked."""
        self._versions, self._by_commit, self._stages, self._stages_at = {}, {}, {}, {}
        self._commits_with = {}
        self._names = set()
        self._latest_deprecation = self._latest_other = None
        self._indexed = 0

    def set_aside(self, after: int) -> list[TagEvent]:
        """Take out the events dated after ``after`` and return them: tags their pushers
        dated ahead of the clock, which a push arriving at ``after`` is judged before
        (and so never behind them). Counters still count them: a new counter must
        exceed theirs."""
        later = [e for e in self.events if e.time > after]
        if later:
            self.events = [e for e in self.events if e.time <= after]
            self._reset_indexes()
            self._latest_added = max((e.time for e in self.events), default=None)
        return later

    def _index(self, event: TagEvent) -> None:
        tag, when = event.name, event.time
        if tag.action is DEPRECATE:
            self._latest_deprecation = _later(self._latest_deprecation, when)
            return
        self._latest_other = _later(self._latest_other, when)
        if tag.action in (REGISTER, DEREGISTER) and tag.version is not None:
            key = (tag.version, event.commit)
            record = self._versions.get(key)
            if record is None:
                record = self._versions[key] = VersionRecord(tag.version, event.commit)
                self._by_commit.setdefault(event.commit, []).append(record)
                self._names.add(tag.version)
            if tag.action is REGISTER:
                record.registered = _later(record.registered, when)
            else:
                record.deregistered = _later(record.deregistered, when)
        elif tag.stage is not None:
            latest = self._stages.setdefault((event.commit, tag.stage), [None, None])
            slot = 0 if tag.action is ASSIGN else 1
            latest[slot] = _later(latest[slot], when)
            self._stages_at.setdefault(event.commit, set()).add(tag.stage)
            self._commits_with.setdefault(tag.stage, set()).add(event.commit)

    def note_counter(self, counter: int | None) -> None:
        if counter is not None and counter > self.max_counter:
            self.max_counter = counter

    # --- versions ---

    def versions(self) -> dict[tuple[str, str], VersionRecord]:
        """(version, commit) -> record, in order of first appearance. Do not modify."""
        self._sync()
        return self._versions

    def version_names(self) -> set[str]:
        """Every version name the artifact ever used (deregistered ones too)."""
        self._sync()
        return self._names

    def versions_at(self, commit: str) -> list[VersionRecord] | tuple[()]:
        """The versions registered (at some time) on ``commit``. Do not modify."""
        self._sync()
        return self._by_commit.get(commit, ())

    def commits_of(self, version: str) -> list[str]:
        self._sync()
        return [c for (name, c) in self._versions if name == version]

    def registered_at(self, commit: str) -> bool:
        """Whether ``commit`` carries a registered (possibly deregistered) version."""
        self._sync()
        return commit in self._by_commit

    def version_label(self, commit: str) -> str:
        """The version a stage tag on ``commit`` belongs to: the one registered there,
        else the commit itself (gto's "unregistered version", named by the hexsha)."""
        self._sync()
        found = self._by_commit.get(commit)
        return found[0].name if found else commit

    # --- stages ---

    def stage_active(self, commit: str, stage: str) -> bool:
        """Whether the version at ``commit`` holds ``stage`` (tie: the unassignment wins).

        On a commit without a registered version gto files every stage tag under a
        separate "unregistered version", so an unassignment never reaches the assignment
        it meant to cancel: for GTO readers the stage stays on."""
        self._sync()
        assigned, unassigned = self._stages.get((commit, stage), (None, None))
        if assigned is None:
            return False
        if not self.registered_at(commit):
            return True
        return unassigned is None or assigned > unassigned

    def active_stages(self, commit: str) -> list[str]:
        self._sync()
        return sorted(s for s in self._stages_at.get(commit, ()) if self.stage_active(commit, s))

    def holders_of(self, stage: str) -> list[tuple[int, str]]:
        """(latest assignment, commit) of each commit whose version holds ``stage`` now,
        as every gto reader counts it (a deregistered version's stages are hidden); the
        one ``gto show`` shows is the most recently assigned (``policy/teampolicy.shown_holder``)."""
        self._sync()
        found = []
        for commit in self._commits_with.get(stage, ()):
            records = self._by_commit.get(commit)
            if records and not any(v.active for v in records):
                continue
            if self.stage_active(commit, stage):
                assigned = self._stages[(commit, stage)][0]
                if assigned is not None:
                    found.append((assigned, commit))
        return found

    def ever_held(self, commit: str, stage: str) -> bool:
        """Whether ``stage`` was ever assigned to the version at ``commit``."""
        self._sync()
        latest = self._stages.get((commit, stage))
        return latest is not None and latest[0] is not None

    def stages_held(self) -> dict[str, list[str]]:
        """Stage -> the commits whose (active or unregistered) version holds it now."""
        self._sync()
        held: dict[str, list[str]] = {}
        for commit in self._stages_at:
            found = self._by_commit.get(commit)
            if found and not any(v.active for v in found):
                continue  # gto readers hide the stages of a deregistered version
            for stage in self.active_stages(commit):
                held.setdefault(stage, []).append(commit)
        return held

    # --- the artifact ---

    def latest_time(self) -> int | None:
        return self._latest_added

    def latest_deprecation(self) -> int | None:
        """The tagger time of the latest deprecation, or None."""
        self._sync()
        return self._latest_deprecation

    def commits(self) -> set[str]:
        """The commits of the artifact's versions, registered or not (those whose
        committer dates are gto's "enrichment" events)."""
        self._sync()
        return set(self._by_commit) | set(self._stages_at)

    def deprecated(self, commit_times: Iterable[int] = ()) -> bool:
        """gto: deprecated iff the latest event is a deprecation; a tie goes to the other
        event. ``commit_times`` are the committer dates of the versions' commits."""
        self._sync()
        if self._latest_deprecation is None:
            return False
        others = max(
            [t for t in (self._latest_other,) if t is not None] + list(commit_times), default=None
        )
        return others is None or self._latest_deprecation > others


def _later(current: int | None, when: int) -> int:
    return when if current is None or when > current else current


class Registry:
    def __init__(self, artifacts: dict[str, ArtifactState] | None = None) -> None:
        self.artifacts: dict[str, ArtifactState] = {} if artifacts is None else artifacts

    def artifact(self, name: str) -> ArtifactState:
        state = self.artifacts.get(name)
        if state is None:
            state = self.artifacts[name] = ArtifactState(name)
        return state

    def add(self, event: TagEvent) -> None:
        self.artifact(event.name.artifact).add(event)


def build_registry(events: Iterable[TagEvent]) -> Registry:
    """State from existing tags, in gto's order: tagger time, then tag name."""
    registry = Registry()
    for event in sorted(events, key=attrgetter("time", "tag")):
        registry.add(event)
    return registry
