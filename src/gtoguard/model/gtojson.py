"""What ``gto show --json`` prints, built from the views (``gtoshow``): the registry's
document, one artifact's version rows, and gto's own version objects (``gto show NAME
--json``; ``gto history`` reuses their pieces). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

from gtoguard.model.gtoshow import (
    DEFAULT_OPTIONS,
    ArtifactView,
    Options,
    StageView,
    Summary,
    VersionView,
    sort_by_semver,
)
from gtoguard.model.state import TagEvent
from gtoguard.model.tagname import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN


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
    view: ArtifactView,
    commits: Mapping[str, CommitInfo],
    include_inactive: bool = False,
    options: Options = DEFAULT_OPTIONS,
) -> list[dict[str, Any]]:
    """The document ``gto show NAME --json`` prints (``-d``: ``include_inactive``; the
    stages each version lists: those ``options`` choose)."""
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
    # the stages shown: gto's get_vstages over the active versions (whatever -d says)
    chosen = [pair for pairs in view.vstages(options).values() for pair in pairs]
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
