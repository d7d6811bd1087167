"""gtoguard ui over plain HTTP: a real server process on a real clone of a real bare server
with the installed pre-receive hook. What any client can do (forged requests, bad form
values, two clicks at once) and how the command starts (loopback, read-only, bad
arguments). The browser's own flows are in test_ui.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from conftest import (
    BIN,
    Page,
    World,
    fresh_venv,
    git,
    gtoguard,
    local_repo,
    run_gto,
    wheel_of_installed,
)


def _remote_tags(world: World) -> set[str]:
    listed = git("ls-remote", "--tags", "--refs", str(world.server), cwd=world.clone).stdout
    return {line.split("\trefs/tags/", 1)[1] for line in listed.splitlines()}


# --- writing through the page --------------------------------------------------------


def test_promote_creates_and_pushes_the_tag_the_cli_would(world: World, page_of: Any) -> None:
    world.landed()
    page: Page = page_of(world.clone)
    reply = page.post("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prod",
                                  "message": "ship it\r\nCHANGE-1"})  # fmt: skip
    answer = reply.json()
    assert reply.status == 201 and answer["outcome"] == "accepted", answer
    assert answer["tags"] == ["churn#prod#1"]
    assert any("push accepted" in line for line in answer["remote_lines"]), answer
    assert all(line.startswith("remote:") for line in answer["remote_lines"])
    assert "churn#prod#1" in _remote_tags(world)
    message = git("tag", "-l", "--format=%(contents)", "churn#prod#1", cwd=world.clone).stdout
    assert message.strip() == "ship it\nCHANGE-1"  # the browser's CRLF made LF, like git -m


def test_a_refusal_writes_nothing_and_says_the_rule(world: World, page_of: Any) -> None:
    world.landed()
    page: Page = page_of(world.clone)
    before = world.snapshot()
    reply = page.post("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prd"})
    answer = reply.json()
    assert reply.status == 422 and answer["outcome"] == "refused", answer
    assert [v["rule"] for v in answer["violations"]] == ["stage-unknown"]
    assert "did you mean 'prod'?" in answer["violations"][0]["hint"]
    assert "nothing was written" in answer["summary"]
    assert world.snapshot() == before


BAD_VALUES = [
    ("promote", {"artifact": "churn", "version": "1.0.0", "stage": "prod"}, "Version '1.0.0'"),
    ("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "pr od"}, "Stage 'pr od'"),
    ("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prod!"}, "Stage 'prod!'"),
    ("promote", {"artifact": "bad name", "version": "v1.0.0", "stage": "prod"}, "invalid artifact"),
    ("promote", {"artifact": "churn", "stage": "prod"}, "Version is required"),
    ("promote", {"artifact": "churn", "version": "v9.9.9", "stage": "prod"}, "not registered"),
    (
        "register",
        {"artifact": "churn", "commit": "HEAD", "version": "v2.0.0", "bump": "minor"},
        "not both",
    ),
    ("register", {"artifact": "churn", "commit": "HEAD", "bump": "huge"}, "Bump 'huge'"),
    ("register", {"artifact": "churn", "commit": "no-such-rev"}, "unknown revision"),
    ("register", {"artifact": "churn", "commit": "x" * 300}, "at most 255 bytes"),
    ("unassign", {"artifact": "churn", "version": "v1.0.0", "stage": "dev\x00"}, "control"),
    (
        "promote",
        {"artifact": "churn", "version": "v1.0.0", "stage": "prod", "message": "a\x00b"},
        "NUL",
    ),
]


def test_a_check_says_the_verdict_of_a_submission_and_writes_nothing(
    world: World, page_of: Any
) -> None:
    """check=1 (issue 30: the page's pre-check, which the cross-surface test asks): the
    same plan and verdict as a submission of the same form, and nothing written."""
    world.landed()
    world.set_policy("stages:\n  staging: {message: 'CHANGE-[0-9]+'}\n")
    page: Page = page_of(world.clone)
    before = world.snapshot()
    forms = [
        ("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prd"}, "declined"),
        ("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "staging"}, "declined"),
        ("unassign", {"artifact": "churn", "version": "v1.0.0", "stage": "dev"}, "declined"),
        ("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "dev"}, "accepted"),
        ("register", {"artifact": "churn", "commit": "HEAD", "bump": "minor"}, "accepted"),
    ]
    checked = []
    for kind, fields, verdict in forms:
        reply = page.post(kind, {**fields, "check": "1"})
        answer = reply.json()
        assert reply.status == 200 and answer["outcome"] == "checked", answer
        assert answer["verdict"] == verdict and answer["ok"] == (verdict == "accepted"), answer
        assert "nothing was written" in answer["summary"] and answer["remote_lines"] == []
        assert all(v["severity"] in ("error", "warning", "unchecked")
                   for v in answer["violations"])  # fmt: skip
        checked.append(answer)
        assert world.snapshot() == before, fields  # no tag here, nothing pushed
    assert [v["rule"] for v in checked[0]["violations"]] == ["stage-unknown"]
    assert [v["rule"] for v in checked[1]["violations"]] == ["message-mismatch"]
    assert checked[3]["tags"] == ["churn#dev#1"] and checked[3]["violations"] == []
    # a submission of each form: the same tags and the same violations
    for (kind, fields, verdict), check in zip(forms, checked, strict=True):
        reply = page.post(kind, fields)
        answer = reply.json()
        assert answer["outcome"] == ("accepted" if verdict == "accepted" else "refused"), answer
        assert answer["tags"] == check["tags"], (answer, check)
        assert answer["violations"] == check["violations"], (answer, check)
        if verdict == "accepted":  # the next check plans on what this one wrote
            before = world.snapshot()
    bad = page.post("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "dev",
                                "check": "yes"})  # fmt: skip
    assert bad.status == 400 and "check 'yes'" in bad.json()["summary"], bad.body
    assert world.snapshot() == before


def test_bad_form_values_are_a_400_and_change_nothing(world: World, page_of: Any) -> None:
    world.landed()
    page: Page = page_of(world.clone)
    before = world.snapshot()
    for kind, fields, said in BAD_VALUES:
        reply = page.post(kind, fields)
        answer = reply.json()
        assert reply.status == 400 and answer["outcome"] == "invalid", (fields, answer)
        assert said in answer["summary"] + (answer["hint"] or ""), (fields, answer)
        assert "Traceback" not in reply.body
    assert world.snapshot() == before


def test_malformed_requests_are_refused_plainly(world: World, page_of: Any) -> None:
    world.landed()
    page: Page = page_of(world.clone)
    before = world.snapshot()
    token = page.token()
    form = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    cases = [
        (b"artifact=churn&artifact=x&csrf=" + token.encode(), form, 400, "sent twice"),
        (b"\xff\xfe=1", form, 400, "UTF-8"),
        (b"{}", {**form, "Content-Type": "application/json"}, 415, "x-www-form-urlencoded"),
        (b"message=" + b"a" * 200_000, form, 413, "128 KiB"),
    ]
    for body, headers, status, said in cases:
        reply = page.request("/actions/promote", "POST", body, headers)
        assert reply.status == status and said in reply.json()["summary"], (status, reply.body)
    assert page.request("/actions/deploy", "POST", b"csrf=" + token.encode(), form).status == 404
    assert world.snapshot() == before


def test_state_changes_need_the_csrf_token_and_a_post(world: World, page_of: Any) -> None:
    world.landed()
    page: Page = page_of(world.clone)
    before = world.snapshot()
    fields = {"artifact": "churn", "version": "v1.0.0", "stage": "prod"}
    for token in ("", "forged-token"):
        reply = page.post("promote", fields, token=token)
        assert reply.status == 403 and "CSRF token" in reply.json()["summary"], reply.body
    header_only = page.post("promote", fields, token="", headers={"X-CSRF-Token": "forged"})
    assert header_only.status == 403
    other_site = page.post("promote", fields, headers={"Origin": "http://evil.example"})
    assert other_site.status == 403 and "another site" in other_site.json()["summary"]
    query = "/actions/promote?artifact=churn&version=v1.0.0&stage=prod&csrf=" + page.token()
    assert page.request(query).status == 405  # a GET never writes
    assert page.request("/", "POST", b"").status == 405
    assert world.snapshot() == before
    html = page.post("promote", fields, token="", headers={"Accept": "text/html"})
    assert html.status == 403 and "CSRF token" in html.body and "<html" in html.body


def test_the_page_answers_only_to_its_own_host_name(world: World, page_of: Any) -> None:
    page: Page = page_of(world.clone)
    assert page.url.startswith("http://127.0.0.1:")
    port = page.url.rsplit(":", 1)[1].rstrip("/")
    assert page.request("/", headers={"Host": f"localhost:{port}"}).status == 200
    rebound = page.request("/", headers={"Host": f"attacker.example:{port}"})  # DNS rebinding
    assert rebound.status == 400
    assert "default-src 'self'" in page.request("/").headers["content-security-policy"]


def test_two_clicks_at_once_never_share_a_counter(world: World, page_of: Any) -> None:
    world.landed()
    page: Page = page_of(world.clone)
    token = page.token()
    replies: dict[str, Any] = {}
    barrier = threading.Barrier(4)

    def click(stage: str, key: str) -> None:
        barrier.wait()
        replies[key] = page.post(
            "promote", {"artifact": "churn", "version": "v1.0.0", "stage": stage}, token=token
        )

    threads = [
        threading.Thread(target=click, args=(stage, f"{stage}{n}"))
        for stage in ("dev", "staging")
        for n in (1, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    made = [reply.json()["tags"][0] for reply in replies.values() if reply.status == 201]
    refused = [reply.json() for reply in replies.values() if reply.status != 201]
    assert sorted(t.split("#")[1] for t in made) == ["dev", "staging"], replies
    assert all(
        r["outcome"] == "invalid" and "already (gto show shows it there now)" in r["summary"]
        for r in refused
    )
    counters = [tag.rsplit("#", 1)[1] for tag in made]
    assert sorted(counters) == ["1", "2"]
    assert set(made) <= _remote_tags(world)
    local = git("tag", "-l", "churn#*", cwd=world.clone).stdout.split()
    assert sorted(local) == sorted(made)


def test_register_and_unassign_then_gto_reads_the_tags_as_gtoguard_does(
    world: World, page_of: Any
) -> None:
    world.landed()
    new = world.commit("retrained")
    git("push", "-q", "--no-verify", "origin", "HEAD:main", cwd=world.clone)
    page: Page = page_of(world.clone)
    registered = page.post("register", {"artifact": "churn", "commit": new, "bump": "minor"})
    assert registered.status == 201, registered.body
    assert registered.json()["tags"] == ["churn@v1.1.0"]
    for stage in ("dev", "prod"):
        assert (
            page.post("promote", {"artifact": "churn", "version": "v1.1.0", "stage": stage}).status
            == 201
        )
    gone = page.post("unassign", {"artifact": "churn", "version": "v1.1.0", "stage": "dev"})
    assert gone.status == 201 and gone.json()["tags"] == ["churn#dev!#3"], gone.body
    again = page.post("unassign", {"artifact": "churn", "version": "v1.1.0", "stage": "dev"})
    assert again.status == 422 and again.json()["violations"][0]["rule"] == "stage-not-active"
    assert {"churn@v1.1.0", "churn#dev#1", "churn#prod#2", "churn#dev!#3"} <= _remote_tags(world)
    for args in (["show", "--json"], ["show", "churn", "--json"]):
        ours = gtoguard(*args, cwd=world.clone)
        assert ours.returncode == 0, ours.stderr
        assert json.loads(run_gto(*args, cwd=world.clone).stdout) == json.loads(ours.stdout)
    shown = json.loads(page.request("/api/models/churn").body)
    assert shown["versions"] == ["v1.1.0", "v1.0.0"] and shown["allowed"] == [
        "dev",
        "staging",
        "prod",
    ]


def test_a_server_decline_shows_the_remote_lines_and_leaves_no_tag(
    world: World, page_of: Any
) -> None:
    world.landed()
    world.set_server_policy("stages:\n  prod:\n    pushers: [alice]\n")  # the clone cannot know
    page: Page = page_of(world.clone)
    reply = page.post("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prod"})
    answer = reply.json()
    assert reply.status == 409 and answer["outcome"] == "declined", answer
    lines = answer["remote_lines"]
    assert any("[identity-unknown]" in line or "[pusher-not-allowed]" in line for line in lines)
    assert any("push declined" in line for line in lines), lines
    assert all(line.startswith(("remote:", "gtoguard:")) for line in lines)
    assert "churn#prod#1" not in _remote_tags(world)
    assert git("tag", "-l", "churn#prod*", cwd=world.clone).stdout == ""  # removed here too


def test_without_a_remote_the_tags_stay_local(tmp_path: Path, page_of: Any) -> None:
    repo = local_repo(tmp_path / "local", {".gto": "stages: [dev, prod]\n"})
    page: Page = page_of(repo)
    assert "no remote" in page.request("/").body
    reply = page.post("register", {"artifact": "churn", "commit": "HEAD"})
    assert reply.status == 201 and reply.json()["outcome"] == "written", reply.body
    assert git("tag", cwd=repo).stdout.split() == ["churn@v0.0.1"]
    plain = page.post(
        "promote",
        {"artifact": "churn", "version": "v0.0.1", "stage": "dev"},
        headers={"Accept": "text/html"},
    )  # a form posted without the script
    assert plain.status == 201 and "created churn#dev#1" in plain.body, plain.body
    assert '<a href="/models/churn">Back</a>' in plain.body


def test_an_invalid_gto_is_said_on_every_page_and_blocks_writes(
    tmp_path: Path, page_of: Any
) -> None:
    repo = local_repo(
        tmp_path / "local", {".gto": "stages: dev\n"}
    )  # not a list: gto fails on it too
    page: Page = page_of(repo)
    for path in ("/", "/models/churn", "/violations"):
        shown = page.request(path)
        assert shown.status == 500 and "config-invalid" in shown.body, (path, shown.body)
        assert ".gto" in shown.body and "Traceback" not in shown.body
    reply = page.post("register", {"artifact": "churn", "commit": "HEAD"})
    answer = reply.json()
    assert reply.status == 500 and answer["violations"][0]["rule"] == "config-invalid", answer
    assert git("tag", cwd=repo).stdout == ""


def test_a_broken_gto_is_said_once_with_its_hint(tmp_path: Path, page_of: Any) -> None:
    """Each page, the dialog's answer and the answer to a plain form say the problem
    once, with its hint once: not as a headline and again as a list."""
    repo = local_repo(tmp_path / "local", {".gto": "stages: dev\n"})
    page: Page = page_of(repo)
    problem, hint = "/stages: expected array or null", "hint: write a list: [dev]"
    for path in ("/", "/models/churn", "/violations"):
        body = page.request(path).body
        assert body.count(problem) == 1 and body.count(hint) == 1, (path, body)
        assert "config-invalid" in body and ".gto" in body
    answer = page.post("register", {"artifact": "churn", "commit": "HEAD"}).json()
    said = [answer["summary"], answer["hint"] or ""]
    said += [f"{v['message']} hint: {v['hint']}" for v in answer["violations"]]
    assert " ".join(said).count(problem) == 1 and " ".join(said).count(hint) == 1, answer
    assert "nothing was written" in answer["summary"]
    plain = page.post(
        "register", {"artifact": "churn", "commit": "HEAD"}, headers={"Accept": "text/html"}
    ).body
    assert plain.count(problem) == 1 and plain.count(hint) == 1, plain
    assert git("tag", cwd=repo).stdout == ""


# --- reading ---------------------------------------------------------------------------


def test_pages_of_a_seeded_registry(world: World, page_of: Any) -> None:
    world.landed()
    world.tag("churn#prod#1", "churn@v1.0.0^{commit}")
    world.tag("fraud@v0.1.0", world.head())
    # after the commit's own date (gto counts it as an event): deprecated now
    world.tag("fraud@deprecated", world.head(), when=int(time.time()) + 1)
    assert world.push_tags("churn#prod#1", "fraud@v0.1.0", "fraud@deprecated").ok
    world.tag("nlp@v1.0.0", lightweight=True)  # only here: the audit finds it
    page: Page = page_of(world.clone)
    board = page.request("/").body
    assert "1 violation</a>" in board
    assert board.index(">dev</th>") < board.index(">staging</th>") < board.index(">prod</th>")
    assert 'data-name="fraud" data-active="no" hidden' in board
    found = page.request("/violations").body
    assert "tag-lightweight" in found and "nlp@v1.0.0" in found
    model = page.request("/models/churn")
    assert model.status == 200 and "churn#prod#1" in model.body
    missing = page.request("/models/nope")
    assert missing.status == 404 and "no artifact named" in missing.body
    assert "Traceback" not in missing.body
    css = page.request("/static/ui.css")
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")
    assert page.request("/static/../app.py").status == 404


class _Tables(HTMLParser):
    """The rows of each page section's table: the row's attributes and its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[tuple[dict[str, str | None], list[str]]]] = {}
        self._section = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._section = dict(attrs).get("id") or ""
        elif tag == "tr":
            self.rows.setdefault(self._section, []).append((dict(attrs), []))
        elif tag in ("td", "th") and self._section in self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[self._section][-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(body: str) -> dict[str, list[tuple[dict[str, str | None], list[str]]]]:
    parser = _Tables()
    parser.feed(body)
    return parser.rows


def test_the_versions_table_says_what_the_stages_table_and_gto_show_say(
    world: World, page_of: Any
) -> None:
    """v0.1.0 goes to dev, staging and prod, then v0.2.0 to staging: gto show, the Stages
    table and the Versions table all put v0.2.0 alone in staging; v0.1.0 shows where it
    was, labelled so, never as a stage it holds."""
    world.tag("churn@v0.1.0")
    for counter, stage in enumerate(("dev", "staging", "prod"), start=1):
        world.tag(f"churn#{stage}#{counter}", "churn@v0.1.0^{commit}")
    world.commit("retrained")
    assert world.push("HEAD:main").ok
    world.tag("churn@v0.2.0")
    world.tag("churn#staging#4", "churn@v0.2.0^{commit}")
    pushed = world.push_tags(
        "churn@v0.1.0",
        "churn#dev#1",
        "churn#staging#2",
        "churn#prod#3",
        "churn@v0.2.0",
        "churn#staging#4",
    )
    assert pushed.ok, pushed.output
    page: Page = page_of(world.clone)
    tables = _tables(page.request("/models/churn").body)
    in_stage = {
        attrs["data-stage"]: cells[1] for attrs, cells in tables["stages"] if "data-stage" in attrs
    }
    assert in_stage == {"dev": "v0.1.0", "staging": "v0.2.0", "prod": "v0.1.0"}
    cells = {
        attrs["data-version"]: cells[4]
        for attrs, cells in tables["versions"]
        if "data-version" in attrs
    }
    assert cells == {"v0.1.0": "prod, dev was: staging", "v0.2.0": "staging"}  # gto's order
    holds = {version: set(cell.split(" was: ")[0].split(", ")) for version, cell in cells.items()}
    assert holds == {
        version: {stage for stage, shown in in_stage.items() if shown == version}
        for version in cells
    }  # the two tables agree
    # and both say what the real gto says of the same repository
    registry = json.loads(run_gto("show", "--json", cwd=world.clone).stdout)
    assert registry["churn"]["stage"] == in_stage
    versions = json.loads(run_gto("show", "churn", "--json", cwd=world.clone).stdout)
    assert {v["version"]: {s["stage"] for s in v["stages"]} for v in versions} == holds
    listed = {
        v["version"]: ", ".join(dict.fromkeys(s["stage"] for s in v["stages"])) for v in versions
    }
    assert {version: cell.split(" was: ")[0] for version, cell in cells.items()} == listed


def test_a_bare_repository_is_read_only(world: World, page_of: Any) -> None:
    world.landed()
    page: Page = page_of(world.server)
    before = world.server_snapshot()
    board = page.request("/").body
    assert "read-only" in board and "disabled" in board and "<dialog" not in board
    reply = page.post("promote", {"artifact": "churn", "version": "v1.0.0", "stage": "prod"})
    assert reply.status == 403 and reply.json()["outcome"] == "read-only", reply.body
    assert world.server_snapshot() == before


# --- starting it -----------------------------------------------------------------------


def _ui(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "gtoguard"), "ui", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})  # fmt: skip


