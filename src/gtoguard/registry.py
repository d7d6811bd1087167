"""Registry state from tag events, with GTO's semantics (gto-format §5). Pure.

State is kept as the raw events of each artifact and every question is answered from
them on demand, so adding the tags of a push one by one gives exactly what gto computes
from the finished history (gto binds a stage to the version registered at its commit
"whatever the times", and resolves same-second ties by event kind).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .tagname import Action, TagName


@dataclass(frozen=True)
class TagEvent:
    """One annotated GTO tag on a commit, as the registry reads it."""

    tag: str  # the tag name, without refs/tags/
    name: TagName
    time: int  # tagger time, seconds since the epoch
    commit: str  # the tagged commit, hex
    offset: int = 0  # tagger's UTC offset in minutes
    tagger: str = ""
    email: str = ""
    message: str = ""


@dataclass
class VersionRecord:
    """A version is a (name, commit) pair; these are its register/deregister times."""

    name: str
    commit: str
    registered: list[int] = field(default_factory=list)
    deregistered: list[int] = field(default_factory=list)

    @property
    def active(self) -> bool:
        # gto: latest of the two wins; a same-second tie goes to the deregistration
        if not self.registered:
            return False
        return not self.deregistered or max(self.registered) > max(self.deregistered)


@dataclass
class ArtifactState:
    name: str
    events: list[TagEvent] = field(default_factory=list)
    max_counter: int = 0  # over every tag name of the artifact, lightweight ones too

    def add(self, event: TagEvent) -> None:
        self.events.append(event)
        self.note_counter(event.name.counter)

    def note_counter(self, counter: int | None) -> None:
        if counter is not None and counter > self.max_counter:
            self.max_counter = counter

    # --- versions ---

    def versions(self) -> dict[tuple[str, str], VersionRecord]:
        records: dict[tuple[str, str], VersionRecord] = {}
        for event in self.events:
            tag = event.name
            if tag.action not in (Action.REGISTER, Action.DEREGISTER) or tag.version is None:
                continue
            record = records.setdefault(
                (tag.version, event.commit), VersionRecord(tag.version, event.commit)
            )
            times = record.registered if tag.action is Action.REGISTER else record.deregistered
            times.append(event.time)
        return records

    def version_names(self) -> set[str]:
        """Every version name the artifact ever used (deregistered ones too)."""
        return {name for name, _ in self.versions()}

    def versions_at(self, commit: str) -> list[VersionRecord]:
        return [v for (_, c), v in self.versions().items() if c == commit]

    def commits_of(self, version: str) -> list[str]:
        return [c for (name, c) in self.versions() if name == version]

    def version_label(self, commit: str) -> str:
        """The version a stage tag on ``commit`` belongs to: the one registered there,
        else the commit itself (gto's "unregistered version", named by the hexsha)."""
        found = self.versions_at(commit)
        return found[0].name if found else commit

    # --- stages ---

    def registered_at(self, commit: str) -> bool:
        """Whether ``commit`` carries a registered (possibly deregistered) version."""
        return any(
            e.commit == commit and e.name.action in (Action.REGISTER, Action.DEREGISTER)
            for e in self.events
        )

    def stage_active(self, commit: str, stage: str) -> bool:
        """Whether the version at ``commit`` holds ``stage`` (tie: the unassignment wins).

        On a commit without a registered version gto files every stage tag under a
        separate "unregistered version", so an unassignment never reaches the assignment
        it meant to cancel: for GTO readers the stage stays on."""
        assigned: list[int] = []
        unassigned: list[int] = []
        for event in self.events:
            if event.commit != commit or event.name.stage != stage:
                continue
            if event.name.action is Action.ASSIGN:
                assigned.append(event.time)
            elif event.name.action is Action.UNASSIGN:
                unassigned.append(event.time)
        if not assigned:
            return False
        if not self.registered_at(commit):
            return True
        return not unassigned or max(assigned) > max(unassigned)

    def active_stages(self, commit: str) -> list[str]:
        stages = {e.name.stage for e in self.events if e.commit == commit and e.name.stage}
        return sorted(s for s in stages if self.stage_active(commit, s))

    # --- the artifact ---

    def latest_time(self) -> int | None:
        return max((e.time for e in self.events), default=None)

    def deprecated(self, commit_times: Iterable[int] = ()) -> bool:
        """gto: deprecated iff the latest event is a deprecation; a tie goes to the other
        event. ``commit_times`` are the committer dates of the versions' commits."""
        deprecations = [e.time for e in self.events if e.name.action is Action.DEPRECATE]
        if not deprecations:
            return False
        others = [e.time for e in self.events if e.name.action is not Action.DEPRECATE]
        others.extend(commit_times)
        return not others or max(deprecations) > max(others)


@dataclass
class Registry:
    artifacts: dict[str, ArtifactState] = field(default_factory=dict)

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
    for event in sorted(events, key=lambda e: (e.time, e.tag)):
        registry.add(event)
    return registry
