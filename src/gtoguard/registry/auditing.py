"""Auditing existing tags (``check --all``): each tag judged by the rules in force when it
was tagged (the eras of the config files), and which tags ``--prune`` may delete."""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gtoguard.config import timeline
from gtoguard.config.problems import ConfigInvalid
from gtoguard.config.timeline import Era
from gtoguard.errors import UsageError
from gtoguard.git.branches import Branch
from gtoguard.git.objects import object_info
from gtoguard.git.remote import remote_tag_names
from gtoguard.git.repo import Repo, open_repo
from gtoguard.git.tagrefs import tag_names, tags_of
from gtoguard.model.printable import short
from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate
from gtoguard.model.state import Registry
from gtoguard.model.tagname import (
    TagNameError,
    is_gto_shaped,
    parse_tag,
)
from gtoguard.policy.context import Context, Outcome, event_of, order_key
from gtoguard.policy.evaluate import evaluate
from gtoguard.registry import alltags, parallel
from gtoguard.registry.facts import AUDIT_IDENTITY, Where, facts_for, log_approvals, log_pushers
from gtoguard.registry.planning import ZERO
from gtoguard.registry.rulefiles import _day, load_settings
from gtoguard.registry.tagstate import registry_of


@dataclass
class Audit:
    outcome: Outcome
    notes: list[str] = field(default_factory=list)


def _context(
    repo: Repo,
    branch: Branch,
    env: Mapping[str, str],
    audit: bool = False,
    eras: Sequence[Era] = (),
    now: int | None = None,
    arrived: bool = False,
    at: int | None = None,
) -> Context:
    """The audit's context. ``audit``: replaying history, whose pushers no CI job knows
    (a note, not a fault). ``eras`` (the usable ones, oldest first): each tag is judged
    by the files of its time (``config/timeline``), or of the time ``at`` when given."""

    def made(as_of: tuple[str | None, int] | None) -> Context:
        return era_context(repo, branch, env, as_of, audit, now, arrived)

    latest = made(None)
    if not eras or (len(eras) == 1 and eras[0].config_commit is None):
        return latest  # no config history: judged as today
    latest = latest._replace(config_commit=eras[-1].config_commit)
    contexts: dict[int, Context] = {len(eras) - 1: latest}
    starts = [era.since for era in eras]

    last = starts[-1]

    def in_force(when: int) -> Context:
        moment = when if at is None else at
        if moment >= last:  # most tags: today's rules
            return latest
        index = max(0, bisect.bisect_right(starts, moment) - 1)
        found = contexts.get(index)
        if found is None:
            era = eras[index]
            found = contexts[index] = made((era.config_commit, era.since))._replace(
                config_commit=era.config_commit
            )
        return found

    return latest._replace(at=in_force)


def era_context(
    repo: Repo,
    branch: Branch,
    env: Mapping[str, str],
    as_of: tuple[str | None, int] | None,
    audit: bool = True,
    now: int | None = None,
    arrived: bool = False,
) -> Context:
    """The context of the rules of one era (``as_of``: its commit and date; None: the
    tip's), on the CI side."""
    settings = load_settings(repo, branch, as_of)
    facts = facts_for(repo, Where("ci", env, "origin"), settings.policy)
    # the job a push started (--pushed-at) is the last check there is: it must know the
    # pusher; a check by hand, or an audit, cannot
    facts = facts._replace(identity_required=arrived and not audit)
    if audit:
        facts = facts._replace(
            identity_required=False,
            identity_from=AUDIT_IDENTITY,
            pusher_of=log_pushers(repo),
            logged_approvals=log_approvals(repo),
        )
    return Context(
        settings.config,
        settings.policy,
        settings.tag_checker(),
        int(time.time()) if now is None else now,
        settings.origin,
        facts,
        arrived=arrived,
        freeze_at=now if arrived else None,
    )


