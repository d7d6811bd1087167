"""The helper's side of four eyes: a request written and pushed, an approval given, the
pending requests listed with what each still needs, a request withdrawn, and the
approved object found again when the promotion is pushed. The refs' shape is
``model/approvalrefs.py``; the server's judging is ``registry/approvals.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from gtoguard.errors import CannotRun, UsageError
from gtoguard.git.objects import object_info
from gtoguard.git.ownrefs import push_refs, refs_under, remote_refs_under
from gtoguard.git.repo import Repo
from gtoguard.git.tagwriting import create_tag, delete_tag, first_line
from gtoguard.model.approvalrefs import (
    APPROVALS,
    OWN_PREFIX,
    REQUESTS,
    approval_ref,
    own_ref,
    request_ref,
    usable_name,
)
from gtoguard.model.printable import short
from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate
from gtoguard.model.tagging import NewTag
from gtoguard.model.tagname import TagName
from gtoguard.policy.settings import Policy
from gtoguard.registry.approvals import promotion_of
from gtoguard.registry.judge import Result
from gtoguard.registry.planning import Plan, Request

USER_KEY = "gtoguard.user"  # git config: your name on the server (REMOTE_USER, GL_USERNAME …)


def whoami(repo: Repo, given: str | None) -> str:
    """The name the server knows you by, which a request or an approval must carry."""
    name = given or repo.config_value(USER_KEY)
    if not name:
        raise UsageError(
            "a request or an approval names you as the server knows you, and it is not set",
            f"give --as NAME once, or set it: git config {USER_KEY} NAME",
        )
    if not usable_name(name):
        raise UsageError(f"{name!r} cannot be part of a ref name (no spaces, '/', ':' or '~')")
    return name


def fetch_own(repo: Repo, remote: str) -> dict[str, str]:
    """The remote's requests and approvals, fetched (objects too) into this clone's
    ``refs/gtoguard/``; what the remote holds now (ref -> object id), without the
    requests whose promotion has landed there (the server's cleanup drops them later)."""
    live = remote_refs_under(repo, remote, [OWN_PREFIX])
    live = _not_landed(repo, live, lambda names: remote_refs_under(repo, remote, [], names))
    if live:
        done = repo.git(
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            remote,
            f"+{OWN_PREFIX}*:{OWN_PREFIX}*",
        )
        if done.returncode != 0:
            raise CannotRun(
                f"cannot fetch the requests and approvals of {remote}: {first_line(done.stderr)}",
                "check the remote name and your access (git fetch REMOTE)",
            )
    return live


def _not_landed(
    repo: Repo, live: dict[str, str], tags_of: Callable[[list[str]], dict[str, str]]
) -> dict[str, str]:
    """``live`` without the refs of objects whose promotion tag is in ``refs/tags/``
    (``tags_of``: the object each of some tag refs points at, where they exist)."""
    names = {}
    for oid in {own.oid for ref in live if (own := own_ref(ref))}:
        tag = promotion_of(repo, oid)
        if tag is not None:
            names[TAG_PREFIX + tag.tag] = oid
    if not names:
        return live
    there = tags_of(sorted(names))
    landed = {oid for ref, oid in names.items() if there.get(ref) == oid}
    return {r: o for r, o in live.items() if (own := own_ref(r)) is None or own.oid not in landed}


def landed_or_orphaned(repo: Repo) -> list[str]:
    """The server's cleanup: the refs under ``refs/gtoguard/`` that have done their work
    (the promotion is in ``refs/tags/``) or count for nothing (approvals of an object
    nobody requests any more, anything not of a request's or an approval's shape)."""
    listed = refs_under(repo, OWN_PREFIX)
    kept = _not_landed(repo, listed, lambda names: {n: repo.ref_target(n) or "" for n in names})
    requested = {own.oid for ref in kept if (own := own_ref(ref)) and own.kind == "requests"}
    return sorted(
        ref
        for ref in listed
        if ref not in kept or (own := own_ref(ref)) is None or own.oid not in requested
    )


class Pending(NamedTuple):
    """A request the remote holds, and its approvals."""

    oid: str
    tag: TagName
    name: str  # the promotion tag's name
    commit: str
    requesters: tuple[str, ...]
    approvers: tuple[str, ...]


def pending(repo: Repo, live: dict[str, str], artifact: str | None = None) -> list[Pending]:
    found = []
    oids = sorted({own.oid for ref in live if (own := own_ref(ref)) and own.kind == "requests"})
    for oid in oids:
        tag = promotion_of(repo, oid)
        if tag is None or (artifact is not None and tag.artifact != artifact):
            continue
        obj = object_info(repo, oid)
        people = {
            kind: tuple(
                sorted(ref.rpartition("/")[2] for ref in live if ref.startswith(f"{prefix}{oid}/"))
            )
            for kind, prefix in (("requests", REQUESTS), ("approvals", APPROVALS))
        }
        found.append(
            Pending(oid, tag, tag.tag, obj.target or "", people["requests"], people["approvals"])
        )
    return found


def still_needed(item: Pending, policy: Policy) -> tuple[int, str]:
    """(approvals still needed, who may give them) by the policy's strictest rule; the
    server also leaves out whoever promotes, the registrar and expired approvals."""
    needed, allowed = 0, ""
    for rules in policy.rules_for(item.tag.stage or ""):
        want = rules.approvals
        if want is None:
            continue
        counted = [a for a in item.approvers if a in want.approvers and a not in item.requesters]
        if want.needed - len(counted) >= needed:
            needed, allowed = want.needed - len(counted), ", ".join(want.approvers_as_written)
    return max(needed, 0), allowed


def write_request(repo: Repo, name: str, commit: str, message: str, me: str, sign: bool) -> str:
    """The promotion tag object, made by git as ``gtoguard assign`` would make it, kept
    under ``refs/gtoguard/requests/`` and not under ``refs/tags/``: its object id."""
    oid = create_tag(repo, name, commit, message, sign)
    done = repo.git("update-ref", repo.full(request_ref(oid, me)), oid, "0" * len(oid))
    delete_tag(repo, name, oid)
    if done.returncode != 0:
        raise CannotRun(f"cannot keep the request: {first_line(done.stderr)}")
    return oid


def write_approval(repo: Repo, item: Pending, me: str, sign: bool, message: str | None) -> str:
    """An approval: a tag object (made by git, signed with --sign) that tags the
    requested object, kept under ``refs/gtoguard/approvals/``: its object id."""
    scratch = f"gtoguard-approval-{os.getpid()}"
    text = message or f"Approve {item.name} ({item.tag.artifact} → {item.tag.stage})\n"
    oid = create_tag(repo, scratch, item.oid, text, sign)
    ref = repo.full(approval_ref(item.oid, me))
    done = repo.git("update-ref", ref, oid)
    delete_tag(repo, scratch, oid)
    if done.returncode != 0:
        raise CannotRun(f"cannot keep the approval: {first_line(done.stderr)}")
    return oid


def push_own(repo: Repo, remote: str, refs: list[str]) -> tuple[bool, list[str]]:
    """Push these refs of ``refs/gtoguard/`` (``:ref`` deletes): (landed, the server's lines)."""
    ok, said = push_refs(repo, remote, [r if r.startswith(":") else f"{r}:{r}" for r in refs])
    lines = [
        line.rstrip() for line in said.splitlines() if line.startswith(("remote:", "gtoguard:"))
    ]
    if not ok and not lines:
        lines = [line for line in said.splitlines() if line.startswith(("error:", "fatal:", "!"))]
    return ok, lines


def find_request(
    items: list[Pending], stage: str, which: str | None, commit: str | None
) -> Pending:
    """The one pending request a command means: by its tag name or object id, else the
    one of ``stage`` (on ``commit``, when a version was named)."""
    if which:
        chosen = [
            i
            for i in items
            if which in (i.name, i.oid) or (len(which) >= 7 and i.oid.startswith(which))
        ]
    else:
        chosen = [i for i in items if i.tag.stage == stage and commit in (None, i.commit)]
    if len(chosen) == 1:
        return chosen[0]
    if not chosen:
        raise UsageError(
            "no pending request matches"
            + (
                f" {which!r}"
                if which
                else f" stage {stage}" + (f" on {short(commit)}" if commit else "")
            ),
            "see the pending requests: gtoguard approvals",
        )
    listed = ", ".join(f"{i.name} ({short(i.oid)}, commit {short(i.commit)})" for i in chosen)
    raise UsageError(
        f"several pending requests match: {listed}",
        "name one by its object id, or give --version",
    )


def local_requests(repo: Repo) -> dict[str, str]:
    """This clone's requests (``refs/gtoguard/requests/``): ref -> object id."""
    return refs_under(repo, REQUESTS)


class Requested(NamedTuple):
    """A request made: the plan it came from, the object kept, and (when pushed) whether
    the server took it and what it said."""

    plan: Plan
    oid: str | None  # None: the promotion itself would be declined; nothing was written
    pushed: bool | None  # None: not pushed
    lines: list[str]


def request_promotion(
    repo: Repo, wanted: Request, remote: str, me: str, sign: bool, push: bool
) -> Requested:
    """Plan the promotion as ``assign`` would, judge it (approvals aside), keep its tag
    object as a request, and push the request when asked. ``UsageError`` when it is not
    one promotion to a stage that asks for approvals."""
    from gtoguard.policy.rules.approvals import MISSING
    from gtoguard.registry.planning import config_branch, plan

    found = plan(repo, wanted, config_branch(repo, None, remote), remote, sign)
    stage = wanted.stage or ""
    if len(found.tags) != 1:
        raise UsageError(
            "a request is for one promotion of a registered version; this would also "
            f"register {found.tags[0].name}",
            f"register it first: gtoguard register {wanted.artifact} --push",
        )
    if not any(r.approvals for r in found.settings.policy.rules_for(stage)):
        raise UsageError(
            f"stage {stage} asks for no approvals",
            f"promote it: gtoguard assign {wanted.artifact} --stage {stage} --push",
        )
    found.outcome.violations[:] = [v for v in found.outcome.violations if v.rule != MISSING]
    if any(v.severity == "error" for v in found.outcome.violations):
        return Requested(found, None, None, [])
    new = found.tags[0]
    oid = write_request(repo, new.name, new.commit, new.message, me, sign)
    if not push:
        return Requested(found, oid, None, [])
    ok, lines = push_own(repo, remote, [request_ref(oid, me)])
    if not ok:
        repo.git("update-ref", "-d", repo.full(request_ref(oid, me)), oid)
    return Requested(found, oid, ok, lines)


def give_approval(
    repo: Repo, item: Pending, me: str, sign: bool, message: str | None, remote: str | None
) -> tuple[bool | None, list[str]]:
    """Approve ``item``, and push the approval to ``remote`` (None: keep it here):
    (whether the server took it, None when not pushed; what it said)."""
    write_approval(repo, item, me, sign, message)
    if remote is None:
        return None, []
    ref = approval_ref(item.oid, me)
    ok, lines = push_own(repo, remote, [ref])
    if not ok:
        repo.git("update-ref", "-d", repo.full(ref))
    return ok, lines


def matching_request(repo: Repo, remote: str, new: NewTag) -> Pending | None:
    """The one pending request of the remote for the same commit and stage as a planned
    promotion, or None."""
    items = pending(repo, fetch_own(repo, remote), new.tag.artifact)
    found = [i for i in items if i.tag.stage == new.tag.stage and i.commit == new.commit]
    return found[0] if len(found) == 1 else None


def judge_requested(repo: Repo, item: Pending, remote: str) -> Result:
    """The requested object judged as a push of it to ``refs/tags/`` will be, here."""
    from gtoguard.registry import judge
    from gtoguard.registry.facts import Where
    from gtoguard.registry.planning import config_branch

    update = RefUpdate(TAG_PREFIX + item.name, "0" * len(item.oid), item.oid)
    where = Where("client", dict(os.environ), remote)
    return judge.run(
        repo, [update], config_branch(repo, None, remote), existing_exclude=set(), where=where
    )


def land_requested(repo: Repo, item: Pending, remote: str) -> tuple[bool, list[str], str]:
    """Push the requested object itself as ``refs/tags/<name>``: (accepted, the server's
    lines, why not). A declined push leaves no local tag behind."""
    from gtoguard.git.remote import push_tags
    from gtoguard.registry.publishing import push_failure

    made = repo.git("update-ref", repo.full(TAG_PREFIX + item.name), item.oid, "0" * len(item.oid))
    if made.returncode != 0:
        raise UsageError(
            f"tag {item.name} exists in this clone already", f"delete it: git tag -d {item.name}"
        )
    done = push_tags(repo, remote, [item.name])
    if done.returncode == 0:
        lines = done.stderr.decode("utf-8", "replace").splitlines()
        return True, [line.rstrip() for line in lines if line.startswith("remote:")], ""
    delete_tag(repo, item.name, item.oid)
    reason, said = push_failure(done)
    return False, said, reason


def pending_rows(
    repo: Repo, remote: str | None, policy: Policy, artifact: str | None = None
) -> list[dict[str, Any]]:
    """The pending requests (the remote's, fetched; this clone's own without a remote),
    one document each: what ``gtoguard approvals --json`` prints and the page shows."""
    if remote is not None:
        live = fetch_own(repo, remote)
    else:  # this repository's own: the server's, or a clone with no remote
        listed = refs_under(repo, OWN_PREFIX)
        live = _not_landed(repo, listed, lambda names: {n: repo.ref_target(n) or "" for n in names})
    rows = []
    for item in pending(repo, live, artifact):
        needed, allowed = still_needed(item, policy)
        rows.append(
            {
                "request": item.name,
                "object": item.oid,
                "artifact": item.tag.artifact,
                "version": _version_at(repo, item),
                "stage": item.tag.stage,
                "commit": item.commit,
                "requested_by": list(item.requesters),
                "approved_by": list(item.approvers),
                "still_needed": needed,
                "from": allowed,
            }
        )
    return rows


def _version_at(repo: Repo, item: Pending) -> str:
    """The version registered at the requested commit (its id where none is)."""
    from gtoguard.git.tagrefs import tag_names, tags_of
    from gtoguard.registry.tagstate import registry_of

    name = item.tag.artifact
    registry = registry_of(tags_of(repo, {name}, tag_names(repo, {name})), {name})
    return registry.artifact(name).version_label(item.commit)


def approvers_of(repo: Repo, oid: str) -> list[str]:
    """Who approved the tag object ``oid``, as this clone's ``refs/gtoguard/`` say."""
    prefix = f"{APPROVALS}{oid}/"
    return sorted(ref[len(prefix) :] for ref in refs_under(repo, prefix))


def prune(repo: Repo, policy: Policy, now: int | None = None) -> list[str]:
    """Delete (one ``git update-ref --stdin`` transaction, each ref only if it still
    holds what was read) the refs ``landed_or_orphaned`` names and the approvals past
    every ``max_age`` their stage sets: what they deleted."""
    import time

    moment = int(time.time()) if now is None else now
    gone = set(landed_or_orphaned(repo))
    listed = refs_under(repo, OWN_PREFIX)
    for ref, value in listed.items():
        own = own_ref(ref)
        if own is None or own.kind != "approvals" or ref in gone:
            continue
        tag = promotion_of(repo, own.oid)
        ages = (
            [r.approvals.max_age for r in policy.rules_for(tag.stage or "") if r.approvals]
            if tag
            else []
        )
        if not ages or None in ages:
            continue
        obj = object_info(repo, value)
        if obj.time is not None and moment - obj.time > max(a for a in ages if a is not None):
            gone.add(ref)
    lines = "".join(f"delete {repo.full(ref)} {listed[ref]}\n" for ref in sorted(gone))
    if lines:
        done = repo.git("update-ref", "--stdin", stdin=lines.encode("utf-8", "surrogateescape"))
        if done.returncode != 0:
            raise CannotRun(f"git update-ref could not delete them: {first_line(done.stderr)}")
    return sorted(gone)
