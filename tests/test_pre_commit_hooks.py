"""The .pre-commit-hooks.yaml entries, run the way the pre-commit framework runs them
(entry + file names, in the repository, with its PRE_COMMIT_* variables)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import World, git

HOOKS = {
    h["id"]: h
    for h in yaml.safe_load(
        (Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text()
    )
}


@pytest.fixture(autouse=True)
def as_installed(installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entries run the gtoguard a user installed: the wheel, not the checkout."""
    monkeypatch.setenv("PATH", f"{installed}{os.pathsep}{os.environ['PATH']}")


def _run(hook: dict[str, object], files: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    entry = str(hook["entry"])
    args = files if hook.get("pass_filenames", True) else []
    env = {**os.environ, "PRE_COMMIT_REMOTE_NAME": "origin"}
    return subprocess.run(
        f"{entry} {' '.join(args)}",
        shell=True,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_config_hook_checks_the_changed_files(world: World) -> None:
    hook = HOOKS["gtoguard-config"]
    pattern = re.compile(str(hook["files"]))
    assert pattern.search(".gto") and pattern.search("sub/.gtoguard.yaml")
    assert not pattern.search("model.txt")
    (world.clone / ".gtoguard.yaml").write_text("stages:\n  prod: {pushers: alice}\n")
    done = _run(hook, [".gto", ".gtoguard.yaml"], world.clone)
    assert done.returncode == 1 and "/stages/prod/pushers" in done.stdout, done.stdout
    (world.clone / ".gtoguard.yaml").write_text("stages:\n  prod: {pushers: [alice]}\n")
    done = _run(hook, [".gto", ".gtoguard.yaml"], world.clone)
    assert done.returncode == 0, done.stdout + done.stderr


def test_tags_hook_checks_what_the_remote_lacks(world: World) -> None:
    hook = HOOKS["gtoguard-tags"]
    assert hook["stages"] == ["pre-push"]
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    world.tag("churn#prd#1")
    world.tag("churn#dev#2")
    done = _run(hook, [], world.clone)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[stage-unknown]" in done.stdout and "1 of 2 tags rejected" in done.stdout
    git("tag", "-d", "churn#prd#1", cwd=world.clone)
    done = _run(hook, [], world.clone)
    assert done.returncode == 0 and "1 GTO tag checked" in done.stdout, done.stdout
