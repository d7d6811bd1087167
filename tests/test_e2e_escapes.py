"""Pushed text never reaches a terminal or the page raw: a tagger name, a tag message and
a pusher identity full of terminal controls (an OSC title, a screen clear, a C1 CSI, a
bidi override) go through the real hook into a bare server; then every surface that
shows them to people (show, history, check --all, log, the page) shows them escaped,
and the JSON documents stay gto's data."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import BIN, Page, World, git, gtoguard

EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e"
TAGGER = f"Eve{EVIL}Mallory"
MESSAGE = f"ship it{EVIL}\nsecond line"
PUSHER = f"alice{EVIL}"
# C0 but tab and newline, DEL, C1, and the bidi controls
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _pushed(world: World) -> Path:
    """churn@v1.0.0 and churn#prod#1, by a hostile tagger and pusher, through the hook;
    the server logs its decisions. The path of the log."""
    log = world.root / "decisions.jsonl"
    world.set_server_policy(f"log: {log}\nidentity: REMOTE_USER\n")
    env = {"GIT_COMMITTER_NAME": TAGGER, "GIT_COMMITTER_DATE": f"@{world.tick()} +0000"}
    git("tag", "-a", "churn@v1.0.0", "HEAD", "-m", MESSAGE, cwd=world.clone, env=env)
    env["GIT_COMMITTER_DATE"] = f"@{world.tick()} +0000"
    git("tag", "-a", "churn#prod#1", "HEAD", "-m", MESSAGE, cwd=world.clone, env=env)
    pushed = world.push_tags("churn@v1.0.0", "churn#prod#1", env={"REMOTE_USER": PUSHER})
    assert pushed.ok, pushed.output
    assert not RAW.search(pushed.output.replace("\r", "")), repr(pushed.output)
    tagger = git("tag", "-l", "--format=%(taggername)", "churn@v1.0.0", cwd=world.server).stdout
    assert tagger.strip() == TAGGER  # the server really holds the controls
    return log


def _said(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    text = done.stdout + done.stderr
    assert not RAW.search(text), repr(text)
    return text


def test_the_cli_shows_pushed_controls_escaped(world: World) -> None:
    _pushed(world)
    shown = _said(gtoguard("show", "churn", cwd=world.clone))
    assert f"Eve{SHOWN}Mallory" in shown, shown
    _said(gtoguard("show", cwd=world.clone))
    _said(gtoguard("history", "churn", cwd=world.clone))
    _said(gtoguard("history", cwd=world.clone))
    checked = _said(gtoguard("check", "--all", cwd=world.clone))
    assert "check passed" in checked
    # JSON stays data: the documents hold the text itself
    document = json.loads(gtoguard("show", "churn", "--json", cwd=world.clone).stdout)
    assert document[0]["author"] == TAGGER
    events = json.loads(gtoguard("history", "churn", "--json", cwd=world.clone).stdout)
    assert {e["message"].strip() for e in events} == {MESSAGE}


def test_the_decision_log_shows_the_pusher_escaped(world: World) -> None:
    log = _pushed(world)
    decisions = _said(gtoguard("log", "--repo", str(world.server), cwd=world.clone))
    assert f"alice{SHOWN} (REMOTE_USER)" in decisions, decisions
    (line,) = (
        json.loads(x)
        for x in gtoguard("log", "--json", "--file", str(log), cwd=world.clone).stdout.splitlines()
    )
    assert line["pusher"] == PUSHER  # the JSON line as it is


def test_on_a_terminal_too(world: World) -> None:
    """click strips CSI sequences only when stdout is not a terminal, and never the OSC
    title nor C1: under script(1), gtoguard's stdout is a terminal."""
    script = shutil.which("script")
    if script is None:
        pytest.skip("script (util-linux) is missing")
    _pushed(world)
    command = shlex.join([str(BIN / "gtoguard"), "show", "churn", "--repo", str(world.clone)])
    done = subprocess.run(
        [script, "-qec", command, "/dev/null"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    text = done.stdout.decode("utf-8", "replace").replace("\r\n", "\n")
    assert done.returncode == 0, text
    assert f"Eve{SHOWN}Mallory" in text, text
    assert not RAW.search(text), repr(text)


def test_the_page_shows_pushed_controls_escaped(world: World, page_of: Any) -> None:
    _pushed(world)
    page: Page = page_of(world.clone)
    model = page.request("/models/churn")
    assert model.status == 200
    assert not RAW.search(model.body), repr(model.body)
    assert f"Eve{SHOWN}Mallory" in model.body  # the Versions, Stages and History tables
    assert f'<td class="message">ship it{SHOWN}\nsecond line' in model.body  # its lines kept
    for path in ("/", "/violations"):
        shown = page.request(path)
        assert shown.status == 200 and not RAW.search(shown.body), (path, shown.body)


def test_the_hook_quotes_a_tag_object_name_escaped(world: World) -> None:
    """The one pushed text a hook line quotes: the name inside a tag object (gto reads it,
    not the ref), which git's own checks would refuse but a crafted object carries."""
    commit = world.head()
    body = (
        f"object {commit}\ntype commit\ntag churn@v1.0.0{EVIL}\n"
        f"tagger Eve <eve@example.com> {world.tick()} +0000\n\nregister\n"
    )
    oid = git(
        "hash-object",
        "-t",
        "tag",
        "-w",
        "--stdin",
        "--literally",
        cwd=world.clone,
        input=body.encode(),
    ).stdout.strip()
    git("update-ref", "refs/tags/churn@v1.0.0", oid, cwd=world.clone)
    pushed = world.push_tags("churn@v1.0.0")
    assert not pushed.ok and "[tag-name-mismatch]" in pushed.output, pushed.output
    assert f"'churn@v1.0.0{SHOWN}'" in pushed.output, pushed.output
    assert not RAW.search(pushed.output.replace("\r", "")), repr(pushed.output)
