"""The page's four eyes: a promotion requested, a pending request approved, and a
promotion that needs approvals pushed as the approved request's own object (the helper's
``request``, ``approve`` and ``assign``, docs/policy.md "Approvals")."""

from __future__ import annotations

from collections.abc import Mapping

from gtoguard.git.repo import open_repo
from gtoguard.policy.report import violation_json
from gtoguard.registry import planning
from gtoguard.registry.planning import Request
from gtoguard.ui.answers import Answer, Invalid, text
from gtoguard.ui.site import Site


def approved_object(form: Mapping[str, str]) -> str:
    value = text(form, "object", "Request")
    if len(value) not in (40, 64) or any(c not in "0123456789abcdef" for c in value):
        raise Invalid(
            f"Request {value[:70]!r} is not an object id", "approve from the Pending list"
        )
    return value


def _me(site: Site) -> str:
    from gtoguard.registry.asking import whoami

    return whoami(open_repo(site.path), None)


def _no_remote(site: Site) -> Answer | None:
    if site.remote is not None:
        return None
    return Answer(
        409,
        "invalid",
        "requests and approvals live on the server, and this repository has no remote",
        "run gtoguard ui in a clone of the server's repository",
    )


def ask(site: Site, request: Request) -> Answer:
    """Keep the promotion aside as a request and push it (``gtoguard request --push``)."""
    from gtoguard.registry.asking import request_promotion

    refused = _no_remote(site)
    if refused is not None or site.remote is None:
        return refused or Answer(409, "invalid", "no remote")
    repo, _ = site.open()
    made = request_promotion(repo, request, site.remote, _me(site), False, True)
    violations = [violation_json(v) for v in made.plan.outcome.violations]
    names = [new.name for new in made.plan.tags]
    if made.oid is None:
        return Answer(
            422,
            "refused",
            "the promotion itself would be declined; nothing was requested",
            None,
            violations,
            names,
            [],
            made.plan.notes,
        )
    if not made.pushed:
        return Answer(
            409,
            "declined",
            f"{site.remote} declined the request",
            None,
            violations,
            names,
            made.lines,
            made.plan.notes,
        )
    return Answer(
        201,
        "accepted",
        f"requested {names[0]} (object {made.oid[:12]}): approvers "
        "approve it from the Pending list",
        None,
        violations,
        names,
        made.lines,
        made.plan.notes,
        passed=made.plan.outcome.passed,
    )


def approve(site: Site, oid: str) -> Answer:
    """Approve the pending request of object ``oid`` and push the approval."""
    from gtoguard.registry.asking import fetch_own, give_approval, pending

    refused = _no_remote(site)
    if refused is not None or site.remote is None:
        return refused or Answer(409, "invalid", "no remote")
    repo, _ = site.open()
    found = [i for i in pending(repo, fetch_own(repo, site.remote)) if i.oid == oid]
    if not found:
        return Answer(404, "invalid", f"no pending request {oid[:12]}", "reload the page")
    ok, lines = give_approval(repo, found[0], _me(site), False, None, site.remote)
    if not ok:
        return Answer(
            409,
            "declined",
            f"{site.remote} declined the approval",
            None,
            [],
            [found[0].name],
            lines,
        )
    return Answer(
        201,
        "accepted",
        f"approved {found[0].name} and pushed the approval to {site.remote}",
        None,
        [],
        [found[0].name],
        lines,
    )


def promote_requested(site: Site, found: planning.Plan, checking: bool) -> Answer | None:
    """Promote to a stage with approvals: the pending request of the same commit and
    stage is judged and pushed, never a new tag; None when there is none."""
    from gtoguard.registry.asking import judge_requested, land_requested, matching_request

    if site.remote is None:
        return None
    repo, _ = site.open()
    item = matching_request(repo, site.remote, found.tags[-1])
    if item is None:
        return None
    result = judge_requested(repo, item, site.remote)
    outcome = result.outcome
    violations = [violation_json(v) for v in outcome.violations]
    notes = [f"the request {item.name} ({item.oid[:12]}) is what goes", *result.notes]
    if checking or not outcome.ok:
        verdict = "accepted" if outcome.ok else "declined"
        status, kind = (200, "checked") if checking else (422, "refused")
        said = f"{item.name} would be {verdict}" + (
            "; nothing was written (a check)" if checking else ""
        )
        return Answer(
            status,
            kind,
            said,
            None,
            violations,
            [item.name],
            [],
            notes,
            verdict if checking else None,
            outcome.passed,
        )
    ok, lines, reason = land_requested(repo, item, site.remote)
    if ok:
        return Answer(
            201,
            "accepted",
            f"pushed {item.name}, the approved request, to {site.remote}",
            None,
            violations,
            [item.name],
            lines,
            notes,
            passed=outcome.passed,
        )
    return Answer(
        409,
        "declined",
        f"{site.remote} declined the push ({reason})",
        "fix what the server says below and try again",
        violations,
        [item.name],
        lines,
        notes,
    )
