"""Team policy on real pushes: every rule of docs/design.md §2-§3 beyond the defaults, declining
and accepting, through the installed pre-receive hook of a bare repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import World, faulty_python, git, gtoguard, make_world, need_program, run_gto, ssh_key

V1 = "churn@v1.0.0^{commit}"  # the commit of the registered version


@pytest.fixture
def registered(world: World) -> World:
    return world.landed()


# --- stage-order ---------------------------------------------------------------------------


def test_stage_order(world: World) -> None:
    world.set_policy("stages:\n  prod: {from: [staging]}\n")
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#prod#1")
    assert not pushed.ok and "stage-order" in pushed.rules(), pushed.output
    assert "must be in staging before prod" in pushed.output
    # staging earlier in the same push satisfies 'from'
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    world.tag("churn#staging#1")
    world.tag("churn#prod#2")
    pushed = world.push_tags("churn@v1.0.0", "churn#staging#1", "churn#prod#2")
    assert pushed.ok, pushed.output


# --- soak-too-short --------------------------------------------------------------------------


def test_a_soak_of_24_hours_declines_at_23_and_accepts_at_25(world: World) -> None:
    """Real tagger dates, on a server that mirrors old history (``tags.max_age: off``, so
    that tags dated a day back land): churn went to staging 23 h ago, fraud 25 h ago. The
    server, pre-push, CI and the audit give the same verdict; gto reads the result."""
    world.set_policy("stages:\n  prod: {soak: {staging: 24h}}\n")
    world.set_server_policy("tags: {max_age: off}\n")
    assert gtoguard("install", "--repo", str(world.clone), cwd=world.root).returncode == 0
    now = int(time.time())
    for name, held in (("churn", 23), ("fraud", 25)):
        world.tag(f"{name}@v1.0.0", when=now - 30 * 3600)
        world.tag(f"{name}#staging#1", when=now - held * 3600)
    early = ["churn@v1.0.0", "churn#staging#1", "fraud@v1.0.0", "fraud#staging#1"]
    assert world.push_tags(*early).ok
    for name, code in (("churn", 1), ("fraud", 0)):  # the helper's dry run
        dry = gtoguard("assign", name, "--version", "v1.0.0", "--stage", "prod", "--dry-run",
                       cwd=world.clone)  # fmt: skip
        assert dry.returncode == code and ("[soak-too-short]" in dry.stderr) == bool(code), (
            dry.stderr
        )
    world.tag("churn#prod#2", when=now)
    world.tag("fraud#prod#2", when=now)
    ci = gtoguard("check", "--pushed-at", str(now), "--", "churn#prod#2", "fraud#prod#2",
                  cwd=world.clone)  # fmt: skip
    assert ci.returncode == 1 and "churn#prod#2" in ci.stdout and "fraud#prod#2" not in ci.stdout
    stopped = world.push_tags("churn#prod#2", no_verify=False)  # pre-push, then the server
    assert not stopped.ok and "push stopped before sending" in stopped.output, stopped.output
    declined = world.push_tags("churn#prod#2")
    assert not declined.ok and declined.rules() == {"soak-too-short"}, declined.output
    assert "'churn' v1.0.0 has held staging for 23 h of the 1 d prod asks" in declined.output
    assert "wait until " in declined.output
    accepted = world.push_tags("fraud#prod#2", no_verify=False)
    assert accepted.ok, accepted.output
    git("tag", "-d", "churn#prod#2", cwd=world.clone)
    audit = gtoguard("check", "--all", cwd=world.clone)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    shown = json.loads(run_gto("show", "--json", cwd=world.clone).stdout)
    stages = {name: row["stage"] for name, row in shown.items()}
    assert stages["fraud"].get("prod") == "v1.0.0" and not stages["churn"].get("prod"), shown


# --- evidence-missing, metric-failed ------------------------------------------------------------

EVIDENCE = """\
stages:
  prod:
    requires:
      files: [model_card.md]
      metrics:
        - file: "models/{artifact}/metrics.json"
          checks: {accuracy: ">= 0.92", eval.latency_ms: "<= 50"}
