"""Four eyes (``stages.<name>.approvals``): a promotion lands only with enough approvals of
its exact tag object (``check_approvals``), and what a push may write under
``refs/gtoguard/``: a request by its requester, an approval by its approver
(``check_own_ref``). The refs' shape is ``model/approvalrefs.py``; what they hold is read
by ``registry/approvals.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from gtoguard.model.approvalrefs import OwnRef
from gtoguard.model.printable import short
from gtoguard.model.tagname import TagName
from gtoguard.policy.rules.violation import UNCHECKED, Violation
from gtoguard.policy.settings import Approvals, StageRules, span_text

MISSING, NOT_ALLOWED = "approvals-missing", "approver-not-allowed"


class Approval(NamedTuple):
    """One approval ref of an object, as this side can read it."""

    approver: str  # the name in the ref (the server checked it was the pusher)
    target: str | None  # the object the approval's tag object tags; None: not read here
    time: int | None  # its tagger date (bounded by clock_skew at arrival); None: not read
    unverified: str | None = None  # CI: why its signature does not make it the approver's


class Ballot(NamedTuple):
    """A promotion tag object's request and approvals."""

    requesters: tuple[str, ...] = ()
    approvals: tuple[Approval, ...] = ()
    # the approvers of other objects requested under the same tag name (never counted)
    elsewhere: tuple[str, ...] = ()
    # the server's own refs (True), or what a clone could list of the remote's (False:
    # who pushes is not known there, so the promoter is not left out)
    complete: bool = True


BallotReader = Callable[[str, str], Ballot]  # (tag object id, tag name) -> its ballot


class Registrars(NamedTuple):
    """Who pushed the registration of the promoted version (``not_by: [registrar]``)."""

    names: frozenset[str] = frozenset()
    unknown: str | None = None  # why they are not known where they must be: declines
    checkable: bool = True  # False: this side cannot know (a clone, CI): said, not judged


def approvals_for(rules: Sequence[StageRules]) -> list[StageRules]:
    return [r for r in rules if r.approvals is not None]


def count_approvals(
    oid: str,
    want: Approvals,
    ballot: Ballot,
    promoter: str | None,
    registrars: Registrars,
    now: int,
) -> tuple[list[str], list[str]]:
    """(who counts, in order; why each other approval does not, in words)."""
    counted: list[str] = []
    why: list[str] = []
    for approval in sorted(ballot.approvals, key=lambda a: (a.time or 0, a.approver)):
        name = approval.approver
        reason = None
        if approval.target is not None and approval.target != oid:
            reason = "it tags another object"
        elif name not in want.approvers:
            reason = (
                f"{name} may not approve (approvals.from: {', '.join(want.approvers_as_written)})"
            )
        elif name == promoter:
            reason = f"{name} is the one promoting"
        elif name in ballot.requesters:
            reason = f"{name} requested it"
        elif want.not_registrar and name in registrars.names:
            reason = f"{name} registered the version (not_by: registrar)"
        elif approval.unverified is not None:
            reason = approval.unverified
        elif (
            want.max_age is not None
            and approval.time is not None
            and (now - approval.time > want.max_age)
        ):
            reason = (
                f"it is {span_text(now - approval.time)} old, past max_age "
                f"{span_text(want.max_age)}"
            )
        if reason is not None:
            why.append(f"{name}'s does not count: {reason}")
        elif name not in counted:
            counted.append(name)
    return counted, why


