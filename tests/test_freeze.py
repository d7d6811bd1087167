"""Freeze windows (``stages.<name>.freeze``, rule ``stage-frozen``), through real pushes
into a bare server with the installed hook. The moment a window is judged at is the
server's clock; the tests set it with ``GTOGUARD_NOW`` (test only), which reaches the
hook because a local push runs receive-pack as the client's child."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gtoguard.policy.freeze import open_window
from gtoguard.policy.settings import Freeze

from conftest import World, git, gtoguard

HOLIDAYS = """stages:
  prod:
    freeze:
      - {from: "2026-12-20T00:00:00+01:00", until: "2027-01-04T08:00:00+01:00", reason: holidays}
"""
WEEKEND = """stages:
  prod:
    freeze:
      - {start: "0 16 * * 5", end: "0 8 * * 1", timezone: Europe/Berlin, reason: weekend}
"""
CHRISTMAS = "2026-12-24T12:00:00+01:00"
SPRING = "2027-02-01T12:00:00+01:00"


def at(moment: str) -> dict[str, str]:
    return {"GTOGUARD_NOW": moment}


def test_an_absolute_window_declines_a_promotion_and_says_until_when(world: World) -> None:
    world.set_policy(HOLIDAYS)
    world.landed()
    world.tag("churn#prod#1")
    before = world.server_snapshot()
    pushed = world.push_tags("churn#prod#1", env=at(CHRISTMAS))
    assert not pushed.ok and pushed.rules() == {"stage-frozen"}, pushed.output
    assert "stage prod is frozen until 2027-01-04 08:00 +01:00 (holidays; " in pushed.output
    assert "hint: push it again after 2027-01-04 08:00 +01:00" in pushed.output
    assert "GTOGUARD_NOW" in pushed.output  # the test clock is never silent
    assert world.server_snapshot() == before
    # the window's end is open: at 'until' the stage thaws
    thawed = world.push_tags("churn#prod#1", env=at("2027-01-04T08:00:00+01:00"))
    assert thawed.ok, thawed.output


def test_the_window_binds_its_stage_only(world: World) -> None:
    world.set_policy(HOLIDAYS)
    world.tag("churn@v1.0.0")
    world.tag("churn#dev#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#dev#1", env=at(CHRISTMAS))
    assert pushed.ok, pushed.output


# (moment, frozen): Friday 16:00 to Monday 08:00 in Berlin, in wall time, on both sides
# of a change of daylight saving time; an offset fixed at the start (or end) of the
# window would be an hour off at the other end
DST_CASES = [
    ("2026-10-23T13:59:00Z", False),  # Fri 15:59 CEST
    ("2026-10-23T14:00:00Z", True),  # Fri 16:00 CEST
    ("2026-10-26T06:59:00Z", True),  # Mon 07:59 CET (clocks went back on Sunday)
    ("2026-10-26T07:00:00Z", False),  # Mon 08:00 CET
    ("2027-03-26T14:59:00Z", False),  # Fri 15:59 CET
    ("2027-03-26T15:00:00Z", True),  # Fri 16:00 CET
    ("2027-03-29T05:59:00Z", True),  # Mon 07:59 CEST (clocks went forward on Sunday)
    ("2027-03-29T06:00:00Z", False),  # Mon 08:00 CEST
]


def test_a_weekly_cron_window_across_daylight_saving_time(world: World) -> None:
    world.set_policy(WEEKEND)
    world.landed()
    said = {}
    for counter, (moment, frozen) in enumerate(DST_CASES, start=1):
        name = f"churn#prod#{counter}"
        world.tag(name)
        pushed = world.push_tags(name, env=at(moment))
        assert pushed.ok is not frozen, (moment, pushed.output)
        if frozen:
            assert pushed.rules() == {"stage-frozen"}, pushed.output
            git("tag", "-d", name, cwd=world.clone)
        said[moment] = pushed.output
    assert (
        "frozen until 2026-10-26 08:00 CET (Europe/Berlin, +01:00) (weekend;"
        in said["2026-10-26T06:59:00Z"]
    )
    assert (
        "frozen until 2027-03-29 08:00 CEST (Europe/Berlin, +02:00) (weekend;"
        in said["2027-03-29T05:59:00Z"]
    )


@pytest.mark.parametrize(("moment", "frozen"), DST_CASES)
def test_window_arithmetic_across_daylight_saving_time(moment: str, frozen: bool) -> None:
    window = Freeze("weekend", "0 16 * * 5", "0 8 * * 1", "Europe/Berlin")
    from datetime import datetime

    now = int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())
    assert (open_window(window, now) is not None) is frozen


# The night of 2026-10-25 in Berlin: at 03:00 CEST the clocks go back to 02:00 CET, so
# every time from 02:00 to 02:59 happens twice (fold=0 in CEST, then fold=1 in CET). A
# window opens at the first moment the wall clock reads its start and closes at the last
# moment it reads its end: both 02:10s are 02:10, and 02:30 is the second one.
NIGHTLY = Freeze("nightly", "0 2 * * *", "30 2 * * *", "Europe/Berlin")
AUTUMN_CASES = [
    ("2026-10-24T23:59:00Z", NIGHTLY, None),  # 01:59 CEST
    ("2026-10-25T00:10:00Z", NIGHTLY, "2026-10-25T01:30:00Z"),  # 02:10 CEST (fold=0)
    ("2026-10-25T00:40:00Z", NIGHTLY, "2026-10-25T01:30:00Z"),  # 02:40 CEST: 02:30 is to come
    ("2026-10-25T01:10:00Z", NIGHTLY, "2026-10-25T01:30:00Z"),  # 02:10 CET (fold=1)
    ("2026-10-25T01:29:59Z", NIGHTLY, "2026-10-25T01:30:00Z"),  # 02:29:59 CET
    ("2026-10-25T01:30:00Z", NIGHTLY, None),  # 02:30 CET: thawed, the last 02:30
    # a start the wall clock read in the first pass (02:40 CEST) has opened in the second
    (
        "2026-10-25T01:10:00Z",
        Freeze("late", "40 2 * * *", "0 4 * * *", "Europe/Berlin"),
        "2026-10-25T03:00:00Z",
    ),
    ("2026-10-25T00:30:00Z", Freeze("late", "40 2 * * *", "0 4 * * *", "Europe/Berlin"), None),
    # not a fixed hour and minute (cronsim reads those in UTC steps): the same reading
    (
        "2026-10-25T01:10:00Z",
        Freeze("quarter", "*/15 2 * * *", "50 2 * * *", "Europe/Berlin"),
        "2026-10-25T01:50:00Z",
    ),
]
# The night of 2027-03-28: at 02:00 CET the clocks jump to 03:00 CEST (01:00 UTC); no wall
# clock reads 02:00 to 02:59. A start or an end in the gap takes effect at the jump, so a
# window wholly inside it is not held that night.
SPRING_CASES = [
    ("2027-03-28T00:59:00Z", NIGHTLY, None),  # 01:59 CET
    ("2027-03-28T01:00:00Z", NIGHTLY, None),  # 03:00 CEST: 02:00-02:30 never happened
    (
        "2027-03-28T00:59:00Z",
        Freeze("ends", "30 1 * * *", "30 2 * * *", "Europe/Berlin"),
        "2027-03-28T01:00:00Z",
    ),  # ends in the gap: at the jump
    ("2027-03-28T01:00:00Z", Freeze("ends", "30 1 * * *", "30 2 * * *", "Europe/Berlin"), None),
    ("2027-03-28T00:59:00Z", Freeze("starts", "30 2 * * *", "0 4 * * *", "Europe/Berlin"), None),
    (
        "2027-03-28T01:00:00Z",
        Freeze("starts", "30 2 * * *", "0 4 * * *", "Europe/Berlin"),
        "2027-03-28T02:00:00Z",
    ),  # starts in the gap: at the jump, 03:00 CEST
]


def _epoch(moment: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())


@pytest.mark.parametrize(("moment", "window", "until"), AUTUMN_CASES + SPRING_CASES)
def test_a_repeated_hour_is_frozen_twice_and_a_skipped_one_not_at_all(
    moment: str, window: Freeze, until: str | None
) -> None:
    span = open_window(window, _epoch(moment))
    assert (span[1].timestamp() if span else None) == (until and _epoch(until)), span
    if span is not None:
        assert span[0].timestamp() <= _epoch(moment) < span[1].timestamp()


def test_the_repeated_0210_is_frozen_through_the_hook(world: World) -> None:
    """02:10 CET on 2026-10-25, the second 02:10 of the night, as the server's clock."""
    world.set_policy(
        "stages:\n  prod:\n    freeze:\n      - {start: '0 2 * * *', "
        "end: '30 2 * * *', timezone: Europe/Berlin, reason: backups}\n"
    )
    world.landed()
    world.tag("churn#prod#1")
    before = world.server_snapshot()
    second = str(_epoch("2026-10-25T01:10:00Z"))  # fold=1
    pushed = world.push_tags("churn#prod#1", env={"GTOGUARD_NOW": second})
    assert not pushed.ok and pushed.rules() == {"stage-frozen"}, pushed.output
    assert "frozen until 2026-10-25 02:30 CET (Europe/Berlin, +01:00) (backups;" in pushed.output
    assert world.server_snapshot() == before
    first = str(_epoch("2026-10-25T00:10:00Z"))  # fold=0: frozen as before, to the same end
    pushed = world.push_tags("churn#prod#1", env={"GTOGUARD_NOW": first})
    assert not pushed.ok and "until 2026-10-25 02:30 CET" in pushed.output, pushed.output
    thawed = str(_epoch("2026-10-25T01:30:00Z"))  # 02:30 CET, the last 02:30: thawed
    assert world.push_tags("churn#prod#1", env={"GTOGUARD_NOW": thawed}).ok