"""


def test_a_soak_counts_from_the_arrival_the_decision_log_records(world: World) -> None:
    """A staging tag dated 290 s back lands (within clock_skew, 300 s): by its date it has
    soaked 4 min at once. Where the server keeps a decision log, the soak counts from the
    arrival the log records instead, and the date buys nothing."""
    world.set_policy("stages:\n  prod: {soak: {staging: 4m}}\n")
    world.set_server_policy("identity: REMOTE_USER\n")
    now = int(time.time())
    for name in ("churn", "fraud"):
        world.tag(f"{name}@v1.0.0", when=now - 200)
    assert world.push_tags("churn@v1.0.0", "fraud@v1.0.0", env={"REMOTE_USER": "alice"}).ok
    world.tag("churn#staging#1", when=now - 290)
    assert world.push_tags("churn#staging#1", env={"REMOTE_USER": "alice"}).ok  # no log yet
    log = world.root / "decisions.jsonl"
    world.set_server_policy(f"identity: REMOTE_USER\nlog: {log}\n")
    world.tag("fraud#staging#1", when=now - 290)
    assert world.push_tags("fraud#staging#1", env={"REMOTE_USER": "alice"}).ok  # logged
    for name in ("churn", "fraud"):
        world.tag(f"{name}#prod#2", when=int(time.time()))
    accepted = world.push_tags("churn#prod#2", env={"REMOTE_USER": "alice"})
    assert accepted.ok, accepted.output  # by its date: what a log-less server trusts
    declined = world.push_tags("fraud#prod#2", env={"REMOTE_USER": "alice"})
    assert not declined.ok and declined.rules() == {"soak-too-short"}, declined.output
    assert "has held staging for 0 s of the 4 min" in declined.output or (
        "has held staging for 1 s of the 4 min" in declined.output
    ), declined.output


def test_prod_needs_the_model_card_and_metrics_that_clear_the_bar(world: World) -> None:
    """Read from the promoted commit's own tree: each commit below is registered and
    promoted; only the one with the card and passing metrics gets into prod. The hook, CI
    and the helper's dry run agree; gto reads the result."""
    world.set_policy(EVIDENCE)
    card = {"model_card.md": "# churn\n"}
    cases = [  # (files of the commit, the rule its promotion breaks, words of the message)
        ({}, "evidence-missing", "has no file model_card.md"),
        (card, "evidence-missing", "has no file models/churn/metrics.json"),
        ({**card, "models/churn/metrics.json": "{accuracy: 0.95,"}, "evidence-missing",
         "models/churn/metrics.json in commit"),
        ({**card, "models/churn/metrics.json": '{"accuracy": 0.95}'}, "evidence-missing",
         "there is no eval.latency_ms"),
        ({**card, "models/churn/metrics.json": '{"accuracy": 0.91, "eval": {"latency_ms": 20}}'},
         "metric-failed", "accuracy is 0.91, which is not >= 0.92"),
        ({**card, "models/churn/metrics.json": "accuracy: 0.95\neval: {latency_ms: 50}\n"},
         None, ""),
    ]  # fmt: skip
    for number, (files, rule, said) in enumerate(cases, start=1):
        world.commit(f"model {number}", files)
        version = f"v{number}.0.0"
        world.tag(f"churn@{version}")
        if rule is None:  # the commit, its version and prod in one push: read in quarantine
            world.tag(f"churn#prod#{number}")
            pushed = world.push(
                "HEAD:main", f"refs/tags/churn@{version}", f"refs/tags/churn#prod#{number}"
            )
            assert pushed.ok, pushed.output
            continue
        assert world.push("HEAD:main", f"refs/tags/churn@{version}").ok
        dry = gtoguard("assign", "churn", "--version", version, "--stage", "prod", "--dry-run",
                       cwd=world.clone)  # fmt: skip
        world.tag(f"churn#prod#{number}")
        ci = gtoguard("check", "--", f"churn#prod#{number}", cwd=world.clone)
        pushed = world.push_tags(f"churn#prod#{number}")
        assert not pushed.ok and pushed.rules() == {rule}, pushed.output
        assert said in pushed.output, pushed.output
        assert dry.returncode == 1 and f"[{rule}]" in dry.stderr, dry.stderr
        assert ci.returncode == 1 and f"[{rule}]" in ci.stdout, ci.stdout
        git("tag", "-d", f"churn#prod#{number}", cwd=world.clone)
    shown = json.loads(run_gto("show", "--json", cwd=world.clone).stdout)
    assert shown["churn"]["stage"]["prod"] == "v6.0.0", shown


