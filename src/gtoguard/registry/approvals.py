"""Requests and approvals in a repository: a promotion's ballot, read from the refs under
``refs/gtoguard/`` (``ballot_reader``: the server's own, or a remote's listing on a
clone), and the check of a push that writes such refs (``own_ref_violations``).
The rules themselves are ``policy/rules/approvals.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from gtoguard.git.objects import object_info
from gtoguard.git.ownrefs import refs_under, remote_refs_under
from gtoguard.git.repo import Repo
from gtoguard.model.approvalrefs import APPROVALS, OWN_PREFIX, REQUESTS, own_ref
from gtoguard.model.printable import short
from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate
from gtoguard.model.signatureblock import split_signature
from gtoguard.model.tagname import ASSIGN, TagName, TagNameError, parse_tag
from gtoguard.policy import timebudget
from gtoguard.policy.rules.approvals import (
    NOT_ALLOWED,
    Approval,
    Arrival,
    Ballot,
    BallotReader,
    approvals_for,
    check_own_ref,
)
from gtoguard.policy.rules.frozen import check_frozen
from gtoguard.policy.rules.violation import Verifier, Violation
from gtoguard.policy.settings import Policy


def promotion_of(repo: Repo, oid: str) -> TagName | None:
    """The stage assignment an annotated tag object names, or None."""
    try:
        obj = object_info(repo, oid)
    except (KeyError, ValueError):
        return None
    if obj.kind != "tag" or obj.target_kind != "commit" or obj.name is None or obj.unreadable:
        return None
    try:
        tag = parse_tag(obj.name)
    except TagNameError:
        return None
    return tag if tag.action is ASSIGN else None


def _people(refs: dict[str, str], prefix: str) -> dict[str, str]:
    """Person -> object id of the refs directly under ``prefix``."""
    cut = len(prefix)
    return {
        ref[cut:]: oid
        for ref, oid in refs.items()
        if ref.startswith(prefix) and ref[cut:] and "/" not in ref[cut:]
    }


def local_ballots(repo: Repo, verify: Verifier | None = None) -> BallotReader:
    """The ballots of this repository's own refs (the server; a CI job that fetched
    ``refs/gtoguard/*``): each approval's object read for what it tags and its date.
    ``verify`` (CI, where nobody authenticated who pushed a ref): an approval counts only
    if its signature verifies against the signers and names the approver."""
    listed: dict[str, str] | None = None

    def read(oid: str, name: str) -> Ballot:
        nonlocal listed
        timebudget.spend("reading the approvals of a promotion")
        if listed is None:
            listed = refs_under(repo, OWN_PREFIX)
        requesters = tuple(sorted(_people(listed, f"{REQUESTS}{oid}/")))
        approvals = []
        for approver, value in sorted(_people(listed, f"{APPROVALS}{oid}/").items()):
            try:
                obj = object_info(repo, value)
                target = obj.target if obj.kind == "tag" else value
            except (KeyError, ValueError):
                obj, target = None, value
            unverified = None
            if verify is not None:
                unverified = _unsigned(verify, approver, value, obj.message if obj else "")
            approvals.append(Approval(approver, target, obj.time if obj else None, unverified))
        return Ballot(requesters, tuple(approvals), _elsewhere(repo, listed, oid, name))

    return read


def _unsigned(verify: Verifier, approver: str, oid: str, message: str) -> str | None:
    """Why an approval is not shown to be the approver's by its signature, or None."""
    _, block = split_signature(message)
    if block is None:
        return "it is not signed, and here only a signature tells who approved"
    verdict = verify(oid, block)
    if not verdict.ok:
        return f"its signature does not verify ({verdict.detail})"
    if not signed_by(verdict.detail, approver):
        return f"it is signed by {verdict.detail}, not {approver}"
    return None


def signed_by(signer: str, approver: str) -> bool:
    """Whether the signer git names (an SSH principal of the allowed-signers file, a GPG
    user id "Name <email>") is ``approver``: the principal itself, the email, or the
    email's local part."""
    email = signer[signer.find("<") + 1 : signer.rfind(">")] if "<" in signer else signer
    return approver in (signer, email, email.partition("@")[0])


def _elsewhere(repo: Repo, listed: dict[str, str], oid: str, name: str) -> tuple[str, ...]:
    """The approvers of other objects requested under the same tag name."""
    others = {own.oid for ref in listed if (own := own_ref(ref)) and own.oid != oid}
    found = []
    for other in sorted(others)[:64]:
        tag = promotion_of(repo, other)
        if tag is not None and tag.tag == name:
            found += sorted(_people(listed, f"{APPROVALS}{other}/"))
    return tuple(dict.fromkeys(found))


def remote_ballots(repo: Repo, remote: str) -> BallotReader:
    """A clone's view: the remote's request and approval refs of the object, by name
    only (their objects stay on the server, and who pushes is not known here)."""

    def read(oid: str, name: str) -> Ballot:
        found = remote_refs_under(repo, remote, [f"{REQUESTS}{oid}/", f"{APPROVALS}{oid}/"])
        requesters = tuple(sorted(_people(found, f"{REQUESTS}{oid}/")))
        approvals = tuple(
            Approval(a, None, None) for a in sorted(_people(found, f"{APPROVALS}{oid}/"))
        )
        return Ballot(requesters, approvals, complete=False)

    return read


def approval_problem(repo: Repo, oid: str, value: str, now: int, skew: int) -> str | None:
    """What is wrong with an approval's own object: it must be an annotated tag object
    that tags the requested object, dated now (within ``clock_skew``): its date is when
    the approval was given, which ``max_age`` counts from."""
    try:
        obj = object_info(repo, value)
    except (KeyError, ValueError):
        return f"the approval's object {short(value)} is not in the repository"
    if obj.kind != "tag" or obj.target != oid:
        return (
            f"an approval is a tag object that tags the requested object {short(oid)}; "
            f"this is a {obj.kind}" + (f" tagging {short(obj.target)}" if obj.target else "")
        )
    if obj.time is None or abs(now - obj.time) > skew:
        return (
            "the approval's tagger date is not now (within clock_skew, "
            f"{skew} s): it is when the approval was given, which max_age counts from"
        )
    return None


def _request_date(repo: Repo, oid: str, now: int, skew: int) -> str | None:
    """A request's tag object is dated now (within ``clock_skew``): the promotion lands
    later with that date, which was bounded here, as a new tag's is when it arrives."""
    try:
        when = object_info(repo, oid).time
    except (KeyError, ValueError):
        return None  # not a promotion tag: said by the rule
    if when is None or abs(now - when) > skew:
        return (
            "the requested tag object's tagger date is not now (within clock_skew, "
            f"{skew} s): make the request when you ask for it (gtoguard request)"
        )
    return None


def own_ref_violations(
    repo: Repo,
    updates: Sequence[RefUpdate],
    policy: Policy,
    who: str | None,
    now: int,
    freeze_at: int | None,
) -> list[Violation]:
    """Every update under ``refs/gtoguard/`` judged: a request or an approval of the
    shape ``model/approvalrefs.py`` gives, else declined. ``who``: the pusher (the
    server), None where it is not known (a clone: only the refs' own facts are judged)."""
    listed = refs_under(repo, OWN_PREFIX)
    violations = []
    for update in updates:
        own = own_ref(update.ref)
        if own is None:
            violations.append(
                Violation(
                    NOT_ALLOWED,
                    update.ref,
                    f"under {OWN_PREFIX} a push writes only requests "
                    f"({REQUESTS}<tag object id>/<requester>) and approvals "
                    f"({APPROVALS}<tag object id>/<approver>)",
                    "make them with gtoguard request and gtoguard approve",
                )
            )
            continue
        promotion = promotion_of(repo, own.oid)
        rules = tuple(approvals_for(policy.rules_for(promotion.stage or ""))) if promotion else ()
        requesters = tuple(sorted(_people(listed, f"{REQUESTS}{own.oid}/")))
        landed = promotion is not None and repo.ref_target(TAG_PREFIX + promotion.tag) == own.oid
        if own.kind == "requests" and not update.deleted and update.new != own.oid:
            violations.append(
                Violation(
                    NOT_ALLOWED,
                    update.ref,
                    "a request's ref holds the promotion tag object its name gives "
                    f"({short(own.oid)}); this one holds {short(update.new)}",
                    "gtoguard request ... --push makes both agree",
                )
            )
            continue
        problem = None
        if own.kind == "requests" and update.created:
            problem = _request_date(repo, own.oid, now, policy.tags.clock_skew)
        elif own.kind == "approvals" and not update.deleted:
            problem = approval_problem(repo, own.oid, update.new, now, policy.tags.clock_skew)
        arrival = Arrival(own, who, promotion, requesters, landed, rules)
        moved = not update.created and not update.deleted
        found = check_own_ref(update.ref, arrival, update.deleted, moved, problem)
        if found is None and own.kind == "requests" and problem is not None:
            found = Violation(NOT_ALLOWED, update.ref, problem, "gtoguard request ... --push")
        if found is None and own.kind == "requests" and update.created and freeze_at is not None:
            for stage_rules in rules:
                assert promotion is not None
                found = found or check_frozen(update.ref, promotion, stage_rules, freeze_at)
        if found is not None:
            violations.append(found)
    return violations
