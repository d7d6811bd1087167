"""The command line as a user runs it: a real process, real exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, World, gtoguard


def test_version_and_help() -> None:
    assert gtoguard("--version").stdout.startswith("gtoguard, version ")
    help_text = gtoguard("--help").stdout
    for command in ("parse", "install", "uninstall", "hook", "config", "demo", "Exit codes"):
        assert command in help_text


def test_parse_json_contract() -> None:
    done = gtoguard("parse", "cv=seg#prod#7", "churn@v1.2.0!", "churn@1.0.0", "--json")
    assert done.returncode == 1
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows[0] == {
        "tag": "cv=seg#prod#7",
        "valid": True,
        "artifact": "cv:seg",
        "action": "assign",
        "version": None,
        "stage": "prod",
        "counter": 7,
        "error": None,
    }
    assert rows[1]["action"] == "deregister" and rows[1]["version"] == "v1.2.0"
    assert rows[2]["valid"] is False and rows[2]["suggestion"] == "churn@v1.0.0"
    assert {"tag", "valid", "artifact", "action", "version", "stage", "counter", "error"} <= set(
        rows[2]
    )


def test_parse_text_and_exit_codes() -> None:
    ok = gtoguard("parse", "churn#prod#3")
    assert ok.returncode == 0 and "assigns stage prod of artifact churn (counter 3)" in ok.stdout
    bad = gtoguard("parse", "churn@created")
    assert bad.returncode == 1 and "[tag-reserved]" in bad.stdout
    assert gtoguard("parse").returncode == 2


def test_config_validate_files(tmp_path: Path) -> None:
    good, bad, policy = tmp_path / "a" / ".gto", tmp_path / "b" / ".gto", tmp_path / "p.yaml"
    good.parent.mkdir()
    bad.parent.mkdir()
    good.write_text("stages: [dev, prod]\n")
    bad.write_text("stages: [dev, 'no good']\n")
    policy.write_text("tags: {counter: sometimes}\n")
    assert gtoguard("config", "validate", str(good)).returncode == 0
    done = gtoguard("config", "validate", str(bad), str(policy))
    assert done.returncode == 1
    assert f"{bad}: /stages/1: 'no good' is not a valid name" in done.stdout
    assert f"{policy}: /tags/counter: 'sometimes' is not one of: optional, required" in done.stdout
    missing = gtoguard("config", "validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 3 and "cannot read" in missing.stderr


def test_config_validate_repository(world: World) -> None:
    assert gtoguard("config", "validate", cwd=world.clone).returncode == 0
    (world.clone / ".gtoguard.yaml").write_text("mode: sometimes\n")
    done = gtoguard("config", "validate", cwd=world.clone)
    assert done.returncode == 1 and "/mode" in done.stdout
    bare = gtoguard("config", "validate", "--repo", str(world.server))
    assert bare.returncode == 0 and "main:.gto: valid" in bare.stdout


def test_not_a_repository(tmp_path: Path) -> None:
    done = gtoguard("config", "validate", "--repo", str(tmp_path))
    assert done.returncode == 3 and "not a git repository" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("directory", ["given", None])
def test_demo_without_any_git_identity(tmp_path: Path, directory: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "EMAIL"))}
    env["HOME"] = str(tmp_path / "empty-home")
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    args = ["demo", str(tmp_path / "demo")] if directory else ["demo"]
    done = subprocess.run(  # this environment only: no git identity, no GIT_* at all
        [str(BIN / "gtoguard"), *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[stage-unknown] stage 'prd' is not allowed" in done.stdout
    assert "did you mean 'prod'?" in done.stdout
    assert "push declined" in done.stdout and "push accepted" in done.stdout
    assert "one promotion declined, one accepted" in done.stdout
    assert ".gto: stages: [dev, staging, prod]" in done.stdout  # it shows the rules
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith("gtoguard-demo-")]
    assert left == [], left  # the temporary directory is gone; a given one stays
    assert directory is None or (tmp_path / "demo" / "server.git").is_dir()


def test_demo_keep_leaves_its_directory(tmp_path: Path) -> None:
    done = gtoguard("demo", "--keep", env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("gtoguard-demo-")]
    assert len(kept) == 1 and (kept[0] / "server.git").is_dir()
    assert f"Kept: {kept[0]}" in done.stdout


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    done = gtoguard("demo", str(tmp_path))
    assert done.returncode == 2 and "not empty" in done.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_packaged_schemas_and_shims(tmp_path: Path) -> None:
    """The wheel carries the one copy of schemas/ and hooks/."""
    import zipfile

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(done.stderr[-2000:])
    (wheel,) = tmp_path.glob("gtoguard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in ("gto-config", "policy", "tag-event"):
        assert f"gtoguard/schemas/{schema}.schema.json" in names
    shims = ("pre-push", "pre-receive", "reference-transaction")
    assert {f"gtoguard/shims/{shim}" for shim in shims} <= names


def test_a_reader_that_goes_away_gets_no_error(world: World) -> None:
    """``gtoguard parse ... | head -1``: when the reader closes the pipe, gtoguard stops
    quietly with a SIGPIPE's status (as git does), never an 'internal error'."""
    names = [f"m{n}@v1.0.{n}" for n in range(20_000)]  # more than a pipe holds
    proc = subprocess.Popen(
        [str(BIN / "gtoguard"), "parse", *names],
        cwd=world.clone,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # the reader is done after one line
    err = proc.stderr.read().decode()
    assert proc.wait() == 141, err
    assert err == ""


def test_the_parse_example_in_help_decodes() -> None:
    """The example ``parse --help`` gives is what a user copies first: every tag in it
    decodes (it once showed 'cv:seg#prod#7', which is malformed)."""
    import shlex

    said = gtoguard("parse", "--help").stdout
    example = next(line for line in said.splitlines() if line.strip().startswith("gtoguard parse"))
    done = gtoguard(*shlex.split(example)[1:])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "invalid" not in done.stdout
