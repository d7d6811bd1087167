"""The server's decision log (server policy ``log:``) and ``gtoguard log``: real pushes
into bare servers with the installed hook, concurrent ones into one log file, and a log
that cannot be written."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gtoguard.model.refupdate import RefUpdate
from gtoguard.policy.rules.violation import Violation
from gtoguard.registry.decisionlog import append, entry

from conftest import World, git, gtoguard, make_world

ZERO = "0" * 40


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_accepted_and_declined_pushes_are_logged(world: World) -> None:
    log = world.root / "logs" / "decisions.jsonl"
    log.parent.mkdir()
    world.set_server_policy(f"log: {log}\nidentity: REMOTE_USER\n")
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0", env={"REMOTE_USER": "alice"}).ok
    world.tag("churn#prd#1")
    assert not world.push_tags("churn#prd#1", env={"REMOTE_USER": "bob"}).ok
    world.commit("no gto work")
    assert world.push("HEAD:main").ok  # not gtoguard's business: nothing decided, no line
    accepted, declined = _lines(log)
    assert list(accepted) == [
        "time",
        "repository",
        "pusher",
        "pusher_from",
        "hook",
        "refs",
        "verdict",
        "violations",
    ]
    assert accepted["verdict"] == "accepted" and accepted["violations"] == []
    assert accepted["pusher"] == "alice" and accepted["pusher_from"] == "REMOTE_USER"
    assert accepted["repository"] == str(world.server)
    tag = git("rev-parse", "churn@v1.0.0", cwd=world.clone).stdout.strip()
    assert accepted["refs"] == [{"ref": "refs/tags/churn@v1.0.0", "old": ZERO, "new": tag}]
    assert declined["verdict"] == "declined" and declined["pusher"] == "bob"
    assert declined["violations"] == [
        {"ref": "refs/tags/churn#prd#1", "rule": "stage-unknown", "severity": "error"}
    ]
    assert str(accepted["time"]).endswith("+00:00")


def test_a_failure_is_a_decision_too(world: World) -> None:
    log = world.root / "decisions.jsonl"
    git("config", "gtoguard.repository", "acme/models", cwd=world.server)
    world.set_server_policy(f"log: {log}\n")
    world.commit("break .gto", {".gto": "stages: dev\n"})
    assert not world.push("HEAD:main").ok
    (line,) = _lines(log)
    assert line["verdict"] == "declined" and line["repository"] == "acme/models"
    assert [v["rule"] for v in line["violations"]] == ["config-invalid"]
    assert line["pusher"] is None and line["pusher_from"] is None


def test_an_unwritable_log_never_blocks_a_push(world: World) -> None:
    blocker = world.root / "not-a-directory"
    blocker.write_text("", encoding="utf-8")  # root or not, no file can go below a file
    world.set_server_policy(f"log: {blocker / 'decisions.jsonl'}\n")
    world.tag("churn@v1.0.0")
    pushed = world.push_tags("churn@v1.0.0")
    assert pushed.ok, pushed.output
    assert "gtoguard: warning: the decision log was not written" in pushed.output
    assert "Not a directory" in pushed.output and "the verdict above stands" in pushed.output
    assert "churn@v1.0.0" in world.server_tags()
    world.tag("churn#prd#1")
    declined = world.push_tags("churn#prd#1")  # nor does it change a decline
    assert not declined.ok and "[stage-unknown]" in declined.output
    assert "Traceback" not in pushed.output + declined.output


def test_concurrent_pushes_into_one_log(tmp_path: Path) -> None:
    """Four servers (no lock between them) and two clients each, all pushing at once:
    every decision has its own whole line. The lines of the pushes with many tags are
    longer than a pipe's atomic write (4 KiB), so only O_APPEND keeps them whole."""
    log = tmp_path / "decisions.jsonl"
    policy = tmp_path / "server-policy.yaml"
    policy.write_text(f"log: {log}\n", encoding="utf-8")
    pushes = []
    for number in range(4):
        (tmp_path / f"w{number}").mkdir()
        world = make_world(tmp_path / f"w{number}")
        git("config", "gtoguard.policy", str(policy), cwd=world.server)
        names = [f"m{number}x{i}@v1.0.0" for i in range(40)]
        for name in names:
            world.tag(name)
        other = tmp_path / f"w{number}" / "other"
        git("clone", "-q", str(world.server), str(other), cwd=tmp_path)
        git("tag", "-a", f"churn{number}#prd#1", "-m", "bad stage", cwd=other)
        pushes.append((world.clone, ["--tags"]))
        pushes.append((other, [f"refs/tags/churn{number}#prd#1"]))

    def push(job: tuple[Path, list[str]]) -> int:
        clone, refs = job
        return git("push", "--porcelain", "origin", *refs, cwd=clone, check=False).returncode

    with ThreadPoolExecutor(len(pushes)) as pool:
        codes = list(pool.map(push, pushes))
    assert codes.count(0) == 4, codes  # the tag pushes accepted, the bad stages declined
    lines = _lines(log)  # each one parses
    assert len(lines) == len(pushes)
    assert sorted(str(line["verdict"]) for line in lines) == ["accepted"] * 4 + ["declined"] * 4
    assert sorted(len(line["refs"]) for line in lines) == [1] * 4 + [40] * 4
    assert min(len(json.dumps(line)) for line in lines if len(line["refs"]) == 40) > 4096


