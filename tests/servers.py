"""Real servers for the tests that push through one: nginx with basic authentication in
front of git http-backend (``web``), and gitolite3 over SSH on loopback (``gitolite``),
each set up as its guide in docs/servers/ says. A support module: test modules import
these fixtures from here, never from each other."""

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

from gtoguard.server.install import GUARD, install_into

from conftest import World, free_port, git, listening, make_world, need_program, ssh_key

HTTP_BACKEND = (
    Path(
        subprocess.run(
            ["git", "--exec-path"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    / "git-http-backend"
)
HTTP_POLICY = "stages:\n  prod: {pushers: [alice]}\n"
WEB = "nginx-light and fcgiwrap"


HTTP_DOC = Path(__file__).resolve().parent.parent / "docs" / "servers" / "http.md"


def _server_block(site: Path, sock: Path, port: int, root: Path) -> str:
    """docs/servers/http.md's nginx ``server`` block as written, with this machine's
    paths and a loopback port instead of TLS: the guide is what the test runs."""
    block = re.search(r"```nginx\n(.*?)```", HTTP_DOC.read_text(), re.S)
    assert block is not None, "docs/servers/http.md lost its nginx block"
    text = block[1]
    for written, here in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{port};"),
        ("/etc/nginx/git.htpasswd", str(site / "htpasswd")),
        ("/run/fcgiwrap.socket", str(sock)),
        ("/usr/lib/git-core/git-http-backend", str(HTTP_BACKEND)),
        ("/srv/git", str(root)),
    ):
        assert written in text, f"the guide no longer says {written!r}"
        text = text.replace(written, here)
    return text


def _wait_for(predicate: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"{what} did not come up")


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[World, str]]:
    world = make_world(tmp_path).set_policy(HTTP_POLICY)
    site = tmp_path / "web"
    site.mkdir()
    (site / "htpasswd").write_text("alice:{PLAIN}alice-secret\nbob:{PLAIN}bob-secret\n")
    sock = site / "fcgi.sock"
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    (site / "nginx.conf").write_text(f"""
{user}
daemon off;
worker_processes 1;
pid {site}/nginx.pid;
error_log {site}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {site}/body;
    fastcgi_temp_path {site}/fastcgi;
    proxy_temp_path {site}/proxy;
    uwsgi_temp_path {site}/uwsgi;
    scgi_temp_path {site}/scgi;
    {_server_block(site, sock, port, world.root)}
}}
""")
    fcgi = subprocess.Popen(
        [need_program("fcgiwrap", WEB), "-s", f"unix:{sock}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nginx = subprocess.Popen(
        [need_program("nginx", WEB), "-p", str(site), "-c", str(site / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(sock.exists, "fcgiwrap")
        _wait_for(lambda: listening(port) or nginx.poll() is not None, "nginx")
        if nginx.poll() is not None:
            log = (site / "error.log").read_text() if (site / "error.log").exists() else ""
            pytest.fail(f"nginx exited: {nginx.stderr.read().decode()}{log}")  # type: ignore[union-attr]
        yield world, f"127.0.0.1:{port}/git/{world.server.name}"
    finally:
        for process in (nginx, fcgi):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def http_push(world: World, address: str, login: str | None, *refs: str) -> tuple[bool, str]:
    credentials = f"{login}:{login}-secret@" if login else ""
    done = git(
        "push", "--porcelain", f"http://{credentials}{address}", *refs, cwd=world.clone, check=False
    )
    return done.returncode == 0, done.stdout + done.stderr


# docs/servers/gitolite.md: gitolite refuses '#', '!' and '=' in ref names by default
GITOLITE_DOC = Path(__file__).resolve().parent.parent / "docs" / "servers" / "gitolite.md"
# step 1 of the guide, as written: the test applies what users copy
RC_LINE = re.search(r"```perl\n(.*?)\n```", GITOLITE_DOC.read_text(), re.S)[1]  # type: ignore[index]


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


def as_user(user: str, commands: dict[str, str], *args: str, cwd: Path) -> tuple[bool, str]:
    done = git(*args, cwd=cwd, check=False, env={"GIT_SSH_COMMAND": commands[user]})
    return done.returncode == 0, done.stdout + done.stderr


def guarded(root: Path, python: str = sys.executable) -> World:
    """A world whose server also runs the landing guard."""
    world = make_world(root)
    install_into(world.server / "hooks" / GUARD, GUARD, python)
    return world