def usable_eras(repo: Repo, branch: Branch, notes: list[str]) -> list[Era]:
    """The eras of the branch's config whose files can be read; one that cannot (gto's
    readers failed on it too) is left out, and its time judged by the era before it.
    The files at the tip must be valid: the audit stops on them (``config-invalid``)."""
    found = timeline.eras(repo, branch)
    for era in found:
        if era.dated is not None:
            notes.append(
                f"commit {short(era.config_commit or '')} (a config change on {branch.label}) "
                f"is dated {_day(era.dated)}, after a commit that follows it or after "
                f"now: its files are taken to apply from {_day(era.since)}, when the "
                "commit before it was made"
            )
    usable = []
    for era in found[:-1]:
        try:
            load_settings(repo, branch, (era.config_commit, era.since))
        except ConfigInvalid as exc:
            notes.append(
                f"the config files of {branch.label} as of {short(era.config_commit or '')} "
                f"({_day(era.since)}) are invalid ({exc.problems[0]}); tags of that "
                "time are judged by the files before them"
            )
            continue
        usable.append(era)
    usable.append(found[-1])
    return usable


def _replay(
    listing: alltags.Listing,
    part: int,
    parts: int,
    path: str,
    branch: Branch,
    later: parallel.Later,
) -> Outcome:
    """One process's share of ``check --all``: its artifacts, one at a time, each in
    gto's order. The CI job's user did not push the history, so no pusher is known.
    ``later`` brings the config's eras, walked meanwhile."""
    repo = open_repo(path)
    groups = alltags.share(listing, part, parts)
    eras = [Era(since, commit) for since, commit in later.get(part) or ()]
    ctx = _context(repo, branch, {}, audit=True, eras=eras)
    outcome = Outcome()
    for tags in alltags.objects_by_artifact(repo, groups):
        objects = {obj.oid: obj for _, obj in tags}
        updates = [RefUpdate(TAG_PREFIX + name, ZERO, obj.oid) for name, obj in tags]
        _merge(outcome, evaluate(updates, objects, Registry(), ctx))
    return outcome


def audit(
    repo: Repo, branch: Branch, names: Sequence[str] | None, pushed_at: int | None = None
) -> Audit:
    """``names``: evaluate each tag at its tagger date onto the tags that come before it
    in gto's order, by the rules of that time; None: replay the whole history so.

    ``pushed_at`` (CI: the time of the push, from the event): each tag is judged as it
    arrived, the newest event on every other tag there by then (tagger date up to
    ``pushed_at`` + clock_skew), with ``tagger-time`` against that time: a tag back-dated
    into another time of the registry is declined."""
    result = Audit(Outcome())
    if branch.ref == "HEAD":
        result.notes.append(
            "reading .gto and .gtoguard.yaml from HEAD (no default branch known); "
            "pass --branch origin/main to read them from the default branch"
        )
    settings = load_settings(repo, branch)  # an invalid file stops here, not in a worker
    if names is None:
        if any(rules.freeze for rules in settings.policy.stages):
            result.notes.append(
                "freeze windows are not checkable here: they are judged at the moment a tag "
                "arrives (the server hook, or check TAG --pushed-at in CI), which an audit "
                "of the history does not know"
            )
        listing = alltags.list_tags(repo)
        # the config history is walked while the workers pick out their artifacts
        later = parallel.Later(
            lambda: [
                [era.since, era.config_commit] for era in usable_eras(repo, branch, result.notes)
            ]
        )
        for part in parallel.by_share(
            _replay, listing, listing.size, repo.path, branch, later=later
        ):
            _merge(result.outcome, part)
        return result
    eras = usable_eras(repo, branch, result.notes)
    # the CI job's user pushed these tags; as they arrived, by the rules of that moment
    # (freeze windows too: at the moment of the push)
    ctx = _context(
        repo,
        branch,
        os.environ,
        eras=eras,
        now=pushed_at,
        arrived=pushed_at is not None,
        at=pushed_at,
    )
    if pushed_at is None:
        result.notes.append(
            "the time of the push is unknown, so each tag is judged at its own tagger date "
            "and freeze windows are not judged: pass --pushed-at (the CI templates do) to "
            "judge it as it arrived"
        )
    wanted = [n.removeprefix(TAG_PREFIX) for n in names]
    oids = {name: repo.ref_target(TAG_PREFIX + name) for name in wanted}
    missing = [name for name, oid in oids.items() if oid is None]
    if missing:
        raise UsageError(
            f"no tag {missing[0]!r} in this repository",
            "fetch the tags first (git fetch --tags; in CI: fetch-depth: 0)",
        )
    for name, oid in oids.items():
        if not is_gto_shaped(name):
            result.notes.append(f"{name} is not a GTO tag (no '@' or '#'); nothing to check")
        elif oid is not None:
            _merge(result.outcome, _audit_one(repo, name, oid, ctx, pushed_at is not None))
    return result