def test_bad_arguments_are_clear_errors(world: World, tmp_path: Path) -> None:
    before = world.snapshot()
    nowhere = _ui("--repo", str(tmp_path / "nothing"), cwd=tmp_path)
    assert nowhere.returncode == 3 and "not a git repository" in nowhere.stderr
    remote = _ui("--repo", str(world.clone), "--remote", "upstream", cwd=tmp_path)
    assert remote.returncode == 2 and "no remote 'upstream'" in remote.stderr
    assert "remotes here: origin" in remote.stderr
    port = _ui("--repo", str(world.clone), "--port", "70000", cwd=tmp_path)
    assert port.returncode == 2
    host = _ui("--repo", str(world.clone), "--host", "no.such.host.invalid", cwd=tmp_path)
    assert host.returncode == 2 and "--host 'no.such.host.invalid'" in host.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = _ui("--repo", str(world.clone), "--port", str(taken.getsockname()[1]), cwd=tmp_path)
    assert busy.returncode == 3 and "is in use" in busy.stderr and "--port 0" in busy.stderr
    for done in (nowhere, remote, port, host, busy):
        assert "Traceback" not in done.stderr, done.stderr
    assert world.snapshot() == before


def test_another_host_must_be_asked_for_and_warns(world: World, page_of: Any) -> None:
    page: Page = page_of(world.clone, "--host", "0.0.0.0")
    assert page.request("/").status == 200
    assert "not loopback" in page.stop() and "git credentials" in page.log.read_text()
    quiet: Page = page_of(world.clone, "--host", "127.0.0.1")
    assert "warning" not in quiet.stop()


