"""The verdict is the truth (issue: integrity of the hook): every way around the hook that
an adversarial review found, pushed with the real git client into a bare server with the
installed pre-receive hook. Each is declined with the server unchanged, or accepted with
the server consistent: `gto` can read it and `gtoguard check --all` agrees."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing import Fuzzed, shared

from conftest import World, git, gtoguard, make_world, run_gto, store_object


def literal_tag(world: World, name: str, body: bytes) -> str:
    """A tag object written byte for byte (``hash-object --literally``) as ``refs/tags/name``."""
    oid = store_object(world.clone, body, literally=True)
    git("update-ref", f"refs/tags/{name}", oid, cwd=world.clone)
    return oid


def tag_body(
    world: World,
    name: str,
    tagger: bytes = b"A <a@b.c> 1700000000 +0000",
    message: bytes = b"hi\n",
    target: str | None = None,
) -> bytes:
    head = target or world.head()
    return (
        f"object {head}\ntype commit\ntag {name}\n".encode()
        + b"tagger "
        + tagger
        + b"\n\n"
        + message
    )


def declined(world: World, *refspecs: str, env: dict[str, str] | None = None) -> set[str]:
    before = world.server_snapshot()
    pushed = world.push(*refspecs, env=env)
    assert not pushed.ok, pushed.output
    assert "Traceback" not in pushed.output and "internal-error" not in pushed.output
    assert world.server_snapshot() == before, "a declined push changed the server"
    return pushed.rules()


def gto_reads_server(world: World) -> dict[str, object]:
    """`gto show --json` and `gto history --json` on a fresh clone of the server."""
    clone = world.root / f"reader-{world.tick()}"
    git("clone", "-q", str(world.server), str(clone), cwd=world.root)
    run_gto("history", "--json", cwd=clone)
    shown: dict[str, object] = json.loads(run_gto("show", "--json", cwd=clone).stdout)
    return shown


def audit_is_clean(world: World) -> None:
    done = gtoguard("check", "--all", "--repo", str(world.server), cwd=world.root)
    assert done.returncode == 0, done.stdout + done.stderr


# --- one name: the ref's and the object's ---------------------------------------------------


def test_a_prod_tag_pushed_under_a_dev_name(world: World) -> None:
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    world.tag("churn#prod#2")
    rules = declined(world, "refs/tags/churn#prod#2:refs/tags/churn#dev#2")
    assert rules == {"tag-name-mismatch"}


def test_a_reserved_object_under_a_valid_name(world: World) -> None:
    literal_tag(world, "churn@v1.0.0", tag_body(world, "churn@created"))
    assert "tag-name-mismatch" in declined(world, "refs/tags/churn@v1.0.0")


def test_a_plain_ref_holding_a_gto_object(world: World) -> None:
    world.tag("churn#prod#2")
    assert declined(world, "refs/tags/churn#prod#2:refs/tags/release") == {"tag-name-mismatch"}
    # a plain tag under its own name is none of gtoguard's business
    world.tag("release-1")
    assert world.push_tags("release-1").ok


# --- objects gto cannot read -----------------------------------------------------------------


UNREADABLE = {
    "a message that is not UTF-8": {"message": b"x\351\n"},
    "a tagger that is not UTF-8": {"tagger": b"J\xe9r\xf4me <j@b.c> 1700000000 +0000"},
    "a zone of +2400": {"tagger": b"A <a@b.c> 1700000000 +2400"},
    "a zone of +00a0": {"tagger": b"A <a@b.c> 1700000000 +00a0"},
    "a time of 10^20": {"tagger": b"A <a@b.c> 100000000000000000000 +0000"},
    "a time of 2^63-1": {"tagger": b"A <a@b.c> 9223372036854775807 +0000"},
    "no e-mail": {"tagger": b"A <> 1700000000 +0000"},
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_objects_gto_cannot_read_are_declined(world: World, case: str) -> None:
    literal_tag(world, "churn@v1.0.0", tag_body(world, "churn@v1.0.0", **UNREADABLE[case]))
    rules = declined(world, "refs/tags/churn@v1.0.0")
    assert "tag-unreadable" in rules, rules


@pytest.mark.parametrize("end", [b"\n", b""], ids=["newline", "none"])
def test_a_tag_with_no_message_part_is_declined(world: World, end: bytes) -> None:
    """No blank line after the headers: git stores it, gto's reader fails on it (pygit2
    gives no message at all), so every ``gto show`` of the registry would (found by an
    adversary; an empty message after the blank line reads fine)."""
    head = tag_body(world, "churn@v1.0.0", tagger=_now()).split(b"\n\n")[0]
    literal_tag(world, "churn@v1.0.0", head + end)
    with pytest.raises(AssertionError, match="NoneType"):
        run_gto("show", "--json", cwd=world.clone)
    assert "tag-unreadable" in declined(world, "refs/tags/churn@v1.0.0")
    literal_tag(world, "churn@v1.0.0", head + b"\n\n")  # an empty message: readable
    run_gto("show", "--json", cwd=world.clone)
    assert world.push_tags("churn@v1.0.0").ok


def _now() -> bytes:
    return f"A <a@b.c> {int(time.time())} +0000".encode()


def test_an_odd_header_is_declined(world: World) -> None:
    body = tag_body(world, "churn@v1.0.0").replace(b"\n\n", b"\nencoding latin1\n\n", 1)
    literal_tag(world, "churn@v1.0.0", body)
    assert "tag-unreadable" in declined(world, "refs/tags/churn@v1.0.0")


def test_a_huge_counter_is_a_rule_not_an_error(world: World) -> None:
    world.tag("churn@v1.0.0")
    world.tag("churn#dev#" + "9" * 40)
    assert declined(world, "refs/tags/churn#dev#" + "9" * 40) == {"tag-malformed"}


# --- a stage taken away through the side door -----------------------------------------------


def test_deregistering_or_deprecating_what_holds_prod(world: World) -> None:
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    alice, bob = {"REMOTE_USER": "alice"}, {"REMOTE_USER": "bob"}
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    assert world.push_tags("churn@v1.0.0", "churn#prod#1", env=alice).ok
    world.tag("churn@v1.0.0!#2")
    rules = declined(world, "refs/tags/churn@v1.0.0!#2", env=bob)
    assert rules == {"pusher-not-allowed"}
    git("tag", "-d", "churn@v1.0.0!#2", cwd=world.clone)
    world.tag("churn@deprecated#3")
    assert declined(world, "refs/tags/churn@deprecated#3", env=bob) == {"pusher-not-allowed"}
    # a version that holds no guarded stage is bob's to deregister
    world.commit("v2")
    world.tag("churn@v2.0.0#4")
    world.tag("churn@v2.0.0!#5")
    assert world.push_tags("churn@v2.0.0#4", "churn@v2.0.0!#5", env=bob).ok
    # alice may deprecate; the tag made before #4 and #5 is stale by its counter
    assert declined(world, "refs/tags/churn@deprecated#3", env=alice) == {"counter-not-increasing"}
    git("tag", "-d", "churn@deprecated#3", cwd=world.clone)
    world.tag("churn@deprecated#6")
    assert world.push_tags("churn@deprecated#6", env=alice).ok


# --- knobs loosen only what they name -------------------------------------------------------


def test_malformed_allow_admits_only_what_gto_ignores(world: World) -> None:
    world.set_policy("tags: {malformed: allow}\n")
    world.tag("churn@v1.0")  # gto does not decode it: an ordinary tag
    assert world.push_tags("churn@v1.0").ok
    world.tag("churn@v1\u0660.0.0")  # an Arabic-Indic zero: gto decodes it as a version
    assert "tag-malformed" in declined(world, "refs/tags/churn@v1\u0660.0.0")


def test_delete_then_create_elsewhere_is_a_move(world: World) -> None:
    world.set_policy("tags: {delete: allow}\n")
    first = world.head()
    world.tag("churn@v1.0.0", first)
    assert world.push_tags("churn@v1.0.0").ok
    assert world.push(":refs/tags/churn@v1.0.0").ok
    world.commit("elsewhere")
    git("tag", "-d", "churn@v1.0.0", cwd=world.clone)
    world.tag("churn@v1.0.0")
    assert declined(world, "refs/tags/churn@v1.0.0") == {"tag-moved"}
    # on the commit it was deleted from, it is restored, not moved
    git("tag", "-d", "churn@v1.0.0", cwd=world.clone)
    world.tag("churn@v1.0.0", first)
    assert world.push_tags("churn@v1.0.0").ok


def test_deleting_a_stage_tag_is_a_stage_change(world: World) -> None:
    world.set_policy(
        "tags: {delete: allow}\nstages:\n  prod: {pushers: [alice]}\n"
        "  staging: {from: [dev], rollback: false}\n"
    )
    alice, mallory = {"REMOTE_USER": "alice"}, {"REMOTE_USER": "mallory"}
    for name in (
        "churn@v1.0.0",
        "churn#prod#1",
        "churn#dev#2",
        "churn#staging#3",
        "churn#dev!#4",
        "churn#staging!#5",
    ):
        world.tag(name)
    assert world.push("--tags", env=alice).ok
    world.commit("v2")
    world.tag("churn@v2.0.0#6")
    world.tag("churn#prod#7")
    assert world.push_tags("churn@v2.0.0#6", "churn#prod#7", env=alice).ok
    # deleting the promotion puts v1.0.0 back in prod: a prod change mallory may not make
    assert declined(world, ":refs/tags/churn#prod#7", env=mallory) == {"pusher-not-allowed"}
    # deleting the unassignment gives staging back to v1.0.0, which is no longer in dev
    # (a rollback, which rollback: false holds to from)
    assert declined(world, ":refs/tags/churn#staging!#5", env=mallory) == {"stage-order"}
    assert world.push(":refs/tags/churn#prod#7", env=alice).ok


def test_renaming_the_version_in_a_stage_is_a_stage_change(world: World) -> None:
    """gto files a stage under the version registered at its commit. Deleting that
    registration, or registering a version on a commit that holds a stage unregistered,
    changes what the stage shows: the stage's pushers apply (found by an adversary: bob
    deleted churn@v1.0.0 and registered v7.0.0 on the prod commit)."""
    world.set_policy("tags: {delete: allow}\nstages:\n  prod: {pushers: [alice]}\n")
    alice, bob = {"REMOTE_USER": "alice"}, {"REMOTE_USER": "bob"}
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    assert world.push("--tags", env=alice).ok
    assert declined(world, ":refs/tags/churn@v1.0.0", env=bob) == {"pusher-not-allowed"}
    assert world.push(":refs/tags/churn@v1.0.0", env=alice).ok  # prod now shows the hexsha
    git("tag", "-d", "churn@v1.0.0", cwd=world.clone)
    world.tag("churn@v7.0.0#2", "churn#prod#1^{commit}")
    assert declined(world, "refs/tags/churn@v7.0.0#2", env=bob) == {"pusher-not-allowed"}
    assert world.push_tags("churn@v7.0.0#2", env=alice).ok
    assert gto_reads_server(world)["churn"]["stage"]["prod"] == "v7.0.0"  # type: ignore[index]
    audit_is_clean(world)


FROZEN = (
    "stages:\n  prod:\n    freeze:\n      - {from: '2000-01-01T00:00:00Z', "
    "until: '2999-01-01T00:00:00Z', reason: audit}\n"
)


def test_making_a_deprecated_artifact_active_again_is_a_stage_change(world: World) -> None:
    """Third review, finding 7: alice deprecated churn (gto show: {}); bob, who may not
    touch prod, registered churn@v2.0.0, even during a server freeze of prod, and prod
    was v1.0.0 again: any event after a deprecation restores every stage it held."""
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    alice, bob = {"REMOTE_USER": "alice"}, {"REMOTE_USER": "bob"}
    for name in ("churn@v1.0.0", "churn#prod#1", "churn@deprecated#2"):
        world.tag(name)
    assert world.push("--tags", env=alice).ok
    assert "churn" not in gto_reads_server(world)
    world.commit("v2")
    world.tag("churn@v2.0.0#3")
    assert declined(world, "refs/tags/churn@v2.0.0#3", env=bob) == {"pusher-not-allowed"}
    pushed = world.push_tags("churn@v2.0.0#3", env=bob)
    assert "make deprecated 'churn' active again (churn@v2.0.0#3), which gives stage prod" in (
        pushed.output
    )
    world.tag("churn#dev#4", "churn@v1.0.0^{commit}")  # any event does it, an assignment too
    assert declined(world, "refs/tags/churn#dev#4", env=bob) == {"pusher-not-allowed"}
    world.set_server_policy(FROZEN)
    assert declined(world, "refs/tags/churn@v2.0.0#3", env=alice) == {"stage-frozen"}
    world.set_server_policy("tags: {clock_skew: 300}\n")
    assert world.push_tags("churn@v2.0.0#3", env=alice).ok
    assert gto_reads_server(world)["churn"]["stage"]["prod"] == "v1.0.0"  # type: ignore[index]
    audit_is_clean(world)


def test_deleting_a_deprecation_is_a_stage_change(world: World) -> None:
    """Third review, finding 8: under delete: allow, bob deleted churn@deprecated#2 and
    prod was v1.0.0 again."""
    world.set_policy("tags: {delete: allow}\nstages:\n  prod: {pushers: [alice]}\n")
    alice, bob = {"REMOTE_USER": "alice"}, {"REMOTE_USER": "bob"}
    for name in ("churn@v1.0.0", "churn#prod#1", "churn@deprecated#2"):
        world.tag(name)
    assert world.push("--tags", env=alice).ok
    assert declined(world, ":refs/tags/churn@deprecated#2", env=bob) == {"pusher-not-allowed"}
    world.set_server_policy("tags: {delete: allow}\n" + FROZEN)
    assert declined(world, ":refs/tags/churn@deprecated#2", env=alice) == {"stage-frozen"}
    world.set_server_policy("tags: {delete: allow}\n")
    assert world.push(":refs/tags/churn@deprecated#2", env=alice).ok
    assert gto_reads_server(world)["churn"]["stage"]["prod"] == "v1.0.0"  # type: ignore[index]


def test_a_deletion_must_not_leave_history_failing(world: World) -> None:
    """Deleting the staging tag that a later prod promotion relied on leaves that
    promotion breaking ``from`` in gto's history: declined, whoever pushes it."""
    world.set_policy("tags: {delete: allow}\nstages:\n  prod: {from: [staging]}\n")
    for name in ("churn@v1.0.0", "churn#staging#1", "churn#prod#2"):
        world.tag(name)
    assert world.push("--tags").ok
    rules = declined(world, ":refs/tags/churn#staging#1")
    assert rules == {"stage-order"}, rules
    pushed = world.push(":refs/tags/churn#staging#1")
    assert "without this tag, 'churn#prod#2' fails in gto's history" in pushed.output
    assert world.push(":refs/tags/churn#prod#2").ok  # the later one first: nothing breaks
    assert world.push(":refs/tags/churn#staging#1").ok
    audit_is_clean(world)