def test_a_server_freeze_the_repository_cannot_lift(world: World) -> None:
    world.set_server_policy(HOLIDAYS)
    # the repository's own rules for prod, and warn mode: the server's freeze still holds
    world.set_policy("mode: warn\nstages:\n  prod: {}\n")
    world.landed()
    world.tag("churn#prod#1")
    pushed = world.push_tags("churn#prod#1", env=at(CHRISTMAS))
    assert not pushed.ok and pushed.rules() == {"stage-frozen"}, pushed.output
    assert "server-policy.yaml" in pushed.output  # the window's source is named
    # nor can a push bring a policy without the freeze along with its promotion
    world.commit("no freeze", {".gtoguard.yaml": "stages:\n  prod: {freeze: []}\n"})
    pushed = world.push("HEAD:main", "refs/tags/churn#prod#1", env=at(CHRISTMAS))
    assert not pushed.ok and "stage-frozen" in pushed.rules(), pushed.output
    assert world.push_tags("churn#prod#1", env=at(SPRING)).ok


def test_every_way_of_changing_a_frozen_stage_is_declined(world: World) -> None:
    world.set_policy(HOLIDAYS.replace("stages:", "tags:\n  delete: allow\n  move: allow\nstages:"))
    world.landed()
    world.tag("churn#prod#1")
    assert world.push_tags("churn#prod#1", env=at(SPRING)).ok
    world.tag("churn#prod!#2")  # unassign
    world.tag("churn@v1.0.0!#3")  # deregister the version that holds prod
    world.tag("churn@deprecated#4", when=int(time.time()) + 5)  # deprecate what holds it
    for name in ("churn#prod!#2", "churn@v1.0.0!#3", "churn@deprecated#4"):
        pushed = world.push_tags(name, env=at(CHRISTMAS))
        assert not pushed.ok and pushed.rules() == {"stage-frozen"}, (name, pushed.output)
    deleted = world.push(":refs/tags/churn#prod#1", env=at(CHRISTMAS))  # delete its tag
    assert not deleted.ok and deleted.rules() == {"stage-frozen"}, deleted.output
    assert "delete or move tag 'churn#prod#1'" in deleted.output
    assert "churn#prod#1" in world.server_tags()
    world.commit("elsewhere")
    # re-pointed (move: allow): prod moves to another commit
    git("tag", "-f", "-a", "churn#prod#1", "-m", "moved", cwd=world.clone)
    moved = world.push("+refs/tags/churn#prod#1", env=at(CHRISTMAS))
    assert not moved.ok and "stage-frozen" in moved.rules(), moved.output
    # a change that leaves prod alone goes through
    world.commit("retrained")
    world.tag("churn@v1.1.0#5")
    assert world.push_tags("churn@v1.1.0#5", env=at(CHRISTMAS)).ok


