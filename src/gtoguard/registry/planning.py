"""Planning tags: the helper's request turned into the tags it writes, each checked with
the engine (``evaluate``) exactly as a pushed one would be, against the same files and
the same registry state, before anything is written."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from gtoguard.errors import CannotRun, UsageError
from gtoguard.git.branches import Branch, named_branch, remote_default_branch
from gtoguard.git.prefetch import Early
from gtoguard.git.remote import ask_remote_tag_names
from gtoguard.git.repo import Repo
from gtoguard.git.tagrefs import tag_names, tags_of
from gtoguard.git.tagwriting import identity
from gtoguard.model.gtoshow import artifact_view
from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate
from gtoguard.model.state import ArtifactState, Registry
from gtoguard.model.tagging import NewTag, Planner
from gtoguard.model.tagname import (
    Action,
    TagName,
    TagNameError,
    parse_tag,
)
from gtoguard.policy import clock
from gtoguard.policy.context import Context, Outcome
from gtoguard.policy.evaluate import evaluate
from gtoguard.policy.rules.violation import GitObject, Violation
from gtoguard.registry.facts import Where, facts_for
from gtoguard.registry.reading import similar_artifacts
from gtoguard.registry.rulefiles import Settings, load_settings
from gtoguard.registry.tagstate import commit_times, registry_of

ZERO = "0" * 40


@dataclass(frozen=True)
class Request:
    """One creating command as the user typed it."""

    action: Action
    artifact: str
    rev: str | None = None
    version: str | None = None
    stage: str | None = None
    bump: str | None = None
    message: str | None = None
    simple: bool | None = None
    force: bool = False


@dataclass
class Plan:
    tags: list[NewTag]
    outcome: Outcome
    settings: Settings
    notes: list[str] = field(default_factory=list)


def config_branch(repo: Repo, branch: str | None, remote: str | None = None) -> Branch:
    """Where .gto and the policy are read from: ``--branch``, else the remote's default
    branch as last fetched (``branches.remote_default_branch``): never a local commit the
    server has not seen, since the server judges by its own."""
    if branch:
        return named_branch(repo, branch)
    return remote_default_branch(repo, remote or "origin", ask=True)


def plan(
    repo: Repo,
    request: Request,
    branch: Branch,
    remote: str | None = None,
    sign: bool = False,
    early: Early | None = None,
) -> Plan:
    """``early``: the remote's tags of the artifact, asked for when the command began."""
    asking = _ask_remote(repo, remote, request.artifact, early)
    settings = load_settings(repo, branch)
    names = tag_names(repo, {request.artifact})
    registry = registry_of(tags_of(repo, {request.artifact}, names), {request.artifact})
    state = registry.artifact(request.artifact)
    times = commit_times(repo, registry)
    notes: list[str] = []
    there = _remote_names(asking, remote, notes)
    floor = _max_counter(there or (), request.artifact)
    if floor > state.max_counter:
        notes.append(f"{remote or 'origin'} has counters up to #{floor} for {request.artifact}")
    if not state.events and not floor:
        close = similar_artifacts(repo, request.artifact)
        if close:  # a new artifact is fine; a typo of an existing one is likelier
            notes.append(
                f"'{request.artifact}' is a new artifact here; did you mean "
                f"{' or '.join(repr(c) for c in close)}?"
            )
    planner = Planner(
        state,
        artifact_view(state, times),
        simple=request.simple,
        counter_required=settings.policy.tags.counter_required,
        existing=frozenset(names),
        counter_floor=floor,
        taken_versions=frozenset(_versions_of(there or (), request.artifact)),
    )
    head = repo.resolve("HEAD")[0] if request.rev is None else None
    tags = _plan_tags(repo, planner, request, head, times)
    where = Where("client", os.environ, remote or "origin", will_sign=sign)
    said = clock.clock_note(os.environ)
    if said is not None and any(r.freeze for r in settings.policy.stages):
        notes.append(said)
    _after_the_latest(state)
    outcome = _evaluate(repo, tags, registry, settings, where)
    taken = [new.name for new in tags if new.name in planner.existing]
    if taken and outcome.ok:  # the engine's reason, when it has one, says more
        raise UsageError(
            f"tag {taken[0]!r} exists already",
            "leave out --simple: a counter makes the name unique",
        )
    if not outcome.ok and there is not None:
        notes += _local_only(names, set(there), remote or "origin")
    return Plan(tags, outcome, settings, notes)


_COARSE_CLOCK_LAG = 0.02  # seconds


def _after_the_latest(state: ArtifactState, longest: float = 2.0) -> None:
    """Wait, if need be, for the second after the artifact's latest event. gto orders by
    tagger second, and within one it does not follow the order of creation: a deprecation
    made in the second of a registration changes nothing. (A date set by hand through
    ``GIT_COMMITTER_DATE`` is left alone, and so is a latest event beyond ``longest``
    seconds ahead, a skewed clock that ``tagger-time`` speaks of.)"""
    if os.environ.get("GIT_COMMITTER_DATE") or not state.events:
        return
    # git dates a tag by time(2), the kernel's coarse clock, which may still give the old
    # second a tick (1-10 ms) after time.time() shows the new one: wait a little past it
    second = max(e.time for e in state.events) + 1
    if second - time.time() > longest:
        return
    target = second + _COARSE_CLOCK_LAG
    while (wait := target - time.time()) > 0:
        time.sleep(wait)


