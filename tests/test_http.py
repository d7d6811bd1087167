"""A real HTTP push: nginx with basic authentication in front of git http-backend (via
fcgiwrap), on loopback. The web server sets REMOTE_USER from the login, git passes it
to receive-pack, and the pre-receive hook's ``pushers`` rule sees who is pushing.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import World, free_port, git, listening, make_world, need_program

HTTP_BACKEND = (
    Path(
        subprocess.run(
            ["git", "--exec-path"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    / "git-http-backend"
)
POLICY = "stages:\n  prod: {pushers: [alice]}\n"
WEB = "nginx-light and fcgiwrap"


DOC = Path(__file__).resolve().parent.parent / "docs" / "servers" / "http.md"


def _server_block(site: Path, sock: Path, port: int, root: Path) -> str:
    """docs/servers/http.md's nginx ``server`` block as written, with this machine's
    paths and a loopback port instead of TLS: the guide is what the test runs."""
    block = re.search(r"```nginx\n(.*?)```", DOC.read_text(), re.S)
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
    world = make_world(tmp_path).set_policy(POLICY)
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


def _push(world: World, address: str, login: str | None, *refs: str) -> tuple[bool, str]:
    credentials = f"{login}:{login}-secret@" if login else ""
    done = git(
        "push", "--porcelain", f"http://{credentials}{address}", *refs, cwd=world.clone, check=False
    )
    return done.returncode == 0, done.stdout + done.stderr


def test_alice_promotes_over_http_and_bob_is_declined(web: tuple[World, str]) -> None:
    world, address = web
    world.tag("churn@v1.0.0")
    ok, output = _push(world, address, "bob", "refs/tags/churn@v1.0.0")
    assert ok, output  # registering is not restricted
    world.tag("churn#prod#1", "churn@v1.0.0^{commit}")
    before = world.server_snapshot()
    ok, output = _push(world, address, "bob", "refs/tags/churn#prod#1")
    assert not ok
    assert "[pusher-not-allowed]" in output and "bob (from REMOTE_USER)" in output, output
    assert world.server_snapshot() == before
    ok, output = _push(world, address, None, "refs/tags/churn#prod#1")
    assert not ok and "could not read Username" in output  # the web server asked for a login
    ok, output = _push(world, address, "alice", "refs/tags/churn#prod#1")
    assert ok, output
    assert "churn#prod#1" in world.server_tags()
