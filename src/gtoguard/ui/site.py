"""What the pages show, read through the helper's documents and cached by the registry's
state (``pagedata.registry_key``: the tag refs, the config branch and HEAD), so a page is
computed once per change of the registry, however often it is shown."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from gtoguard.errors import CannotRun
from gtoguard.git.branches import Branch
from gtoguard.git.repo import Repo, open_repo
from gtoguard.model.refupdate import TAG_PREFIX
from gtoguard.model.tagname import TagNameError, parse_tag
from gtoguard.registry import asking, auditing, pagedata, planning, reading
from gtoguard.registry.rulefiles import load_settings

T = TypeVar("T")
CACHED = 64  # page documents kept for the current registry state


@dataclass(frozen=True)
class Finding:
    """One violation of the audit (``check --all``), with the artifact it concerns."""

    rule: str
    tag: str  # the ref without refs/tags/ (or the file, for a config problem)
    message: str
    hint: str | None
    severity: str
    artifact: str | None


@dataclass(frozen=True)
class Row:
    """One artifact on the dashboard: ``gto show --json``'s entry."""

    name: str
    latest: str | None
    stages: dict[str, str | None]
    active: bool
    registered: bool


@dataclass(frozen=True)
class Dashboard:
    stages: list[str]  # the columns: .gto's stages, or the stages in use
    allowed: tuple[str, ...] | None  # .gto's stages; None: any valid stage
    rows: list[Row]
    findings: list[Finding]
    notes: list[str]


@dataclass(frozen=True)
class Holder:
    """A stage of one artifact and the version that holds it (None: nobody)."""

    stage: str
    version: str | None = None
    since: str | None = None
    author: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class VersionRow:
    version: str
    commit: str
    author: str
    date: str
    stages: list[str]  # the stages it holds now, as the Stages table and gto show show them
    status: str  # registered | deregistered | unregistered
    ref: str | None
    was: list[str]  # the stages it held before and holds no more


@dataclass(frozen=True)
class Event:
    """One entry of the history, newest first."""

    tag: str
    event: str
    version: str | None
    stage: str | None
    author: str
    message: str
    timestamp: str
    findings: list[Finding]
    approved_by: tuple[str, ...] = ()  # a promotion's approvers (refs/gtoguard/ as fetched)


@dataclass(frozen=True)
class Model:
    name: str
    deprecated_by: str | None  # the tag that deprecates it, while it is deprecated
    stages: list[Holder]
    versions: list[VersionRow]
    history: list[Event]
    findings: list[Finding]  # every violation of its tags
    allowed: tuple[str, ...] | None  # .gto's stages; None: any valid stage
    promotable: list[str]  # registered, active versions, highest first
    commits: list[pagedata.CommitSummary]


