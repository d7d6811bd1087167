"""Only the user who started gtoguard ui may use it: a real server process on a real clone
of a real bare server with the installed pre-receive hook, asked by plain HTTP clients,
one of them another user of the machine (uid 65534, through setpriv)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from conftest import Page, World

NOBODY = 65534


def _runtime(tmp_path: Path) -> Path:
    """A private runtime directory, as pam_systemd makes /run/user/UID."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    return folder


def _file_of(page: Page, runtime: Path) -> Path:
    return runtime / "gtoguard" / f"ui-{page.url.rsplit(':', 1)[1].rstrip('/')}.url"


def _python_for(uid: int) -> str:
    """An interpreter ``uid`` may run (the test's own may live in root's home)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if os.path.exists(candidate):
            done = subprocess.run(
                [
                    "setpriv",
                    f"--reuid={uid}",
                    f"--regid={uid}",
                    "--clear-groups",
                    candidate,
                    "-c",
                    "pass",
                ],
                cwd="/",
                capture_output=True,
            )
            if done.returncode == 0:
                return candidate
    pytest.skip(f"no python3 that uid {uid} may run")


# what another user tries: read the token file, then the page, its CSRF token, and promote
INTRUDER = r"""
import http.client, json, re, sys, urllib.parse
port, path = int(sys.argv[1]), sys.argv[2]
said = {}
try:
    open(path).read()
    said["file"] = "read"
except OSError as exc:
    said["file"] = type(exc).__name__
def ask(method, where, body=None, headers={}):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, where, body=body, headers=headers)
    answer = connection.getresponse()
    return answer.status, answer.read().decode()
status, page = ask("GET", "/")
said["page"] = status
found = re.search(r'name="csrf-token" content="([^"]+)"', page)
said["csrf"] = bool(found)
form = urllib.parse.urlencode({"artifact": "churn", "version": "v1.0.0", "stage": "prod",
                               "csrf": found.group(1) if found else ""})
said["promote"], body = ask("POST", "/actions/promote", form.encode(),
                            {"Content-Type": "application/x-www-form-urlencoded",
                             "Accept": "application/json"})
said["answer"] = body
said["guessed"] = ask("GET", "/?token=guess")[0]
said["api"] = ask("GET", "/api/models/churn", headers={"Authorization": "Bearer guess"})[0]
print(json.dumps(said))
"""


def test_another_user_of_the_machine_can_neither_read_nor_promote(
    world: World, page_of: Any, request: pytest.FixtureRequest
) -> None:
    """The review's attack, as uid 65534: before, GET / gave the page and its CSRF token,
    and the POST created churn#prod#1 and pushed it with the page owner's credentials."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to run a client as another user (setpriv --reuid 65534)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing")
    world.landed()
    runtime = Path(tempfile.mkdtemp(prefix="gtoguard-run-"))  # pytest's own is root's alone
    request.addfinalizer(lambda: shutil.rmtree(runtime, ignore_errors=True))
    page: Page = page_of(world.clone, env={"XDG_RUNTIME_DIR": str(runtime)})
    secret_file = _file_of(page, runtime)
    secret_file.parent.mkdir(exist_ok=True)
    for folder in (runtime, secret_file.parent):  # nobody may reach the file: only its
        os.chmod(folder, 0o755)  # own mode keeps them out
    before = world.snapshot()
    port = page.url.rsplit(":", 1)[1].rstrip("/")
    done = subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            _python_for(NOBODY),
            "-c",
            INTRUDER,
            port,
            str(secret_file),
        ],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["page"] == 403 and not said["csrf"], said
    assert said["promote"] == 403 and json.loads(said["answer"])["outcome"] == "forbidden", said
    assert said["guessed"] == 403 and said["api"] == 403, said
    assert world.snapshot() == before
    assert "churn#prod#1" not in world.server_tags()
    found = secret_file.stat()
    assert stat.S_IMODE(found.st_mode) == 0o600 and found.st_uid == os.geteuid()
    assert said["file"] == "PermissionError", said


