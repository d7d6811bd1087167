"""The helper's four eyes, as three users run it in their own clones against one server
(REMOTE_USER names each pusher): alice requests, bob and carol approve, alice promotes
the approved object; and pre-push says the server's verdict before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import World, git, gtoguard, make_world, run_gto

POLICY = """\
groups:
  ml-leads: [bob, carol]
stages:
  prod:
    approvals:
      count: 2
      from: ["@ml-leads"]
"""


def user_clone(world: World, name: str) -> Path:
    path = world.root / name
    git("clone", "-q", str(world.server), str(path), cwd=world.root)
    git("config", "gtoguard.user", name, cwd=path)
    return path


def as_user(name: str) -> dict[str, str]:
    return {"REMOTE_USER": name}


def promote(verb: str, clone: Path, user: str) -> Any:
    """``gtoguard VERB churn --version v1.3.0 --stage prod --push`` as ``user`` (assign,
    request)."""
    args = (verb, "churn", "--version", "v1.3.0", "--stage", "prod", "--push")
    return gtoguard(*args, cwd=clone, env=as_user(user))


@pytest.fixture
def team(tmp_path: Path) -> tuple[World, dict[str, Path]]:
    world = make_world(tmp_path)
    world.set_server_policy("identity: REMOTE_USER\n")
    world.commit("policy", {".gtoguard.yaml": POLICY})
    assert world.push("HEAD:main", env=as_user("alice")).ok
    world.tag("churn@v1.3.0")
    assert world.push_tags("churn@v1.3.0", env=as_user("alice")).ok
    return world, {name: user_clone(world, name) for name in ("alice", "bob", "carol")}


def test_request_approve_and_promote_the_approved_object(
    team: tuple[World, dict[str, Path]],
) -> None:
    world, clones = team
    alice, bob, carol = clones["alice"], clones["bob"], clones["carol"]
    # without approvals, assign refuses and says how to ask for them
    done = promote("assign", alice, "alice")
    assert done.returncode == 1 and "[approvals-missing]" in done.stderr, done.stderr
    assert "gtoguard request churn" in done.stderr
    done = promote("request", alice, "alice")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Requested churn#prod#1" in done.stdout
    assert "churn#prod#1" not in world.server_tags()  # nothing a gto reader sees yet
    listed = gtoguard("approvals", "churn", "--json", cwd=bob)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["request"] == "churn#prod#1" and row["requested_by"] == ["alice"]
    assert row["approved_by"] == [] and row["still_needed"] == 2
    # alice may not approve her own request: the server says so
    done = gtoguard(
        "approve", "churn", "--stage", "prod", "--push", cwd=alice, env=as_user("alice")
    )
    assert done.returncode == 1 and "their own request" in done.stderr, done.stderr
    for name, clone in (("bob", bob), ("carol", carol)):
        done = gtoguard(
            "approve", "churn", "--stage", "prod", "--push", cwd=clone, env=as_user(name)
        )
        assert done.returncode == 0, done.stdout + done.stderr
    listed = gtoguard("approvals", "churn", cwd=alice)
    assert "approved by: bob, carol; needs: enough" in listed.stdout, listed.stdout
    requested = git("rev-parse", f"refs/gtoguard/requests/{row['object']}/alice", cwd=alice)
    done = promote("assign", alice, "alice")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Using the request churn#prod#1" in done.stdout
    assert "churn: v1.3.0 → prod (approved by bob, carol)" in done.stderr
    landed = git("rev-parse", "refs/tags/churn#prod#1", cwd=world.server).stdout.strip()
    assert landed == requested.stdout.strip() == row["object"]  # the approved object itself
    git("fetch", "-q", "--tags", "origin", cwd=alice)
    shown = json.loads(run_gto("show", "--json", cwd=alice).stdout)
    assert shown["churn"]["stage"]["prod"] == "v1.3.0"


def test_pre_push_gives_the_servers_verdict_before_sending(
    team: tuple[World, dict[str, Path]],
) -> None:
    world, clones = team
    alice = clones["alice"]
    installed = gtoguard("install", "--pre-push", cwd=alice)
    assert installed.returncode == 0, installed.stderr
    git("tag", "-a", "churn#prod#1", "-m", "promote", "churn@v1.3.0^{}", cwd=alice)
    before = world.server_snapshot()
    pushed = git(
        "push", "origin", "refs/tags/churn#prod#1", cwd=alice, check=False, env=as_user("alice")
    )
    assert pushed.returncode != 0 and "[approvals-missing]" in pushed.stderr, pushed.stderr
    assert "pre-push" in pushed.stderr or "stopped" in pushed.stderr
    assert world.server_snapshot() == before  # nothing was sent


def test_withdraw_takes_a_request_back(team: tuple[World, dict[str, Path]]) -> None:
    world, clones = team
    alice, bob = clones["alice"], clones["bob"]
    assert promote("request", alice, "alice").returncode == 0
    done = gtoguard("withdraw", "churn#prod#1", cwd=bob, env=as_user("bob"))
    assert done.returncode == 2 and "not you (bob)" in done.stderr
    done = gtoguard("withdraw", "churn#prod#1", cwd=alice, env=as_user("alice"))
    assert done.returncode == 0, done.stderr
    assert "refs/gtoguard/requests" not in git("for-each-ref", cwd=world.server).stdout
    listed = gtoguard("approvals", cwd=bob)
    assert "no pending requests" in listed.stdout
