"""The registry's journal, as ``gto history --json`` prints it. Pure.

gto builds every artifact's events in nested lists (the artifact's deprecations, each
version's registrations and deregistrations, each stage's assignments and unassignments),
each sorted by time and reversed; ``gto history`` then joins the artifacts in registry
order, sorts by (time, priority) and reverses once more. Its sorts are stable, so events
with the same time and priority come out in an order that only those nested lists
decide: this module builds them the same way, from the views ``show`` uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gtoguard.model.gtojson import EVENTS, _latest_first, _stage_lists, iso_at
from gtoguard.model.gtoshow import ArtifactView
from gtoguard.model.state import TagEvent

Entry = tuple[int, int, dict[str, Any]]  # (time, priority, the event as gto prints it)


def artifact_entries(view: ArtifactView) -> list[Entry]:
    """One artifact's events in gto's ``Artifact.get_events()`` order: newest first,
    same-second ties in reverse list order. The version of a stage event is the one
    registered at its commit, else the commit (gto's "unregistered version"); a
    deprecation has none."""
    nested: list[tuple[int, tuple[TagEvent, str | None]]] = [
        (e.time, (e, None)) for e in view.deprecations
    ]
    for version in view.versions:
        direct = sorted(version.registrations, key=_time) + sorted(
            version.deregistrations, key=_time
        )
        staged: list[TagEvent] = []
        for stage in version.stages.values():
            assigned, unassigned = _stage_lists(stage)
            staged += _latest_first([(e.time, e) for e in assigned + unassigned])
        mine = _latest_first([(e.time, e) for e in direct + staged])
        nested += [(e.time, (e, version.name)) for e in mine]
    return [(e.time, EVENTS[e.name.action][0], _document(e, v)) for e, v in _latest_first(nested)]


def _time(event: TagEvent) -> int:
    return event.time


def history_document(artifacts: Iterable[list[Entry]]) -> list[dict[str, Any]]:
    """The document ``gto history --json`` prints, from each artifact's entries in gto's
    registry order (``gtoshow.first_seen``): every event, newest first."""
    joined = [entry for entries in artifacts for entry in entries]
    keyed = sorted(joined, key=lambda entry: (entry[0], entry[1]))  # stable, as gto's
    return [document for _, _, document in reversed(keyed)]


def _document(event: TagEvent, version: str | None) -> dict[str, Any]:
    priority, kind = EVENTS[event.name.action]
    return {
        "timestamp": iso_at(event.time, event.offset),
        "artifact": event.name.artifact,
        "event": kind,
        "priority": priority,
        "version": version,
        "stage": event.name.stage,
        "commit": event.commit,
        "author": event.tagger,
        "author_email": event.email,
        "message": event.message.strip(),  # gto strips a tag's message
        "ref": event.tag,
    }