def check_approvals(
    ref: str,
    tag: TagName,
    oid: str,
    rules: StageRules,
    ballot: Ballot | None,
    promoter: str | None,
    registrars: Registrars,
    now: int,
) -> tuple[Violation | None, list[str]]:
    """A promotion to a stage whose ``approvals`` asks for ``count`` approvals: enough of
    them for this very object, each from someone who may approve, is neither the promoter
    nor the requester (nor, with ``not_by: [registrar]``, the registrar) and is younger
    than ``max_age``. Returns the violation and who counted (the receipt names them)."""
    want = rules.approvals
    if want is None:
        return None, []
    if ballot is None:
        return (
            Violation(
                MISSING,
                ref,
                f"stage {rules.stage} needs {want.needed} approval(s) of the tag object, which "
                "only the server holds (refs/gtoguard/); they are not readable here",
                None,
                UNCHECKED,
            ),
            [],
        )
    allowed = ", ".join(want.approvers_as_written)
    hint = (
        f"each approver runs gtoguard approve {tag.artifact} --stage {rules.stage} --push; "
        f"gtoguard approvals {tag.artifact} shows what is missing"
    )
    if not ballot.requesters:  # withdrawn, or never asked for: no approval counts
        return (
            Violation(
                MISSING,
                ref,
                f"stage {rules.stage} needs {want.needed} approval(s) from {allowed} "
                f"({rules.source}), given to a request of the very tag object promoted; "
                f"nobody requests this one{_elsewhere(tag, ballot)}",
                f"ask for them: gtoguard request {tag.artifact} --version VERSION --stage "
                f"{rules.stage} --push; then {hint}",
            ),
            [],
        )
    if ballot.complete and promoter is None:  # the promoter's own approval cannot be told
        return (
            Violation(
                MISSING,
                ref,
                f"stage {rules.stage} needs {want.needed} approval(s) besides the promoter's, "
                "and who promotes is not known here (no pusher identity)",
                "on a server, its admin sets identity: in the server policy; in CI, run the "
                "check in the job the push started (GITHUB_ACTOR, GITLAB_USER_LOGIN)",
            ),
            [],
        )
    if want.not_registrar and registrars.unknown is not None:
        return (
            Violation(
                MISSING,
                ref,
                f"stage {rules.stage} takes no approval from whoever registered the version "
                f"(not_by: registrar; {rules.source}), and that is not known: "
                f"{registrars.unknown}; so no approval counts",
                "the server admin keeps the decision log (log: in the server policy) and its "
                "rotated files beside it; a version registered before it was kept is "
                "registered again under a new version to be promoted",
            ),
            [],
        )
    counted, why = count_approvals(oid, want, ballot, promoter, registrars, now)
    if len(counted) >= want.needed:
        if want.not_registrar and not registrars.checkable:
            said = (
                f"stage {rules.stage} takes no approval from whoever registered the version; "
                "who that was only the server's decision log knows"
            )
            return Violation(MISSING, ref, said, None, UNCHECKED), counted
        return None, counted
    has = f"{len(counted)}: {', '.join(counted)}" if counted else "none"
    detail = f" ({'; '.join(why)})" if why else ""
    return (
        Violation(
            MISSING,
            ref,
            f"stage {rules.stage} needs {want.needed} approval(s) of this tag object "
            f"({short(oid)}) from {allowed}, besides whoever requests and promotes it "
            f"({rules.source}); it has {has}{detail}{_elsewhere(tag, ballot)}",
            hint,
        ),
        counted,
    )


def check_logged(ref: str, rules: StageRules, given: Sequence[str]) -> Violation | None:
    """An audit on the server: the promotion landed with the approvers the decision log
    names, enough of them or not (the hook judged who may count when it landed)."""
    want = rules.approvals
    if want is None or len(set(given)) >= want.needed:
        return None
    has = ", ".join(given) if given else "none"
    return Violation(
        MISSING,
        ref,
        f"stage {rules.stage} needs {want.needed} approval(s) ({rules.source}); the server's "
        f"decision log says this promotion landed with {has}",
        "see how it landed: gtoguard log; a promotion that skipped the hook is undone by "
        "deleting its tag (gtoguard prune)",
    )


def _elsewhere(tag: TagName, ballot: Ballot) -> str:
    if not ballot.elsewhere:
        return ""
    return (
        f"; approvals of another tag object named {tag.tag} never count for this one "
        f"({', '.join(ballot.elsewhere)})"
    )