def test_the_tagger_date_never_counts(world: World, tmp_path: Path) -> None:
    """Now is the server's clock: a tag dated before the window opened (inside the
    clock skew, so otherwise fine) is frozen all the same. No test clock here."""
    real = int(time.time())
    start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(real - 60))
    until = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(real + 3600))
    world.set_policy(
        f"stages:\n  prod:\n    freeze:\n"
        f"      - {{from: '{start}', until: '{until}', reason: release}}\n"
    )
    world.tag("churn@v1.0.0", when=real - 280)
    assert world.push_tags("churn@v1.0.0").ok
    world.tag("churn#prod#1", when=real - 200)  # back-dated to before the window
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"stage-frozen"}, pushed.output
    assert "GTOGUARD_NOW" not in pushed.output


def test_the_helper_refuses_in_advance(world: World) -> None:
    world.set_policy(HOLIDAYS)
    world.landed()
    git("fetch", "-q", "origin", cwd=world.clone)
    tags = git("tag", cwd=world.clone).stdout
    done = gtoguard(
        "assign",
        "churn",
        "--version",
        "v1.0.0",
        "--stage",
        "prod",
        "--push",
        cwd=world.clone,
        env=at(CHRISTMAS),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[stage-frozen]" in done.stderr and "until 2027-01-04 08:00 +01:00" in done.stderr
    assert "nothing was written" in done.stderr
    assert git("tag", cwd=world.clone).stdout == tags  # no tag made, none pushed
    dry = gtoguard(
        "assign",
        "churn",
        "--version",
        "v1.0.0",
        "--stage",
        "prod",
        "--dry-run",
        cwd=world.clone,
        env=at(CHRISTMAS),
    )
    assert dry.returncode == 1 and "verdict: declined" in dry.stdout
    done = gtoguard(
        "assign",
        "churn",
        "--version",
        "v1.0.0",
        "--stage",
        "prod",
        "--push",
        cwd=world.clone,
        env=at(SPRING),
    )
    assert done.returncode == 0, done.stderr


def test_the_audit_judges_no_freeze_and_ci_judges_the_push_time(world: World) -> None:
    """``check --all`` replays history: a freeze is about the moment of a push, which
    history does not record. ``check TAG --pushed-at`` knows it, and judges it."""
    real = int(time.time())
    start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(real + 60))
    until = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(real + 7200))
    world.set_policy(
        f"stages:\n  prod:\n    freeze:\n"
        f"      - {{from: '{start}', until: '{until}', reason: release}}\n"
    )
    world.landed()
    world.tag("churn#prod#1")
    assert world.push_tags("churn#prod#1").ok  # before the window opens
    inside = {"GTOGUARD_NOW": str(real + 100)}
    audit = gtoguard("check", "--all", cwd=world.clone, env=inside)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # (a push time 100 s on: inside the window, and the tag still young enough)
    ci = gtoguard("check", "churn#prod#1", "--pushed-at", str(real + 100), cwd=world.clone)
    assert ci.returncode == 1, ci.stdout
    assert {line.split("[")[1].split("]")[0] for line in ci.stdout.splitlines() if "[" in line} == {
        "stage-frozen"
    }, ci.stdout
    ci = gtoguard("check", "churn#prod#1", "--pushed-at", str(real), cwd=world.clone)
    assert ci.returncode == 0, ci.stdout