def _ask_remote(
    repo: Repo, remote: str | None, artifact: str, early: Early | None
) -> Callable[[], list[str]] | None:
    """Ask the remote for the artifact's tag names, or take the question ``early``
    asked (``_remote_names`` collects the answer); None without a remote."""
    asked = remote or "origin"
    if remote is None and repo.config_value(f"remote.{asked}.url") is None:
        if early is not None:
            early.close()
        return None
    running = early.take(asked, artifact) if early is not None else None
    return ask_remote_tag_names(repo, asked, {artifact}, running)


def _remote_names(
    asking: Callable[[], list[str]] | None, remote: str | None, notes: list[str]
) -> list[str] | None:
    """The remote's tag names, so that counters and versions never collide with tags this
    clone has not fetched; None without a remote, or when it cannot be reached (said in
    ``notes``, unless ``--push`` needs it: then that is an error)."""
    if asking is None:
        return None
    try:
        return asking()
    except CannotRun as exc:
        if remote is not None:
            raise
        notes.append(f"{exc.message}; counters and versions come from the local tags only")
        return None


def _versions_of(names: Sequence[str], artifact: str) -> set[str]:
    return {tag.version for tag in _tags_of(names, artifact) if tag.version is not None}


def _local_only(names: Sequence[str], there: set[str], remote: str) -> list[str]:
    """A refusal may come from a tag only this clone has (one the server declined): say
    which, and how to drop or push it."""
    mine = sorted(name for name in names if name not in there)
    if not mine:
        return []
    quoted = " ".join(shlex.quote(name) for name in mine)
    return [
        f"only this clone has {', '.join(mine)} ({remote} does not): if the server "
        f"declined it, delete it (git tag -d {quoted}); else push it "
        f"(git push {remote} {quoted})"
    ]


def _plan_tags(
    repo: Repo, planner: Planner, request: Request, head: str | None, times: dict[str, int]
) -> list[NewTag]:
    commit = repo.resolve(request.rev)[0] if request.rev is not None else head
    action, stage = request.action, request.stage or ""
    if action is Action.REGISTER:
        assert commit is not None
        return planner.register(commit, request.version, request.bump, request.message)
    if action is Action.ASSIGN:
        if request.rev is None and request.version is not None:
            return planner.assign(
                stage, None, request.version, None, None, request.message, request.force
            )
        return planner.assign(
            stage, commit, None, request.version, request.bump, request.message, request.force
        )
    if action is Action.UNASSIGN:
        if (request.rev is None) == (request.version is None):
            raise UsageError(
                "give either --version V or a REF, not both and not neither",
                f"gtoguard unassign {request.artifact} --stage {stage} --version v1.2.3",
            )
        return planner.unassign(
            stage, commit if request.rev else None, request.version, request.message
        )
    if action is Action.DEREGISTER:
        assert request.version is not None and head is not None
        return planner.deregister(request.version, head, request.message)
    assert head is not None
    return planner.deprecate(times, head, request.message, request.force)


def _evaluate(
    repo: Repo, tags: Sequence[NewTag], registry: Registry, settings: Settings, where: Where
) -> Outcome:
    """The engine's verdict on the planned tags, as if they were pushed now."""
    misread = [v for v in map(_reads_back, tags) if v is not None]
    if misread:  # the engine would judge a different tag than the one asked for
        outcome = Outcome(checked=len(tags))
        for violation in misread:
            outcome.add(violation)
        return outcome
    who = identity(repo)
    updates, objects = [], {}
    for number, new in enumerate(tags, start=1):
        oid = f"{number:040x}"  # stands in for the tag object git will write
        _, kind = repo.resolve(new.commit)
        updates.append(RefUpdate(TAG_PREFIX + new.name, ZERO, oid))
        objects[oid] = GitObject(
            oid, "tag", new.commit, kind, who.time, who.offset, who.name, who.email, new.message
        )
    ctx = Context(
        settings.config,
        settings.policy,
        settings.tag_checker(),
        int(time.time()),
        settings.origin,
        facts_for(repo, where, settings.policy),
        arrived=True,  # as the server judges them: arriving now, after every tag there
        freeze_at=clock.freeze_now(where.env),  # refused now, as the server would
        fresh=True,
    )
    return evaluate(updates, objects, registry, ctx)


def _reads_back(new: NewTag) -> Violation | None:
    """A stage like 'prod!' would make a tag that parses as something else."""
    try:
        parsed = parse_tag(new.name)
    except TagNameError:
        return None  # the engine reported it already
    if parsed._replace(counter_width=0) == new.tag:
        return None
    return Violation(
        "tag-malformed",
        TAG_PREFIX + new.name,
        f"{new.name!r} would read as a different tag ({parsed.action.value} of "
        f"{parsed.artifact}): the stage or artifact name holds '@', '#', '!' or '='",
        "stage and artifact names use letters, digits, '_', '-' and '/' only",
    )


def _max_counter(names: Sequence[str], artifact: str) -> int:
    return max(
        (tag.counter for tag in _tags_of(names, artifact) if tag.counter is not None), default=0
    )


def _tags_of(names: Sequence[str], artifact: str) -> Iterator[TagName]:
    """The decoded tag names of ``artifact`` among ``names`` (others skipped)."""
    for name in names:
        try:
            tag = parse_tag(name)
        except TagNameError:
            continue
        if tag.artifact == artifact:
            yield tag