def prunable(
    repo: Repo, outcome: Outcome, cutoff: int, branch: Branch | None = None
) -> tuple[list[str], list[tuple[str, str]]]:
    """(tags to delete, [(tag kept, why)]) among the tags ``outcome`` declines: annotated
    ones whose tagger date is after ``cutoff``. A tag that passes is never listed, and
    (with ``branch``) neither is one that fails only by the rules of a config change it
    may be older than (``_only_by_a_later_era``)."""
    doomed, kept = [], []
    eras: list[Era] | None = None
    for ref in sorted(outcome.declined_refs):
        if not ref.startswith(TAG_PREFIX):
            continue
        name = ref[len(TAG_PREFIX) :]
        oid = repo.ref_target(ref)
        obj = object_info(repo, oid) if oid is not None else None
        if obj is None or obj.kind != "tag" or obj.time is None:
            kept.append((name, "no tagger date (a lightweight tag): delete it by hand"))
            continue
        if obj.time <= cutoff:
            kept.append((name, "made before the cutoff"))
            continue
        if branch is not None and oid is not None:
            if eras is None:
                eras = usable_eras(repo, branch, [])
            era = _only_by_a_later_era(repo, branch, eras, outcome, ref, name, oid)
            if era is not None:
                kept.append(
                    (
                        name,
                        f"it fails only by the rules of {branch.label} as of "
                        f"{short(era.config_commit or '')} ({_day(era.since)}), and a "
                        "commit date is written by whoever commits: the tag may be "
                        "older than those rules; delete it by hand if it is not",
                    )
                )
                continue
        doomed.append(name)
    return doomed, kept


def _only_by_a_later_era(
    repo: Repo, branch: Branch, eras: Sequence[Era], outcome: Outcome, ref: str, name: str, oid: str
) -> Era | None:
    """The era whose rules alone make ``ref`` fail, if it passes by the rules just before
    that era's: a config change back-dated onto the default branch would otherwise let
    prune delete tags made before it (the fresh review: a commit dated two hours back that
    took prod out of .gto condemned a prod tag of an hour ago)."""
    judged = {v.config_commit for v in outcome.violations if v.ref == ref and v.severity == "error"}
    target = object_info(repo, oid).target
    for index, era in enumerate(eras):
        if index == 0 or era.config_commit not in judged:
            continue
        if (
            era.config_commit is not None
            and target is not None
            and repo.reaches(target, era.config_commit)
        ):
            continue  # the tagged commit holds the change: the tag came after the rules
        before = eras[index - 1]
        ctx = era_context(repo, branch, {}, (before.config_commit, before.since))
        if _audit_one(repo, name, oid, ctx).ok:
            return era
    return None


def unpushed_tags(repo: Repo, remote: str) -> list[str]:
    """Local GTO-shaped tags that ``remote`` does not have."""
    there = set(remote_tag_names(repo, remote))
    return [name for name in sorted(tag_names(repo)) if is_gto_shaped(name) and name not in there]


def _audit_one(repo: Repo, name: str, oid: str, ctx: Context, arrived: bool = False) -> Outcome:
    """One tag against the tags of its artifact that come before it in gto's order (or,
    ``arrived``, every tag there when it was pushed at ``ctx.now``); only that artifact's
    tags are read."""
    obj = object_info(repo, oid)
    update = RefUpdate(TAG_PREFIX + name, ZERO, oid)
    try:
        tag = parse_tag(name)
    except TagNameError:
        return evaluate([update], {oid: obj}, Registry(), ctx)
    key = order_key(name, tag, event_of(name, tag, obj))
    before = []
    artifact = {tag.artifact}
    for other, other_obj in tags_of(repo, artifact, tag_names(repo, artifact)):
        if other == name:
            continue
        try:
            other_tag = parse_tag(other)
        except TagNameError:
            continue
        event = event_of(other, other_tag, other_obj)
        if other_tag.artifact != tag.artifact or event is None:
            continue
        there = (
            event.time <= ctx.now + ctx.policy.tags.clock_skew
            if arrived
            else order_key(other, other_tag, event) < key
        )
        if there:
            before.append((other, other_obj))
    return evaluate([update], {oid: obj}, registry_of(before, artifact), ctx)


def _merge(into: Outcome, outcome: Outcome) -> None:
    into.checked += outcome.checked
    into.violations.extend(outcome.violations)
    into.declined_refs |= outcome.declined_refs
