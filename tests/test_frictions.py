"""What a new team admin hit trying gtoguard (issue 18's walk-through), each met for real:
the same note twice, git's porcelain in a message, a pipe closed early, options that
contradict each other, hints that name nobody or nothing to run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, World, git, gtoguard, make_world

LEADS = "stages:\n  prod:\n    pushers: ['@leads']\ngroups:\n  leads: [alice, carol]\n"


@pytest.fixture
def led(tmp_path: Path) -> World:
    """prod is for @leads (alice, carol); the clone has the pre-push hook."""
    world = make_world(tmp_path)
    world.commit("policy", {".gtoguard.yaml": LEADS})
    assert world.push("HEAD:main").ok
    assert gtoguard("install", "--repo", str(world.clone), cwd=world.clone).returncode == 0
    done = gtoguard("register", "churn", "--version", "v1.0.0", "--push", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    return world


def test_a_declined_promotion_says_each_thing_once_in_words(led: World) -> None:
    """The helper's own note that identity is not checkable in a clone is printed once
    (its pre-push does not repeat it); the server's refusal names the members of the
    group; git's porcelain never reaches the user."""
    done = gtoguard("assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--push",
                    cwd=led.clone, env={"REMOTE_USER": "bob"})  # fmt: skip
    assert done.returncode == 1, done.stderr
    said = done.stdout + done.stderr
    assert said.count("[identity-unknown]") == 1, said
    assert "not checkable here" in said and "push accepted" not in said.split("remote:")[0]
    assert "[pusher-not-allowed] bob (from REMOTE_USER)" in said
    assert "ask a member of @leads to do it (alice, carol)" in said
    assert "\t" not in said and "!\t" not in said and "[remote rejected]" not in said
    assert "refs/tags/churn#prod#1: remote rejected (pre-receive hook declined)" in said


def test_a_clone_never_takes_an_identity_from_its_environment(led: World) -> None:
    """REMOTE_USER in a user's shell is nobody the server authenticated: the helper's
    check calls identity not checkable, whatever the variable says."""
    done = gtoguard("assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--dry-run",
                    cwd=led.clone, env={"REMOTE_USER": "alice"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "[identity-unknown] not checkable here" in done.stdout + done.stderr


def test_a_plain_push_through_pre_push_does_not_claim_the_servers_verdict(led: World) -> None:
    """pre-push passes the tag on, and says that the server checks it again: it never
    says "push accepted" just before the server declines."""
    led.tag("churn#prod#2", "churn@v1.0.0^{commit}")
    pushed = led.push("refs/tags/churn#prod#2", no_verify=False, env={"REMOTE_USER": "bob"})
    assert not pushed.ok
    ours = [line for line in pushed.output.splitlines() if line.startswith("gtoguard:")]
    assert any("the server checks it again" in line for line in ours), pushed.output
    assert not any("push accepted" in line for line in ours), pushed.output
    assert "[pusher-not-allowed]" in pushed.output


def test_log_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    line = {"time": "2026-12-01T00:00:00Z", "verdict": "accepted", "refs": [], "violations": []}
    log.write_text((json.dumps(line) + "\n") * 5000)
    with subprocess.Popen([str(BIN / "gtoguard"), "log", "--file", str(log)], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as reader:  # fmt: skip
        assert reader.stdout is not None and reader.stderr is not None
        assert reader.stdout.readline().startswith(b"2026-12-01T00:00:00Z  accepted")
        reader.stdout.close()  # gtoguard log | head -1
        error = reader.stderr.read()
        code = reader.wait(timeout=60)
    assert code == 141 and error == b"", (code, error)


def test_log_refuses_a_rule_id_that_does_not_exist(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_text("")
    done = gtoguard("log", "--file", str(log), "--rule", "stage-frozn", cwd=tmp_path)
    assert done.returncode == 2 and "not a rule id" in done.stderr
    assert "did you mean --rule stage-frozen?" in done.stderr
    since = gtoguard("log", "--file", str(log), "--since", "yesterday", cwd=tmp_path)
    assert since.returncode == 2 and "7d" in since.stderr and "12h" in since.stderr
    known = gtoguard("log", "--file", str(log), "--rule", "stage-frozen", cwd=tmp_path)
    assert known.returncode == 0 and "no decisions match" in known.stdout


def test_two_bumps_are_a_usage_error(led: World) -> None:
    before = git("tag", cwd=led.clone).stdout
    for command in (["register", "churn"], ["assign", "churn", "--stage", "prod"]):
        done = gtoguard(*command, "--bump-major", "--bump-minor", cwd=led.clone)
        assert done.returncode == 2 and "not --bump-major and --bump-minor" in done.stderr
    assert git("tag", cwd=led.clone).stdout == before


def test_a_new_stage_is_told_to_go_into_gto(led: World) -> None:
    for stage, near in (("qa", None), ("prd", "prod")):
        done = gtoguard("assign", "churn", "--version", "v1.0.0", "--stage", stage,
                        "--dry-run", cwd=led.clone)  # fmt: skip
        assert done.returncode == 1 and "[stage-unknown]" in done.stderr
        assert "add it to 'stages' in .gto by a commit to the default branch" in done.stderr
        assert (f"did you mean '{near}'?" in done.stderr) == (near is not None)


def test_words_say_what_a_tag_does(led: World) -> None:
    parsed = gtoguard("parse", "iris@deprecated", cwd=led.clone)
    assert "iris@deprecated: deprecates artifact iris" in parsed.stdout
    led.set_policy("stages:\n  dev:\n    message: 'CHANGE-[0-9]+'\n")
    done = gtoguard("assign", "churn", "--version", "v1.0.0", "--stage", "dev", "-m", "CHANGE-1",
                    "--push", cwd=led.clone, env={"REMOTE_USER": "bob"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    refused = gtoguard("unassign", "churn", "--version", "v1.0.0", "--stage", "dev", "--dry-run",
                       cwd=led.clone)  # fmt: skip
    assert refused.returncode == 1 and "[message-mismatch]" in refused.stderr
    assert "requires to" not in refused.stderr
    assert "which every change to stage dev needs" in refused.stderr
    assert "this tag would unassign stage dev" in refused.stderr


def test_a_broken_policy_on_main_says_how_to_get_out(tmp_path: Path) -> None:
    """A policy on main that cannot be read (committed while no hook ran) declines every
    push of tags; the decline says so and how to fix it, and the fixing push goes in."""
    world = make_world(tmp_path)
    hook = world.server / "hooks" / "pre-receive"
    hook.rename(world.server / "hooks" / "off")
    world.commit("policy", {".gtoguard.yaml": "stages:\n  prod: [oops\n"})
    assert world.push("HEAD:main").ok
    (world.server / "hooks" / "off").rename(hook)
    world.tag("churn@v1.0.0")
    refused = world.push_tags("churn@v1.0.0")
    assert not refused.ok and "main:.gtoguard.yaml: [config-invalid]" in refused.output
    assert "commit a fixed .gtoguard.yaml to main and push that first" in refused.output
    assert "until the configuration above is fixed" in refused.output
    world.commit("fix the policy", {".gtoguard.yaml": "stages:\n  prod: {}\n"})
    assert world.push("HEAD:main").ok
    assert world.push_tags("churn@v1.0.0").ok
