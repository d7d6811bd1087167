"""Every hint that names a command is a command that, run as given, gets past the refusal
it came with (issue 11): each refusal here is met for real, its hint is taken from the
output, run in the clone, and then the thing the user wanted goes through."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, World, git, gtoguard, make_world

_COMMAND = re.compile(r"((?:gtoguard|git) [^()\n]*?)(?:\)|\s+\(|$)")


def _hint(output: str, rule: str) -> str:
    """The command in the hint under the first violation of ``rule``."""
    lines = output.splitlines()
    for number, line in enumerate(lines):
        if f"[{rule}]" in line and number + 1 < len(lines) and "hint:" in lines[number + 1]:
            found = _COMMAND.search(lines[number + 1].split("hint:", 1)[1])
            assert found is not None, lines[number + 1]
            return found[1].strip()
    raise AssertionError(f"no [{rule}] with a hint in:\n{output}")


def _run(world: World, command: str) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)
    if words[0] == "gtoguard":
        words[0] = str(BIN / "gtoguard")
    return subprocess.run(words, cwd=world.clone, capture_output=True, text=True, check=False)


@pytest.fixture
def registered(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    done = gtoguard("register", "churn", "--version", "v1.0.0", "--push", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    return world


def test_stage_unknown_names_the_command_for_the_stage_meant(registered: World) -> None:
    refused = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "prd", "--push", cwd=registered.clone
    )
    assert refused.returncode == 1
    fix = _hint(refused.stderr, "stage-unknown")
    assert fix == "gtoguard assign churn --version v1.0.0 --stage prod"
    done = _run(registered, fix + " --push")
    assert done.returncode == 0, done.stderr
    assert any(t.startswith("churn#prod#") for t in registered.server_tags())


def test_version_exists_names_a_bump_that_registers(registered: World) -> None:
    registered.commit("retrain")
    refused = gtoguard("register", "churn", "--version", "v1.0.0", cwd=registered.clone)
    assert refused.returncode == 1
    fix = _hint(refused.stderr, "version-exists")
    assert fix == "gtoguard register churn --bump-patch"
    done = _run(registered, fix)
    assert done.returncode == 0, done.stderr
    assert "churn@v1.0.1" in git("tag", cwd=registered.clone).stdout.split()


def test_version_not_increasing_names_a_bump_that_registers(registered: World) -> None:
    registered.set_policy("versions: {increasing: true}\n")
    refused = gtoguard("register", "churn", "--version", "v0.9.0", cwd=registered.clone)
    assert refused.returncode == 1
    done = _run(registered, _hint(refused.stderr, "version-not-increasing"))
    assert done.returncode == 0, done.stderr


def test_stage_order_names_the_promotion_that_comes_first(registered: World) -> None:
    registered.set_policy("stages:\n  prod: {from: [staging]}\n")
    wanted = ["assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--push"]
    refused = gtoguard(*wanted, cwd=registered.clone)
    assert refused.returncode == 1
    fix = _hint(refused.stderr, "stage-order")
    assert fix == "gtoguard assign churn --version v1.0.0 --stage staging"
    assert _run(registered, fix + " --push").returncode == 0
    again = gtoguard(*wanted, cwd=registered.clone)
    assert again.returncode == 0, again.stderr


def test_an_unassign_on_an_unregistered_commit_names_the_registration(tmp_path: Path) -> None:
    """A stage pushed onto a commit without a version (gto's "unregistered version")
    cannot be unassigned there: register the commit first, as the hint says."""
    world = make_world(tmp_path)
    world.tag("churn#dev#1")
    assert world.push_tags("churn#dev#1").ok
    world.tag("churn#dev!#2")
    refused = world.push_tags("churn#dev!#2")
    assert not refused.ok
    fix = _hint(refused.output, "version-not-registered")
    assert fix.startswith("gtoguard register churn ")
    git("tag", "-d", "churn#dev!#2", cwd=world.clone)
    assert _run(world, fix + " --push").returncode == 0
    done = gtoguard(
        "unassign", "churn", "--version", "v0.0.1", "--stage", "dev", "--push", cwd=world.clone
    )
    assert done.returncode == 0, done.stderr


def test_a_registration_the_policy_requires_is_made_by_the_hinted_assign(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.set_policy("versions: {registration: required}\n")
    world.tag("churn#dev#1")
    refused = world.push_tags("churn#dev#1")
    assert not refused.ok
    fix = _hint(refused.output, "version-not-registered")
    git("tag", "-d", "churn#dev#1", cwd=world.clone)
    done = _run(world, fix + " --push")
    assert done.returncode == 0, done.stderr
    assert {t.split("#")[0] for t in world.server_tags()} >= {"churn@v0.0.1", "churn"}


def test_a_deregistration_on_the_wrong_commit_names_the_right_command(registered: World) -> None:
    other = registered.commit("elsewhere")
    registered.tag("churn@v1.0.0!#5", other, when=int(time.time()) + 1)  # after the helper's
    refused = registered.push_tags("churn@v1.0.0!#5")
    assert not refused.ok
    fix = _hint(refused.output, "version-not-registered")
    assert fix == "gtoguard deregister churn --version v1.0.0", refused.output
    git("tag", "-d", "churn@v1.0.0!#5", cwd=registered.clone)
    done = _run(registered, fix + " --push")
    assert done.returncode == 0, done.stderr


def test_a_tag_under_another_name_is_pushed_under_its_own(registered: World) -> None:
    registered.tag("churn#dev#7", "churn@v1.0.0^{commit}", when=int(time.time()) + 1)
    refused = registered.push("refs/tags/churn#dev#7:refs/tags/churn#staging#7")
    assert not refused.ok
    fix = _hint(refused.output, "tag-name-mismatch")
    assert fix == "git push origin 'refs/tags/churn#dev#7'"
    done = _run(registered, fix)
    assert done.returncode == 0, done.stderr
    assert "churn#dev#7" in registered.server_tags()


def test_informational_hints_run(registered: World) -> None:
    """Hints that point at a command to look with (not a fix) run as given."""
    refused = gtoguard(
        "unassign", "churn", "--version", "v1.0.0", "--stage", "prod", cwd=registered.clone
    )
    assert refused.returncode == 1
    look = _run(registered, _hint(refused.stderr, "stage-not-active"))
    assert look.returncode == 0 and "v1.0.0" in look.stdout


def test_a_bump_on_a_commit_with_a_version_says_to_commit_first(registered: World) -> None:
    """On a commit that carries v1.0.0, a lower version is refused twice over; the hint
    says to commit first, and after a commit its command registers."""
    registered.set_policy("versions: {increasing: true}\n")
    git("checkout", "-q", "--detach", "churn@v1.0.0", cwd=registered.clone)
    refused = gtoguard("register", "churn", "--version", "v0.0.5", cwd=registered.clone)
    assert refused.returncode == 1
    assert "[commit-has-version]" in refused.stderr
    fix = _hint(refused.stderr, "version-not-increasing")
    assert "commit your change" in refused.stderr and fix == "gtoguard register churn --bump-patch"
    same = _run(registered, fix)  # on the same commit a bump cannot help
    assert same.returncode == 1 and "[commit-has-version]" in same.stderr
    registered.commit("retrain")
    done = _run(registered, fix)
    assert done.returncode == 0, done.stderr


def test_a_declined_stage_deletion_names_the_unassign_to_make(registered: World) -> None:
    """Deleting a stage tag is refused; the hint names the version, not a placeholder,
    and the unassignment it names goes through and takes the stage away."""
    done = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--push", cwd=registered.clone
    )
    assert done.returncode == 0, done.stderr
    stage_tag = next(t for t in registered.server_tags() if t.startswith("churn#prod#"))
    refused = registered.push(f":refs/tags/{stage_tag}")
    assert not refused.ok
    fix = _hint(refused.output, "tag-deleted")
    assert fix == "gtoguard unassign churn --version v1.0.0 --stage prod", refused.output
    done = _run(registered, fix + " --push")
    assert done.returncode == 0, done.stderr
    shown = json.loads(gtoguard("show", "--json", cwd=registered.clone).stdout)
    assert shown["churn"]["stage"].get("prod") is None, shown
