"""Four eyes (``stages.<name>.approvals``), through real pushes into a bare server with the
installed hook and the pusher's identity in REMOTE_USER: requests and approvals under
``refs/gtoguard/``, and the promotion that counts them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import World, git, gtoguard, make_world, run_gto, store_object

POLICY = """\
groups:
  ml-leads: [bob, carol, dave, alice]
stages:
  prod:
    approvals:
      count: 2
      from: ["@ml-leads"]
      not_by: [registrar]
      max_age: 7d
"""


def as_user(name: str) -> dict[str, str]:
    return {"REMOTE_USER": name}


def oid(world: World, rev: str) -> str:
    return git("rev-parse", rev, cwd=world.clone).stdout.strip()


def approval_object(world: World, target: str, approver: str, when: int) -> str:
    body = (
        f"object {target}\ntype tag\ntag approval\n"
        f"tagger {approver} <{approver}@example.com> {when} +0000\n\napprove\n"
    ).encode()
    return store_object(world.clone, body)


def push_ref(world: World, value: str, ref: str, user: str) -> tuple[bool, str]:
    pushed = world.push(f"{value}:{ref}", env=as_user(user))
    return pushed.ok, pushed.output


@pytest.fixture
def approvals_world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    log = tmp_path / "decisions.jsonl"
    world.set_server_policy(f"identity: REMOTE_USER\nlog: {log}\n")
    world.commit("policy", {".gtoguard.yaml": POLICY})
    assert world.push("HEAD:main", env=as_user("alice")).ok
    world.tag("churn@v1.3.0")
    assert world.push_tags("churn@v1.3.0", env=as_user("dave")).ok  # dave registers
    return world


def request(world: World, name: str = "churn#prod#1", user: str = "alice") -> str:
    world.tag(name)
    tag = oid(world, name)
    ok, said = push_ref(world, tag, f"refs/gtoguard/requests/{tag}/{user}", user)
    assert ok, said
    return tag


def approve(world: World, tag: str, user: str, when: int | None = None) -> tuple[bool, str]:
    value = approval_object(world, tag, user, world.tick() if when is None else when)
    return push_ref(world, value, f"refs/gtoguard/approvals/{tag}/{user}", user)


def test_two_approvals_from_the_group_let_the_promotion_land(approvals_world: World) -> None:
    world = approvals_world
    tag = request(world)
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert not pushed.ok and pushed.rules() == {"approvals-missing"}, pushed.output
    assert "it has none" in pushed.output, pushed.output
    assert approve(world, tag, "bob")[0]
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert not pushed.ok and "it has 1: bob" in pushed.output, pushed.output
    assert approve(world, tag, "carol")[0]
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert pushed.ok, pushed.output
    assert "churn: v1.3.0 → prod (approved by bob, carol)" in pushed.output
    assert "churn#prod#1" in world.server_tags()
    log = world.root / "decisions.jsonl"
    last = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert last["pusher"] == "alice" and last["verdict"] == "accepted"
    assert last["approvals"] == {"refs/tags/churn#prod#1": ["bob", "carol"]}


def test_what_does_not_count_is_declined_with_its_rule(approvals_world: World) -> None:
    world = approvals_world
    tag = request(world)
    # a self-approval: the requester approving their own request
    ok, said = approve(world, tag, "alice")
    assert not ok and "[approver-not-allowed]" in said and "their own request" in said
    # an approver outside the group
    ok, said = approve(world, tag, "mallory")
    assert not ok and "[approver-not-allowed]" in said and "may not approve" in said
    # a forged approver: bob's name pushed by carol
    value = approval_object(world, tag, "bob", world.tick())
    ok, said = push_ref(world, value, f"refs/gtoguard/approvals/{tag}/bob", "carol")
    assert not ok and "you push as carol" in said
    # the registrar (not_by: registrar): dave pushed churn@v1.3.0; his approval lands
    # (a promotion may be of another version), and does not count for this one
    assert approve(world, tag, "dave")[0]
    assert approve(world, tag, "bob")[0]
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert not pushed.ok and "dave registered the version" in pushed.output, pushed.output
    # the promoter's own approval does not count: carol approves, then promotes herself
    assert approve(world, tag, "carol")[0]
    pushed = world.push_tags("churn#prod#1", env=as_user("carol"))
    assert not pushed.ok and "carol is the one promoting" in pushed.output, pushed.output
    assert world.push_tags("churn#prod#1", env=as_user("alice")).ok


def test_approvals_of_another_object_never_count(approvals_world: World) -> None:
    world = approvals_world
    first = request(world)
    assert approve(world, first, "bob")[0] and approve(world, first, "carol")[0]
    # the same tag name, made again: another object, with another message
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    world.tag("churn#prod#1", message="something else")
    assert oid(world, "churn#prod#1") != first
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert not pushed.ok and pushed.rules() == {"approvals-missing"}, pushed.output
    assert "another tag object named churn#prod#1" in pushed.output


def test_an_expired_approval_does_not_count(approvals_world: World) -> None:
    world = approvals_world
    tag = request(world)
    assert approve(world, tag, "bob")[0] and approve(world, tag, "carol")[0]
    later = {"GTOGUARD_NOW": str(world.clock + 8 * 86400), **as_user("alice")}
    pushed = world.push_tags("churn#prod#1", env=later)
    assert not pushed.ok and "past max_age 7 d" in pushed.output, pushed.output


def test_approvals_are_never_deleted_or_moved_and_requests_only_by_their_requester(
    approvals_world: World,
) -> None:
    world = approvals_world
    tag = request(world)
    assert approve(world, tag, "bob")[0] and approve(world, tag, "carol")[0]
    ref = f"refs/gtoguard/approvals/{tag}/bob"
    pushed = world.push(f":{ref}", env=as_user("bob"))
    assert not pushed.ok and "never deleted" in pushed.output
    ok, said = push_ref(world, approval_object(world, tag, "bob", world.tick()), ref, "bob")
    assert not ok and "never moved" in said, said
    pushed = world.push(f":refs/gtoguard/requests/{tag}/alice", env=as_user("bob"))
    assert not pushed.ok and "you push as bob" in pushed.output
    # the requester withdraws: the two approvals given count no more, for anyone
    assert world.push(f":refs/gtoguard/requests/{tag}/alice", env=as_user("alice")).ok
    assert approve(world, tag, "dave")[0] is False
    for promoter in ("alice", "mallory"):
        pushed = world.push_tags("churn#prod#1", env=as_user(promoter))
        assert not pushed.ok and "nobody requests this one" in pushed.output, pushed.output
    # a request's ref holds the object its name gives, nothing else
    ok, said = push_ref(world, world.head(), f"refs/gtoguard/requests/{tag}/alice", "alice")
    assert not ok and f"this one holds {world.head()[:12]}" in said, said
    # anything else under refs/gtoguard/ is declined, whatever refs.allow says
    pushed = world.push("HEAD:refs/gtoguard/other", env=as_user("alice"))
    assert not pushed.ok and "[approver-not-allowed]" in pushed.output


def test_gto_reads_the_server_the_same_with_and_without_the_approval_refs(
    approvals_world: World, tmp_path: Path
) -> None:
    world = approvals_world
    tag = request(world)
    assert approve(world, tag, "bob")[0] and approve(world, tag, "carol")[0]
    assert world.push_tags("churn#prod#1", env=as_user("alice")).ok
    reader = tmp_path / "reader"
    git("clone", "-q", str(world.server), str(reader), cwd=tmp_path)
    seen = []
    for _ in ("without the refs", "with them"):
        shown = run_gto("show", "--json", cwd=reader)
        history = run_gto("history", "churn", "--json", cwd=reader)
        assert shown.returncode == 0 and history.returncode == 0, shown.stderr
        seen.append((json.loads(shown.stdout), json.loads(history.stdout)))
        git("fetch", "-q", "origin", "+refs/gtoguard/*:refs/gtoguard/*", cwd=reader)
        assert git("for-each-ref", "refs/gtoguard/", cwd=reader).stdout.count("\n") == 3
    assert seen[0] == seen[1]
    assert seen[0][0]["churn"]["stage"]["prod"] == "v1.3.0"


def test_the_servers_cleanup_drops_what_has_done_its_work(approvals_world: World) -> None:
    world = approvals_world
    landed = request(world)
    assert approve(world, landed, "bob")[0] and approve(world, landed, "carol")[0]
    assert world.push_tags("churn#prod#1", env=as_user("alice")).ok
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    world.commit("another model")
    world.tag("churn@v1.4.0")
    assert world.push_tags("churn@v1.4.0", env=as_user("dave")).ok
    withdrawn = request(world, "churn#prod#2")
    assert approve(world, withdrawn, "bob")[0]
    assert world.push(f":refs/gtoguard/requests/{withdrawn}/alice", env=as_user("alice")).ok
    git("tag", "-d", "churn#prod#2", cwd=world.clone)
    world.commit("a third model")
    world.tag("churn@v1.5.0")
    assert world.push_tags("churn@v1.5.0", env=as_user("dave")).ok
    waiting = request(world, "churn#prod#3")
    assert approve(world, waiting, "carol", when=world.clock - 100)[0]  # within clock_skew
    listed = gtoguard("approvals", "--json", cwd=world.server)
    assert [row["request"] for row in json.loads(listed.stdout)] == ["churn#prod#3"]
    done = gtoguard("approvals", "--prune", cwd=world.server)
    assert done.returncode == 0, done.stderr
    left = git("for-each-ref", "--format=%(refname)", "refs/gtoguard/", cwd=world.server).stdout
    # the landed promotion's refs and the withdrawn request's approval are gone; the
    # pending request and its approval (2 min old, max_age 7 d) stay
    assert left.split() == [
        f"refs/gtoguard/approvals/{waiting}/carol",
        f"refs/gtoguard/requests/{waiting}/alice",
    ], done.stdout
    assert gtoguard("approvals", "--prune", cwd=world.clone).returncode == 2
    # an approval past max_age counts for nothing: the cleanup drops it, not the request
    world.commit(
        "shorter approvals", {".gtoguard.yaml": POLICY.replace("max_age: 7d", "max_age: 60s")}
    )
    assert world.push("HEAD:main", env=as_user("alice")).ok
    assert gtoguard("approvals", "--prune", cwd=world.server).returncode == 0
    left = git("for-each-ref", "--format=%(refname)", "refs/gtoguard/", cwd=world.server).stdout
    assert left.split() == [f"refs/gtoguard/requests/{waiting}/alice"]


def test_not_by_registrar_holds_with_a_rotated_log_and_declines_without_one(
    approvals_world: World,
) -> None:
    """dave pushed churn@v1.3.0. logrotate renames the log (decisions.jsonl.1): dave's
    approval still does not count. A server with no log cannot tell who registered the
    version, so no approval counts there."""
    world = approvals_world
    log = world.root / "decisions.jsonl"
    log.rename(world.root / "decisions.jsonl.1")
    tag = request(world)
    assert approve(world, tag, "bob")[0] and approve(world, tag, "dave")[0]
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert not pushed.ok and "dave registered the version" in pushed.output, pushed.output
    assert approve(world, tag, "carol")[0]
    world.set_server_policy("identity: REMOTE_USER\n")  # no log
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert not pushed.ok and "this server keeps no decision log" in pushed.output, pushed.output
    world.set_server_policy(f"identity: REMOTE_USER\nlog: {log}\n")  # the old lines are in .1
    assert world.push_tags("churn#prod#1", env=as_user("alice")).ok


def test_a_registration_made_after_the_request_is_the_versions_registrar(
    approvals_world: World,
) -> None:
    """Requested on a commit with no version yet; dave registers it afterwards, and
    approves: the promotion (placed before the registration by its date) still leaves
    dave out."""
    world = approvals_world
    world.commit("a new model")
    tag = request(world)
    world.tag("churn@v1.4.0")
    assert world.push_tags("churn@v1.4.0", env=as_user("dave")).ok
    assert approve(world, tag, "bob")[0] and approve(world, tag, "dave")[0]
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert not pushed.ok and "dave registered the version" in pushed.output, pushed.output
    assert approve(world, tag, "carol")[0]
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert pushed.ok, pushed.output
    assert "(approved by bob, carol)" in pushed.output


def test_an_approved_request_lands_after_tags_max_age(tmp_path: Path) -> None:
    """The request is the promotion tag, dated when it was requested (within clock_skew
    then); it lands when the approvals are in, past tags.max_age by then. A plain tag
    that old is declined."""
    world = make_world(tmp_path)
    world.set_server_policy("identity: REMOTE_USER\ntags: {clock_skew: 5}\n")
    world.commit("policy", {".gtoguard.yaml": POLICY.replace("      not_by: [registrar]\n", "")})
    assert world.push("HEAD:main", env=as_user("alice")).ok
    world.tag("churn@v1.3.0", when=int(time.time()))
    assert world.push_tags("churn@v1.3.0", env=as_user("dave")).ok
    dated = int(time.time()) - 4
    world.tag("churn#prod#1", when=dated)
    tag = oid(world, "churn#prod#1")
    assert push_ref(world, tag, f"refs/gtoguard/requests/{tag}/alice", "alice")[0]
    now = int(time.time())
    assert approve(world, tag, "bob", when=now)[0] and approve(world, tag, "carol", when=now)[0]
    world.tag("churn#dev#2", "churn@v1.3.0^{}", when=dated)  # as old, and no request
    time.sleep(max(0.0, dated + 6 - time.time()))
    pushed = world.push_tags("churn#dev#2", env=as_user("alice"))
    assert not pushed.ok and pushed.rules() == {"tagger-time"}, pushed.output
    pushed = world.push_tags("churn#prod#1", env=as_user("alice"))
    assert pushed.ok, pushed.output
    # a request must be made when it is asked for: one dated back is declined
    world.commit("another")
    world.tag("churn@v1.4.0", when=int(time.time()))
    assert world.push_tags("churn@v1.4.0", env=as_user("dave")).ok
    world.tag("churn#prod#3", when=int(time.time()) - 60)
    old = oid(world, "churn#prod#3")
    ok, said = push_ref(world, old, f"refs/gtoguard/requests/{old}/alice", "alice")
    assert not ok and "tagger date is not now" in said, said


def test_an_audit_on_the_server_reads_who_approved_from_the_decision_log(
    approvals_world: World,
) -> None:
    """check --all on the server: a promotion the log shows landing with its approvers
    passes; one the log shows landing without them (as a hook that did not count them
    would have let it in) is approvals-missing; one the log does not have is not
    checkable there."""
    world = approvals_world
    tag = request(world)
    assert approve(world, tag, "bob")[0] and approve(world, tag, "carol")[0]
    assert world.push_tags("churn#prod#1", env=as_user("alice")).ok

    def audit() -> dict[str, set[tuple[str, str]]]:
        done = gtoguard("check", "--all", "--json", "--branch", "main", cwd=world.server)
        found: dict[str, set[tuple[str, str]]] = {}
        for v in json.loads(done.stdout)["violations"]:
            found.setdefault(v["ref"], set()).add((v["rule"], v["severity"]))
        return found

    assert "refs/tags/churn#prod#1" not in audit()
    log = world.root / "decisions.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    landed = json.loads(lines[-1])
    assert landed["approvals"] == {"refs/tags/churn#prod#1": ["bob", "carol"]}
    del landed["approvals"]
    log.write_text("\n".join([*lines[:-1], json.dumps(landed)]) + "\n", encoding="utf-8")
    assert audit()["refs/tags/churn#prod#1"] == {("approvals-missing", "error")}
    log.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    assert audit()["refs/tags/churn#prod#1"] == {("approvals-missing", "unchecked")}


def test_approvals_by_gitlabs_identity(tmp_path: Path) -> None:
    """The same gate where the server names the pusher in GL_USERNAME (GitLab's hooks),
    found by convention with no identity: key in the server policy."""
    world = make_world(tmp_path)
    world.set_server_policy(f"log: {tmp_path / 'decisions.jsonl'}\n")
    gitlab = {"GL_USERNAME": "alice", "GL_ID": "user-1"}
    world.commit("policy", {".gtoguard.yaml": POLICY})
    assert world.push("HEAD:main", env=gitlab).ok
    world.tag("churn@v1.3.0")
    assert world.push_tags("churn@v1.3.0", env={**gitlab, "GL_USERNAME": "dave"}).ok
    world.tag("churn#prod#1")
    tag = oid(world, "churn#prod#1")
    pushed = world.push(f"{tag}:refs/gtoguard/requests/{tag}/alice", env=gitlab)
    assert pushed.ok, pushed.output
    for name in ("bob", "carol"):
        value = approval_object(world, tag, name, world.tick())
        pushed = world.push(
            f"{value}:refs/gtoguard/approvals/{tag}/{name}", env={**gitlab, "GL_USERNAME": name}
        )
        assert pushed.ok, pushed.output
    value = approval_object(world, tag, "dave", world.tick())
    forged = world.push(f"{value}:refs/gtoguard/approvals/{tag}/dave", env=gitlab)
    assert not forged.ok and "you push as alice" in forged.output, forged.output
    assert "GL-HOOK-ERR:" in forged.output  # GitLab's own prefix for a hook's refusal
    pushed = world.push_tags("churn#prod#1", env=gitlab)
    assert pushed.ok and "(approved by bob, carol)" in pushed.output, pushed.output