class Site:
    """The repository the page serves, and what it shows of it."""

    def __init__(self, path: str, remote: str | None, read_only: bool, token: str) -> None:
        self.path, self.remote, self.read_only, self.token = path, remote, read_only, token
        self._cache: OrderedDict[tuple[str, Hashable], Any] = OrderedDict()
        self._lock = threading.Lock()

    def open(self) -> tuple[Repo, Branch]:
        """A handle of its own for each request (pygit2 objects are not shared across
        threads) and the branch .gto and the policy are read from, as the CLI finds it."""
        repo = open_repo(self.path)
        return repo, planning.config_branch(repo, None, self.remote)

    def _cached(self, what: Hashable, compute: Callable[[Repo, Branch], T]) -> T:
        repo, branch = self.open()
        key = (pagedata.registry_key(repo, branch), what)
        with self._lock:  # a page and its refresh at once: computed once
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]  # type: ignore[no-any-return]
            value = compute(repo, branch)
            self._cache[key] = value
            stale = [k for k in self._cache if k[0] != key[0]]
            for old in stale + list(self._cache)[: max(0, len(self._cache) - CACHED)]:
                self._cache.pop(old, None)
        return value

    def commits(self) -> list[pagedata.CommitSummary]:
        """What the Register dialog offers (nothing in a bare repository: read-only)."""
        return [] if self.read_only else pagedata.recent_commits(open_repo(self.path))

    # --- the pages -----------------------------------------------------------------------

    def audit(self) -> tuple[list[Finding], list[str]]:
        return self._cached("audit", _audit)

    def dashboard(self) -> Dashboard:
        findings, notes = self.audit()
        return self._cached(
            "dashboard", lambda repo, branch: _dashboard(repo, branch, findings, notes)
        )

    def pending(self, name: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """The pending requests (the remote's, fetched now: they change without a tag
        changing, so they are never cached), and why there are none to show, if the
        remote could not be asked."""
        repo, branch = self.open()
        try:
            policy = load_settings(repo, branch).policy
            return asking.pending_rows(repo, self.remote, policy, name), None
        except CannotRun as exc:
            return [], exc.message

    def model(self, name: str) -> Model:
        findings = [f for f in self.audit()[0] if f.artifact == name]
        return self._cached(
            ("model", name), lambda repo, branch: _model(repo, branch, name, findings)
        )


def _audit(repo: Repo, branch: Branch) -> tuple[list[Finding], list[str]]:
    result = auditing.audit(repo, branch, None)
    return [
        _finding(v.rule, v.ref, v.message, v.hint, v.severity) for v in result.outcome.violations
    ], result.notes


def _finding(rule: str, ref: str, message: str, hint: str | None, severity: str) -> Finding:
    tag = ref.removeprefix(TAG_PREFIX)
    try:
        artifact: str | None = parse_tag(tag).artifact if ref.startswith(TAG_PREFIX) else None
    except TagNameError:
        artifact = None
    return Finding(rule, tag, message, hint, severity, artifact)


def _dashboard(repo: Repo, branch: Branch, findings: list[Finding], notes: list[str]) -> Dashboard:
    document = reading.registry_document(repo, branch, include_deprecated=True)
    allowed = pagedata.configured_stages(repo, branch)
    stages = list(next(iter(document.values()))["stage"]) if document else list(allowed or ())
    rows = [
        Row(name, entry["version"], dict(entry["stage"]), entry["active"], entry["registered"])
        for name, entry in document.items()
    ]
    return Dashboard(stages, allowed, rows, findings, notes)


def _model(repo: Repo, branch: Branch, name: str, findings: list[Finding]) -> Model:
    allowed = pagedata.configured_stages(repo, branch)
    documents = reading.gto_artifact_document(repo, name, include_inactive=True)
    journal = reading.history_document(repo, name)
    holders: dict[str, Holder] = {}
    for doc in documents:
        for stage in doc["stages"]:
            holders.setdefault(
                stage["stage"],
                Holder(
                    stage["stage"],
                    stage["version"],
                    stage["activated_at"],
                    stage["author"],
                    stage["ref"],
                ),
            )
    order = list(allowed) if allowed is not None else sorted(holders)
    order += sorted(set(holders) - set(order))  # held, though .gto no longer lists it
    versions = _version_rows(documents, journal, order)
    by_tag: dict[str, list[Finding]] = {}
    for finding in findings:
        by_tag.setdefault(finding.tag, []).append(finding)
    history = [
        Event(
            e["ref"],
            e["event"],
            e.get("version"),
            e.get("stage"),
            e["author"],
            e["message"],
            e["timestamp"],
            by_tag.get(e["ref"], []),
            _approvers(repo, e["ref"]) if e["event"] == "assignment" else (),
        )
        for e in journal
    ]
    gone = reading.deprecation(repo, name)
    return Model(
        name,
        gone.tag if gone is not None else None,
        [holders.get(stage, Holder(stage)) for stage in order],
        versions,
        history,
        findings,
        allowed,
        [v.version for v in versions if v.status == "registered"],
        pagedata.recent_commits(repo),
    )


def _approvers(repo: Repo, tag: str) -> tuple[str, ...]:
    oid = repo.ref_target(TAG_PREFIX + tag)
    return tuple(asking.approvers_of(repo, oid)) if oid else ()


def _version_rows(
    documents: list[dict[str, Any]], journal: list[dict[str, Any]], order: list[str]
) -> list[VersionRow]:
    """One row per version of ``gto show NAME -d``'s document. A version's stages are
    the ones gto's document gives it, the view ``gto show`` and the Stages table show
    (one version per stage: the most recently assigned), which is what ``from`` reads;
    gto's "held until unassigned" would put a version that another one replaced in the
    same stage, so the two tables would disagree. The stages it was assigned before and
    holds no more are listed apart, as "was:" (the ones a rollback may give back)."""
    assigned: dict[tuple[str, str], set[str]] = {}
    for event in journal:
        if event["event"] == "assignment":
            key = (event["version"], event["commit"])
            assigned.setdefault(key, set()).add(event["stage"])
    rank = {stage: number for number, stage in enumerate(order)}

    def ordered(stages: set[str]) -> list[str]:  # .gto's order, as the Stages table
        return sorted(stages, key=lambda s: (rank.get(s, len(rank)), s))

    rows: dict[str, VersionRow] = {}
    for doc in documents:
        if doc["version"] in rows:  # gto lists a stage-only version twice
            continue
        if doc["registrations"]:
            status = "registered" if doc["is_active"] else "deregistered"
        else:
            status = "deregistered" if doc["deregistrations"] else "unregistered"
        registration = doc["registrations"][-1]["tag"] if doc["registrations"] else None
        now = list(dict.fromkeys(stage["stage"] for stage in doc["stages"]))  # gto's order
        before = assigned.get((doc["version"], doc["commit_hexsha"]), set()) - set(now)
        rows[doc["version"]] = VersionRow(
            doc["version"],
            doc["commit_hexsha"],
            doc["author"],
            doc["created_at"],
            now,
            status,
            registration,
            ordered(before),
        )
    return list(rows.values())
