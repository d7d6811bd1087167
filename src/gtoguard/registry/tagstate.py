"""The registry state read from a repository's tags, as gto reads it, and the commit
dates its views need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from gtoguard.git.repo import Repo
from gtoguard.git.tagrefs import tags_of
from gtoguard.model.state import Registry, TagEvent, build_registry
from gtoguard.model.tagname import DEPRECATE, TagNameError, parse_tag
from gtoguard.policy.context import event_of
from gtoguard.policy.rules.violation import GitObject


def registry_of(
    tags: Iterable[tuple[str, GitObject]], artifacts: set[str] | None = None
) -> Registry:
    """The registry gto reads from these tags (of ``artifacts`` only, when given);
    lightweight ones count for counters only."""
    events: list[TagEvent] = []
    counters: list[tuple[str, int | None]] = []
    for name, obj in tags:
        try:
            tag = parse_tag(name)
        except TagNameError as err:
            if err.decoded is None:
                continue
            tag = err.decoded  # past gtoguard's limits, but gto reads it
        if artifacts is not None and tag.artifact not in artifacts:
            continue
        counters.append((tag.artifact, tag.counter))
        event = event_of(name, tag, obj)
        if event is not None:
            events.append(event)
    registry = build_registry(events)
    for artifact, counter in counters:
        registry.artifact(artifact).note_counter(counter)
    return registry


def commit_times(repo: Repo, registry: Registry) -> dict[str, int]:
    """Committer dates of the commits that carry versions: gto's enrichment events."""
    commits = {
        e.commit
        for state in registry.artifacts.values()
        for e in state.events
        if e.name.action is not DEPRECATE
    }
    return {c: repo.commit_time(c) for c in commits}


class CommitTimes(Mapping[str, int]):
    """Committer dates looked up as the views ask for them (most never need one): what
    ``commit_times`` gives, without reading every commit of a whole registry."""

    def __init__(self, repo: Repo) -> None:
        self._repo = repo
        self._known: dict[str, int] = {}

    def __getitem__(self, commit: str) -> int:
        found = self._known.get(commit)
        if found is None:
            found = self._known[commit] = self._repo.commit_time(commit)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)


def registry_for(
    repo: Repo, artifacts: set[str], targets: Mapping[str, str], exclude: set[str]
) -> Registry:
    """The state of ``artifacts`` from existing tags (name -> object; names in
    ``exclude`` left out)."""
    candidates = {n: oid for n, oid in targets.items() if n not in exclude}
    return registry_of(tags_of(repo, artifacts, candidates), artifacts)