# --- one order everywhere -------------------------------------------------------------------


def test_a_same_second_batch_is_read_in_counter_order(world: World) -> None:
    world.set_policy("stages:\n  staging: {from: [dev]}\n  prod: {from: [staging]}\n")
    same = world.tick()
    names = ["m@v1.0.0#7", "m#dev#8", "m#staging#9", "m#dev!#10", "m#prod#11", "m#staging!#12"]
    for name in names:
        world.tag(name, when=same)
    pushed = world.push("--tags")
    assert pushed.ok, pushed.output
    audit_is_clean(world)
    gto_reads_server(world)


def test_a_back_dated_tag_is_judged_where_gto_places_it(world: World) -> None:
    world.tag("churn@v1.0.0", when=world.tick())
    world.tag("churn#dev#3", when=world.tick())
    assert world.push_tags("churn@v1.0.0", "churn#dev#3").ok
    # 100 s behind the latest event (inside the 300 s skew): gto puts it before #dev#3,
    # and there its counter #4 makes #3 fail; check --all would report it forever
    world.tag("churn#staging#4", when=world.clock - 100)
    rules = declined(world, "refs/tags/churn#staging#4")
    assert rules == {"counter-not-increasing"}, rules
    # the same date with a counter that fits is fine there, and the audit agrees
    git("tag", "-d", "churn#staging#4", cwd=world.clone)
    world.tag("churn#staging", when=world.clock - 100)
    assert world.push_tags("churn#staging").ok
    audit_is_clean(world)


