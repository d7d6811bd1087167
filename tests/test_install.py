"""Installing the shims: a foreign hook is chained, never lost; idempotent; reversible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gtoguard.server.install import install, is_ours, uninstall

from conftest import World, git, gtoguard, make_world

LEGACY = '#!/bin/sh\necho legacy-ran >&2\ncat > "$0.stdin"\nexit ${LEGACY_EXIT:-0}\n'


def test_bare_gets_pre_receive_and_clone_gets_pre_push(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    assert install(str(world.server)).path == world.server / "hooks" / "pre-receive"
    assert install(str(world.clone)).path == world.clone / ".git" / "hooks" / "pre-push"


def test_foreign_hook_is_chained_with_the_same_input(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    hook = world.server / "hooks" / "pre-receive"
    hook.write_text(LEGACY)
    hook.chmod(0o755)
    done = install(str(world.server))
    assert done.legacy == hook.with_name("pre-receive.legacy")
    assert is_ours(hook) and done.legacy.read_text() == LEGACY
    world.tag("churn#prd")
    result = world.push_tags("churn#prd")
    assert "legacy-ran" in result.output and "[stage-unknown]" in result.output
    assert (
        "refs/tags/churn#prd" in (world.server / "hooks" / "pre-receive.legacy.stdin").read_text()
    )


def test_legacy_hook_can_still_decline(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    hook = world.server / "hooks" / "pre-receive"
    hook.write_text(LEGACY.replace("${LEGACY_EXIT:-0}", "7"))
    hook.chmod(0o755)
    install(str(world.server))
    world.tag("churn@v1.0.0")
    result = world.push_tags("churn@v1.0.0")
    assert not result.ok and "legacy-ran" in result.output
    assert "churn@v1.0.0" not in world.server_tags()


def test_install_twice_is_install_once(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    hooks = world.server / "hooks"
    (hooks / "pre-receive").write_text(LEGACY)
    first = install(str(world.server))
    listing = sorted(p.name for p in hooks.iterdir())
    text = (hooks / "pre-receive").read_text()
    second = install(str(world.server))
    assert first.changed and not second.changed
    assert sorted(p.name for p in hooks.iterdir()) == listing
    assert (hooks / "pre-receive").read_text() == text
    assert (hooks / "pre-receive.legacy").read_text() == LEGACY


def test_uninstall_restores_the_legacy_hook(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    hook = world.clone / ".git" / "hooks" / "pre-push"
    hook.write_text(LEGACY)
    install(str(world.clone))
    assert is_ours(hook)
    done = uninstall(str(world.clone))
    assert any("restored" in line for line in done)
    assert hook.read_text() == LEGACY
    assert not hook.with_name("pre-push.legacy").exists()
    assert uninstall(str(world.clone)) == [f"left {hook}: it is not gtoguard's"]


def test_respects_core_hooks_path(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    git("config", "core.hooksPath", "githooks", cwd=world.clone)
    done = install(str(world.clone))
    assert done.path == world.clone / "githooks" / "pre-push"
    world.tag("churn#prd")
    result = world.push_tags("churn#prd", no_verify=False)
    assert not result.ok and "[stage-unknown]" in result.output


def test_refuses_when_both_hook_and_legacy_are_foreign(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    hooks = world.server / "hooks"
    (hooks / "pre-receive").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "pre-receive.legacy").write_text(LEGACY)
    done = gtoguard("install", "--repo", str(world.server), cwd=tmp_path)
    assert done.returncode == 3 and "merge the two hooks" in done.stderr
    assert (hooks / "pre-receive").read_text() == "#!/bin/sh\nexit 0\n"


def test_cli_install_and_not_a_repository(tmp_path: Path, world: World) -> None:
    done = gtoguard("install", "--repo", str(world.clone), cwd=tmp_path)
    assert done.returncode == 0 and "installed pre-push hook" in done.stdout
    again = gtoguard("install", "--repo", str(world.clone), cwd=tmp_path)
    assert "already installed" in again.stdout
    nowhere = gtoguard("install", "--repo", str(tmp_path / "nothing"), cwd=tmp_path)
    assert nowhere.returncode == 3 and "not a git repository" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr


def test_interpreter_gone_fails_closed(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    install(str(world.server))
    hook = world.server / "hooks" / "pre-receive"
    text = hook.read_text()
    hook.write_text(
        text.replace(f"GTOGUARD_PYTHON={sys.executable}", "GTOGUARD_PYTHON=/nonexistent/python3")
    )
    assert "/nonexistent/python3" in hook.read_text()
    world.tag("churn@v1.0.0")
    result = world.push_tags("churn@v1.0.0")
    assert not result.ok and "[internal-error]" in result.output and "is gone" in result.output


def test_install_sh_repo_option_is_idempotent(tmp_path: Path) -> None:
    """./install.sh --repo installs the hook (reusing this environment's .venv if any)."""
    script = Path(__file__).resolve().parents[1] / "install.sh"
    assert script.exists() and script.stat().st_mode & 0o111
    usage = subprocess.run([str(script), "--bogus"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "unknown option" in usage.stderr


def test_the_shim_answers_plain_pushes_without_python(tmp_path: Path) -> None:
    """With an interpreter that does not exist, only pushes that need gtoguard fail: the
    shim's sh fast path answers the others without starting Python."""
    from gtoguard.server.install import install_into

    world = make_world(tmp_path, hook=False)
    install_into(world.server / "hooks" / "pre-receive", "pre-receive", "/nonexistent/python3")
    install_into(world.clone / ".git" / "hooks" / "pre-push", "pre-push", "/nonexistent/python3")
    world.commit("plain change")
    for verify in (True, False):  # through the clone's pre-push, then straight to the server
        assert world.push("HEAD:main", no_verify=not verify).ok
    git("tag", "v1.0", cwd=world.clone)  # a tag that is not GTO's
    assert world.push_tags("v1.0", no_verify=False).ok
    git("checkout", "-q", "-b", "side", cwd=world.clone)
    world.commit("config on a side branch", {".gto": "stages: [x]\n"})
    git("checkout", "-q", "main", cwd=world.clone)  # the clone's HEAD names its default branch
    assert world.push("side", no_verify=False).ok
    # what needs gtoguard goes to Python, which is gone: both hooks decline
    world.commit("config on main", {".gto": "stages: [dev]\n"})
    for verify in (True, False):
        pushed = world.push("HEAD:main", no_verify=not verify)
        assert not pushed.ok and "is gone" in pushed.output, pushed.output
    world.tag("churn@v1.0.0", "HEAD~1")
    pushed = world.push_tags("churn@v1.0.0")
    assert not pushed.ok and "is gone" in pushed.output
    done = subprocess.run(
        [str(world.server / "hooks" / "pre-receive")],
        input=b"garbage\n",
        capture_output=True,
        cwd=world.server,
        check=False,
    )
    assert done.returncode == 3 and b"is gone" in done.stderr  # odd input is not waved through


def test_the_landing_guard_round_trip_with_a_legacy_hook(tmp_path: Path) -> None:
    """A bare repository gets the landing guard (reference-transaction) next to
    pre-receive, as `install.sh --server` installs it; a foreign one is chained."""
    world = make_world(tmp_path, hook=False)
    hooks = world.server / "hooks"
    (hooks / "reference-transaction").write_text(LEGACY)
    (hooks / "reference-transaction").chmod(0o755)
    done = gtoguard("install", "--repo", str(world.server), "--pre-receive", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        f"installed reference-transaction hook at {hooks / 'reference-transaction'}" in done.stdout
    )
    assert "the previous hook runs first" in done.stdout
    assert is_ours(hooks / "pre-receive") and is_ours(hooks / "reference-transaction")
    assert (hooks / "reference-transaction.legacy").read_text() == LEGACY
    listing = sorted(p.name for p in hooks.iterdir())
    again = gtoguard("install", "--repo", str(world.server), "--pre-receive", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("hook already installed at") == 2, again.stdout
    assert sorted(p.name for p in hooks.iterdir()) == listing
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    ran = (hooks / "reference-transaction.legacy.stdin").read_text()
    assert "refs/tags/churn@v1.0.0" in ran  # the legacy hook saw the transaction
    (hooks / "reference-transaction.legacy").write_text(LEGACY.replace("${LEGACY_EXIT:-0}", "1"))
    world.tag("churn#dev#1")
    refused = world.push_tags("churn#dev#1")
    assert not refused.ok and "churn#dev#1" not in world.server_tags()  # it can still refuse
    (hooks / "reference-transaction.legacy").write_text(LEGACY)
    removed = uninstall(str(world.server))
    assert (
        f"restored {hooks / 'reference-transaction'} (was reference-transaction.legacy)" in removed
    )
    assert (hooks / "reference-transaction").read_text() == LEGACY
    assert not (hooks / "pre-receive").exists()
    assert not (hooks / "reference-transaction.legacy").exists()


def test_a_clone_gets_no_landing_guard(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    done = install(str(world.clone))
    assert (
        done.also == () and not (world.clone / ".git" / "hooks" / "reference-transaction").exists()
    )


def test_hooks_dir_says_the_landing_guard_is_not_there(tmp_path: Path) -> None:
    directory = tmp_path / "custom_hooks" / "pre-receive.d"
    done = gtoguard("install", "--hooks-dir", str(directory), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "note: the landing guard (the reference-transaction hook) cannot be installed"
        in done.stdout
    )
    assert sorted(p.name for p in directory.iterdir()) == ["gtoguard"]


DUMPER = '#!/bin/sh\ncat > "$GTOGUARD_TEST_DUMP"\n'
_GTO_LINE = f"{'0' * 40} {'a' * 40} refs/tags/churn#prod#1"


def _as_cat_gives_it(data: bytes) -> bytes:
    """What the shims handed gtoguard when they read their input with ``$(cat)``."""
    kept = data.rstrip(b"\n")
    return kept + b"\n" if kept else b""


def test_the_shims_hand_gtoguard_their_input_as_cat_would(tmp_path: Path) -> None:
    # The shims read a few lines with the shell's own read (no fork for cat) and cat the
    # rest: whatever the split, gtoguard must get the lines git sent, in every shell.
    from gtoguard.server.install import shim_text

    dumper = tmp_path / "python"
    dumper.write_text(DUMPER)
    dumper.chmod(0o755)
    many = [_GTO_LINE.replace("#1", f"#{i}") for i in range(1, 301)]
    inputs = [b"", b"\n", b"\n\n", _GTO_LINE.encode(), f"\n\n{_GTO_LINE}\n\n".encode()]
    inputs += [
        "\n".join(many[:n]).encode() + tail
        for n in (7, 8, 9, 300)
        for tail in (b"", b"\n", b"\n\n")
    ]
    inputs += [
        b"  lead and trail  \\ back\\slash \t\n x",
        f"{_GTO_LINE}\n\n\n\n\n\n\n\nlast".encode(),
    ]
    shells = [s for s in ("/bin/sh", "/bin/dash", "/bin/bash") if Path(s).exists()]
    for kind in ("pre-receive", "pre-push"):
        shim = tmp_path / kind
        shim.write_text(shim_text(kind, str(dumper)))
        for shell in shells:
            for data in inputs:
                dump = tmp_path / "got"
                dump.unlink(missing_ok=True)
                done = subprocess.run([shell, str(shim), "origin", "url"], input=data, capture_output=True,
                                      env={"PATH": "/usr/bin:/bin", "GTOGUARD_TEST_DUMP": str(dump)})  # fmt: skip
                assert done.returncode == 0, (kind, shell, data, done.stderr)
                want = _as_cat_gives_it(data)  # no lines at all: answered in sh
                got = dump.read_bytes() if dump.exists() else b""
                assert got == want, (kind, shell, data)


def test_the_hook_flushes_what_it_wrote_before_it_skips_the_teardown() -> None:
    code = (
        "import sys; from gtoguard.hooks import exit_now; "
        "sys.stdout.write('out' * 5000); sys.stderr.write('err'); exit_now(4)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (4, "out" * 5000, "err")