def _blob(world: World, data: bytes) -> str:
    return git("hash-object", "-w", "--stdin", cwd=world.clone, input=data).stdout.strip()


def _tree(cwd: Path, entries: list[tuple[str, str, str]]) -> str:
    """A tree object written byte for byte, its entries in the order given (mode, name,
    object id): git itself never writes one name twice; git fsck calls it duplicateEntries."""
    body = b"".join(
        f"{mode} {name}".encode() + b"\0" + bytes.fromhex(oid) for mode, name, oid in entries
    )
    done = subprocess.run(["git", "hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
                          cwd=cwd, input=body, capture_output=True, check=True)  # fmt: skip
    return done.stdout.decode().strip()


def test_metrics_listed_twice_in_a_tree_are_no_evidence(world: World) -> None:
    """The review: a tree listing metrics.json twice, failing values first, passing ones
    second. gtoguard read the second and accepted; git show and git fsck read the first."""
    world.set_policy(EVIDENCE.replace("      files: [model_card.md]\n", ""))
    failing = _blob(world, b'{"accuracy": 0.1, "eval": {"latency_ms": 999}}')
    passing = _blob(world, b'{"accuracy": 0.99, "eval": {"latency_ms": 9}}')
    twice = [("100644", "metrics.json", failing), ("100644", "metrics.json", passing)]
    models = _tree(world.clone, [("40000", "churn", _tree(world.clone, twice))])
    fields = "--format=%(objectmode) %(path) %(objectname)"
    listed = git("ls-tree", fields, "HEAD", cwd=world.clone).stdout.split()
    kept = [(listed[n].lstrip("0"), listed[n + 1], listed[n + 2]) for n in range(0, len(listed), 3)]
    root = _tree(world.clone, [*kept, ("40000", "models", models)])
    commit = git(
        "commit-tree", root, "-p", "HEAD", "-m", "metrics twice", cwd=world.clone
    ).stdout.strip()
    world.tag("churn@v1.0.0", commit)
    world.tag("churn#prod#1", commit)
    pushed = world.push(
        f"{commit}:refs/heads/main", "refs/tags/churn@v1.0.0", "refs/tags/churn#prod#1"
    )
    assert not pushed.ok and pushed.rules() == {"evidence-missing"}, pushed.output
    assert "lists models/churn/metrics.json twice" in pushed.output, pushed.output


# --- branch-not-allowed --------------------------------------------------------------------


def test_branches_as_they_will_be_after_the_push(registered: World) -> None:
    world = registered.set_policy("stages:\n  prod: {branches: [main, 'release/*']}\n")
    git("checkout", "-q", "-b", "experiment", cwd=world.clone)
    side = world.commit("experiment")
    world.tag("churn@v2.0.0", side)
    world.tag("churn#prod#1", side)
    pushed = world.push("experiment", "refs/tags/churn@v2.0.0", "refs/tags/churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"branch-not-allowed"}, pushed.output
    assert "(branches checked: main)" in pushed.output
    # the same commit, pushed as a release branch in the same push: reachable after it
    pushed = world.push(
        "experiment:refs/heads/release/2.0", "refs/tags/churn@v2.0.0", "refs/tags/churn#prod#1"
    )
    assert pushed.ok, pushed.output


# --- pushers, identity ---------------------------------------------------------------------

PUSHERS = "stages:\n  prod: {pushers: [alice, '@leads']}\ngroups:\n  leads: [carol]\n"
CONVENTIONS = [
    "GL_USERNAME",
    "GITHUB_USER_LOGIN",
    "GITEA_PUSHER_NAME",
    "GL_USER",
    "BB_USER_NAME",
    "REMOTE_USER",
]


@pytest.mark.parametrize("variable", CONVENTIONS)
def test_pushers_by_each_server_convention(registered: World, variable: str) -> None:
    world = registered.set_policy(PUSHERS)
    world.tag("churn#prod#1", V1)
    pushed = world.push_tags("churn#prod#1", env={variable: "bob"})
    assert not pushed.ok and pushed.rules() == {"pusher-not-allowed"}, pushed.output
    assert f"bob (from {variable}) may not assign stage prod" in pushed.output
    pushed = world.push_tags("churn#prod#1", env={variable: "alice"})
    assert pushed.ok, pushed.output


def test_group_members_and_unassign(registered: World) -> None:
    world = registered.set_policy(PUSHERS)
    world.tag("churn#prod#1", V1)
    assert world.push_tags("churn#prod#1", env={"REMOTE_USER": "carol"}).ok  # @leads
    world.tag("churn#prod!#2", V1)
    pushed = world.push_tags("churn#prod!#2", env={"REMOTE_USER": "bob"})
    assert not pushed.ok and "pusher-not-allowed" in pushed.rules()  # unassign too
    pushed = world.push_tags("churn#prod!#2", env={"REMOTE_USER": "alice"})
    assert pushed.ok, pushed.output


def test_no_identity_is_declined_not_guessed_from_the_tagger(registered: World) -> None:
    world = registered.set_policy(PUSHERS)
    world.tag("churn#prod#1", V1)  # the tagger is "Test User"; it must not count
    pushed = world.push_tags("churn#prod#1", env={"GIT_COMMITTER_NAME": "alice"})
    assert not pushed.ok and pushed.rules() == {"identity-unknown"}, pushed.output
    # other stages are not restricted
    world.tag("churn#dev#2", V1)
    assert world.push_tags("churn#dev#2").ok


def test_server_policy_names_the_identity_variable(registered: World) -> None:
    world = registered.set_policy(PUSHERS)
    world.set_server_policy("identity: X_AUTH_USER\n")
    world.tag("churn#prod#1", V1)
    # the autodetected variables no longer count
    pushed = world.push_tags("churn#prod#1", env={"REMOTE_USER": "alice", "X_AUTH_USER": "bob"})
    assert not pushed.ok and "pusher-not-allowed" in pushed.rules(), pushed.output
    pushed = world.push_tags("churn#prod#1", env={"REMOTE_USER": "alice"})
    assert not pushed.ok and pushed.rules() == {"identity-unknown"}, pushed.output
    assert (
        "(X_AUTH_USER (the server policy's identity): none is set)" in pushed.output
    )  # says where
    assert world.push_tags("churn#prod#1", env={"X_AUTH_USER": "alice"}).ok


@pytest.mark.parametrize(("pushers", "hint"), [
    ("[alice]", "ask alice to do it"),
    ("['@leads']", "ask a member of @leads to do it"),
    ("[alice, carol]", "ask one of alice or carol to do it"),
    ("[]", "nobody may; the stage's pushers in the policy say who can"),
])  # fmt: skip
def test_the_hint_says_whom_to_ask(registered: World, pushers: str, hint: str) -> None:
    world = registered.set_policy(
        f"stages:\n  prod: {{pushers: {pushers}}}\ngroups:\n  leads: [carol]\n"
    )
    world.tag("churn#prod#1", V1)
    pushed = world.push_tags("churn#prod#1", env={"REMOTE_USER": "bob"})
    assert not pushed.ok and f"hint: {hint}" in pushed.output, pushed.output


def test_pre_push_warns_where_the_server_declines(registered: World) -> None:
    import sys

    from gtoguard.server.install import install_into

    world = registered.set_policy(PUSHERS)
    install_into(world.clone / ".git" / "hooks" / "pre-push", "pre-push", sys.executable)
    world.tag("churn#prod#1", V1)
    pushed = world.push_tags("churn#prod#1", no_verify=False)
    assert not pushed.ok  # the server has no identity either and declines
    assert "[identity-unknown] not checkable here:" in pushed.output  # the client cannot know


# --- signatures ----------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Two SSH keys and two GnuPG homes (trusted, unknown); the server's signers know the
    trusted ones only."""
    need_program("gpg", "gnupg")
    short = Path(tempfile.mkdtemp(prefix="gg", dir="/tmp"))  # gpg-agent sockets: short paths
    found: dict[str, Path] = {}
    try:
        for who in ("trusted", "unknown"):
            key = tmp_path / f"ssh-{who}"
            ssh_key(key, who)
            found[f"ssh-{who}"] = key
            home = short / who
            home.mkdir(mode=0o700)
            _gpg(home, "--quick-gen-key", f"{who} <{who}@example.com>", "ed25519", "sign", "never")
            found[f"gpg-{who}"] = home
        allowed = tmp_path / "allowed_signers"
        public = (tmp_path / "ssh-trusted.pub").read_text(encoding="utf-8")
        allowed.write_text(f"trusted@example.com {public}", encoding="utf-8")
        found["allowed"] = allowed
        server_home = short / "server"
        server_home.mkdir(mode=0o700)
        exported = _gpg(found["gpg-trusted"], "--export", "trusted@example.com")
        _gpg(server_home, "--import", input=exported)
        _owner_trust(server_home, "trusted@example.com", 5)  # full: the admin vouches
        found["server-gnupg"] = server_home
        yield found
    finally:
        for home in short.iterdir():
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True, check=False,
                           env={**os.environ, "GNUPGHOME": str(home)})  # fmt: skip
        shutil.rmtree(short, ignore_errors=True)


def _owner_trust(home: Path, user: str, level: int) -> None:
    """Set a key's owner trust (3 never, 4 marginal, 5 full) in ``home``."""
    listing = _gpg(home, "--with-colons", "--fingerprint", user).decode()
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
    )
    _gpg(home, "--import-ownertrust", input=f"{fingerprint}:{level}:\n".encode())


def _gpg(home: Path, *args: str, input: bytes | None = None) -> bytes:
    done = subprocess.run(["gpg", "--batch", "--passphrase", "", *args], input=input,
                          capture_output=True, check=False,
                          env={**os.environ, "GNUPGHOME": str(home)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _signed_tag(world: World, name: str, kind: str, key: Path) -> None:
    if kind == "ssh":
        git(
            "-c",
            "gpg.format=ssh",
            "-c",
            f"user.signingKey={key}",
            "tag",
            "-s",
            name,
            V1,
            "-m",
            f"promote {name}",
            cwd=world.clone,
        )
    else:
        user = key.name  # the home's directory name is the key's user
        git("-c", f"user.signingKey={user}@example.com", "tag", "-s", name, V1, "-m",
            f"promote {name}", cwd=world.clone, env={"GNUPGHOME": str(key)})  # fmt: skip


@pytest.mark.parametrize("kind", ["ssh", "gpg"])
def test_signed_prod_tags(registered: World, keys: dict[str, Path], kind: str) -> None:
    world = registered.set_policy("stages:\n  prod: {signed: true}\n")
    world.set_server_policy(f"signers:\n  ssh: {keys['allowed']}\n  gpg: {keys['server-gnupg']}\n")
    world.tag("churn#prod#1", V1)
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"signature-required"}, pushed.output
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    _signed_tag(world, "churn#prod#1", kind, keys[f"{kind}-unknown"])
    before = world.server_snapshot()
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"signature-invalid"}, pushed.output
    assert world.server_snapshot() == before
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    _signed_tag(world, "churn#prod#1", kind, keys[f"{kind}-trusted"])
    pushed = world.push_tags("churn#prod#1")
    assert pushed.ok, pushed.output


def test_gnupg_owner_trust_never_is_refused(registered: World, keys: dict[str, Path]) -> None:
    world = registered.set_policy("stages:\n  prod: {signed: true}\n")
    world.set_server_policy(f"signers:\n  gpg: {keys['server-gnupg']}\n")
    _owner_trust(keys["server-gnupg"], "trusted@example.com", 3)  # the admin distrusts it
    _signed_tag(world, "churn#prod#1", "gpg", keys["gpg-trusted"])
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"signature-invalid"}, pushed.output
    assert "owner trust" in pushed.output


