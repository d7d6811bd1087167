"""The push receipt: what an accepted push changed in the registry, one line per change,
from real pushes into a bare server with the installed hook (pre-receive), from the
clone's pre-push hook ("will change"), and from the helper's --push."""

from __future__ import annotations

import sys
import time

import pytest

from gtoguard.model.receipt import Shown, changes
from gtoguard.server.install import install_into

from conftest import World, git, gtoguard


def receipt(output: str, label: str = "changed") -> list[str]:
    """The receipt lines of a push's output, without git's and gtoguard's prefixes."""
    mark = f"gtoguard: {label}: "
    return [line.split(mark, 1)[1].rstrip() for line in output.splitlines() if mark in line]


def _promoted(world: World) -> None:
    """churn v1.2.0 registered and in prod on the server."""
    world.tag("churn@v1.2.0")
    world.tag("churn#prod#1")
    pushed = world.push_tags("churn@v1.2.0", "churn#prod#1")
    assert pushed.ok, pushed.output
    assert receipt(pushed.output) == ["churn: v1.2.0 registered", "churn: v1.2.0 → prod"]


def test_register_and_promote_over_an_older_version(world: World) -> None:
    _promoted(world)
    world.commit("retrained")
    world.tag("churn@v1.3.0")
    world.tag("churn#prod#2")
    pushed = world.push_tags("churn@v1.3.0", "churn#prod#2")
    assert pushed.ok, pushed.output
    assert receipt(pushed.output) == [
        "churn: v1.3.0 registered",
        "churn: v1.3.0 → prod (was v1.2.0)",
    ]
    lines = [line for line in pushed.output.splitlines() if "gtoguard:" in line]
    assert "push accepted" in lines[0] and "changed:" in lines[-1]  # the receipt comes last


def test_unassign_deregister_and_a_stage_in_config_order(world: World) -> None:
    _promoted(world)
    world.commit("retrained")
    world.tag("churn@v1.3.0")
    world.tag("churn#prod#2")
    world.tag("churn#dev#3")
    pushed = world.push_tags("churn@v1.3.0", "churn#prod#2", "churn#dev#3")
    assert receipt(pushed.output) == [
        "churn: v1.3.0 registered",
        "churn: v1.3.0 → dev",
        "churn: v1.3.0 → prod (was v1.2.0)",
    ]
    world.tag("churn#prod!#4")
    pushed = world.push_tags("churn#prod!#4")
    assert pushed.ok, pushed.output
    assert receipt(pushed.output) == ["churn: prod unassigned from v1.3.0; prod is v1.2.0 now"]
    world.tag("churn@v1.2.0!#5", target="churn@v1.2.0^{}")
    pushed = world.push_tags("churn@v1.2.0!#5")
    assert pushed.ok, pushed.output
    assert receipt(pushed.output) == [
        "churn: v1.2.0 deregistered",
        "churn: prod no longer held by v1.2.0 (deregistered)",
    ]


def test_deprecate_and_come_back(world: World) -> None:
    _promoted(world)
    # gto counts the commit's date as an event of the version: a deprecation must be newer
    world.tag("churn@deprecated#2", when=int(time.time()) + 2)
    pushed = world.push_tags("churn@deprecated#2")
    assert pushed.ok, pushed.output
    assert receipt(pushed.output) == ["churn: deprecated"]
    world.commit("retrained")
    world.tag("churn@v1.3.0", when=int(time.time()) + 4)
    pushed = world.push_tags("churn@v1.3.0")
    assert pushed.ok, pushed.output
    assert receipt(pushed.output) == [
        "churn: active again (was deprecated)",
        "churn: v1.3.0 registered",
    ]


def test_a_deletion_where_the_policy_allows_it(world: World) -> None:
    world.set_policy("tags:\n  delete: allow\n")
    _promoted(world)
    pushed = world.push(":refs/tags/churn#prod#1")
    assert pushed.ok, pushed.output
    assert receipt(pushed.output) == ["churn: prod no longer held by v1.2.0 (its tag was deleted)"]


def test_pre_push_sees_what_a_deletion_takes_away(world: World) -> None:
    """The clone deleted the tag already (and leaves pushed names out of its registry):
    its receipt reads the tag's old object, as the server's does."""
    world.set_policy("tags:\n  delete: allow\n")
    _promoted(world)
    install_into(world.clone / ".git" / "hooks" / "pre-push", "pre-push", sys.executable)
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    pushed = world.push(":refs/tags/churn#prod#1", no_verify=False)
    assert pushed.ok, pushed.output
    expected = ["churn: prod no longer held by v1.2.0 (its tag was deleted)"]
    assert receipt(pushed.output, "will change") == expected
    assert receipt(pushed.output) == expected


def test_a_push_that_changes_nothing_readers_show(world: World) -> None:
    _promoted(world)
    world.tag("churn#prod#2")  # prod again, on the version that holds it
    pushed = world.push_tags("churn#prod#2")
    assert pushed.ok, pushed.output
    assert receipt(pushed.output) == [
        "nothing that gto readers show (the tags join the history only)"
    ]


