"""Registry state with GTO's semantics (docs/gto-format.md §5), and the pure check over it."""

from __future__ import annotations

import pytest

from gtoguard.model.refupdate import RefUpdate
from gtoguard.model.state import ArtifactState, Registry, TagEvent, build_registry
from gtoguard.model.tagname import parse_tag
from gtoguard.policy.context import Context
from gtoguard.policy.evaluate import evaluate
from gtoguard.policy.rules.violation import GitObject
from gtoguard.policy.settings import GtoConfig, Policy

C1, C2 = "1" * 40, "2" * 40


def ev(name: str, time: int, commit: str = C1) -> TagEvent:
    return TagEvent(name, parse_tag(name), time, commit)


def state(*events: TagEvent) -> ArtifactState:
    return build_registry(events).artifact(events[0].name.artifact)


@pytest.mark.parametrize(
    ("events", "active"),
    [
        ([ev("m@v1.0.0", 10)], True),
        ([ev("m@v1.0.0", 10), ev("m@v1.0.0!", 20)], False),
        ([ev("m@v1.0.0", 10), ev("m@v1.0.0!", 10)], False),  # same second: deregistration wins
        ([ev("m@v1.0.0!", 5), ev("m@v1.0.0#2", 10)], True),
    ],
)
def test_version_activity(events: list[TagEvent], active: bool) -> None:
    (record,) = state(*events).versions().values()
    assert record.active is active


@pytest.mark.parametrize(
    ("events", "active"),
    [
        ([ev("m#prod", 10)], True),
        ([ev("m#prod", 10), ev("m#prod!#1", 20)], False),
        ([ev("m#prod", 10), ev("m#prod!#1", 10)], False),  # same second: unassignment wins
        ([ev("m#prod", 10), ev("m#prod!#1", 20), ev("m#prod#2", 30)], True),
        ([ev("m#prod", 10, C2)], False),  # another commit's version
        ([ev("m#prod", 10), ev("m#prod!#1", 20), ev("m@v1.0.0!", 30)], False),  # deregistered
    ],
)
def test_stage_activity(events: list[TagEvent], active: bool) -> None:
    assert state(ev("m@v1.0.0", 1), *events).stage_active(C1, "prod") is active


def test_an_unregistered_commit_keeps_its_stage_for_gto_readers() -> None:
    # gto files each stage tag of an unregistered commit under its own hexsha version,
    # so the unassignment never cancels the assignment (observed with gto 1.10.1)
    assert state(ev("m#prod", 10), ev("m#prod!#1", 20)).stage_active(C1, "prod") is True
    assert state(ev("m#prod!#1", 20)).stage_active(C1, "prod") is False


def test_stage_binds_to_the_version_registered_later() -> None:
    artifact = state(ev("m#prod", 10), ev("m@v1.0.0", 20))
    assert artifact.version_label(C1) == "v1.0.0"
    assert state(ev("m#prod", 10)).version_label(C1) == C1  # gto's hexsha version


@pytest.mark.parametrize(
    ("events", "commit_times", "deprecated"),
    [
        ([ev("m@v1.0.0", 10), ev("m@deprecated", 20)], [], True),
        ([ev("m@v1.0.0", 20), ev("m@deprecated", 20)], [], False),  # tie: the other event wins
        ([ev("m@deprecated", 20), ev("m@v1.0.1", 30, C2)], [], False),  # re-activated
        ([ev("m@v1.0.0", 10), ev("m@deprecated", 20)], [25], False),  # a newer commit date
    ],
)
def test_deprecation(events: list[TagEvent], commit_times: list[int], deprecated: bool) -> None:
    assert state(*events).deprecated(commit_times) is deprecated


def test_counters_and_version_names() -> None:
    artifact = state(ev("m@v1.0.0#3", 10), ev("m@v1.0.0!#5", 20), ev("m#dev#4", 15))
    assert artifact.max_counter == 5
    assert artifact.version_names() == {"v1.0.0"}


# --- the pure check ----------------------------------------------------------------------


def obj(oid: str, time: int, commit: str = C1) -> GitObject:
    return GitObject(oid, "tag", commit, "commit", time)


def run(
    pushed: list[tuple[str, int]],
    existing: list[TagEvent] = (),
    now: int = 1000,  # type: ignore[assignment]
    stages: tuple[str, ...] | None = ("dev", "prod"),
    audit: bool = False,
) -> list[str]:
    """The rules ``pushed`` breaks, arriving at ``now`` onto ``existing`` as a hook judges
    them (``audit``: as ``check --all`` replays them, knowing no arrival)."""
    from gtoguard.config.files import tag_checker
    from gtoguard.policy.settings import MAX_AGE_OFF, TagRules

    registry = build_registry(existing) if existing else Registry()
    updates = [
        RefUpdate(f"refs/tags/{n}", "0" * 40, f"{i + 1:040x}") for i, (n, _) in enumerate(pushed)
    ]
    objects = {u.new: obj(u.new, t) for u, (_, t) in zip(updates, pushed, strict=True)}
    config = GtoConfig(stages=stages)
    policy = Policy(tags=TagRules(max_age=MAX_AGE_OFF))  # the times here are old
    ctx = Context(
        config, policy, tag_checker(config, policy), now, arrived=not audit, fresh=not audit
    )
    return [v.rule for v in evaluate(updates, objects, registry, ctx).violations]


