"""The helper commands end to end, with the real git client and a server running the hook.

A tag the helper refuses is one the hook declines with the same rule id, and a refusal
writes nothing. Rules the helper cannot produce by construction (it always writes an
annotated tag on a commit with a fresh counter and never deletes or moves a tag):
tag-reserved, tag-lightweight, tag-deleted, tag-moved and counter-not-increasing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import World, git, gtoguard, make_world, need_program, run_gto, ssh_key


def local_refs(world: World) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=world.clone).stdout


def rules(text: str) -> set[str]:
    return set(re.findall(r"\[([a-z-]+)\]", text))


@pytest.fixture
def registered(world: World) -> World:
    """churn v1.0.0 registered (with a counter) and pushed."""
    done = gtoguard(
        "register", "churn", "--version", "v1.0.0", "--counter", "--push", cwd=world.clone
    )
    assert done.returncode == 0, done.stderr
    return world


@pytest.fixture(scope="module")
def registered_once() -> dict[str, World]:
    """Where the first test that needs it keeps a world like ``registered``, for tests
    that write nothing into it (test_errors_say_what_to_do)."""
    return {}


# (rule, setup -> helper arguments); the setup runs in the clone before the helper
Setup = Callable[[World], list[str]]


REFUSALS: list[tuple[str, Setup, dict[str, str]]] = [
    ("stage-unknown", lambda w: ["assign", "churn", "--version", "v1.0.0", "--stage", "prd"], {}),
    ("tag-malformed", lambda w: ["assign", "churn", "--version", "v1.0.0", "--stage", "pro.d"], {}),
    (
        "stage-not-active",
        lambda w: ["unassign", "churn", "--version", "v1.0.0", "--stage", "dev"],
        {},
    ),
    (
        "version-exists",
        lambda w: [w.commit("retrain") and "register", "churn", "--version", "v1.0.0"],
        {},
    ),
    ("commit-has-version", lambda w: ["register", "churn", "--version", "v2.0.0"], {}),
    ("version-not-registered", lambda w: ["deregister", "churn", "--version", "v9.9.9"], {}),
    ("tag-target", lambda w: ["register", "churn", "HEAD^{tree}", "--version", "v3.0.0"], {}),
    (
        "counter-missing",
        lambda w: [
            w.set_policy("tags: {counter: required}\n") and "assign",
            "churn",
            "--version",
            "v1.0.0",
            "--stage",
            "dev",
            "--simple",
        ],
        {},
    ),
    (
        "tagger-time",
        lambda w: ["assign", "churn", "--version", "v1.0.0", "--stage", "dev"],
        {"GIT_COMMITTER_DATE": f"@{int(time.time()) + 7200} +0000"},
    ),
]


@pytest.mark.parametrize(("rule", "setup", "env"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refusal_is_what_the_hook_declines(
    registered: World, rule: str, setup: Setup, env: dict[str, str]
) -> None:
    world = registered
    args = setup(world)
    before = local_refs(world)
    dry = gtoguard(*args, "--dry-run", cwd=world.clone, env=env)
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "verdict: declined" in dry.stdout
    done = gtoguard(*args, cwd=world.clone, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert rule in rules(done.stderr), done.stderr
    assert "nothing was written" in done.stderr
    assert local_refs(world) == before  # nothing written

    # the same tag made by hand and pushed past the client hook: the server says the same
    name, target = re.search(r"^(\S+)\n  target:  (\S+)", dry.stdout, re.M).groups()  # type: ignore[union-attr]
    snapshot = world.server_snapshot()
    git("tag", "-a", name, target, "-m", "by hand", cwd=world.clone, env=env)
    pushed = world.push_tags(name)
    assert not pushed.ok
    assert rule in pushed.rules(), pushed.output
    assert world.server_snapshot() == snapshot


def test_config_invalid_stops_helper_and_hook_alike(registered: World) -> None:
    world = registered
    world.commit("break .gto", {".gto": "stages: dev\n"})
    pushed = world.push("HEAD:main")
    assert not pushed.ok and "config-invalid" in pushed.rules()
    git("push", "-q", "--no-verify", str(world.server), "HEAD:refs/heads/side", cwd=world.clone)
    # the helper reads the clone's branch; the broken file is there now
    done = gtoguard(
        "assign",
        "churn",
        "--version",
        "v1.0.0",
        "--stage",
        "dev",
        "--branch",
        "main",
        cwd=world.clone,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "[config-invalid]" in done.stderr and "Traceback" not in done.stderr


def test_created_tags_are_gtos_and_pushed_ones_are_accepted(registered: World) -> None:
    world = registered
    world.commit("retrain")
    assert world.push("HEAD:main").ok
    done = gtoguard("assign", "churn", "--stage", "staging", "--push", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    # implicit registration and the assignment, written and pushed together
    assert "churn@v1.0.1" in done.stdout and "churn#staging#2" in done.stdout
    assert {"churn@v1.0.1", "churn#staging#2"} <= world.server_tags()
    message = git("cat-file", "tag", "churn#staging#2", cwd=world.clone).stdout
    assert message.endswith("\n\nAssigning stage staging to artifact churn version v1.0.1")
    assert "tagger Test User <test@example.com>" in message


def test_push_carries_the_registration_the_server_lacks(world: World) -> None:
    """``register`` without --push, then ``assign --push``: the server gets the
    registration too, in the same atomic push, never a stage on a version it has not
    seen (under ``registration: required`` it would decline the stage alone)."""
    world.set_policy("versions: {registration: required}\n")
    done = gtoguard("register", "churn", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    done = gtoguard("assign", "churn", "--stage", "dev", "--push", cwd=world.clone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "with churn@v0.0.1, which origin did not have" in done.stdout, done.stdout
    assert {"churn@v0.0.1", "churn#dev#1"} <= world.server_tags()
    reader = world.root / "reader"
    git("clone", "-q", str(world.server), str(reader), cwd=world.root)
    shown = json.loads(run_gto("show", "--json", cwd=reader).stdout)
    assert shown["churn"]["stage"]["dev"] == "v0.0.1"


def test_push_reports_the_servers_decline_and_removes_the_tag(registered: World) -> None:
    world = registered
    policy = world.root / "server-policy.yaml"
    policy.write_text("tags: {counter: required}\n", encoding="utf-8")
    git("config", "gtoguard.policy", str(policy), cwd=world.server)  # only the server knows
    world.commit("retrain")
    assert world.push("HEAD:main").ok
    before = local_refs(world)
    done = gtoguard("register", "churn", "--version", "v1.1.0", "--push", cwd=world.clone)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "remote: gtoguard:" in done.stderr and "[counter-missing]" in done.stderr
    assert "declined the push" in done.stderr
    assert local_refs(world) == before  # the refused tag does not linger in the clone
    assert "churn@v1.1.0" not in world.server_tags()
    # with a counter the same registration goes through
    done = gtoguard(
        "register", "churn", "--version", "v1.1.0", "--counter", "--push", cwd=world.clone
    )
    assert done.returncode == 0, done.stderr
    assert "churn@v1.1.0#2" in world.server_tags()


def test_counter_follows_the_remote_with_push(registered: World, tmp_path: Path) -> None:
    world = registered
    other = tmp_path / "other"
    git("clone", "-q", str(world.server), str(other), cwd=tmp_path)
    for stage in ("dev", "staging"):
        done = gtoguard(
            "assign", "churn", "--version", "v1.0.0", "--stage", stage, "--push", cwd=other
        )
        assert done.returncode == 0, done.stderr
    # the first clone has not fetched #2 and #3; --push asks the remote
    done = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "prod", "--push", cwd=world.clone
    )
    assert done.returncode == 0, done.stderr
    assert "churn#prod#4" in world.server_tags()


def test_sign_with_an_ssh_key_verifies(registered: World, tmp_path: Path) -> None:
    world = registered
    key = ssh_key(tmp_path / "id_ed25519", "test")
    allowed = tmp_path / "allowed_signers"
    public = (tmp_path / "id_ed25519.pub").read_text(encoding="utf-8")
    allowed.write_text(f"test@example.com {public}", encoding="utf-8")
    for key_name, value in (
        ("gpg.format", "ssh"),
        ("user.signingKey", str(key)),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
    ):
        git("config", key_name, value, cwd=world.clone)
    done = gtoguard(
        "assign",
        "churn",
        "--version",
        "v1.0.0",
        "--stage",
        "prod",
        "--sign",
        "--push",
        cwd=world.clone,
    )
    assert done.returncode == 0, done.stderr
    verified = git("verify-tag", "churn#prod#2", cwd=world.clone, check=False)
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for test@example.com' in verified.stderr
    body = git("cat-file", "tag", "churn#prod#2", cwd=world.clone).stdout
    assert "Assigning stage prod to artifact churn version v1.0.0\n-----BEGIN SSH SIGNATURE" in body
    unsigned = git("verify-tag", "churn@v1.0.0#1", cwd=world.clone, check=False)
    assert unsigned.returncode != 0  # the check above can fail


def test_a_failing_signature_writes_nothing(registered: World) -> None:
    world = registered
    world.commit("retrain")
    git("config", "gpg.format", "ssh", cwd=world.clone)
    git("config", "user.signingKey", str(world.root / "no-such-key"), cwd=world.clone)
    before = local_refs(world)
    done = gtoguard("assign", "churn", "--stage", "dev", "--sign", cwd=world.clone)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "could not create tag" in done.stderr and "Traceback" not in done.stderr
    assert local_refs(world) == before  # register+assign: neither is left behind


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["register", "churn", "--version", "1.0.0"], 2, "not a version GTO accepts"),
        (["register", "churn", "--version", "v1.0.0", "--bump-minor"], 2, "not both"),
        (["register", "churn", "no-such-rev"], 2, "unknown revision"),
        (["register", "bad name"], 2, "invalid artifact name"),
        (["register", "newone", "--bump-major"], 2, "first version"),
        (["assign", "churn", "--version", "v8.0.0", "--stage", "dev"], 2, "not registered"),
        (["assign", "churn", "HEAD", "--version", "v4.0.0", "--stage", "dev"], 2, "registered at"),
        (["unassign", "churn", "--stage", "dev"], 2, "either --version"),
        (
            ["assign", "churn", "--version", "v1.0.0", "--stage", "prod!"],
            1,
            "[tag-malformed] 'churn#prod!#2' would read as a different tag",
        ),
        (["deprecate", "ghost"], 2, "cannot find artifact"),
        (["deprecate", "churn", "--force", "--simple"], 2, "needs a counter"),
        (["check"], 2, "TAG..., --all or --unpushed"),
        (["check", "nope@v1.0.0"], 2, "no tag"),
        (["show", "ghost"], 1, "no artifact named"),  # gto answers exit 1 too
        (["assign", "churn"], 2, "Missing option '--stage'"),
    ],
)
def test_errors_say_what_to_do(
    registered_once: dict[str, World], tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    """Each command fails without writing: the registered world is made once per module
    (per worker) and shared, and each example checks that it left the clone and the
    server as it found them."""
    if "world" not in registered_once:  # made inside a test: the suite's HOME and identity
        world = make_world(tmp_path)
        done = gtoguard("register", "churn", "--version", "v1.0.0", "--counter", "--push",
                        cwd=world.clone)  # fmt: skip
        assert done.returncode == 0, done.stderr
        registered_once["world"] = world
    world = registered_once["world"]
    before = world.snapshot()
    done = gtoguard(*args, cwd=world.clone)
    assert done.returncode == code, done.stdout + done.stderr
    assert says in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert world.snapshot() == before  # an error writes nothing


def test_no_identity_and_no_repository(registered: World, tmp_path: Path) -> None:
    env = {
        "GIT_COMMITTER_NAME": "",
        "GIT_COMMITTER_EMAIL": "",
        "GIT_AUTHOR_NAME": "",
        "GIT_AUTHOR_EMAIL": "",
        "EMAIL": "",
    }
    git("config", "user.useConfigOnly", "true", cwd=registered.clone)
    done = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "dev", cwd=registered.clone, env=env
    )
    assert done.returncode == 3, done.stderr
    assert "git cannot say who you are" in done.stderr and "user.email" in done.stderr
    lost = tmp_path / "not-a-repo"
    lost.mkdir()
    done = gtoguard("show", cwd=lost)
    assert done.returncode == 3 and "not a git repository" in done.stderr


def test_deprecate_again_takes_a_counter_and_bump_skips_used_names(registered: World) -> None:
    world = registered
    assert gtoguard("deprecate", "churn", cwd=world.clone).returncode == 0
    world.commit("retrain")
    assert gtoguard("register", "churn", cwd=world.clone).returncode == 0  # re-activates
    done = gtoguard("deprecate", "churn", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    assert "churn@deprecated#2" in done.stdout  # gto would need --force here
    # v1.0.1 is deregistered; a bump from v1.0.0 must not reuse it (gto would)
    assert gtoguard("deregister", "churn", "--version", "v1.0.1", cwd=world.clone).returncode == 0
    world.commit("retrain again")
    done = gtoguard("register", "churn", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    assert "churn@v1.0.2" in done.stdout


def test_assigning_a_held_stage_needs_force(registered: World) -> None:
    args = ("assign", "churn", "--stage", "dev", "--version", "v1.0.0")
    assert gtoguard(*args, cwd=registered.clone).returncode == 0
    again = gtoguard(*args, cwd=registered.clone)
    assert again.returncode == 2 and "holds stage 'dev' already" in again.stderr
    assert "--force" in again.stderr
    forced = gtoguard(*args, "--force", cwd=registered.clone)
    assert forced.returncode == 0 and "churn#dev#3" in forced.stdout


def test_sign_with_a_gpg_key_verifies(registered: World) -> None:
    import shutil
    import tempfile

    need_program("gpg", "gnupg")
    home = Path(tempfile.mkdtemp(prefix="gpg", dir="/tmp"))  # agent sockets need a short path
    env = {"GNUPGHOME": str(home)}
    try:
        home.chmod(0o700)
        made = subprocess.run(
            [
                "gpg",
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                "Test User <test@example.com>",
                "ed25519",
                "sign",
                "never",
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **env},
        )
        assert made.returncode == 0, made.stderr
        git("config", "user.signingKey", "test@example.com", cwd=registered.clone)
        done = gtoguard(
            "assign",
            "churn",
            "--version",
            "v1.0.0",
            "--stage",
            "prod",
            "--sign",
            cwd=registered.clone,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        verified = git("verify-tag", "churn#prod#2", cwd=registered.clone, env=env, check=False)
        assert verified.returncode == 0, verified.stderr
        assert "Good signature" in verified.stderr
    finally:
        subprocess.run(
            ["gpgconf", "--kill", "gpg-agent"],
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)


def test_the_helper_applies_the_team_policy(registered: World) -> None:
    world = registered
    world.set_policy("stages:\n  prod: {from: [staging], pushers: [alice], signed: true}\n")
    args = ("assign", "churn", "--version", "v1.0.0")
    done = gtoguard(*args, "--stage", "prod", cwd=world.clone)
    assert done.returncode == 1
    assert rules(done.stderr) == {"stage-order", "identity-unknown", "signature-required"}
    assert "[identity-unknown] not checkable here:" in done.stderr  # the server decides
    assert gtoguard(*args, "--stage", "staging", cwd=world.clone).returncode == 0
    key = ssh_key(world.root / "key")
    git("config", "gpg.format", "ssh", cwd=world.clone)
    git("config", "user.signingKey", str(key), cwd=world.clone)
    done = gtoguard(*args, "--stage", "prod", "--sign", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    assert "[identity-unknown] not checkable here:" in done.stderr and "churn#prod#3" in done.stdout


def test_check_in_ci_knows_the_pusher(registered: World) -> None:
    world = registered
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    world.tag("churn#prod#2", "churn@v1.0.0#1^{commit}", when=int(time.time()) + 1)
    bob = gtoguard("check", "churn#prod#2", cwd=world.clone, env={"GITHUB_ACTOR": "bob"})
    assert bob.returncode == 1 and "bob (from GITHUB_ACTOR)" in bob.stdout
    alice = gtoguard("check", "churn#prod#2", cwd=world.clone, env={"GITLAB_USER_LOGIN": "alice"})
    assert alice.returncode == 0, alice.stdout
    # the job a push started (--pushed-at) is the last check there is: no identity
    # declines (an empty variable is none; GitLab's `git push -o
    # ci.variable="GITLAB_USER_LOGIN="` empties it)
    pushed_at = str(int(time.time()) + 1)
    for env in ({}, {"GITHUB_ACTOR": ""}, {"GITLAB_USER_LOGIN": " "}):
        nobody = gtoguard(
            "check", "churn#prod#2", "--pushed-at", pushed_at, cwd=world.clone, env=env
        )
        assert nobody.returncode == 1, (env, nobody.stdout)
        assert "[identity-unknown]" in nobody.stdout and "not checkable" not in nobody.stdout
    # by hand, outside such a job, nobody is named: not checkable here
    by_hand = gtoguard("check", "churn#prod#2", cwd=world.clone)
    assert by_hand.returncode == 0 and "[identity-unknown] not checkable here:" in by_hand.stdout
    # an audit replays history: today's CI user did not push yesterday's tags
    audit = gtoguard("check", "--all", cwd=world.clone, env={"GITHUB_ACTOR": "bob"})
    assert audit.returncode == 0 and "[identity-unknown] not checkable here:" in audit.stdout


def test_a_misspelt_artifact_gets_a_suggestion(registered: World) -> None:
    world = registered
    shown = gtoguard("show", "chrun", cwd=world.clone)
    assert shown.returncode == 1 and "did you mean 'churn'?" in shown.stderr, shown.stderr
    planned = gtoguard("assign", "chrun", "--stage", "dev", "--dry-run", cwd=world.clone)
    assert planned.returncode == 0  # a new artifact is allowed; the note says what is likelier
    assert "note: 'chrun' is a new artifact here; did you mean 'churn'?" in planned.stderr
    far = gtoguard("show", "fraud", cwd=world.clone)
    assert "did you mean" not in far.stderr and "see the artifacts: gtoguard show" in far.stderr


def test_the_rules_come_from_the_remote_not_an_unpushed_commit(registered: World) -> None:
    """The clone was made before the first push, so it has no refs/remotes/origin/HEAD.
    A local, unpushed .gto that adds the stage 'qa' must not make the helper promise
    what the server (which reads its own main) declines."""
    world = registered
    assert "refs/remotes/origin/HEAD" not in local_refs(world)
    world.commit("local qa", {".gto": "stages: [dev, staging, prod, qa]\n"})  # not pushed
    planned = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "qa", "--dry-run", cwd=world.clone
    )
    assert planned.returncode == 1, planned.stdout + planned.stderr
    assert "verdict: declined" in planned.stdout
    assert "not allowed by .gto on origin/main" in planned.stderr, planned.stderr
    pushed = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "qa", "--push", cwd=world.clone
    )
    assert pushed.returncode == 1 and "qa" not in " ".join(world.server_tags())
    # once pushed, the server and the helper agree
    assert world.push("HEAD:main").ok
    planned = gtoguard(
        "assign", "churn", "--version", "v1.0.0", "--stage", "qa", "--dry-run", cwd=world.clone
    )
    assert planned.returncode == 0 and "verdict: accepted" in planned.stdout


@pytest.fixture
def hosted(tmp_path: Path) -> World:
    """A server with no hook (github.com, gitlab.com): CI is the only check."""
    (tmp_path / "hosted").mkdir()
    world = make_world(tmp_path / "hosted", hook=False)
    world.set_policy("stages:\n  prod: {from: [staging]}\n")
    return world


@pytest.mark.parametrize("prod", ["m#prod#3", "m#prod"])
def test_check_judges_a_tag_as_it_arrived(hosted: World, prod: str) -> None:
    """staging was unassigned an hour ago; a prod tag back-dated into the time staging
    was held passes a check that only looks at the tags before it. --pushed-at judges it
    as it arrived: the newest event, dated an hour before its push (issue 15)."""
    world, now = hosted, int(time.time())
    for name, when in (
        ("m@v1.0.0#1", now - 4000),
        ("m#staging#2", now - 3900),
        ("m#staging!#5", now - 3600),
        (prod, now - 3700),
    ):
        world.tag(name, "HEAD", when=when)
    assert world.push("--tags").ok
    blind = gtoguard("check", prod, cwd=world.clone)
    assert blind.returncode == 0, blind.stdout  # the hole the option closes
    assert "pass --pushed-at" in blind.stdout
    for arrived in (str(now), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))):
        judged = gtoguard("check", prod, "--pushed-at", arrived, cwd=world.clone)
        assert judged.returncode == 1 and "[tagger-time]" in judged.stdout, judged.stdout
        assert "before the push" in judged.stdout


def test_check_as_it_arrived_passes_a_tag_checked_late(hosted: World) -> None:
    """A good tag checked by a CI job that ran late, after later tags were pushed, is
    judged on what was there when it arrived; a future date is declined."""
    world, now = hosted, int(time.time())
    for name, when in (
        ("m@v1.0.0#1", now - 100),
        ("m#staging#2", now - 90),
        ("m#prod#3", now - 80),
        ("m#staging!#4", now + 2000),
        ("m#dev#5", now + 9000),
    ):
        world.tag(name, "HEAD", when=when)
    assert world.push("--tags").ok
    done = gtoguard("check", "m#prod#3", "--pushed-at", str(now - 78), cwd=world.clone)
    assert done.returncode == 0, done.stdout
    future = gtoguard("check", "m#dev#5", "--pushed-at", str(now), cwd=world.clone)
    assert future.returncode == 1 and "in the future" in future.stdout, future.stdout
    bad = gtoguard("check", "m#prod#3", "--pushed-at", "yesterday", cwd=world.clone)
    assert bad.returncode == 2 and "is not a time" in bad.stderr


def test_check_as_it_arrived_applies_counter_and_branches(hosted: World) -> None:
    """The other rules hold when a tag is judged as it arrived: a counter not above one
    already there, a prod commit off main."""
    world, now = hosted, int(time.time())
    world.set_policy("stages:\n  prod: {branches: [main]}\n")
    world.tag("m@v1.0.0#1", "HEAD", when=now - 60)
    world.tag("m#dev#5", "HEAD", when=now - 50)
    world.tag("m#dev#3", "HEAD", when=now - 45)
    off = git(
        "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "off main", cwd=world.clone
    ).stdout.strip()
    world.tag("m@v2.0.0#6", off, when=now - 40)
    world.tag("m#prod#7", off, when=now - 30)
    assert world.push("--tags").ok
    for tag, rule in (("m#dev#3", "counter-not-increasing"), ("m#prod#7", "branch-not-allowed")):
        done = gtoguard("check", tag, "--pushed-at", str(now), cwd=world.clone)
        assert done.returncode == 1 and f"[{rule}]" in done.stdout, done.stdout


def test_a_tag_only_this_clone_has_is_named_with_its_fix(registered: World) -> None:
    """A tag the server declined (made with git or gto, so nothing removed it) blocks the
    helper; the note names it, and its hint is a command that gets past the refusal."""
    world = registered
    world.commit("v2")
    assert world.push("HEAD:main").ok
    world.tag("churn@v2.0.0")  # never pushed
    done = gtoguard("register", "churn", "--version", "v2.0.0", cwd=world.clone)
    assert done.returncode == 1 and "[version-exists]" in done.stderr, done.stderr
    assert "only this clone has churn@v2.0.0 (origin does not)" in done.stderr
    fix = re.search(r"delete it \((git tag -d [^)]+)\)", done.stderr)
    assert fix is not None, done.stderr
    git(*fix[1].split()[1:], cwd=world.clone)  # run the hint as given
    again = gtoguard("register", "churn", "--version", "v2.0.0", "--push", cwd=world.clone)
    assert again.returncode == 0, again.stderr
    assert "churn@v2.0.0" in world.server_tags()


def test_show_name_marks_a_deprecated_artifact_and_deregistered_versions(registered: World) -> None:
    world = registered
    now = int(time.time())  # after the helper's registration, made at the real time
    world.tag("churn@v1.0.0!#2", "churn@v1.0.0#1^{commit}", when=now + 1)
    world.tag("churn@deprecated#3", "churn@v1.0.0#1^{commit}", when=now + 2)
    assert world.push_tags("churn@v1.0.0!#2", "churn@deprecated#3").ok
    shown = gtoguard("show", "churn", "-d", cwd=world.clone)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("churn is deprecated (churn@deprecated#3, ")
    assert re.search(r"v1\.0\.0 .* deregistered +churn@v1\.0\.0#1", shown.stdout), shown.stdout


def test_counters_and_versions_follow_the_remote_without_push(
    registered: World, tmp_path: Path
) -> None:
    """Another clone pushed v1.0.1 (counter #2); this clone has not fetched it. The helper
    asks origin and plans past both, with or without --push."""
    world = registered
    other = tmp_path / "other"
    git("clone", "-q", str(world.server), str(other), cwd=tmp_path)
    git("commit", "-q", "--allow-empty", "-m", "retrain", cwd=other)
    git("push", "-q", "origin", "HEAD:main", cwd=other)
    done = gtoguard("register", "churn", "--counter", "--push", cwd=other)
    assert done.returncode == 0 and "churn@v1.0.1#2" in done.stdout, done.stdout + done.stderr
    world.commit("retrain here")
    planned = gtoguard("register", "churn", "--counter", "--dry-run", cwd=world.clone)
    assert planned.returncode == 0, planned.stderr
    assert "churn@v1.0.2#3" in planned.stdout, planned.stdout  # not v1.0.1, not #2


@pytest.mark.parametrize("url", ["path", "file", "relative"])
def test_a_remote_on_this_machine_lists_what_ls_remote_lists(tmp_path: Path, url: str) -> None:
    """Read directly (for-each-ref on its ref store), a same-machine remote gives the
    names ``git ls-remote`` gives, for artifacts and stages with slashes too, and the
    tags of other artifacts stay out."""
    from gtoguard.git.prefetch import is_local_read, ls_remote_command
    from gtoguard.git.remote import remote_tag_names
    from gtoguard.git.repo import open_repo

    world = make_world(tmp_path, hook=False)  # names the rules decline are listed too
    names = [
        "churn@v1.0.0",
        "churn#prod#1",
        "churn#prod/eu#2",
        "churn@v1.0.0!#3",
        "models/churn@v2.0.0",
        "models/churn#dev/x/y#4",
        "churnx@v1.0.0",
        "chur@v1.0.0",
        "other#prod#1",
    ]
    for name in names:
        world.tag(name)
    assert world.push("--tags").ok
    given = {
        "path": str(world.server),
        "file": f"file://{world.server}",
        "relative": os.path.relpath(world.server, world.clone),
    }[url]
    git("remote", "set-url", "origin", given, cwd=world.clone)
    assert is_local_read(ls_remote_command("origin", ["churn"], str(world.clone)))
    repo = open_repo(str(world.clone))
    for artifacts in (["churn"], ["models/churn"], ["churn", "other"], None):
        got = sorted(remote_tag_names(repo, "origin", artifacts))
        patterns = [f"refs/tags/{a}{s}*" for a in artifacts or [] for s in "@#"]
        listed = git("ls-remote", "--tags", "--refs", "origin", *patterns, cwd=world.clone)
        assert got == sorted(line.split("\trefs/tags/")[1] for line in listed.stdout.splitlines())
        assert got, artifacts


def test_a_remote_url_git_may_rewrite_is_asked_through_ls_remote(world: World) -> None:
    from gtoguard.git.prefetch import is_local_read, ls_remote_command

    assert is_local_read(ls_remote_command("origin", ["churn"], str(world.clone)))
    git("config", f"url.{world.server}.insteadOf", "srv:", cwd=world.clone)
    git("remote", "set-url", "origin", "srv:", cwd=world.clone)
    assert not is_local_read(ls_remote_command("origin", ["churn"], str(world.clone)))
    git("config", "--unset", f"url.{world.server}.insteadOf", cwd=world.clone)
    git("remote", "set-url", "origin", "ssh://example.invalid/x.git", cwd=world.clone)
    assert not is_local_read(ls_remote_command("origin", ["churn"], str(world.clone)))


def test_the_wait_for_a_new_second_holds_on_the_clock_git_dates_by() -> None:
    """git dates a tag by time(2), which may trail time.time() by a kernel tick: the
    helper's wait must end in the new second of that clock, or a tag judged as made after
    the latest event is written in its second (gto then orders the two by name)."""
    import ctypes

    from gtoguard.model.state import ArtifactState, TagEvent
    from gtoguard.model.tagname import parse_tag
    from gtoguard.registry.planning import _after_the_latest

    libc = ctypes.CDLL(None)
    libc.time.restype = ctypes.c_long
    for _ in range(2):
        latest = int(time.time())
        state = ArtifactState("churn", [TagEvent("churn@v1.0.0", parse_tag("churn@v1.0.0"),
                                                 latest, "0" * 40)])  # fmt: skip
        _after_the_latest(state)
        assert libc.time(None) > latest
