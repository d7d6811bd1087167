"""The CI templates in docs/ci, run step by step against real clones.

A bare repository stands in for github.com / gitlab.com (no hook there); a pusher's
clone pushes a good and a bad promotion; each template's shell steps then run in a CI
clone made the way the CI system makes it. The pip install step is the only one not
run: the test puts the gtoguard under test on PATH instead.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import BIN, World, git, make_world

DOCS = Path(__file__).resolve().parent.parent / "docs" / "ci"
GOOD, BAD = "churn#prod#2", "churn#prd#3"


@pytest.fixture
def hosted(tmp_path: Path) -> World:
    world = make_world(tmp_path, hook=False)  # a hosted service runs no hook of ours
    for name in ("churn@v1.0.0#1", GOOD, BAD):
        world.tag(name)
    assert world.push_tags("churn@v1.0.0#1", GOOD, BAD).ok
    return world


def _shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, capture_output=True, text=True,
                          check=False, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}",
                                            **env})  # fmt: skip


def _expand(text: str, values: dict[str, str]) -> str:
    def lookup(match: re.Match[str]) -> str:
        key = match[1].strip()
        assert key in values, f"unknown expression in the template: {key}"
        return values[key]

    return re.sub(r"\$\{\{(.*?)\}\}", lookup, text)


# --- GitHub Actions ----------------------------------------------------------------------


def _github(world: World, tag: str, delete: bool) -> tuple[bool, str]:
    workflow: dict[Any, Any] = yaml.safe_load((DOCS / "github-actions.yml").read_text())
    patterns = workflow[True]["push"]["tags"]  # YAML 1.1 reads the key `on` as True
    assert any(_github_glob(p, tag) for p in patterns)
    ci = world.root / f"gh-{tag}"
    git("clone", "-q", str(world.server), str(ci), cwd=world.root)  # checkout, fetch-depth 0
    git("checkout", "-q", "--detach", f"refs/tags/{tag}", cwd=ci)
    env = {k: str(v) for k, v in workflow["env"].items()}
    env.update(GITHUB_REF_NAME=tag, GTOGUARD_DELETE_BAD_TAGS="true" if delete else "false")
    values = {"github.event.repository.default_branch": "main"}
    failed, output = False, ""
    for step in workflow["jobs"]["check"]["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        condition = step.get("if", "success()")
        if "failure()" in condition:
            if not (failed and env["GTOGUARD_DELETE_BAD_TAGS"] == "true"):
                continue
        elif failed:
            continue
        step_env = {**env, **{k: _expand(str(v), values) for k, v in step.get("env", {}).items()}}
        done = _shell(_expand(step["run"], values), ci, step_env)
        output += done.stdout + done.stderr
        failed = failed or done.returncode != 0
    return not failed, output


def _github_glob(pattern: str, name: str) -> bool:
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, name) is not None


def test_github_template_fails_on_a_bad_tag_and_passes_a_good_one(hosted: World) -> None:
    ok, output = _github(hosted, GOOD, delete=False)
    assert ok, output
    ok, output = _github(hosted, BAD, delete=False)
    assert not ok
    assert "[stage-unknown]" in output
    assert BAD in hosted.server_tags()  # deleting is opt-in


def test_github_template_can_delete_the_bad_tag(hosted: World) -> None:
    ok, output = _github(hosted, BAD, delete=True)
    assert not ok and "[stage-unknown]" in output
    assert BAD not in hosted.server_tags()
    assert GOOD in hosted.server_tags()


# --- GitLab CI ---------------------------------------------------------------------------


def _gitlab(world: World, tag: str, delete: bool) -> tuple[bool, str]:
    job = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())["gtoguard"]
    rule = job["rules"][0]["if"]
    pattern = re.search(r"=~ /(.*)/", rule)[1]  # type: ignore[index]
    assert re.search(pattern, tag)
    ci = world.root / f"gl-{tag}"
    # a tag pipeline's clone: only the pipeline's own tag is fetched
    git("init", "-q", str(ci), cwd=world.root)
    git("remote", "add", "origin", str(world.server), cwd=ci)
    git("fetch", "-q", "origin", f"+refs/tags/{tag}:refs/tags/{tag}", cwd=ci)
    git("checkout", "-q", "--detach", f"refs/tags/{tag}", cwd=ci)
    env = {k: str(v) for k, v in job["variables"].items()}
    env.update(CI_COMMIT_TAG=tag, CI_DEFAULT_BRANCH="main", GTOGUARD_PUSH_URL=str(world.server),
               GTOGUARD_DELETE_BAD_TAGS="true" if delete else "false")  # fmt: skip
    output = ""
    failed = False
    for line in job["before_script"] + job["script"]:
        if "pip install" in line:
            continue
        done = _shell(line, ci, env)
        output += done.stdout + done.stderr
        if done.returncode != 0:
            failed = True
            break
    env["CI_JOB_STATUS"] = "failed" if failed else "success"
    for line in job["after_script"]:
        done = _shell(line, ci, env)
        output += done.stdout + done.stderr
        assert done.returncode == 0, output
    return not failed, output


def test_gitlab_template_fails_on_a_bad_tag_and_passes_a_good_one(hosted: World) -> None:
    ok, output = _gitlab(hosted, GOOD, delete=False)
    assert ok, output
    ok, output = _gitlab(hosted, BAD, delete=False)
    assert not ok and "[stage-unknown]" in output
    assert BAD in hosted.server_tags()


def test_gitlab_template_can_delete_the_bad_tag(hosted: World) -> None:
    ok, output = _gitlab(hosted, BAD, delete=True)
    assert not ok and "[stage-unknown]" in output
    assert BAD not in hosted.server_tags()


def test_gitlab_template_needs_its_fetch(hosted: World) -> None:
    # without the template's fetch the CI clone has one tag and no default branch:
    # gtoguard says so instead of passing on a partial registry
    ci = hosted.root / "bare-ci"
    git("init", "-q", str(ci), cwd=hosted.root)
    git("remote", "add", "origin", str(hosted.server), cwd=ci)
    git("fetch", "-q", "origin", f"+refs/tags/{GOOD}:refs/tags/{GOOD}", cwd=ci)
    done = _shell(f"gtoguard check '{GOOD}' --branch origin/main", ci, {})
    assert done.returncode == 2 and "no branch 'origin/main'" in done.stderr