class Arrival(NamedTuple):
    """What a push of one of gtoguard's own refs is judged by."""

    own: OwnRef
    pusher: str | None  # None: not known on this side
    promotion: TagName | None  # the requested tag's name (None: not a GTO assignment)
    requesters: tuple[str, ...]  # of the object, before this push
    landed: bool  # the promotion tag is in refs/tags/ already
    rules: tuple[StageRules, ...]  # the stage's rules that ask for approvals


def check_own_ref(  # noqa: PLR0911 (one return per way the ref is wrong)
    ref: str, arrival: Arrival, deleted: bool, moved: bool, approval_problem: str | None
) -> Violation | None:
    """A request or an approval pushed: created by the person it names, for a promotion
    that asks for approvals and has not landed; an approval from someone who may approve
    and did not request it. Never moved, and deleted only as a request withdrawn by its
    requester. ``approval_problem``: what is wrong with an approval's own object."""
    own, who = arrival.own, arrival.pusher
    what = "request" if own.kind == "requests" else "approval"
    verb = "request" if what == "request" else "approve"
    if who is not None and own.person != who:
        return _own(
            ref,
            f"this {what} names {own.person}, and you push as {who}",
            f"push your own {what}: gtoguard {verb} ... --push",
        )
    if moved:
        return _own(
            ref,
            f"{'a request' if what == 'request' else 'an approval'} is never moved: it names "
            "one tag object for good",
            f"make a new {what} (gtoguard {verb})",
        )
    if deleted:
        if what == "request":
            return None  # withdrawn by its requester: its approvals count no more
        return _own(
            ref,
            "an approval is never deleted by a push; the server's cleanup (gtoguard "
            "approvals --prune) drops it once the promotion has landed, its request is "
            "withdrawn or it is past max_age",
            "leave it: an approval counts only for the object it names, and only while "
            "that object is requested (the requester may withdraw it)",
        )
    if arrival.promotion is None:
        return _own(
            ref,
            f"the {what} names object {short(own.oid)}, which is not an annotated "
            "GTO tag that assigns a stage",
            "gtoguard request NAME --version V --stage S --push",
        )
    stage = arrival.promotion.stage
    if not arrival.rules:
        return _own(
            ref,
            f"stage {stage} asks for no approvals",
            f"push the tag itself: gtoguard assign {arrival.promotion.artifact} --stage {stage} --push",
        )
    if arrival.landed:
        return _own(
            ref,
            f"{arrival.promotion.tag} has landed already: there is nothing to {verb}",
            f"see it: gtoguard show {arrival.promotion.artifact}",
        )
    if what == "request":
        if arrival.requesters and own.person not in arrival.requesters:
            return _own(
                ref,
                f"{arrival.promotion.tag} ({short(own.oid)}) is requested already, "
                f"by {', '.join(arrival.requesters)}",
                "approve that request instead",
            )
        return None
    if not arrival.requesters:
        return _own(
            ref,
            f"nobody requested {arrival.promotion.tag} ({short(own.oid)}); "
            "an approval counts only for a request",
            "ask the promoter to request it first",
        )
    if own.person in arrival.requesters:
        return _own(
            ref,
            f"{own.person} requested {arrival.promotion.tag}, and may not approve "
            "their own request",
            "ask a member of the approvers to approve it",
        )
    outside = [r for r in arrival.rules if r.approvals and own.person not in r.approvals.approvers]
    if outside:
        allowed = (
            ", ".join(outside[0].approvals.approvers_as_written) if outside[0].approvals else ""
        )
        return _own(
            ref,
            f"{own.person} may not approve stage {stage} (approvals.from: "
            f"{allowed}; {outside[0].source})",
            f"ask one of {allowed} to approve it",
        )
    if approval_problem is not None:
        return _own(ref, approval_problem, "make it with gtoguard approve ... --push")
    return None


def _own(ref: str, message: str, hint: str | None) -> Violation:
    return Violation(NOT_ALLOWED, ref, message, hint)
