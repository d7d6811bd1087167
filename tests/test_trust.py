"""Hostile input beyond the tag names (issue: hostile input everywhere else): who is
pushing, what the policy files mean, and patterns any pusher can make the server run.
Real pushes through the installed hook, and the CLI as users run it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gtoguard.config.files import parse_policy
from gtoguard.config.problems import ConfigInvalid
from gtoguard.policy.identity import pusher

from conftest import World, git, gtoguard


def declined(world: World, *refspecs: str, env: dict[str, str] | None = None) -> set[str]:
    before = world.server_snapshot()
    pushed = world.push(*refspecs, env=env)
    assert not pushed.ok, pushed.output
    assert "Traceback" not in pushed.output and "internal-error" not in pushed.output
    assert world.server_snapshot() == before
    return pushed.rules()


# --- identity only from the right place ---------------------------------------------------


def test_ci_mode_reads_only_the_ci_systems_variables() -> None:
    # a GitLab pusher can set any pipeline variable: `git push -o ci.variable="GL_USERNAME=alice"`
    env = {"GL_USERNAME": "alice", "REMOTE_USER": "alice", "GITLAB_USER_LOGIN": "mallory"}
    found = pusher(env, ci=True)
    assert found is not None and (found.name, found.source) == ("mallory", "GITLAB_USER_LOGIN")
    assert pusher({"GL_USERNAME": "alice"}, ci=True) is None
    hook = pusher(env)  # in a hook the server's variables are the identity
    assert hook is not None and hook.name == "alice"


def test_check_in_ci_ignores_server_variables(world: World) -> None:
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    world.tag("churn@v1.0.0", when=int(time.time()))
    world.tag("churn#prod#1", when=int(time.time()) + 1)
    forged = {"GL_USERNAME": "alice", "GITLAB_USER_LOGIN": "mallory"}
    done = gtoguard("check", "churn#prod#1", cwd=world.clone, env=forged)
    assert done.returncode == 1 and "mallory (from GITLAB_USER_LOGIN)" in done.stdout


def test_a_name_is_taken_as_the_server_wrote_it(world: World) -> None:
    """'alice ' is not alice: an account system may let someone else register it."""
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    for name in ("alice ", " alice", "alice\n"):
        rules = declined(world, "refs/tags/churn@v1.0.0", "refs/tags/churn#prod#1",
                         env={"REMOTE_USER": name})  # fmt: skip
        assert rules == {"pusher-not-allowed"}, (name, rules)
    assert world.push("--tags", env={"REMOTE_USER": "alice"}).ok


def test_a_group_name_is_never_a_user(world: World) -> None:
    world.set_policy("groups:\n  admins: [alice]\nstages:\n  prod: {pushers: ['@admins']}\n")
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    rules = declined(world, "refs/tags/churn@v1.0.0", "refs/tags/churn#prod#1",
                     env={"REMOTE_USER": "@admins"})  # fmt: skip
    assert rules == {"identity-unknown"}
    assert world.push("--tags", env={"REMOTE_USER": "alice"}).ok


def test_nested_groups_expand_and_cycles_are_refused() -> None:
    policy = parse_policy(
        b"groups:\n  leads: [alice, '@seniors']\n  seniors: [bob]\n"
        b"stages:\n  prod: {pushers: ['@leads']}\n"
    )
    assert policy.stages[0].pushers == frozenset({"alice", "bob"})
    for text, problem in (
        (b"groups:\n  a: ['@b']\n  b: ['@a']\n", "contains itself"),
        (b"groups:\n  a: ['@a']\n", "contains itself"),
        (b"groups:\n  a: ['@nobody']\n", "'@nobody' is not defined"),
    ):
        with pytest.raises(ConfigInvalid) as found:
            parse_policy(text)
        assert problem in str(found.value.problems), found.value.problems


# --- patterns run in linear time ------------------------------------------------------------


def test_a_backtracking_pattern_costs_nothing(world: World, tmp_path: Path) -> None:
    world.set_policy("stages:\n  prod: {message: '^([A-Za-z0-9-]+ ?)+$'}\n")
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1", message="a" * 40 + "!")  # minutes of backtracking for re
    started = time.monotonic()
    rules = declined(world, "refs/tags/churn@v1.0.0", "refs/tags/churn#prod#1")
    assert rules == {"message-mismatch"}
    assert time.monotonic() - started < 60  # a bound against a hang, not a speed target
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    world.tag("churn#prod#1", message="CHANGE-1 ok")
    assert world.push("--tags").ok


@pytest.mark.parametrize("pattern", ["(a)\\\\1", "(?=x)y", "a{1001}"])
def test_a_pattern_re2_cannot_run_is_config_invalid(world: World, pattern: str) -> None:
    policy = world.clone / ".gtoguard.yaml"
    policy.write_text(f'stages:\n  prod: {{message: "{pattern}"}}\n', encoding="utf-8")
    done = gtoguard("config", "validate", str(policy), cwd=world.clone)
    assert done.returncode == 1 and "not a usable pattern" in done.stdout + done.stderr
    git("add", ".gtoguard.yaml", cwd=world.clone)
    git("commit", "-q", "-m", "policy", cwd=world.clone)
    assert declined(world, "HEAD:main") == {"config-invalid"}


# --- policy files mean what they say -----------------------------------------------------


def _commit_symlink(world: World, name: str, target: str) -> None:
    (world.clone / name).symlink_to(target)
    git("add", name, cwd=world.clone)
    git("commit", "-q", "-m", f"{name} as a link", cwd=world.clone)


def test_a_symlinked_policy_is_config_invalid(world: World) -> None:
    strict = world.clone / "strict.yaml"
    strict.write_text("stages:\n  prod: {pushers: [alice]}\n", encoding="utf-8")
    _commit_symlink(world, ".gtoguard.yaml", "strict.yaml")
    # cat shows the strict policy, the hook would read the link text: refused at the push
    assert declined(world, "HEAD:main") == {"config-invalid"}
    done = gtoguard("config", "validate", cwd=world.clone)
    assert done.returncode == 1 and "symbolic link" in done.stdout, done.stdout
    # and one that reached the server another way stops GTO pushes, not guards nothing
    git("push", "-q", "--no-verify", str(world.server), "HEAD:refs/heads/side", cwd=world.clone)
    git("update-ref", "refs/heads/main", "refs/heads/side", cwd=world.server)
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#prod#1", env={"REMOTE_USER": "bob"})
    assert (
        not pushed.ok and "[config-invalid]" in pushed.output and "symbolic link" in pushed.output
    )


def test_ci_mode_does_not_take_signature_shaped_text_for_a_signature(world: World) -> None:
    world.set_policy("stages:\n  prod: {signed: true}\n")
    forged = "promote\n-----BEGIN PGP SIGNATURE-----\nforged\n-----END PGP SIGNATURE-----\n"
    world.tag("churn@v1.0.0", when=int(time.time()))
    world.tag("churn#prod#1", when=int(time.time()) + 1, message=forged)
    done = gtoguard("check", "churn#prod#1", cwd=world.clone)
    assert done.returncode == 1 and "[signature-invalid]" in done.stdout, done.stdout
    assert "no signers to verify it against" in done.stdout


def test_rules_that_protect_nothing_are_named(tmp_path: Path) -> None:
    from conftest import make_world

    world = make_world(tmp_path, gto=None)  # no stages in .gto: any stage name is valid
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    policy = world.clone / ".gtoguard.yaml"
    policy.write_text("stages:\n  Prod: {pushers: [alice]}\n", encoding="utf-8")
    done = gtoguard("config", "validate", cwd=world.clone)
    assert done.returncode == 1 and "differs only in case from 'prod'" in done.stdout, done.stdout
    policy.write_text("stages:\n  qa: {branches: [mian]}\n", encoding="utf-8")
    done = gtoguard("config", "validate", cwd=world.clone)
    assert done.returncode == 0, done.stdout
    assert "warning: " in done.stdout and "no tag uses stage 'qa'" in done.stdout
    assert "no branch matches 'mian'" in done.stdout
    policy.write_text("stages:\n  prod: {}\n  PROD: {}\n", encoding="utf-8")
    git("add", ".gtoguard.yaml", cwd=world.clone)
    git("commit", "-q", "-m", "policy", cwd=world.clone)
    assert declined(world, "HEAD:main") == {"config-invalid"}


# --- hooks run only installed code ------------------------------------------------------------


def _plant(where: Path, marker: Path) -> None:
    """Modules a hostile repository could carry, each leaving a mark when imported."""
    code = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    for module in ("gtoguard", "jsonschema"):
        (where / module).mkdir(exist_ok=True)
        (where / module / "__init__.py").write_text(code, encoding="utf-8")
    for module in ("yaml", "pygit2"):
        (where / f"{module}.py").write_text(code, encoding="utf-8")


@pytest.mark.parametrize("hooks_path", [False, True])
def test_planted_modules_are_never_imported(tmp_path: Path, hooks_path: bool) -> None:
    from gtoguard.server.install import install

    from conftest import make_world

    world = make_world(tmp_path)
    install(str(world.clone))  # the clone's pre-push hook
    if hooks_path:  # hooks from another directory, cwd still the work tree / git dir
        shared = tmp_path / "shared-hooks"
        shared.mkdir()
        for repo in (world.clone, world.server):
            git("config", "core.hooksPath", str(shared / repo.name), cwd=repo)
        install(str(world.clone))
        install(str(world.server))
    marker = tmp_path / "imported"
    _plant(world.clone, marker)  # the pre-push hook runs in the work tree
    _plant(world.server, marker)  # pre-receive runs in the git dir
    world.tag("churn@v1.0.0")
    world.tag("churn#prd#1")
    pushed = world.push("refs/tags/churn@v1.0.0", "refs/tags/churn#prd#1", no_verify=False)
    assert not pushed.ok and "[stage-unknown]" in pushed.output, pushed.output
    pushed = world.push("refs/tags/churn@v1.0.0", "refs/tags/churn#prd#1")  # the server
    assert not pushed.ok and "[stage-unknown]" in pushed.output, pushed.output
    assert not marker.exists(), marker.read_text()
