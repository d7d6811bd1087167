"""What a new team admin hit trying gtoguard (issue 18's walk-through), each met for real:
the same note twice, git's porcelain in a message, a pipe closed early, options that
contradict each other, hints that name nobody or nothing to run."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import BIN, Template, World, git, gtoguard, make_world

LEADS = "stages:\n  prod:\n    pushers: ['@leads']\ngroups:\n  leads: [alice, carol]\n"


def _led(root: Path) -> World:
    world = make_world(root)
    world.commit("policy", {".gtoguard.yaml": LEADS})
    assert world.push("HEAD:main").ok
    assert gtoguard("install", "--repo", str(world.clone), cwd=world.clone).returncode == 0
    done = gtoguard("register", "churn", "--version", "v1.0.0", "--push", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    return world


@pytest.fixture(scope="module")
def led_template() -> Template:
    return Template(_led)


@pytest.fixture
def led(led_template: Template, tmp_path: Path) -> World:
    """prod is for @leads (alice, carol); the clone has the pre-push hook (a copy of a
    world made once: conftest's Template)."""
    return led_template.world(tmp_path)


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
    with subprocess.Popen(
        [str(BIN / "gtoguard"), "log", "--file", str(log)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as reader:
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
        done = gtoguard(
            "assign", "churn", "--version", "v1.0.0", "--stage", stage, "--dry-run", cwd=led.clone
        )
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
    refused = gtoguard(
        "unassign", "churn", "--version", "v1.0.0", "--stage", "dev", "--dry-run", cwd=led.clone
    )
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


# --- the walk-through of issue 18: a new admin, the wheel and the docs ---------------------


@pytest.fixture(scope="module")
def moved_on_template() -> Template:
    return Template(_moved_on)


@pytest.fixture
def moved_on(moved_on_template: Template, tmp_path: Path) -> World:
    """prod only from staging; v1.0.0 went staging → prod, then v1.1.0 (a later commit)
    went staging → prod too: v1.0.0 holds neither now, but held both (a copy of a world
    made once: conftest's Template)."""
    return moved_on_template.world(tmp_path)


def _moved_on(root: Path) -> World:
    world = make_world(root)
    world.set_policy("stages:\n  prod: {from: [staging]}\n")
    for version in ("v1.0.0", "v1.1.0"):
        if version == "v1.1.0":
            world.commit("retrain")
            assert world.push("HEAD:main").ok
        steps = (["register", "churn", "--version", version],
                 ["assign", "churn", "--version", version, "--stage", "staging"],
                 ["assign", "churn", "--version", version, "--stage", "prod"])  # fmt: skip
        for step in steps:
            done = gtoguard(*step, "--push", cwd=world.clone)
            assert done.returncode == 0, done.stderr
    return world


def _shown(world: World) -> dict[str, str | None]:
    return dict(json.loads(gtoguard("show", "--json", cwd=world.clone).stdout)["churn"]["stage"])


def test_a_rollback_goes_through_the_helper_without_force(moved_on: World) -> None:
    """gto's "already in stage" (held until unassigned) is not what any screen shows: a
    version that left prod goes back by a plain assign, as rollback: true allows; only a
    version gto show shows in the stage now is a no-op."""
    world = moved_on
    assert _shown(world)["prod"] == "v1.1.0"
    back = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--push", cwd=world.clone
    )
    assert back.returncode == 0, back.stderr
    assert _shown(world)["prod"] == "v1.0.0"
    again = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--dry-run", cwd=world.clone
    )
    assert again.returncode == 2 and "holds stage 'prod' already" in again.stderr
    # v1.1.0 is in staging now (it left prod): its promotion is no no-op either
    up = gtoguard(
        "assign", "churn", "--version", "v1.1.0", "--stage", "prod", "--dry-run", cwd=world.clone
    )
    assert up.returncode == 0, up.stderr


def test_a_rollback_through_the_page_and_its_no_op_without_cli_hints(
    moved_on: World, page_of: Any
) -> None:
    page = page_of(moved_on.clone)
    reply = page.post("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prod"})
    assert reply.status == 201, reply.body
    again = page.post("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prod"})
    answer = again.json()
    assert again.status == 400 and "holds stage 'prod' already" in answer["summary"]
    assert answer["hint"] is None or "--force" not in answer["hint"], answer