def test_the_printed_address_signs_a_browser_in_and_nothing_else_does(
    world: World, page_of: Any, tmp_path: Path
) -> None:
    world.landed()
    runtime = _runtime(tmp_path)
    page: Page = page_of(world.clone, env={"XDG_RUNTIME_DIR": str(runtime)})
    secret_file = _file_of(page, runtime)
    for path in ("/", "/models/churn", "/violations", "/api/models/churn", "/nothing-here"):
        refused = page.request(path, signed_in=False)
        assert refused.status == 403, (path, refused.status)
        assert "csrf-token" not in refused.body and page.secret not in refused.body
        assert str(secret_file) in refused.body and "?token=" in refused.body, refused.body
    wrong = page.request("/?token=" + "x" * len(page.secret), signed_in=False)
    assert wrong.status == 403 and "set-cookie" not in wrong.headers
    assert page.request("/?token=wrong").status == 403  # even with the cookie: a wrong token
    assert page.request("/static/ui.css", signed_in=False).status == 200  # carries nothing
    # the printed address, once: the cookie, then the same page without the token
    entered = page.request(f"/models/churn?deprecated=1&token={page.secret}", signed_in=False)
    assert entered.status == 200, entered.body
    cookie = entered.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == page.cookie.split("=")[0] and rest.startswith(page.secret + ";")
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {p.strip() for p in cookie.split(";")}
    assert 'http-equiv="refresh" content="0;url=/models/churn?deprecated=1"' in entered.body
    assert page.secret not in entered.body
    jar = {"Cookie": f"{name}={page.secret}"}
    shown = page.request("/models/churn?deprecated=1", headers=jar, signed_in=False)
    assert shown.status == 200 and "churn@v1.0.0" in shown.body
    other = page.request("/", headers={"Cookie": f"{name}=forged"}, signed_in=False)
    assert other.status == 403
    as_json = page.request(
        "/api/models/churn", headers={"Accept": "application/json"}, signed_in=False
    )
    assert as_json.status == 403 and as_json.json()["outcome"] == "forbidden"


def test_scripts_send_the_token_as_a_bearer_header(
    world: World, page_of: Any, tmp_path: Path
) -> None:
    """No browser sends an Authorization header on its own: with it, no CSRF token."""
    world.landed()
    page: Page = page_of(world.clone, env={"XDG_RUNTIME_DIR": str(_runtime(tmp_path))})
    bearer = {"Authorization": f"Bearer {page.secret}", "Accept": "application/json"}
    versions = page.request("/api/models/churn", headers=bearer, signed_in=False)
    assert versions.status == 200 and versions.json()["versions"] == ["v1.0.0"]
    form = {"Content-Type": "application/x-www-form-urlencoded", **bearer}
    body = b"artifact=churn&version=v1.0.0&stage=prod"
    done = page.request("/actions/promote", "POST", body, form, signed_in=False)
    assert done.status == 201 and done.json()["tags"] == ["churn#prod#1"], done.body
    assert "churn#prod#1" in world.server_tags()
    forged = {**form, "Authorization": "Bearer " + "x" * len(page.secret)}
    refused = page.request("/actions/promote", "POST", body, forged, signed_in=False)
    assert refused.status == 403 and refused.json()["outcome"] == "forbidden"
    browser_like = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    csrf = page.request("/actions/promote", "POST", body, browser_like)  # the cookie alone
    assert csrf.status == 403 and "CSRF token" in csrf.json()["summary"]


def test_the_token_file_is_private_and_goes_with_the_page(
    world: World, page_of: Any, tmp_path: Path
) -> None:
    runtime = _runtime(tmp_path)
    page: Page = page_of(world.clone, env={"XDG_RUNTIME_DIR": str(runtime)})
    secret_file = _file_of(page, runtime)
    assert secret_file.read_text() == f"{page.url}?token={page.secret}\n"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.parent.stat().st_mode) == 0o700
    assert secret_file.stat().st_uid == os.geteuid()
    printed = page.stop()  # stderr: nothing to say
    assert not secret_file.exists(), printed
    # a runtime directory others may enter is not used: the user's cache is
    open_dir = tmp_path / "shared"
    open_dir.mkdir(mode=0o777)
    os.chmod(open_dir, 0o777)
    second: Page = page_of(world.clone, env={"XDG_RUNTIME_DIR": str(open_dir)})
    cached = Path(os.environ["HOME"]) / ".cache" / "gtoguard"
    assert _file_of(second, cached.parent).read_text().startswith(second.url)
    assert not (open_dir / "gtoguard").exists()


def test_open_hands_the_browser_a_private_file_never_the_token(
    world: World, page_of: Any, tmp_path: Path
) -> None:
    """A browser's command line is visible to every user (ps): --open gives it the path of
    a 0600 file that leads to the address, never the address itself."""
    runtime = _runtime(tmp_path)
    said = tmp_path / "browser-args"
    fake = tmp_path / "browser"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {said}\n')
    fake.chmod(0o755)
    page: Page = page_of(world.clone, "--open",
                         env={"XDG_RUNTIME_DIR": str(runtime), "BROWSER": f"{fake} %s"})  # fmt: skip
    assert page.request("/static/ui.css").status == 200  # served: the browser has been run
    opened = said.read_text().strip()
    assert page.secret not in opened
    found = re.fullmatch(r"file://(/.+-open\.html)", opened)
    assert found, opened
    lead = Path(found.group(1))
    assert lead.parent == runtime / "gtoguard"
    assert stat.S_IMODE(lead.stat().st_mode) == 0o600
    assert f'content="0;url={page.url}?token={page.secret}"' in lead.read_text()
    page.stop()
    assert not lead.exists()
