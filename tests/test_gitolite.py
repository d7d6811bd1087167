"""gitolite3 over SSH on loopback, as docs/servers/gitolite.md sets it up: gitolite's own
update hook stays, gtoguard is the pre-receive hook of the repository, and GL_USER (the
SSH key's owner, set by gitolite-shell) is the pusher.

sshd runs as root on a free loopback port with the gitolite home's authorized_keys; the
test needs root (CI runs as root) and the Debian packages gitolite3 and openssh-server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtoguard.server.install import install_into

from conftest import free_port, git, listening, need_program, ssh_key

# docs/servers/gitolite.md: gitolite refuses '#', '!' and '=' in ref names by default
DOC = Path(__file__).resolve().parent.parent / "docs" / "servers" / "gitolite.md"
# step 1 of the guide, as written: the test applies what users copy
RC_LINE = re.search(r"```perl\n(.*?)\n```", DOC.read_text(), re.S)[1]  # type: ignore[index]


@pytest.fixture
def gitolite(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Path]]:
    if os.geteuid() != 0:
        pytest.skip("sshd with a private authorized_keys file needs root (CI runs as root)")
    packages = "gitolite3 and openssh-server"
    gitolite_bin, sshd = need_program("gitolite", packages), need_program("sshd", packages)
    home = tmp_path / "gitolite-home"
    home.mkdir()
    keys = {}
    for user in ("admin", "alice", "bob"):
        keys[user] = ssh_key(tmp_path / user, user)
    env = {**os.environ, "HOME": str(home)}
    setup = subprocess.run(
        [gitolite_bin, "setup", "-pk", f"{keys['admin']}.pub"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    for user in ("alice", "bob"):
        shutil.copy(f"{keys[user]}.pub", home / ".gitolite" / "keydir" / f"{user}.pub")
    rc = home / ".gitolite.rc"
    rc.write_text(rc.read_text() + f"\n{RC_LINE}\n1;\n")
    subprocess.run([gitolite_bin, "setup"], env=env, check=True, capture_output=True)
    repo = home / "repositories" / "testing.git"
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=repo)
    install_into(repo / "hooks" / "pre-receive", "pre-receive", sys.executable)

    port = free_port()
    hostkey = ssh_key(tmp_path / "hostkey")
    config = tmp_path / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {hostkey}
AuthorizedKeysFile {home}/.ssh/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile {tmp_path}/sshd.pid
SetEnv HOME={home}
""")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    daemon = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if listening(port):
                break
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sshd did not start: {daemon.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.05)
        ssh = (
            f"ssh -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            "-o IdentitiesOnly=yes -o LogLevel=ERROR -o BatchMode=yes"
        )
        commands = {user: f"{ssh} -i {key}" for user, key in keys.items()}
        commands["url"] = f"ssh://root@127.0.0.1:{port}/testing"
        yield tmp_path, commands, repo
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def _as(user: str, commands: dict[str, str], *args: str, cwd: Path) -> tuple[bool, str]:
    done = git(*args, cwd=cwd, check=False, env={"GIT_SSH_COMMAND": commands[user]})
    return done.returncode == 0, done.stdout + done.stderr


def test_gitolite_user_is_the_pusher(gitolite: tuple[Path, dict[str, str], Path]) -> None:
    root, commands, repo = gitolite
    work = root / "work"
    ok, output = _as("alice", commands, "clone", "-q", commands["url"], str(work), cwd=root)
    assert ok, output
    (work / ".gto").write_text("stages: [dev, prod]\n")
    (work / ".gtoguard.yaml").write_text("stages:\n  prod: {pushers: [alice]}\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "registry", cwd=work)
    ok, output = _as("alice", commands, "push", "origin", "HEAD:main", cwd=work)
    assert ok, output
    git("tag", "-a", "churn@v1.0.0", "-m", "register", cwd=work)
    git("tag", "-a", "churn#prod#1", "-m", "promote", cwd=work)
    ok, output = _as("bob", commands, "push", "origin", "--tags", cwd=work)
    assert not ok
    assert "[pusher-not-allowed] bob (from GL_USER) may not assign stage prod" in output, output
    assert git("tag", "--list", cwd=repo).stdout == ""  # nothing landed
    ok, output = _as("alice", commands, "push", "origin", "--tags", cwd=work)
    assert ok, output
    assert set(git("tag", "--list", cwd=repo).stdout.split()) == {"churn@v1.0.0", "churn#prod#1"}