def test_rollback_false_names_itself_and_the_stage_order_hint_runs(moved_on: World) -> None:
    world = moved_on
    world.set_policy("stages:\n  prod: {from: [staging], rollback: false}\n")
    refused = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--dry-run", cwd=world.clone
    )
    assert refused.returncode == 1 and "[stage-order]" in refused.stderr
    assert "it held prod before, but rollback: false" in refused.stderr
    hint = refused.stderr.split("hint:", 1)[1].splitlines()[0].split("gtoguard", 1)[1]
    first = gtoguard(*hint.split(), "--push", cwd=world.clone)  # back to staging first
    assert first.returncode == 0, first.stderr
    done = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--push", cwd=world.clone
    )
    assert done.returncode == 0, done.stderr


def test_hints_for_an_artifact_that_does_not_exist_run(led: World) -> None:
    done = gtoguard(
        "assign", "nosuch", "--version", "v1.0.0", "--stage", "prod", "--dry-run", cwd=led.clone
    )
    assert done.returncode == 2 and "there is no artifact nosuch yet" in done.stderr
    assert "see the artifacts: gtoguard show;" in done.stderr
    assert gtoguard("show", cwd=led.clone).returncode == 0


def test_summaries_count_what_they_say(led: World) -> None:
    """A pre-push of several tags says them; a failing audit counts its not-checkable
    notes too; a message-mismatch hint names the pattern, not a placeholder command."""
    led.tag("churn#dev#5", "churn@v1.0.0^{commit}")
    led.tag("churn#staging#6", "churn@v1.0.0^{commit}")
    pushed = led.push("refs/tags/churn#dev#5", "refs/tags/churn#staging#6", no_verify=False)
    assert pushed.ok and "2 GTO tags checked; sending them; the server checks them again" in (
        pushed.output
    )
    led.set_policy(LEADS.replace("groups:", "  staging:\n    message: 'CHANGE-[0-9]+'\ngroups:"))
    refused = gtoguard(
        "unassign",
        "churn",
        "--version",
        "v1.0.0",
        "--stage",
        "staging",
        "--dry-run",
        "-m",
        "no ticket",
        cwd=led.clone,
    )
    assert "give the tag a message matching 'CHANGE-[0-9]+'" in refused.stderr
    assert "... -m" not in refused.stderr


def test_a_declined_push_on_the_page_shows_the_servers_lines_unpadded(
    led: World, page_of: Any
) -> None:
    page = page_of(led.clone)
    reply = page.post("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prod"})
    lines = reply.json()["remote_lines"]
    assert reply.status == 409 and lines and all(line == line.rstrip() for line in lines)


def test_ci_names_the_variable_its_policy_gives(led: World, tmp_path: Path) -> None:
    """A CI job's policy may name the identity variable: the message says that variable,
    not that server variables are never read, and the hint is CI's."""
    policy = tmp_path / "ci-policy.yaml"
    policy.write_text("identity: REMOTE_USER\n")
    made = int(time.time()) + 5  # after the registration the helper made just now
    led.tag("churn#prod#9", "churn@v1.0.0^{commit}", when=made)
    when = str(made + 1)  # pushed a second after it was made
    env = {"GTOGUARD_POLICY": str(policy), "GITHUB_ACTOR": "alice"}
    done = gtoguard("check", "--pushed-at", when, "--", "churn#prod#9", cwd=led.clone, env=env)
    said = done.stdout + done.stderr
    assert done.returncode == 1 and "REMOTE_USER (the server policy's identity)" in said, said
    assert "never read" not in said and "run the check in the job the push started" in said
    allowed = gtoguard("check", "--pushed-at", when, "--", "churn#prod#9", cwd=led.clone,
                       env={**env, "REMOTE_USER": "alice"})  # fmt: skip
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