def severities(pushed: list[tuple[str, int]], now: int = 1000) -> list[tuple[str, str, str]]:
    """(tag, rule, severity) of what an audit replaying ``pushed`` flags."""
    from gtoguard.config.files import tag_checker

    updates = [
        RefUpdate(f"refs/tags/{n}", "0" * 40, f"{i + 1:040x}") for i, (n, _) in enumerate(pushed)
    ]
    objects = {u.new: obj(u.new, t) for u, (_, t) in zip(updates, pushed, strict=True)}
    config = GtoConfig(stages=("dev", "prod"))
    ctx = Context(config, Policy(), tag_checker(config, Policy()), now)
    found = evaluate(updates, objects, Registry(), ctx).violations
    return [(v.ref.removeprefix("refs/tags/"), v.rule, v.severity) for v in found]


@pytest.mark.parametrize(
    ("tags", "flagged"),
    [
        # counters and dates agree: nothing
        ([("m@v1.0.0#1", 10), ("m#dev#2", 20)], []),
        # #3 dated 5 s before #2: one of the two arrived out of order, and counters and
        # dates are both the pusher's to write: a warning, naming both, never an error
        (
            [("m@v1.0.0#1", 10), ("m#prod#2", 500), ("m#dev#3", 495)],
            [("m#prod#2", "counter-not-increasing", "warning")],
        ),
        (
            [("m@v1.0.0#1", 10), ("m#prod#2", 900), ("m#dev#3", 250)],
            [("m#prod#2", "counter-not-increasing", "warning")],
        ),
        # one low counter dated late condemns nothing before it
        (
            [("m@v1.0.0#1", 10), ("m#dev#2", 20), ("m#prod#3", 30), ("m#dev#0", 900)],
            [("m#dev#0", "counter-not-increasing", "warning")],
        ),
        # the same counter twice: the later one repeats it (its own fault)
        (
            [("m@v1.0.0#1", 10), ("m#dev#2", 20), ("m#prod#2", 30)],
            [("m#prod#2", "counter-not-increasing", "error")],
        ),
    ],
)
def test_an_audit_reads_counters_as_evidence_of_order(
    tags: list[tuple[str, int]], flagged: list[tuple[str, str, str]]
) -> None:
    assert severities(tags) == flagged


def test_push_order_is_tagger_time_not_push_order() -> None:
    registered = [ev("m@v1.0.0", 5)]
    # the unassign is listed first but is later in time than the assign: accepted
    assert run([("m#prod!#2", 20), ("m#prod#1", 10)], registered) == []
    # time order and counter order disagree: both are reported
    assert run([("m#prod!#2", 10), ("m#prod#1", 20)], registered) == [
        "stage-not-active",
        "counter-not-increasing",
    ]


def test_each_rule_in_the_pure_check() -> None:
    existing = [ev("m@v1.0.0#4", 900)]
    assert run([("m#prd", 950)], existing) == ["stage-unknown"]
    assert run([("m#dev#2", 950)], existing) == ["counter-not-increasing"]
    assert run([("m@v1.1.0#5", 950)], existing) == ["commit-has-version"]
    assert run([("m@v1.0.0!#5", 950)], existing) == []
    assert run([("m@v2.0.0!#5", 950)], existing) == ["version-not-registered"]
    assert run([("m#dev#5", 500)], existing) == ["tagger-time"]  # behind the latest event
    assert run([("m#dev#5", 5000)], existing) == ["tagger-time"]  # in the future
    assert run([("m#dev#5", 950)], existing, stages=None) == []
    assert run([("m#dev#5", 950)], existing, stages=()) == ["stage-unknown"]
    assert run([("m#dev#5", 950), ("m#dev!#6", 960)]) == ["version-not-registered"]


def test_message_rule_strips_the_signature_block() -> None:
    from gtoguard.model.signatureblock import split_signature
    from gtoguard.model.tagname import parse_tag
    from gtoguard.policy.rules.messages import check_message
    from gtoguard.policy.settings import StageRules

    signed = "CHANGE-7\n-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
    assert split_signature(signed) == ("CHANGE-7", signed.split("\n", 1)[1])
    rules = StageRules("prod", ".gtoguard.yaml", message="^CHANGE-[0-9]+$")
    tag = parse_tag("m#prod#1")
    assert check_message("refs/tags/m#prod#1", tag, signed, rules) is None
    found = check_message("refs/tags/m#prod#1", tag, "promote\n" + signed.split("\n", 1)[1], rules)
    assert found is not None and found.rule == "message-mismatch"
    assert "SIGNATURE" not in found.message  # the block is not quoted back