def _writer(path: str, worker: int) -> None:
    updates = [
        RefUpdate(f"refs/tags/a{worker}x{i}@v1.0.0", ZERO, f"{worker:040x}") for i in range(80)
    ]
    for number in range(100):
        line = entry(0, f"repo-{worker}", (f"user{number}", "REMOTE_USER"), "pre-receive",
                     updates, "declined", [Violation("stage-frozen", "r", "m")])  # fmt: skip
        append(path, line)


def test_appends_from_many_processes_stay_whole(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(str(path), w)) for w in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    lines = _lines(path)
    assert len(lines) == 600
    assert {(line["repository"], line["pusher"]) for line in lines} == {
        (f"repo-{w}", f"user{n}") for w in range(6) for n in range(100)
    }


@pytest.fixture
def logged(tmp_path: Path) -> Path:
    """A server repository whose server policy names a log of three decisions."""
    server = tmp_path / "server.git"
    git("init", "-q", "--bare", str(server), cwd=tmp_path)
    log = tmp_path / "decisions.jsonl"
    (tmp_path / "policy.yaml").write_text(f"log: {log}\n", encoding="utf-8")
    git("config", "gtoguard.policy", str(tmp_path / "policy.yaml"), cwd=server)
    frozen = [Violation("stage-frozen", "refs/tags/churn#prod#2", "m")]
    for when, verdict, violations in (
        (1_700_000_000, "accepted", []),
        (1_700_100_000, "declined", frozen),
        (1_700_200_000, "accepted", []),
    ):
        update = RefUpdate(f"refs/tags/churn#prod#{when % 7}", ZERO, "1" * 40)
        append(
            str(log),
            entry(
                when,
                "acme/models",
                ("alice", "GL_USERNAME"),
                "pre-receive",
                [update],
                verdict,
                violations,
            ),
        )
    return server


def test_log_reads_filters_and_prints_json(logged: Path) -> None:
    every = gtoguard("log", cwd=logged)
    assert every.returncode == 0, every.stderr
    assert every.stdout.count("acme/models") == 3 and "alice (GL_USERNAME)" in every.stdout
    assert "[stage-frozen]" in every.stdout
    frozen = gtoguard("log", "--rule", "stage-frozen", "--json", cwd=logged)
    (line,) = [json.loads(x) for x in frozen.stdout.splitlines()]
    assert line["verdict"] == "declined"
    since = gtoguard("log", "--since", "2023-11-16T03:00:00+01:00", "--json", cwd=logged)
    assert len(since.stdout.splitlines()) == 2  # 1700100000 is 2023-11-16T02:00Z
    assert gtoguard("log", "--since", "1700150000", "--json", cwd=logged).stdout.count("\n") == 1
    assert gtoguard("log", "--since", "1d", cwd=logged).stdout.strip() == "no decisions match"


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--since", "last tuesday"], 2, "--since 'last tuesday' is not a time"),
        (["--since", "2026-12-01T00:00:00"], 2, "has no time zone"),
        (["--rule", "Stage Frozen"], 2, "is not a rule id"),
        (["--file", "/nonexistent/decisions.jsonl"], 3, "cannot read the decision log"),
    ],
)
def test_log_refuses_bad_input_clearly(logged: Path, args: list[str], code: int, said: str) -> None:
    done = gtoguard("log", *args, cwd=logged)
    assert done.returncode == code and said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_log_without_a_log_and_with_a_cut_line(tmp_path: Path, logged: Path) -> None:
    plain = tmp_path / "plain.git"
    git("init", "-q", "--bare", str(plain), cwd=tmp_path)
    done = gtoguard("log", cwd=plain)
    assert done.returncode == 2 and "no decision log is configured here" in done.stderr
    log = tmp_path / "decisions.jsonl"
    with log.open("a", encoding="utf-8") as cut:
        cut.write('{"time": "2026-12-0')  # a full disk cut the last line short
    done = gtoguard("log", "--json", cwd=logged)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3
    assert "decisions.jsonl:4 is not a decision line" in done.stderr


def test_config_validate_checks_the_log_key(tmp_path: Path) -> None:
    server = tmp_path / "server-policy.yaml"
    server.write_text("log: decisions.jsonl\n", encoding="utf-8")
    done = gtoguard("config", "validate", str(server), cwd=tmp_path)
    assert done.returncode == 1 and "/log: " in done.stdout, done.stdout
    assert "is not an absolute path" in done.stdout
    repository = tmp_path / ".gtoguard.yaml"
    repository.write_text("log: /var/log/gtoguard/decisions.jsonl\n", encoding="utf-8")
    done = gtoguard("config", "validate", str(repository), cwd=tmp_path)
    assert done.returncode == 1 and "'log' is a server-only key" in done.stdout, done.stdout
