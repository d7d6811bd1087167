"""What a user can type or leave lying around, outside the hook's push: options at the
edge of their range, a message in the wrong encoding, a working tree that differs from
HEAD, odd lines in a decision log, a damaged cache. Each ends in a clear message and the
right exit code, never an internal error, and the readers keep reading what gto reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import BIN, World, git, gtoguard, make_world, run_gto

HOLIDAYS = """stages:
  prod:
    freeze:
      - {from: "2026-12-20T00:00:00+01:00", until: "2027-01-04T08:00:00+01:00", reason: holidays}
"""


def no_crash(done: object) -> None:
    text = getattr(done, "stdout", "") + getattr(done, "stderr", "")
    assert "internal error" not in text and "Traceback" not in text, text


def test_counters_and_names_past_gtoguards_limits_read_as_gto_reads_them(tmp_path: Path) -> None:
    """The hook declines a 19-digit counter, but one already in a repository is read by
    gto: show and history list it as gto does, and the audit names it."""
    world = make_world(tmp_path, hook=False)
    world.tag("big@v1.0.0")
    world.tag("big#prod#1000000000000000000")
    shown = gtoguard("show", "--json", cwd=world.clone)
    assert json.loads(shown.stdout) == json.loads(run_gto("show", "--json", cwd=world.clone).stdout)
    assert json.loads(shown.stdout)["big"]["stage"]["prod"] == "v1.0.0"
    history = gtoguard("history", "--json", cwd=world.clone)
    gto_history = run_gto("history", "--json", cwd=world.clone)
    assert json.loads(history.stdout) == json.loads(gto_history.stdout)
    audit = gtoguard("check", "--all", cwd=world.clone)
    assert audit.returncode == 1 and "[tag-malformed]" in audit.stdout + audit.stderr


def test_show_reads_the_working_trees_gto_as_gto_does(world: World) -> None:
    assert gtoguard("register", "churn", cwd=world.clone).returncode == 0
    (world.clone / ".gto").write_text("stages: [qa, dev]\n", encoding="utf-8")  # not committed
    shown = json.loads(gtoguard("show", "--json", cwd=world.clone).stdout)
    assert shown == json.loads(run_gto("show", "--json", cwd=world.clone).stdout)
    assert list(shown["churn"]["stage"]) == ["qa", "dev"]
    (world.clone / ".gto").write_text("stages: [qa, dev", encoding="utf-8")
    broken = gtoguard("show", cwd=world.clone)
    assert broken.returncode == 3 and "[config-invalid]" in broken.stderr
    assert ".gto (working tree)" in broken.stderr


def test_times_past_the_year_9999_are_usage_errors(world: World) -> None:
    world.set_policy(HOLIDAYS)
    assert gtoguard("register", "churn", "--push", cwd=world.clone).returncode == 0
    world.tag("churn#prod#2")
    for value in ("99999999999999999999", "253402300800"):
        done = gtoguard("check", "churn#prod#2", "--pushed-at", value, cwd=world.clone)
        no_crash(done)
        assert done.returncode == 2 and "is not a time" in done.stderr, done.stderr
    done = gtoguard("assign", "churn", "--stage", "dev", "--dry-run", cwd=world.clone,
                    env={"GTOGUARD_NOW": "99999999999999999999"})  # fmt: skip
    no_crash(done)
    assert done.returncode == 3 and "GTOGUARD_NOW" in done.stderr


def test_a_message_that_is_not_utf8_is_refused_and_a_c_locale_keeps_utf8(world: World) -> None:
    assert gtoguard("register", "churn", cwd=world.clone).returncode == 0
    before = git("for-each-ref", cwd=world.clone).stdout
    for extra in ([], ["--dry-run"]):
        done = _run_bytes(world.clone, b"bad\xffbyte", extra)
        no_crash(done)
        assert done.returncode == 2 and b"not UTF-8" in done.stderr_bytes, done.stderr_bytes
    assert git("for-each-ref", cwd=world.clone).stdout == before
    done = _run_bytes(world.clone, "grün".encode(), [], locale_c=True)
    assert done.returncode == 0, done.stderr_bytes
    tag = git(
        "for-each-ref", "--format=%(refname:short)", "refs/tags/churn#dev*", cwd=world.clone
    ).stdout.split()[0]
    body = git("cat-file", "tag", tag, cwd=world.clone).stdout
    assert body.rstrip("\n").endswith("grün")


class _Bytes:
    def __init__(self, code: int, stdout: bytes, stderr: bytes) -> None:
        self.returncode, self.stdout_bytes, self.stderr_bytes = code, stdout, stderr
        self.stdout = stdout.decode("utf-8", "replace")
        self.stderr = stderr.decode("utf-8", "replace")


def _run_bytes(clone: Path, message: bytes, extra: list[str], locale_c: bool = False) -> _Bytes:
    """``gtoguard assign churn --stage dev -m MESSAGE``, the message as raw bytes (as a
    shell passes them)."""
    import subprocess

    program = str(BIN / "gtoguard").encode()
    env = dict(os.environ)
    if locale_c:
        env.update(LC_ALL="C", LANG="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
    done = subprocess.run(
        [
            program,
            b"assign",
            b"churn",
            b"--stage",
            b"dev",
            b"-m",
            message,
            *(e.encode() for e in extra),
        ],
        cwd=clone,
        capture_output=True,
        env=env,
        check=False,
    )
    return _Bytes(done.returncode, done.stdout, done.stderr)


def test_a_deprecation_made_in_the_second_of_a_registration_takes_effect(
    tmp_path: Path,
) -> None:
    """gto cannot order two tags of one second; the helper waits for the next one."""
    world = make_world(tmp_path, hook=False)
    env = {k: v for k, v in os.environ.items() if k != "GIT_COMMITTER_DATE"}
    for args in (("register", "m"), ("deprecate", "m")):
        done = gtoguard(*args, cwd=world.clone, env=env)
        assert done.returncode == 0, done.stderr
    gto_view = json.loads(run_gto("show", "-d", "--json", cwd=world.clone).stdout)
    assert gto_view["m"]["active"] is False
    shown = gtoguard("show", cwd=world.clone)
    assert "gtoguard show -d" in shown.stdout and not shown.stdout.startswith("artifact")


def test_log_lines_of_the_wrong_shape_are_not_decisions(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    good = {
        "time": "2026-12-01T10:00:00+00:00",
        "repository": "r",
        "pusher": "alice",
        "pusher_from": "REMOTE_USER",
        "hook": "pre-receive",
        "refs": [],
        "verdict": "accepted",
        "violations": [],
    }
    lines = [
        '{"time":"x","refs":5}',
        '{"time": 5}',
        json.dumps({**good, "refs": 5}),
        json.dumps(good),
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = gtoguard("log", "--file", str(log), cwd=tmp_path)
    no_crash(done)
    assert done.returncode == 0
    assert done.stderr.count("is not a decision line") == 3
    assert done.stdout.splitlines() == [
        "2026-12-01T10:00:00+00:00  accepted  alice (REMOTE_USER)  r"
    ]


def test_a_damaged_or_edited_cache_entry_is_validated_again(world: World) -> None:
    assert gtoguard("register", "churn", cwd=world.clone).returncode == 0
    assert gtoguard("show", cwd=world.clone).returncode == 0  # fills the cache
    path = Path(git("rev-parse", "--absolute-git-dir", cwd=world.clone).stdout.strip())
    cache = path / "gtoguard-cache" / "verdicts.json"
    entries = json.loads(cache.read_text(encoding="utf-8"))
    keys = [k for k in entries if k.startswith(".gto:")]
    assert keys, entries
    for value in ({"stages": 7}, {"seal": "0", "value": {"stages": ["dev", "qa"]}}):
        entries[keys[0]] = value
        cache.write_text(json.dumps(entries), encoding="utf-8")
        done = gtoguard("assign", "churn", "--stage", "qa", "--dry-run", cwd=world.clone)
        no_crash(done)
        assert done.returncode == 1 and "[stage-unknown]" in done.stderr, done.stderr


def test_prune_says_why_the_remote_refused(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    world.tag("churn@v1.0.0")
    world.tag("churn#prd#2")
    assert world.push("--tags").ok
    git("remote", "set-url", "origin", str(tmp_path / "gone.git"), cwd=world.clone)
    done = gtoguard("prune", "--made-after", "0", cwd=world.clone, env={"CI": ""})
    no_crash(done)
    assert done.returncode == 3
    assert "does not appear to be a git repository" in done.stderr, done.stderr
    assert "git push --dry-run origin" in done.stderr
    assert "churn#prd#2" in git("tag", cwd=world.clone).stdout  # kept here too


def test_the_test_clock_is_named_in_the_helpers_output(world: World) -> None:
    world.set_policy(HOLIDAYS)
    assert gtoguard("register", "churn", "--push", cwd=world.clone).returncode == 0
    done = gtoguard("assign", "churn", "--stage", "prod", "--dry-run", cwd=world.clone,
                    env={"GTOGUARD_NOW": "2026-12-24T12:00:00+01:00"})  # fmt: skip
    assert done.returncode == 1 and "[stage-frozen]" in done.stderr
    assert "GTOGUARD_NOW=2026-12-24T12:00:00+01:00" in done.stderr


def test_small_messages_say_the_right_thing(world: World) -> None:
    git("tag", "lw@v1.0.0", cwd=world.clone)  # lightweight only: gto ignores it
    shown = gtoguard("show", "lw", cwd=world.clone)
    assert shown.returncode == 1 and "did you mean 'lw'" not in shown.stderr  # gto: 1 too
    assert "lightweight" in shown.stderr and "gtoguard register lw" in shown.stderr
    bad_name = gtoguard("show", "churn\n", cwd=world.clone)
    assert bad_name.returncode == 1 and "is not an artifact name" in bad_name.stderr
    on_file = gtoguard("show", "--repo", str(world.clone / "model.txt"), cwd=world.clone)
    assert on_file.returncode == 3 and "is a file" in on_file.stderr