def test_a_lower_counter_in_the_second_of_a_higher_one_is_declined(world: World) -> None:
    # '#3' dated in the very second of the existing '#5' sorts before it (same second:
    # counter order), where the replay alone sees no #5; the counter rule still holds it
    # to every counter of the artifact (adversarial review, 2026-12-06)
    world.tag("m@v1.0.0#4", when=world.tick())
    world.tag("m#dev#5", when=world.tick())
    assert world.push_tags("m@v1.0.0#4", "m#dev#5").ok
    world.tag("m#prod#3", when=world.clock)
    rules = declined(world, "refs/tags/m#prod#3")
    assert rules == {"counter-not-increasing"}, rules
    pushed = world.push("refs/tags/m#prod#3")
    assert "use 'm#prod#6'" in pushed.output, pushed.output
    # and dated a second earlier, where gto's history puts it before #5 as well
    git("tag", "-d", "m#prod#3", cwd=world.clone)
    world.tag("m#prod#3", when=world.clock - 1)
    assert declined(world, "refs/tags/m#prod#3") == {"counter-not-increasing"}
    audit_is_clean(world)


def test_a_back_dated_unassign_is_judged_at_its_place(world: World) -> None:
    world.set_policy("stages:\n  prod: {from: [staging]}\n")
    world.tag("churn@v1.0.0", when=world.tick(10))
    world.tag("churn#staging#1", when=world.tick(10))
    world.tag("churn#prod#2", when=world.tick(10))
    assert world.push_tags("churn@v1.0.0", "churn#staging#1", "churn#prod#2").ok
    # an unassign of staging dated before the prod promotion would make that promotion
    # break the promotion order in gto's history
    world.tag("churn#staging!", when=world.clock - 5)
    rules = declined(world, "refs/tags/churn#staging!")
    assert rules == {"stage-order"}, rules
    world.tag("churn#staging!#3", when=world.tick())
    assert world.push_tags("churn#staging!#3").ok
    audit_is_clean(world)


