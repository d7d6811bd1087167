"""Tagger dates against arrival (third review, findings 13 and 20; docs/policy.md,
"Tagger dates"): a tag dated ahead of the clock cannot hold other people's tags back,
and an audit, which knows no arrival, flags the tag its counters say is back-dated,
never the one a hook took first. Real pushes into bare repositories."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import World, gtoguard, make_world

V1 = "churn@v1.0.0^{commit}"


def now() -> int:
    return int(time.time())


def test_a_tag_dated_ahead_cannot_hold_back_other_promotions(world: World) -> None:
    """Finding 13: a dev tag dated 290 s ahead (inside clock_skew) made every promotion of
    the artifact fail counter-not-increasing for five minutes, renewable forever."""
    world.tag("churn@v1.0.0", when=now() - 30)
    assert world.push_tags("churn@v1.0.0").ok
    world.tag("churn#dev#5", V1, when=now() + 290)
    assert world.push_tags("churn#dev#5").ok
    world.tag("churn#prod#6", V1, when=now())
    pushed = world.push_tags("churn#prod#6")
    assert pushed.ok, pushed.output
    done = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "staging", "--push", cwd=world.clone
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "churn#staging#7" in world.server_tags()
    # the audit cannot tell which of the two was off the clock: a warning, not a fault
    audit = gtoguard("check", "--all", "--repo", str(world.server), cwd=world.root)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "[counter-not-increasing] warning:" in audit.stdout, audit.stdout
    assert "churn#dev#5" in audit.stdout


def test_a_tag_dated_ahead_still_holds_where_it_stands(world: World) -> None:
    """gto places the tag dated ahead after the new one: there it must still pass. A push
    that would make it fail is declined, and says why."""
    world.set_policy("stages:\n  prod: {from: [staging]}\n")
    world.tag("churn@v1.0.0", when=now() - 60)
    world.tag("churn#staging#1", V1, when=now() - 50)
    assert world.push_tags("churn@v1.0.0", "churn#staging#1").ok
    world.tag("churn#prod#2", V1, when=now() + 250)  # holds staging when it arrives
    assert world.push_tags("churn#prod#2").ok
    world.tag("churn#staging!#3", V1, when=now())  # gto would read it before prod#2
    pushed = world.push_tags("churn#staging!#3")
    assert not pushed.ok and pushed.rules() == {"stage-order"}, pushed.output
    assert "'churn#prod#2' is dated after this push arrived" in pushed.output


def _ci_world(tmp_path: Path) -> World:
    """A repository as github.com keeps it: no hook; CI audits it."""
    world = make_world(tmp_path, hook=False)
    world.tag("churn@v1.0.0", when=now() - 600)
    assert world.push_tags("churn@v1.0.0").ok
    return world


def test_the_audit_condemns_neither_tag_of_an_inversion(tmp_path: Path) -> None:
    """Finding 20: bob pushed churn#dev#3 dated 5 s before alice's churn#prod#2. check
    --all flagged alice's tag, and prune then deleted alice's promotion (prod became
    null). Counters and dates are both the pusher's to write (the fresh review: one tag
    with counter #0 dated now made the audit condemn every tag before it, and prune
    deleted them), so an audit that does not know the arrival condemns neither."""
    world = _ci_world(tmp_path)
    alice = now() - 100
    world.tag("churn#prod#2", V1, when=alice)
    assert world.push_tags("churn#prod#2").ok
    world.tag("churn#dev#3", V1, when=alice - 5)
    assert world.push_tags("churn#dev#3").ok
    audit = gtoguard("check", "--all", "--json", "--repo", str(world.server), cwd=tmp_path)
    assert audit.returncode == 0, audit.stdout
    flagged = {(v["ref"], v["severity"]) for v in json.loads(audit.stdout)["violations"]}
    assert flagged == {("refs/tags/churn#prod#2", "warning")}, flagged
    message = json.loads(audit.stdout)["violations"][0]["message"]
    assert "'churn#dev#3'" in message and "cannot tell which" in message
    pruned = gtoguard("prune", "--made-after", str(alice - 60), cwd=world.clone)
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert {"churn#prod#2", "churn#dev#3"} <= world.server_tags()
    # the fresh review's version: alice's tags an hour old, then one tag #0 dated now
    world.tag("churn#staging#4", V1, when=alice + 10)
    assert world.push_tags("churn#staging#4").ok
    world.tag("churn#dev#0", V1, when=now())
    assert world.push_tags("churn#dev#0").ok
    pruned = gtoguard("prune", "--made-after", str(alice - 800), cwd=world.clone)
    assert pruned.returncode == 0 and "deleting" not in pruned.stdout, pruned.stdout
    assert {"churn#prod#2", "churn#staging#4"} <= world.server_tags()


def test_the_hook_declines_what_the_audit_warns_of(tmp_path: Path) -> None:
    """The same two tags through the server hook: bob's, dated before alice's (which was
    dated at its arrival), is declined when it arrives."""
    world = make_world(tmp_path)
    world.tag("churn@v1.0.0", when=now() - 60)
    assert world.push_tags("churn@v1.0.0").ok
    alice = now() - 20
    world.tag("churn#prod#2", V1, when=alice)
    assert world.push_tags("churn#prod#2").ok
    world.tag("churn#dev#3", V1, when=alice - 5)
    pushed = world.push_tags("churn#dev#3")
    assert not pushed.ok and pushed.rules() == {"counter-not-increasing"}, pushed.output
    assert "its tagger date places it before 'churn#prod#2'" in pushed.output


def test_prune_keeps_a_tag_that_fails_only_by_a_back_dated_config(tmp_path: Path) -> None:
    """The fresh review: someone who may push main committed a .gto without prod, dated
    two hours back; the audit judged an hour-old prod tag by it, and prune deleted it."""
    world = _ci_world(tmp_path)
    for name in ("churn#staging#1", "churn#prod#2"):
        world.tag(name, V1, when=now() - 3600)
    assert world.push_tags("churn#staging#1", "churn#prod#2").ok
    world.follow, world.clock = False, now() - 7200
    world.commit("tidy", {".gto": "stages: [dev, staging]\n"})
    assert world.push("HEAD:main").ok
    audit = gtoguard("check", "--all", "--repo", str(world.server), cwd=tmp_path)
    assert "churn#prod#2: [stage-unknown]" in audit.stdout, audit.stdout  # by the dates
    pruned = gtoguard(
        "prune", "--made-after", str(now() - 86400), "--branch", "origin/main", cwd=world.clone
    )
    assert "kept churn#prod#2: it fails only by the rules of" in pruned.stdout, pruned.stdout
    assert "deleting" not in pruned.stdout and "churn#prod#2" in world.server_tags()