BAD_WINDOWS = [
    (
        "{start: '0 16 * * 5', end: '0 8 * * 8', timezone: Europe/Berlin, reason: r}",
        "/stages/prod/freeze/0/end: '0 8 * * 8' is not a usable cron expression",
    ),
    (
        "{start: '0 16 * *', end: '0 8 * * 1', timezone: Europe/Berlin, reason: r}",
        "is not a five-field cron expression",
    ),
    (
        "{start: '0 16 * * 5', end: '0 8 * * 1', timezone: Berlin, reason: r}",
        "/stages/prod/freeze/0/timezone: 'Berlin' is not an IANA time zone",
    ),
    (
        "{from: '2027-01-04T08:00:00+01:00', until: '2026-12-20T00:00:00+01:00', reason: r}",
        "/stages/prod/freeze/0/until: until (2026-12-20T00:00:00+01:00) is not after from",
    ),
    (
        "{from: '2026-12-20T00:00:00', until: '2027-01-04T08:00:00+01:00', reason: r}",
        "has no time zone",
    ),
    (
        "{from: 2026-12-20T00:00:00+01:00, until: '2027-01-04T08:00:00+01:00', reason: r}",
        "/stages/prod/freeze/0/from: expected string, got datetime",
    ),
    ("{start: '0 16 * * 5', end: '0 8 * * 1', reason: r}", "'timezone' is a required property"),
    (
        "{from: '2026-12-20T00:00:00Z', until: '2027-01-04T08:00:00Z'}",
        "'reason' is a required property",
    ),
]


@pytest.mark.parametrize(("window", "said"), BAD_WINDOWS)
def test_config_validate_checks_the_windows(tmp_path: Path, window: str, said: str) -> None:
    policy = tmp_path / ".gtoguard.yaml"
    policy.write_text(f"stages:\n  prod:\n    freeze:\n      - {window}\n", encoding="utf-8")
    done = gtoguard("config", "validate", str(policy), cwd=tmp_path)
    assert done.returncode == 1 and said in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_bad_window_on_the_server_declines_with_config_invalid(world: World) -> None:
    world.set_server_policy(
        "stages:\n  prod:\n    freeze:\n      - {start: '0 16 * * 5', "
        "end: '0 8 * * 1', timezone: Mars/Olympus, reason: r}\n"
    )
    world.tag("churn@v1.0.0")
    pushed = world.push_tags("churn@v1.0.0")
    assert not pushed.ok and "[config-invalid]" in pushed.output, pushed.output
    assert "Mars/Olympus" in pushed.output and "Traceback" not in pushed.output


def test_a_malformed_test_clock_cannot_run(world: World) -> None:
    world.set_policy(HOLIDAYS)
    world.tag("churn@v1.0.0")
    pushed = world.push_tags("churn@v1.0.0", env=at("christmas"))
    assert not pushed.ok and "GTOGUARD_NOW='christmas' is not a time" in pushed.output
    assert "Traceback" not in pushed.output