def test_readable_by_gto_after_every_accepted_push(world: World, tmp_path: Path) -> None:
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    assert world.push_tags("churn@v1.0.0", "churn#prod#1").ok
    shown = gto_reads_server(world)
    assert shown["churn"] == {
        "version": "v1.0.0",
        "stage": {"dev": None, "staging": None, "prod": "v1.0.0"},
        "registered": True,
        "active": True,
    }


# --- differential: whatever the hook accepts, gto reads ---------------------------------


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    def make() -> World:
        # tagger dates of any age: the objects, not their age, are what gto must read
        # (with the default max_age every date drawn from the past was declined)
        world = make_world(tmp_path_factory.mktemp("fuzz"), gto=None)
        world.set_server_policy("tags:\n  max_age: off\n")
        return world

    yield from shared(make)


# mostly what git writes, each field sometimes odd: most objects reach gto, one quirk at a time
def _mostly(usual: bytes, *odd: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.just(usual), st.just(usual), st.just(usual), st.sampled_from(odd))


NAMES = _mostly(b"A", b"J\xc3\xa9r\xc3\xb4me", b"J\xe9r\xf4me", b"", b" ", b"a\x01b")
EMAILS = _mostly(b"a@b.c", b"", b"\xff@b", b"x y@z")
TIMES = st.one_of(
    st.integers(1_500_000_000, 1_700_000_000).map(lambda t: str(t).encode()),
    st.sampled_from([b"0", b"253402214400", b"253402300800", b"99999999999999999999", b"-5"]),
)
ZONES = _mostly(
    b"+0000",
    b"-2359",
    b"+2359",
    b"+2400",
    b"-2400",
    b"+0060",
    b"+00a0",
    b"0100",
    b"+01",
    b"+01000",
    b"Z",
)
MESSAGES = st.one_of(st.text(max_size=60).map(str.encode), st.binary(max_size=60))
EXTRA = _mostly(b"", b"encoding latin1\n", b"x y\n")


@settings(
    max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(name=NAMES, email=EMAILS, when=TIMES, zone=ZONES, message=MESSAGES, extra=EXTRA)
def test_every_object_the_hook_accepts_gto_can_read(
    fuzzed: Fuzzed,
    name: bytes,
    email: bytes,
    when: bytes,
    zone: bytes,
    message: bytes,
    extra: bytes,
) -> None:
    world = fuzzed.world
    tag = f"m{next(fuzzed.numbers)}@v1.0.0"
    tagger = name + b" <" + email + b"> " + when + b" " + zone
    body = tag_body(world, tag, tagger=tagger, message=message)
    literal_tag(world, tag, body.replace(b"\n\n", b"\n" + extra + b"\n", 1) if extra else body)
    before = world.server_snapshot()
    pushed = world.push(f"refs/tags/{tag}")
    assert "Traceback" not in pushed.output and "internal-error" not in pushed.output
    fuzzed.verdicts[pushed.ok] += 1
    if not pushed.ok:
        assert world.server_snapshot() == before
        return
    try:  # accepted: every gto reader of the server must read it
        gto_reads_server(world)
    except AssertionError:
        git("update-ref", "-d", f"refs/tags/{tag}", cwd=world.server)  # keep later examples apart
        raise