def test_verifying_never_changes_the_trust_store(registered: World, keys: dict[str, Path]) -> None:
    """An X.509 block would make gpgsm import the pusher's certificates into the home."""
    world = registered.set_policy("stages:\n  prod: {signed: true}\n")
    world.set_server_policy(f"signers:\n  ssh: {keys['allowed']}\n  gpg: {keys['server-gnupg']}\n")
    home = keys["server-gnupg"]
    before = sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in home.iterdir() if p.is_file()
    )
    fake = (
        "promote\n-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n"
        "-----END SIGNED MESSAGE-----\n"
    )
    world.tag("churn#prod#1", V1, message=fake)
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and "X.509" in pushed.output, pushed.output
    huge = (
        "promote\n-----BEGIN PGP SIGNATURE-----\n"
        + "A" * 40_000
        + "\n-----END PGP SIGNATURE-----\n"
    )
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    world.tag("churn#prod#1", V1, message=huge)
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and "larger than" in pushed.output, pushed.output
    _signed_tag(world, "churn#prod#2", "gpg", keys["gpg-trusted"])
    assert world.push_tags("churn#prod#2").ok
    after = sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in home.iterdir() if p.is_file()
    )
    assert after == before


def test_only_the_configured_verifier_runs(registered: World, keys: dict[str, Path]) -> None:
    world = registered.set_policy("stages:\n  prod: {signed: true}\n")
    world.set_server_policy(f"signers:\n  ssh: {keys['allowed']}\n")
    _signed_tag(world, "churn#prod#1", "gpg", keys["gpg-trusted"])
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and "the server trusts no GPG keys" in pushed.output, pushed.output


