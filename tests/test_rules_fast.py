"""Every rule id, in process: the fast layer under the end-to-end suite.

Each row gives the facts of one push (the tags, the registry before it, the policy) and
the rule ids ``evaluate`` must report, as errors and as warnings; for each rule a row
where it must not fire stands beside it. No git, no process: milliseconds a row.

The ids ``evaluate`` cannot produce come from the hook's git-facing layer; each is
produced here by the cheapest in-process call that makes it, and end to end by:

- ref-not-allowed: ``refchecks.refs_not_allowed``; end to end
  test_what_git_reads.py::test_a_push_writes_branches_and_tags_only
- ref-namespaced: ``refchecks.namespaced_refs``; end to end
  test_refs.py::test_refs_of_a_namespace_written_from_outside_it
- branch-deleted: ``configchecks.check_config_changes`` (a deletion needs no object); end to
  end test_refs.py::test_deleting_the_default_branch_is_declined
- push-too-large: ``failsafe.over_budget_violation`` of the budget's ``OverBudget``; end to
  end test_e2e_hooks.py::test_a_push_past_the_budget_is_declined_with_a_hint
- internal-error: ``report.failure_violations`` of a ``CannotRun``, and
  ``failsafe.busy_violation``; end to end test_e2e_hooks.py::test_internal_error_fails_closed
- config-invalid: ``files.validate_file`` and ``failure_violations`` of its
  ``ConfigInvalid``; end to end test_e2e_hooks.py::test_pre_receive_declines[config-invalid]

``test_the_fast_layer_covers_every_rule_id`` fails when a rule id has no row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest

from builders import (
    C1,
    C2,
    NOW,
    ZERO,
    Pushed,
    deleted,
    event,
    found,
    judge,
    lightweight,
    moved,
    new,
    oid,
    policy,
)
from gtoguard.model.refupdate import RefUpdate
from gtoguard.model.signatureblock import Verdict
from gtoguard.model.state import TagEvent
from gtoguard.policy.catalog import KEEPS_READERS_WORKING, RULE_IDS
from gtoguard.policy.context import Evidence, Facts
from gtoguard.policy.identity import Pusher
from gtoguard.policy.rules.approvals import Approval, Ballot
from gtoguard.policy.rules.violation import GitObject, Violation


class Row(NamedTuple):
    name: str
    pushed: list[Pushed]
    errors: set[str]
    warnings: frozenset[str] = frozenset()
    before: Sequence[TagEvent] = ()
    text: str = ""  # the repository's policy (.gtoguard.yaml)
    context: Mapping[str, Any] = MappingProxyType({})  # judge()'s other arguments: server,
    # gto, facts, now, arrived, deleted, freeze_at


SIG = "\n-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
V1 = [event("m@v1.0.0", NOW - 100, C1)]
V1_PROD = [*V1, event("m#prod", NOW - 90, C1)]
# v1.0.0 held prod, then v2.0.0 took staging and prod: putting v1.0.0 back is a rollback
ROLLED = [
    event("m@v1.0.0", NOW - 200, C1),
    event("m#staging", NOW - 190, C1),
    event("m#prod", NOW - 180, C1),
    event("m@v2.0.0", NOW - 170, C2),
    event("m#staging#1", NOW - 160, C2),
    event("m#prod#2", NOW - 150, C2),
]
BOB, ALICE = Pusher("bob", "GL_USERNAME"), Pusher("alice", "GL_USERNAME")
SIGNED = "stages:\n  prod: {signed: true}\n"
BOUND = "stages:\n  prod: {signed: repository}\n"
HOLIDAYS = "stages:\n  prod:\n    freeze:\n      - {from: '%s', until: '%s', reason: holidays}\n"


def verdict(ok: bool) -> Callable[[str, str], Verdict]:
    return lambda _oid, _block: Verdict(ok, "good signature" if ok else "no trusted key")


def reachable(ok: bool) -> Callable[[str, tuple[str, ...]], tuple[bool, list[str]]]:
    return lambda _commit, branches: (ok, list(branches))


def tree(files: Mapping[str, object]) -> Facts:
    """Facts whose promoted commit (any) holds ``files``: path -> its parsed document, or
    a str that is why it cannot be read (as the repository's reader says)."""

    def read(_commit: str, path: str, parse: bool) -> Evidence:
        if path not in files:
            return Evidence(False)
        held = files[path]
        if isinstance(held, str):
            return Evidence(True, None, held) if parse else Evidence(True)
        return Evidence(True, held if parse else None)

    return Facts(evidence=read)


def ballot(
    promoter: str,
    *approvals: tuple[str, str, int],
    requesters: tuple[str, ...] = ("alice",),
    registrar: str | None = "zed",
    log: bool = True,
) -> Facts:
    """Facts of a server where ``promoter`` pushes, the promoted object was requested by
    ``requesters`` and approved by (approver, "self" or another object's id, age in s);
    ``registrar``: who pushed m@v1.0.0 as the decision log says (None: it does not say);
    ``log``: the server keeps a decision log."""

    def read(promoted: str, _name: str) -> Ballot:
        given = tuple(
            Approval(who, promoted if what == "self" else what, NOW - age)
            for who, what, age in approvals
        )
        return Ballot(requesters, given)

    def registrars(_artifact: str, _commit: str) -> dict[str, str | None] | None:
        return {"m@v1.0.0": registrar} if log else None

    return Facts(pusher=Pusher(promoter, "REMOTE_USER"), ballots=read, registrars=registrars)


FOUR_EYES = "groups: {leads: [bob, carol, dave]}\nstages:\n  prod:\n    approvals: {count: 2, from: ['@leads'], max_age: 7d, not_by: [registrar]}\n"
OK2 = (("bob", "self", 60), ("carol", "self", 60))


CARD = "stages:\n  prod: {requires: {files: ['cards/{artifact}.md']}}\n"
BAR = "stages:\n  prod:\n    requires:\n      metrics:\n        - file: m.json\n          checks: {eval.acc: '>= 0.9', ms: '< 50'}\n"


# fmt: off
ROWS = [
    # --- the name ---
    Row("malformed", [new("m@1.0.0")], {"tag-malformed"}),
    Row("malformed-allowed", [new("m@1.0.0")], set(), text="tags: {malformed: allow}\n"),
    Row("well-formed", [new("m@v1.0.0")], set()),
    Row("reserved", [new("m@created")], {"tag-reserved"}),
    # --- the object ---
    Row("lightweight", [lightweight("m@v1.0.0")], {"tag-lightweight"}),
    Row("lightweight-allowed", [lightweight("m@v1.0.0")], set(), text="tags: {annotated: false}\n"),
    Row("on-a-tree", [new("m@v1.0.0", target_kind="tree")], {"tag-target"}),
    Row("object-missing", [(RefUpdate("refs/tags/m@v1.0.0", ZERO, oid("x")),
                            GitObject(oid("x"), "missing"))], {"tag-target"}),
    Row("too-large", [new("m@v1.0.0", size=70_000)], {"tag-too-large"}),
    Row("max-message", [new("m@v1.0.0", size=300)], {"tag-too-large"},
        text="tags: {max_message: 256}\n"),
    Row("within-max-message", [new("m@v1.0.0", size=256)], set(), text="tags: {max_message: 256}\n"),
    Row("unreadable", [new("m@v1.0.0", unreadable="the tagger line has no date")],
        {"tag-unreadable"}),
    Row("name-mismatch", [new("m#dev", name="m#prod")], {"tag-name-mismatch"}, before=V1),
    Row("plain-ref-gto-object", [(RefUpdate("refs/tags/release", ZERO, new("m#prod")[1].oid),
                                  new("m#prod")[1])], {"tag-name-mismatch"}),
    Row("plain-tag", [new("release", name="release")], set()),
    # --- tagger dates: tags.clock_skew, tags.max_age ---
    Row("future", [new("m@v1.0.0", at=NOW + 400)], {"tagger-time"}),
    Row("future-within-skew", [new("m@v1.0.0", at=NOW + 400)], set(),
        text="tags: {clock_skew: 600}\n"),
    Row("old", [new("m@v1.0.0", at=NOW - 400)], {"tagger-time"}),
    Row("old-within-max-age", [new("m@v1.0.0", at=NOW - 400)], set(), text="tags: {max_age: 600}\n"),
    Row("max-age-tighter", [new("m@v1.0.0", at=NOW - 100)], {"tagger-time"},
        text="tags: {max_age: 60}\n"),
    Row("back-dated", [new("m#dev", at=NOW - 500)], {"tagger-time"},
        before=[event("m@v1.0.0", NOW - 10, C1)], text="tags: {max_age: 1000}\n"),
    Row("no-tagger", [new("m@v1.0.0", time=None)], {"tagger-time"}),
    Row("audit-knows-no-arrival", [new("m@v1.0.0", at=NOW - 4000)], set(),
        context={"arrived": False}),
    # --- counters: tags.counter ---
    Row("counter-required", [new("m@v1.0.0")], {"counter-missing"}, text="tags: {counter: required}\n"),
    Row("counter-given", [new("m@v1.0.0#1")], set(), text="tags: {counter: required}\n"),
    Row("counter-low", [new("m#dev#3")], {"counter-not-increasing"},
        before=[event("m@v1.0.0#5", NOW - 100, C1)]),
    Row("counter-next", [new("m#dev#6")], set(), before=[event("m@v1.0.0#5", NOW - 100, C1)]),
    Row("counter-far", [new("m#dev#1000002")], {"counter-too-high"},
        before=[event("m@v1.0.0#1", NOW - 100, C1)]),
    Row("counter-step", [new("m#dev#1000001")], set(), before=[event("m@v1.0.0#1", NOW - 100, C1)]),
    # --- .gto's stages ---
    Row("stage-unknown", [new("m#prd")], {"stage-unknown"}, before=V1),
    Row("stage-in-gto", [new("m#prd")], set(), before=V1, context={"gto": "stages: [dev, prd]\n"}),
    Row("any-stage-without-gto-stages", [new("m#prd")], set(), before=V1, context={"gto": "{}\n"}),
    # --- the registry's history ---
    Row("version-exists", [new("m@v1.0.0", C2)], {"version-exists"}, before=V1),
    Row("version-new", [new("m@v1.1.0", C2)], set(), before=V1),
    Row("commit-has-version", [new("m@v2.0.0", C1)], {"commit-has-version"}, before=V1),
    Row("deregister-unknown", [new("m@v9.0.0!")], {"version-not-registered"}),
    Row("deregister", [new("m@v1.0.0!")], set(), before=V1),
    Row("unassign-unregistered", [new("m#prod!")], {"version-not-registered"}),
    Row("unassign-not-held", [new("m#prod!")], {"stage-not-active"}, before=V1),
    Row("unassign-held", [new("m#prod!")], set(), before=V1_PROD),
    Row("assign-deregistered", [new("m#prod")], {"version-deregistered"},
        before=[*V1, event("m@v1.0.0!", NOW - 90, C1)]),
    # --- versions.registration, versions.increasing ---
    Row("registration-required", [new("m#dev")], {"version-not-registered"},
        text="versions: {registration: required}\n"),
    Row("registration-given", [new("m#dev")], set(), before=V1,
        text="versions: {registration: required}\n"),
    Row("registration-optional", [new("m#dev")], set()),
    Row("increasing", [new("m@v0.9.0", C2)], {"version-not-increasing"}, before=V1,
        text="versions: {increasing: true}\n"),
    Row("increased", [new("m@v1.0.1", C2)], set(), before=V1, text="versions: {increasing: true}\n"),
    Row("increasing-off", [new("m@v0.9.0", C2)], set(), before=V1),
    # --- tags.delete, tags.move ---
    Row("delete", [deleted("m#prod")], {"tag-deleted"}, before=V1_PROD),
    Row("delete-allowed", [deleted("m#prod")], set(), before=V1_PROD, text="tags: {delete: allow}\n"),
    Row("move", [moved("m#prod", C1)], {"tag-moved"}, before=V1_PROD),
    Row("move-allowed", [moved("m#prod", C1)], set(), before=V1_PROD, text="tags: {move: allow}\n"),
    Row("recreated-elsewhere", [new("m#dev#9", C2)], {"tag-moved"}, before=V1,
        context={"deleted": {"m#dev#9": C1}}),
    Row("recreated-in-place", [new("m#dev#9", C1)], set(), before=V1,
        context={"deleted": {"m#dev#9": C1}}),
    # --- stages.<s>.from, rollback ---
    Row("from", [new("m#prod")], {"stage-order"}, before=V1,
        text="stages:\n  prod: {from: [staging]}\n"),
    Row("from-held", [new("m#prod")], set(), before=[*V1, event("m#staging", NOW - 90, C1)],
        text="stages:\n  prod: {from: [staging]}\n"),
    Row("rollback", [new("m#prod#3", C1)], set(), before=ROLLED,
        text="stages:\n  prod: {from: [staging]}\n"),
    Row("rollback-false", [new("m#prod#3", C1)], {"stage-order"}, before=ROLLED,
        text="stages:\n  prod: {from: [staging], rollback: false}\n"),
    # --- stages.<s>.soak ---
    Row("soak", [new("m#prod")], {"soak-too-short"}, before=[*V1, event("m#staging", NOW - 90, C1)],
        text="stages:\n  prod: {soak: {staging: 120}}\n"),
    Row("soaked", [new("m#prod")], set(), before=[*V1, event("m#staging", NOW - 90, C1)],
        text="stages:\n  prod: {soak: {staging: 1m}}\n"),
    Row("soak-not-in-stage", [new("m#prod")], {"soak-too-short"}, before=V1,
        text="stages:\n  prod: {soak: {staging: 1m}}\n"),
    Row("soak-moved-on", [new("m#prod", C1)], {"soak-too-short"},
        before=[*ROLLED[:2], *ROLLED[3:5]], text="stages:\n  prod: {soak: {staging: 1s}}\n"),
    # the review: pushed out of staging, then given it back by unassigning the other
    Row("soak-broken-by-another", [new("m#prod", C1)], {"soak-too-short"},
        before=[event("m@v1.0.0", NOW - 100000, C1), event("m@v2.0.0", NOW - 99990, C2),
                event("m#staging#1", NOW - 90000, C1), event("m#staging#2", NOW - 89990, C2),
                event("m#staging!#3", NOW - 10, C2)],
        text="stages:\n  prod: {soak: {staging: 24h}}\n"),
    Row("soak-unbroken", [new("m#prod", C1)], set(),
        before=[event("m@v1.0.0", NOW - 100000, C1), event("m@v2.0.0", NOW - 99990, C2),
                event("m#staging#1", NOW - 90000, C1), event("m#dev#2", NOW - 89990, C2)],
        text="stages:\n  prod: {soak: {staging: 24h}}\n"),
    # ... or by a deprecation, which a promotion ends
    Row("soak-broken-by-deprecation", [new("m#prod#3", C1)], {"soak-too-short"},
        before=[event("m@v1.0.0", NOW - 100000, C1), event("m#staging#1", NOW - 90000, C1),
                event("m@deprecated#2", NOW - 89940, C1)],
        text="stages:\n  prod: {soak: {staging: 24h}}\n"),
    Row("soak-rollback", [new("m#prod#3", C1)], set(), before=ROLLED,
        text="stages:\n  prod: {soak: {staging: 1w}}\n"),
    Row("soak-rollback-false", [new("m#prod#3", C1)], {"soak-too-short"}, before=ROLLED,
        text="stages:\n  prod: {soak: {staging: 1w}, rollback: false}\n"),
    Row("soak-at-arrival", [new("m#prod", at=NOW - 60)], set(),
        before=[*V1, event("m#staging", NOW - 90, C1)], text="stages:\n  prod: {soak: {staging: 80}}\n"),
    Row("soak-audit-by-tag-date", [new("m#prod", at=NOW - 60)], {"soak-too-short"},
        before=[*V1, event("m#staging", NOW - 90, C1)], text="stages:\n  prod: {soak: {staging: 80}}\n",
        context={"arrived": False}),
    # --- stages.<s>.requires ---
    Row("evidence-file", [new("m#prod")], {"evidence-missing"}, before=V1, text=CARD,
        context={"facts": tree({})}),
    Row("evidence-file-there", [new("m#prod")], set(), before=V1, text=CARD,
        context={"facts": tree({"cards/m.md": {}})}),
    Row("evidence-other-stage", [new("m#dev")], set(), before=V1, text=CARD, context={"facts": tree({})}),
    Row("metrics-missing", [new("m#prod")], {"evidence-missing"}, before=V1, text=BAR,
        context={"facts": tree({})}),
    Row("metrics-unreadable", [new("m#prod")], {"evidence-missing"}, before=V1, text=BAR,
        context={"facts": tree({"m.json": "YAML error at line 1"})}),
    Row("metric-key-missing", [new("m#prod")], {"evidence-missing"}, before=V1, text=BAR,
        context={"facts": tree({"m.json": {"eval": {}, "ms": 10}})}),
    Row("metric-failed", [new("m#prod")], {"metric-failed"}, before=V1, text=BAR,
        context={"facts": tree({"m.json": {"eval": {"acc": 0.89}, "ms": 10}})}),
    Row("metric-not-a-number", [new("m#prod")], {"metric-failed"}, before=V1, text=BAR,
        context={"facts": tree({"m.json": {"eval": {"acc": True}, "ms": 10}})}),
    Row("metric-strict-bound", [new("m#prod")], {"metric-failed"}, before=V1, text=BAR,
        context={"facts": tree({"m.json": {"eval": {"acc": 0.9}, "ms": 50}})}),
    Row("metric-infinite", [new("m#prod")], {"metric-failed"}, before=V1, text=BAR,
        context={"facts": tree({"m.json": {"eval": {"acc": float("inf")}, "ms": float("-inf")}})}),
    Row("metric-huge-int", [new("m#prod")], {"metric-failed"}, before=V1, text=BAR,
        context={"facts": tree({"m.json": {"eval": {"acc": 10**400}, "ms": 10**400}})}),
    Row("evidence-all-at-once", [new("m#prod")], {"evidence-missing", "metric-failed"}, before=V1,
        text=BAR.replace("    requires:\n", "    requires:\n      files: [card.md]\n"),
        context={"facts": tree({"m.json": {"eval": {"acc": 0.5}, "ms": 99}})}),
    Row("metrics-clear", [new("m#prod")], set(), before=V1, text=BAR,
        context={"facts": tree({"m.json": {"eval": {"acc": 0.9}, "ms": 49.5}})}),
    # --- stages.<s>.approvals ---
    Row("approvals-none", [new("m#prod")], {"approvals-missing"}, before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", requesters=())}),
    Row("approvals-enough", [new("m#prod")], set(), before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", *OK2, registrar="dave")}),
    Row("approvals-promoter", [new("m#prod")], {"approvals-missing"}, before=V1, text=FOUR_EYES,
        context={"facts": ballot("carol", *OK2)}),
    Row("approvals-requester", [new("m#prod")], {"approvals-missing"}, before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", *OK2, requesters=("bob",))}),
    Row("approvals-outsider", [new("m#prod")], {"approvals-missing"}, before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", ("bob", "self", 60), ("mallory", "self", 60))}),
    Row("approvals-other-object", [new("m#prod")], {"approvals-missing"}, before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", ("bob", "self", 60), ("carol", oid("other"), 60))}),
    Row("approvals-expired", [new("m#prod")], {"approvals-missing"}, before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", ("bob", "self", 60), ("carol", "self", 8 * 86400))}),
    Row("approvals-registrar", [new("m#prod")], {"approvals-missing"}, before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", *OK2, registrar="bob")}),
    Row("approvals-registrar-other", [new("m#prod")], set(), before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", *OK2, registrar="dave")}),
    Row("approvals-registrar-not-in-log", [new("m#prod")], {"approvals-missing"}, before=V1,
        text=FOUR_EYES, context={"facts": ballot("alice", *OK2, registrar=None)}),
    Row("approvals-registrar-no-log", [new("m#prod")], {"approvals-missing"}, before=V1,
        text=FOUR_EYES, context={"facts": ballot("alice", *OK2, log=False)}),
    Row("approvals-withdrawn", [new("m#prod")], {"approvals-missing"}, before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", *OK2, requesters=(), registrar="dave")}),
    Row("approvals-twice-counts-once", [new("m#prod")], {"approvals-missing"}, before=V1,
        text=FOUR_EYES, context={"facts": ballot("alice", ("bob", "self", 60), ("bob", "self", 30))}),
    Row("approvals-warn", [new("m#prod")], set(), {"approvals-missing"}, before=V1,
        text="mode: warn\n" + FOUR_EYES, context={"facts": ballot("alice")}),
    Row("approvals-other-stage", [new("m#dev")], set(), before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice", requesters=())}),
    Row("approvals-audit", [new("m#prod")], set(), before=V1, text=FOUR_EYES,
        context={"facts": ballot("alice"), "arrived": False}),
    # --- stages.<s>.branches ---
    Row("branches", [new("m#prod")], {"branch-not-allowed"}, before=V1,
        text="stages:\n  prod: {branches: [main]}\n", context={"facts": Facts(reachable=reachable(False))}),
    Row("branches-reached", [new("m#prod")], set(), before=V1,
        text="stages:\n  prod: {branches: [main]}\n", context={"facts": Facts(reachable=reachable(True))}),
    # --- stages.<s>.pushers (and groups) ---
    Row("pushers", [new("m#prod")], {"pusher-not-allowed"}, before=V1,
        text="stages:\n  prod: {pushers: [alice]}\n", context={"facts": Facts(pusher=BOB)}),
    Row("pushers-allowed", [new("m#prod")], set(), before=V1,
        text="stages:\n  prod: {pushers: [alice]}\n", context={"facts": Facts(pusher=ALICE)}),
    Row("group", [new("m#prod")], {"pusher-not-allowed"}, before=V1,
        text="groups: {release: [alice]}\nstages:\n  prod: {pushers: ['@release']}\n",
        context={"facts": Facts(pusher=BOB)}),
    Row("group-member", [new("m#prod")], set(), before=V1,
        text="groups: {release: [alice]}\nstages:\n  prod: {pushers: ['@release']}\n",
        context={"facts": Facts(pusher=ALICE)}),
    Row("pusher-other-stage", [new("m#dev")], set(), before=V1,
        text="stages:\n  prod: {pushers: [alice]}\n", context={"facts": Facts(pusher=BOB)}),
    Row("deregister-held-stage", [new("m@v1.0.0!")], {"pusher-not-allowed"}, before=V1_PROD,
        text="stages:\n  prod: {pushers: [alice]}\n", context={"facts": Facts(pusher=BOB)}),
    Row("no-identity", [new("m#prod")], {"identity-unknown"}, before=V1,
        text="stages:\n  prod: {pushers: [alice]}\n"),
    Row("no-identity-on-a-client", [new("m#prod")], set(), before=V1,  # unchecked: said, not counted
        text="stages:\n  prod: {pushers: [alice]}\n",
        context={"facts": Facts(identity_required=False)}),
    # --- stages.<s>.signed ---
    Row("unsigned", [new("m#prod", message="ship")], {"signature-required"}, before=V1, text=SIGNED),
    Row("bad-signature", [new("m#prod", message="ship" + SIG)], {"signature-invalid"},
        before=V1, text=SIGNED, context={"facts": Facts(verify=verdict(False))}),
    Row("good-signature", [new("m#prod", message="ship" + SIG)], set(), before=V1, text=SIGNED,
        context={"facts": Facts(verify=verdict(True))}),
    Row("signature-on-a-client", [new("m#prod", message="ship" + SIG)], set(), before=V1,
        text=SIGNED),  # no signers here: unchecked, the server verifies
    Row("signed-old", [new("m#prod", at=NOW - 100, message="ship" + SIG)], {"signature-invalid"},
        before=[event("m@v1.0.0", NOW - 200, C1)],
        text="tags: {clock_skew: 60, max_age: 600}\n" + SIGNED,
        context={"facts": Facts(verify=verdict(True))}),
    Row("bound-elsewhere", [new("m#prod", message="ship\n\nRepository: other" + SIG)],
        {"signature-invalid"}, before=V1, text=BOUND,
        context={"facts": Facts(verify=verdict(True), repository="models")}),
    Row("bound-here", [new("m#prod", message="ship\n\nRepository: models" + SIG)], set(),
        before=V1, text=BOUND, context={"facts": Facts(verify=verdict(True), repository="models")}),
    # --- stages.<s>.message ---
    Row("message", [new("m#prod", message="ship it")], {"message-mismatch"}, before=V1,
        text="stages:\n  prod: {message: 'CHANGE-[0-9]+'}\n"),
    Row("message-matches", [new("m#prod", message="ship CHANGE-12")], set(), before=V1,
        text="stages:\n  prod: {message: 'CHANGE-[0-9]+'}\n"),
    # --- stages.<s>.freeze (judged at the push's arrival, freeze_at) ---
    Row("frozen", [new("m#prod")], {"stage-frozen"}, before=V1,
        text=HOLIDAYS % ("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"),
        context={"freeze_at": NOW}),
    Row("thawed", [new("m#prod")], set(), before=V1,
        text=HOLIDAYS % ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        context={"freeze_at": NOW}),
    Row("frozen-but-not-judged", [new("m#prod")], set(), before=V1,
        text=HOLIDAYS % ("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z")),
    # --- mode: warn (each policy's mode covers its own rules) ---
    Row("warn", [new("m#prod", message="ship")], set(), {"message-mismatch"}, before=V1,
        text="mode: warn\nstages:\n  prod: {message: X}\n"),
    Row("server-warns-repo-enforces", [new("m#prod", message="ship")], {"message-mismatch"},
        before=V1, text="stages:\n  prod: {message: X}\n", context={"server": "mode: warn\n"}),
    Row("server-warns-its-own", [new("m#prod", message="ship")], set(), {"message-mismatch"},
        before=V1, context={"server": "mode: warn\nstages:\n  prod: {message: X}\n"}),
    Row("warn-keeps-readers-working", [new("m@v1.0.0", C2)], {"version-exists"}, before=V1,
        text="mode: warn\n"),
]
# fmt: on


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_each_rule_fires_exactly_where_it_should(row: Row) -> None:
    outcome = judge(row.pushed, row.before, row.text, **row.context)
    assert found(outcome) == (row.errors, row.warnings), outcome.violations
    assert outcome.ok is not row.errors


WARNABLE = [
    row for row in ROWS if row.errors and "mode" not in row.text and "server" not in row.context
]


@pytest.mark.parametrize("row", WARNABLE, ids=[row.name for row in WARNABLE])
def test_warn_mode_turns_every_error_into_a_warning_but_what_breaks_readers(row: Row) -> None:
    """``mode: warn`` makes each rule a warning, but the rules of KEEPS_READERS_WORKING:
    what they find would make every gto reader fail once it landed."""
    outcome = judge(row.pushed, row.before, "mode: warn\n" + row.text, **row.context)
    kept = row.errors & KEEPS_READERS_WORKING
    assert found(outcome) == (kept, row.errors - kept), outcome.violations


def test_every_rule_that_keeps_readers_working_stays_an_error_in_warn_mode() -> None:
    produced = set().union(*(row.errors for row in WARNABLE))
    # config-invalid is never evaluate's: the hook declines a config it cannot read
    assert KEEPS_READERS_WORKING - produced == {"config-invalid"}


# --- the ids of the hook's git-facing layer, by their cheapest in-process producers ------


class NoGit:
    """A repository that must not be asked anything: a deletion is judged without it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the repository was asked for {name}")


def _refs_not_allowed(
    ref: str, allow: tuple[str, ...] = (), server: bool = True
) -> list[Violation]:
    from gtoguard.registry.refchecks import refs_not_allowed

    return refs_not_allowed([RefUpdate(ref, ZERO, oid(ref))], allow, server)


def _namespaced(ref: str) -> list[Violation]:
    from gtoguard.registry.refchecks import namespaced_refs

    return namespaced_refs([RefUpdate(ref, ZERO, oid(ref))], "")


def _branch_deleted(deleting: bool) -> list[Violation]:
    from gtoguard.registry.configchecks import check_config_changes

    update = RefUpdate("refs/heads/main", oid("main"), ZERO if deleting else oid("main2"))
    return check_config_changes(NoGit(), [(update, ".gto")] if deleting else [])  # type: ignore[arg-type]


def _over_budget(over: bool) -> list[Violation]:
    from gtoguard.policy import timebudget
    from gtoguard.server.failsafe import over_budget_violation

    timebudget.start(0.0 if over else 3600.0)
    try:
        timebudget.spend("checking the pushed tags")
    except timebudget.OverBudget as exc:
        return [over_budget_violation(exc)]
    finally:
        timebudget.stop()
    return []


def _cannot_run() -> list[Violation]:
    from gtoguard.errors import CannotRun
    from gtoguard.policy.report import failure_violations

    return failure_violations(
        CannotRun("pygit2 is missing", "install gtoguard again"), "pre-receive"
    )


def _busy() -> list[Violation]:
    from gtoguard.server.failsafe import busy_violation
    from gtoguard.server.lock import Busy

    return [busy_violation(Busy(None, 30.0), "pre-receive")]


def _own(
    kind: str,
    person: str,
    pusher: str,
    *,
    requesters: tuple[str, ...] = ("alice",),
    deleted: bool = False,
    moved: bool = False,
    landed: bool = False,
    problem: str | None = None,
    stage: str = "prod",
) -> list[Violation]:
    """A request or an approval of ``m#<stage>#1`` pushed under refs/gtoguard/ by ``pusher``."""
    from gtoguard.model.approvalrefs import OwnRef
    from gtoguard.model.tagname import parse_tag
    from gtoguard.policy.rules.approvals import Arrival, check_own_ref

    rules = tuple(r for r in policy(FOUR_EYES).rules_for(stage) if r.approvals)
    promoted = oid("promotion")
    arrival = Arrival(
        OwnRef(kind, promoted, person), pusher, parse_tag(f"m#{stage}#1"), requesters, landed, rules
    )
    ref = f"refs/gtoguard/{kind}/{promoted}/{person}"
    found = check_own_ref(ref, arrival, deleted, moved, problem)
    return [found] if found else []


def _config(text: str, file: str = ".gto") -> list[Violation]:
    from gtoguard.config.files import ConfigInvalid, validate_file
    from gtoguard.policy.report import failure_violations

    problems = validate_file(text.encode(), file)
    return failure_violations(ConfigInvalid(problems), "pre-receive") if problems else []


# fmt: off
GIT_FACING: list[tuple[str, Callable[[], list[Violation]], set[str], set[str]]] = [
    ("approval", lambda: _own("approvals", "bob", "bob"), set(), set()),
    ("approval-by-requester", lambda: _own("approvals", "alice", "alice"), {"approver-not-allowed"}, set()),
    ("approval-forged", lambda: _own("approvals", "bob", "carol"), {"approver-not-allowed"}, set()),
    ("approval-outsider", lambda: _own("approvals", "mallory", "mallory"), {"approver-not-allowed"}, set()),
    ("approval-deleted", lambda: _own("approvals", "bob", "bob", deleted=True), {"approver-not-allowed"}, set()),
    ("approval-moved", lambda: _own("approvals", "bob", "bob", moved=True), {"approver-not-allowed"}, set()),
    ("approval-undated", lambda: _own("approvals", "bob", "bob", problem="not dated now"),
     {"approver-not-allowed"}, set()),
    ("approval-landed", lambda: _own("approvals", "bob", "bob", landed=True), {"approver-not-allowed"}, set()),
    ("approval-unrequested", lambda: _own("approvals", "bob", "bob", requesters=()), {"approver-not-allowed"}, set()),
    ("request", lambda: _own("requests", "alice", "alice", requesters=()), set(), set()),
    ("request-withdrawn", lambda: _own("requests", "alice", "alice", deleted=True), set(), set()),
    ("request-twice", lambda: _own("requests", "bob", "bob"), {"approver-not-allowed"}, set()),
    ("request-no-approvals", lambda: _own("requests", "alice", "alice", requesters=(), stage="dev"),
     {"approver-not-allowed"}, set()),
    ("replace-ref", lambda: _refs_not_allowed("refs/replace/" + C1), {"ref-not-allowed"}, set()),
    ("notes-ref", lambda: _refs_not_allowed("refs/notes/commits"), {"ref-not-allowed"}, set()),
    ("notes-ref-allowed", lambda: _refs_not_allowed("refs/notes/commits", ("refs/notes/*",)),
     set(), set()),
    ("notes-ref-on-a-client", lambda: _refs_not_allowed("refs/notes/commits", server=False),
     set(), {"ref-not-allowed"}),
    ("a-branch", lambda: _refs_not_allowed("refs/heads/main"), set(), set()),
    ("namespaced", lambda: _namespaced("refs/namespaces/a/refs/tags/m#prod"), {"ref-namespaced"},
     set()),
    ("not-namespaced", lambda: _namespaced("refs/tags/m#prod"), set(), set()),
    ("default-branch-deleted", lambda: _branch_deleted(True), {"branch-deleted"}, set()),
    ("default-branch-unchanged", lambda: _branch_deleted(False), set(), set()),
    ("over-budget", lambda: _over_budget(True), {"push-too-large"}, set()),
    ("within-budget", lambda: _over_budget(False), set(), set()),
    ("cannot-run", _cannot_run, {"internal-error"}, set()),
    ("busy", _busy, {"internal-error"}, set()),
    ("gto-invalid", lambda: _config("stages: ['no spaces']\n"), {"config-invalid"}, set()),
    ("policy-invalid", lambda: _config("tags: {move: maybe}\n", ".gtoguard.yaml"),
     {"config-invalid"}, set()),
    ("gto-valid", lambda: _config("stages: [dev, prod]\n"), set(), set()),
]
# fmt: on


@pytest.mark.parametrize(("produce", "errors", "warnings"), [case[1:] for case in GIT_FACING],
                         ids=[case[0] for case in GIT_FACING])  # fmt: skip
def test_the_git_facing_rules_fire_exactly_where_they_should(
    produce: Callable[[], list[Violation]], errors: set[str], warnings: set[str]
) -> None:
    violations = produce()
    assert {v.rule for v in violations if v.severity == "error"} == errors, violations
    assert {v.rule for v in violations if v.severity == "warning"} == warnings, violations
    assert all(v.message and v.hint for v in violations), violations


def test_the_fast_layer_covers_every_rule_id() -> None:
    """A new rule id without a row here fails this test."""
    covered = set().union(
        *(row.errors | row.warnings for row in ROWS), *(case[2] | case[3] for case in GIT_FACING)
    )
    assert covered == RULE_IDS, (sorted(RULE_IDS - covered), sorted(covered - RULE_IDS))


def test_what_passes_is_said_for_the_page_pre_check() -> None:
    """Soak, evidence and approvals that pass say so (``Outcome.passed``): the page's
    Promote dialog shows "staging held for 1 d 1 h of 1 d" beside the verdict."""
    text = BAR + "    soak: {staging: 24h}\n    approvals: {count: 1, from: [bob]}\n"
    before = [*V1, event("m#staging", NOW - 25 * 3600, C1)]
    facts = tree({"m.json": {"eval": {"acc": 0.93}, "ms": 12}})._replace(
        pusher=Pusher("alice", "REMOTE_USER"), ballots=ballot("alice", ("bob", "self", 60)).ballots
    )
    outcome = judge([new("m#prod")], before, text, facts=facts)
    assert found(outcome) == (set(), set()), outcome
    assert outcome.passed == [
        "staging held for 1 d 1 h of 1 d",
        "m.json: eval.acc 0.93 >= 0.9",
        "m.json: ms 12 < 50",
        "approved by bob",
    ]
    failing = judge(
        [new("m#prod")], [*before[:1], event("m#staging", NOW - 3600, C1)], text, facts=facts
    )
    assert "soak-too-short" in found(failing)[0]
    assert not any(line.startswith("staging held") for line in failing.passed)