def test_a_declined_push_prints_no_receipt(world: World) -> None:
    world.tag("churn@v1.0.0")
    world.tag("churn#prd#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#prd#1")
    assert not pushed.ok and "[stage-unknown]" in pushed.output
    assert receipt(pushed.output) == [] and "changed" not in pushed.output
    install_into(world.clone / ".git" / "hooks" / "pre-push", "pre-push", sys.executable)
    stopped = world.push_tags("churn@v1.0.0", "churn#prd#1", no_verify=False)
    assert not stopped.ok and receipt(stopped.output, "will change") == []


def test_warn_mode_prints_violations_then_the_receipt(world: World) -> None:
    world.set_policy("mode: warn\n")
    world.tag("churn@v1.0.0")
    world.tag("churn#prd#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#prd#1")
    assert pushed.ok, pushed.output
    lines = [line for line in pushed.output.splitlines() if "gtoguard:" in line]
    assert "[stage-unknown] warning:" in lines[0]
    assert receipt(pushed.output) == ["churn: v1.0.0 registered", "churn: v1.0.0 → prd"]
    assert lines.index(next(x for x in lines if "changed:" in x)) > lines.index(lines[0])


def test_pre_push_says_what_the_push_will_change(world: World) -> None:
    _promoted(world)
    install_into(world.clone / ".git" / "hooks" / "pre-push", "pre-push", sys.executable)
    world.commit("retrained")
    world.tag("churn@v1.3.0")
    world.tag("churn#prod#2")
    pushed = world.push_tags("churn@v1.3.0", "churn#prod#2", no_verify=False)
    assert pushed.ok, pushed.output
    expected = ["churn: v1.3.0 registered", "churn: v1.3.0 → prod (was v1.2.0)"]
    assert receipt(pushed.output, "will change") == expected  # the clone's prediction
    assert receipt(pushed.output) == expected  # and the server's lines after it


def test_the_helper_push_shows_the_servers_receipt(world: World) -> None:
    _promoted(world)
    world.commit("retrained")
    done = gtoguard("register", "churn", "--version", "v1.3.0", "--push", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    assert receipt(done.stderr) == ["churn: v1.3.0 registered"]
    done = gtoguard(
        "assign", "churn", "--version", "v1.3.0", "--stage", "prod", "--push", cwd=world.clone
    )
    assert done.returncode == 0, done.stderr
    assert receipt(done.stderr) == ["churn: v1.3.0 → prod (was v1.2.0)"]


def test_gitlab_sees_the_receipt_prefixed_like_every_line(world: World) -> None:
    world.tag("churn@v1.0.0")
    done = git("push", "origin", "refs/tags/churn@v1.0.0", cwd=world.clone, check=False,
               env={"GL_ID": "user-1"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "remote: GL-HOOK-ERR: gtoguard: changed: churn: v1.0.0 registered" in done.stderr
    lines = [line for line in done.stderr.splitlines() if "gtoguard" in line]
    assert all("GL-HOOK-ERR: " in line for line in lines)


def _shown(
    versions: tuple[str, ...] = (),
    stages: dict[str, tuple[str, ...]] | None = None,
    active: bool = True,
) -> Shown:
    """An artifact's view; a holder ``v1@c1`` is version v1 on commit c1 (else its own)."""
    holders = {
        stage: tuple((h.split("@")[-1], h.split("@")[0]) for h in names)
        for stage, names in (stages or {}).items()
    }
    return Shown(True, active, versions, frozenset(), holders, frozenset())


@pytest.mark.parametrize(
    ("was", "now", "lines"),
    [
        (_shown(("v1",)), _shown(("v2", "v1")), ["a: v2 registered"]),
        (_shown(("v1",), {"prod": ("v1",)}), _shown(("v1",), {"prod": ("v1",)}), []),
        (_shown(("v1",), {"prod": ("v1",)}), _shown(("v1",), active=False), ["a: deprecated"]),
        # assigned again, ahead of the version that was shown
        (
            _shown(("v2", "v1"), {"prod": ("v2", "v1")}),
            _shown(("v2", "v1"), {"prod": ("v1", "v2")}),
            ["a: v1 → prod (was v2)"],
        ),
        # a stage on a commit that gets registered: readers show the version now
        (
            _shown((), {"prod": ("0123456789abcdef",)}),
            _shown(("v1",), {"prod": ("v1@0123456789abcdef",)}),
            ["a: v1 registered", "a: v1 → prod (was 0123456)"],
        ),
        # the review: two versions given staging in one push; the last line is gto's
        (
            _shown(("v2", "v1")),
            _shown(("v2", "v1"), {"staging": ("v2", "v1")}),
            ["a: v1 → staging", "a: v2 → staging"],
        ),
        # the review: registered and deprecated in one push said only "registered"
        (
            Shown(False, False, (), frozenset(), {}, frozenset()),
            _shown(("v1",), active=False),
            ["a: v1 registered", "a: deprecated"],
        ),
    ],
)
def test_changes(was: Shown, now: Shown, lines: list[str]) -> None:
    assert changes("a", was, now) == lines