def test_without_the_ui_extra_it_exits_3_and_says_how_to_install(
    world: World, tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in ("starlette", "uvicorn"):
        (blocked / f"{name}.py").write_text(
            f"raise ModuleNotFoundError({f'No module named {name!r}'!r})\n"
        )
    env = {"PYTHONPATH": str(blocked)}
    done = _ui("--repo", str(world.clone), cwd=tmp_path, env=env)
    assert done.returncode == 3, done.stderr
    assert "-m pip install 'starlette>=" in done.stderr and "starlette, uvicorn" in done.stderr
    assert "Traceback" not in done.stderr
    world.landed()
    assert gtoguard("show", "--json", cwd=world.clone, env=env).returncode == 0
    assert gtoguard("check", "--all", cwd=world.clone, env=env).returncode == 0


UI = ("starlette", "uvicorn", "jinja2")


def test_the_install_the_hint_names_works(world: World, tmp_path: Path, built_wheel: Path) -> None:
    """gtoguard installed from its wheel without the extra: ``gtoguard ui`` names a
    command for the Python it runs on (gtoguard[ui] is on no index), and that command,
    run as printed, installs the extra (here from a local wheelhouse: no index)."""
    (tmp_path / "venv").mkdir()
    bin_dir = fresh_venv(tmp_path / "venv", hide=UI)
    done = subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(built_wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    refused = subprocess.run(
        [str(bin_dir / "gtoguard"), "ui", "--repo", str(world.clone)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 3 and "starlette, uvicorn, jinja2 not installed" in refused.stderr
    hint = next(line for line in refused.stderr.splitlines() if "-m pip install" in line)
    command = hint[hint.index(str(bin_dir / "python")) :]
    assert "gtoguard" not in command.split("pip install", 1)[1], command
    wheels = tmp_path / "wheelhouse"
    wheels.mkdir()
    for name in UI:
        wheel_of_installed(name, wheels)
    installed = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False,
                               env={**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)})  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import starlette; print(starlette.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert where.startswith(str(bin_dir.parent)), where


def test_hooks_and_other_commands_never_import_the_ui_extra(world: World) -> None:
    """A real pre-receive run judging a GTO tag (the engine, jsonschema and yaml all
    loaded), and the CLI running a command: neither loads the page's stack."""
    git(
        "tag",
        "-a",
        "churn@v1.0.0",
        "-m",
        "Registering artifact churn version v1.0.0",
        "main",
        cwd=world.server,
    )
    oid = git("rev-parse", "churn@v1.0.0", cwd=world.server).stdout.strip()
    git("update-ref", "-d", "refs/tags/churn@v1.0.0", cwd=world.server)  # as if in quarantine
    heavy = ("starlette", "uvicorn", "jinja2", "gtoguard.ui")
    update = f"{'0' * 40} {oid} refs/tags/churn@v1.0.0\n".encode()
    script = (
        "import sys\n"
        "from gtoguard.server.hooks import pre_receive\n"
        f"code = pre_receive([], {update!r}, sys.stderr, {{}})\n"
        f"print(code, *sorted(m for m in {heavy!r} if m in sys.modules))\n"
        "print(*sorted(m for m in ('jsonschema', 'yaml') if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env={**os.environ, "GIT_DIR": str(world.server)})  # fmt: skip
    assert done.stdout.split() == ["0"], done.stdout + done.stderr
    assert done.stderr.split()[-2:] == ["jsonschema", "yaml"], done.stderr  # it really judged
    cli = (
        "import sys\nfrom gtoguard.commands.cli import main\n"
        "try:\n    main(['show', '--json'])\nexcept SystemExit:\n    pass\n"
        f"print('loaded:', *sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", cli], capture_output=True, text=True, cwd=world.clone
    )
    assert shown.stderr.strip() == "loaded:", shown.stderr


def test_a_name_no_artifact_can_have_is_not_found(world: World, page_of: Any) -> None:
    world.landed()
    page: Page = page_of(world.clone)
    assert page.request("/models/churn").status == 200
    for path in (
        "/models/churn%00",
        "/models/churn%0a",
        "/api/models/churn%00",
        "/models/churn%0A/x",
    ):
        reply = page.request(path)
        assert reply.status == 404, (path, reply.status, reply.body[:300])
        assert "internal error" not in reply.body


def test_on_every_address_the_page_still_answers_only_to_names_of_this_machine(
    world: World, page_of: Any
) -> None:
    """Bound to 0.0.0.0, the page refuses a Host header of another site (DNS rebinding
    would otherwise let any web page read its token and push tags)."""
    page: Page = page_of(world.clone, "--host", "0.0.0.0", "--allow-host", "models.example")
    port = page.url.rsplit(":", 1)[1].rstrip("/")
    assert page.request("/", headers={"Host": f"localhost:{port}"}).status == 200
    assert page.request("/", headers={"Host": f"models.example:{port}"}).status == 200
    assert page.request("/", headers={"Host": f"attacker.example:{port}"}).status == 400