def test_signed_without_signers_on_the_server(registered: World, keys: dict[str, Path]) -> None:
    world = registered.set_policy("stages:\n  prod: {signed: true}\n")
    _signed_tag(world, "churn#prod#1", "ssh", keys["ssh-trusted"])
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"signature-invalid"}, pushed.output
    assert "no signers are configured" in pushed.output


def test_an_expired_signer_cannot_sign_in_the_past(world: World, keys: dict[str, Path]) -> None:
    """git checks an SSH signer's validity at the tagger date, which the signer writes: a
    key that expired in 2020 signs a promotion dated 2019 on a fresh artifact."""
    world.set_policy("stages:\n  prod: {signed: true}\n")
    public = Path(f"{keys['ssh-trusted']}.pub").read_text(encoding="utf-8")
    expired = world.root / "expired_signers"
    expired.write_text(f'trusted@example.com valid-before="20200101" {public}', encoding="utf-8")
    world.set_server_policy(f"signers:\n  ssh: {expired}\n")
    then = {"GIT_COMMITTER_DATE": "2019-06-01T12:00:00+0000"}
    world.tag("fraud@v1.0.0", when=1559390000)
    key = keys["ssh-trusted"]
    git(
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingKey={key}",
        "tag",
        "-s",
        "fraud#prod#1",
        "fraud@v1.0.0^{commit}",
        "-m",
        "promote",
        cwd=world.clone,
        env=then,
    )
    # git itself calls the signature good, at the date the signer chose
    verified = git(
        "-c",
        f"gpg.ssh.allowedSignersFile={expired}",
        "verify-tag",
        "fraud#prod#1",
        cwd=world.clone,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    before = world.server_snapshot()
    pushed = world.push_tags("fraud@v1.0.0", "fraud#prod#1")
    assert not pushed.ok and pushed.rules() == {"tagger-time", "signature-invalid"}, pushed.output
    assert "could revive an expired key" in pushed.output
    assert world.server_snapshot() == before
    # signed now, the same key is expired: git verifies at the tagger date
    git("tag", "-d", "fraud#prod#1", "fraud@v1.0.0", cwd=world.clone)
    world.tag("fraud@v1.0.0")
    git(
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingKey={key}",
        "tag",
        "-s",
        "fraud#prod#1",
        "fraud@v1.0.0^{commit}",
        "-m",
        "promote",
        cwd=world.clone,
    )
    pushed = world.push_tags("fraud@v1.0.0", "fraud#prod#1")
    assert not pushed.ok and pushed.rules() == {"signature-invalid"}, pushed.output
    assert world.server_snapshot() == before


def test_a_signed_tag_replayed_into_another_repository(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    """alice's signed promotion in repository A, pushed by mallory into B: a signature
    binds the message, not the place. ``signed: repository`` binds it with a trailer."""
    worlds = {}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        world = worlds[name] = make_world(tmp_path / name)
        world.set_policy("stages:\n  prod: {signed: repository}\n")
        world.set_server_policy(f"signers:\n  ssh: {keys['allowed']}\n")
        git("config", "gtoguard.repository", f"acme/{name}", cwd=world.server)
    a, b = worlds["a"], worlds["b"]
    git("fetch", "-q", str(a.server), "main", cwd=b.clone)  # B holds A's commits too
    git("reset", "-q", "--hard", "FETCH_HEAD", cwd=b.clone)
    git("push", "-q", "-f", "origin", "HEAD:main", cwd=b.clone)
    key = keys["ssh-trusted"]
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", "tag", "-s"]
    a.tag("churn@v1.0.0")
    git(*sign, "churn#prod#1", V1, "-m", "promote", cwd=a.clone)  # no trailer
    pushed = a.push_tags("churn@v1.0.0", "churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"signature-invalid"}, pushed.output
    assert "'Repository: acme/a'" in pushed.output and "it has none" in pushed.output
    git("tag", "-d", "churn#prod#1", cwd=a.clone)
    git(*sign, "churn#prod#1", V1, "-m", "promote", "-m", "Repository: acme/a", cwd=a.clone)
    assert a.push_tags("churn@v1.0.0", "churn#prod#1").ok
    # mallory fetches alice's tags and pushes them, unchanged, into B
    git("fetch", "-q", str(a.server), "refs/tags/*:refs/tags/*", cwd=b.clone)
    before = b.server_snapshot()
    pushed = b.push_tags("churn@v1.0.0", "churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"signature-invalid"}, pushed.output
    assert "names 'acme/a'" in pushed.output and "replayed" in pushed.output
    assert b.server_snapshot() == before
    # with plain 'signed: true' the replay lands: the documented limit of a signature
    b.set_policy("stages:\n  prod: {signed: true}\n")
    assert b.push_tags("churn@v1.0.0", "churn#prod#1").ok


# --- message, versions, counters -----------------------------------------------------------


def test_message_pattern_ignores_the_signature(registered: World) -> None:
    world = registered.set_policy("stages:\n  prod: {message: 'CHANGE-[0-9]+'}\n")
    world.tag("churn#prod#1", V1, message="promote")
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"message-mismatch"}, pushed.output
    git("tag", "-d", "churn#prod#1", cwd=world.clone)
    world.tag("churn#prod#1", V1, message="CHANGE-42: promote after review")
    assert world.push_tags("churn#prod#1").ok


def test_versions_increasing(registered: World) -> None:
    world = registered.set_policy("versions: {increasing: true}\n")
    world.commit("older")
    world.tag("churn@v0.9.0")
    pushed = world.push_tags("churn@v0.9.0")
    assert not pushed.ok and pushed.rules() == {"version-not-increasing"}, pushed.output
    world.tag("churn@v1.1.0")
    assert world.push_tags("churn@v1.1.0").ok


def test_registration_required(world: World) -> None:
    world.set_policy("versions: {registration: required}\n")
    world.tag("churn#dev#1")
    pushed = world.push_tags("churn#dev#1")
    assert not pushed.ok and pushed.rules() == {"version-not-registered"}, pushed.output
    git("tag", "-d", "churn#dev#1", cwd=world.clone)
    world.tag("churn@v1.0.0")  # registered in the same push, earlier: fine
    world.tag("churn#dev#1")
    assert world.push_tags("churn#dev#1", "churn@v1.0.0").ok


def test_assigning_a_deregistered_version(registered: World) -> None:
    world = registered
    world.tag("churn@v1.0.0!")
    assert world.push_tags("churn@v1.0.0!").ok
    world.tag("churn#dev#1", V1)
    pushed = world.push_tags("churn#dev#1")
    assert not pushed.ok and pushed.rules() == {"version-deregistered"}, pushed.output
    world.commit("retrain")
    world.tag("churn@v1.0.1")
    world.tag("churn#dev#2")
    assert world.push_tags("churn@v1.0.1", "churn#dev#2").ok


def test_counter_required(world: World) -> None:
    world.set_policy("tags: {counter: required}\n")
    world.tag("churn@v1.0.0")
    pushed = world.push_tags("churn@v1.0.0")
    assert not pushed.ok and pushed.rules() == {"counter-missing"}, pushed.output
    world.tag("churn@v1.0.0#1")
    assert world.push_tags("churn@v1.0.0#1").ok


# --- modes, two policies, config -----------------------------------------------------------


def test_warn_mode_prints_and_accepts(registered: World) -> None:
    world = registered.set_policy("mode: warn\nstages:\n  prod: {from: [staging]}\n")
    world.tag("churn#prod#1", V1)
    pushed = world.push_tags("churn#prod#1")
    assert pushed.ok and "[stage-order] warning:" in pushed.output, pushed.output


def test_the_repository_cannot_loosen_the_server(registered: World) -> None:
    world = registered.set_policy("mode: warn\n")
    world.set_server_policy("stages:\n  prod: {from: [staging]}\n")
    world.tag("churn#prod#1", V1)
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"stage-order"}, pushed.output
    assert "server-policy.yaml" in pushed.output  # the message names the policy


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("signers: {ssh: /etc/keys}\n", "'signers' is a server-only key"),
        ("fail: open\n", "'fail' is a server-only key"),
        ("stages:\n  prd: {from: [staging]}\n", "stage 'prd' is not allowed by .gto"),
        ("stages:\n  prod: {from: [stagin]}\n", "stage 'stagin' is not allowed by .gto"),
        ("stages:\n  prod: {pushers: ['@leads']}\n", "group '@leads' is not defined"),
        ("stages:\n  prod: {message: '(['}\n", "/stages/prod/message"),
        ("stages:\n  prod: {signed: yes please}\n", "/stages/prod/signed"),
        ("versions: {increasing: true, strict: 1}\n", "unknown key 'strict'"),
    ],
)
def test_a_bad_policy_on_the_default_branch_is_declined(world: World, text: str, says: str) -> None:
    world.commit("policy", {".gtoguard.yaml": text})
    pushed = world.push("HEAD:main")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert says in pushed.output


def test_fail_open_accepts_when_gtoguard_cannot_run(registered: World, tmp_path: Path) -> None:
    world = registered
    broken = tmp_path / "broken"
    (broken / "jsonschema").mkdir(parents=True)
    (broken / "jsonschema" / "__init__.py").write_text("raise RuntimeError('disk on fire')\n")
    world.tag("churn#dev#1", V1)
    faulty_python(world, broken)
    pushed = world.push_tags("churn#dev#1")
    assert not pushed.ok and "internal-error" in pushed.rules()  # closed by default
    world.set_server_policy("fail: open  # availability over enforcement\n")
    pushed = world.push_tags("churn#dev#1")
    assert pushed.ok, pushed.output
    assert "[internal-error] warning:" in pushed.output and "fail: open" in pushed.output


def test_server_only_keys_are_fine_in_the_server_policy(registered: World) -> None:
    world = registered
    world.set_server_policy("identity: X_USER\nfail: closed\nsigners: {ssh: /nonexistent}\n")
    world.tag("churn#dev#1", V1)
    assert world.push_tags("churn#dev#1").ok
