"""gtoguard installed where servers run hooks from, each with a declined and an accepted
push: a pre-receive.d directory run by a Gitea-style dispatcher, a GitLab-style
custom_hooks/pre-receive.d run with Gitaly's variables, and many bare repositories at once
through ./install.sh --server. (The bare repository's own hooks/pre-receive is what every
other end-to-end test uses; git http-backend behind nginx is tests/test_http.py.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import World, fresh_venv, git, gtoguard, make_world

ROOT = Path(__file__).resolve().parent.parent

# What Gitea and Forgejo write as hooks/pre-receive: every executable file in
# hooks/pre-receive.d gets the same input; any failure declines the push.
GITEA_DISPATCHER = """#!/usr/bin/env bash
data=$(cat)
exitcodes=""
hookname=$(basename $0)
GIT_DIR=${GIT_DIR:-$(dirname $0)/..}
for hook in ${GIT_DIR}/hooks/${hookname}.d/*; do
    test -x "${hook}" && test -f "${hook}" || continue
    echo "${data}" | "${hook}"
    exitcodes="${exitcodes} $?"
done
for i in ${exitcodes}; do
    [ ${i} -eq 0 ] || exit ${i}
done
"""

# Gitaly runs <repo>/custom_hooks/pre-receive.d/* itself, with GL_ID, GL_USERNAME and
# GL_PROTOCOL set; this stands in for it.
GITALY_STANDIN = """#!/bin/sh
data=$(cat)
export GL_ID="user-42" GL_USERNAME="$PUSHER" GL_PROTOCOL=ssh GL_REPOSITORY=project-1
for hook in "$GIT_DIR"/custom_hooks/pre-receive.d/*; do
    [ -f "$hook" ] && [ -x "$hook" ] || continue
    printf '%s\\n' "$data" | "$hook" || exit 1
done
"""


def _dispatcher(world: World, text: str) -> None:
    hook = world.server / "hooks" / "pre-receive"
    hook.write_text(text, encoding="utf-8")
    hook.chmod(0o755)


def _other_hook(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    other = directory / "00-audit-log"
    other.write_text('#!/bin/sh\ncat >> "$0.log"\n', encoding="utf-8")
    other.chmod(0o755)
    return other


def test_gitea_pre_receive_d(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    _dispatcher(world, GITEA_DISPATCHER)
    directory = world.server / "hooks" / "pre-receive.d"
    other = _other_hook(directory)
    done = gtoguard("install", "--hooks-dir", str(directory), cwd=tmp_path)
    assert done.returncode == 0 and str(directory / "gtoguard") in done.stdout, done.stderr
    world.tag("churn@v1.0.0")
    world.tag("churn#prd#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#prd#1")
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output
    git("tag", "-d", "churn#prd#1", cwd=world.clone)
    world.tag("churn#prod#1")
    assert world.push_tags("churn@v1.0.0", "churn#prod#1").ok
    assert "churn#prod#1" in (directory / "00-audit-log.log").read_text()  # it ran too
    again = gtoguard("install", "--hooks-dir", str(directory), cwd=tmp_path)
    assert "already installed" in again.stdout
    removed = gtoguard("uninstall", "--hooks-dir", str(directory), cwd=tmp_path)
    assert removed.returncode == 0 and not (directory / "gtoguard").exists()
    assert other.exists()  # nothing else in the directory is touched


def test_gitlab_custom_hooks(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    _dispatcher(world, GITALY_STANDIN)
    directory = world.server / "custom_hooks" / "pre-receive.d"
    _other_hook(directory)
    assert gtoguard("install", "--hooks-dir", str(directory), cwd=tmp_path).returncode == 0
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#prod#1", env={"PUSHER": "bob"})
    assert not pushed.ok and pushed.rules() == {"pusher-not-allowed"}, pushed.output
    # GitLab shows only GL-HOOK-ERR: lines in its web UI
    assert (
        "GL-HOOK-ERR: gtoguard: refs/tags/churn#prod#1: [pusher-not-allowed] bob "
        "(from GL_USERNAME)" in pushed.output
    )
    assert world.push_tags("churn@v1.0.0", "churn#prod#1", env={"PUSHER": "alice"}).ok


def test_hooks_dir_must_be_a_pre_receive_d(tmp_path: Path) -> None:
    done = gtoguard("install", "--hooks-dir", str(tmp_path / "hooks"), cwd=tmp_path)
    assert done.returncode == 3 and "not a pre-receive.d directory" in done.stderr
    assert not (tmp_path / "hooks").exists()  # nothing written
    done = gtoguard(
        "install", "--hooks-dir", str(tmp_path / "pre-receive.d"), "--pre-push", cwd=tmp_path
    )
    assert done.returncode == 2


def test_install_sh_server_many_repositories(tmp_path: Path, built_wheel: Path) -> None:
    """./install.sh --server installs the wheel, not the checkout, into a venv of its own:
    the hooks run what was installed, whatever later happens to the checkout."""
    repos = [tmp_path / name for name in ("a.git", "b b.git", "c.git")]
    for repo in repos:
        git("init", "-q", "--bare", str(repo), cwd=tmp_path)
    clone = tmp_path / "not-bare"
    git("init", "-q", str(clone), cwd=tmp_path)
    (tmp_path / "server").mkdir()
    server = fresh_venv(tmp_path / "server").parent  # sees the dependencies
    env = {
        **os.environ,
        "GTOGUARD_SERVER_VENV": str(server),
        "GTOGUARD_WHEEL": str(built_wheel),
        "PIP_NO_INDEX": "1",
    }
    done = subprocess.run(
        [str(ROOT / "install.sh"), "--server", *map(str, repos), str(clone)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # one path was not a bare repo
    assert "not-bare: not a bare repository; skipped" in done.stderr
    assert f"{server}/bin/gtoguard" in done.stdout and built_wheel.name in done.stdout
    for repo in repos:
        shim = (repo / "hooks" / "pre-receive").read_text()
        assert "gtoguard-shim: pre-receive" in shim and f"{server}/bin/python" in shim
    assert not (clone / ".git" / "hooks" / "pre-receive").exists()
    where = subprocess.run(
        [str(server / "bin" / "python"), "-c", "import gtoguard; print(gtoguard.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(server)) and not where.startswith(str(ROOT)), where
    assert not list(server.glob("lib/*/site-packages/__editable__*"))
    # again: the same install, gtoguard itself replaced
    again = subprocess.run(
        [str(ROOT / "install.sh"), "--server", str(repos[0])],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    mixed = subprocess.run(
        [str(ROOT / "install.sh"), "--repo", str(clone), "--server"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert mixed.returncode == 2 and "an install of its own" in mixed.stderr
    # each one works
    world = World(tmp_path, repos[1], tmp_path / "work")
    git("clone", "-q", str(repos[1]), str(world.clone), cwd=tmp_path)
    world.commit("initial", {".gto": "stages: [prod]\n"})
    assert world.push("HEAD:main").ok
    world.tag("churn@created")
    pushed = world.push_tags("churn@created")
    assert not pushed.ok and pushed.rules() == {"tag-reserved"}


@pytest.mark.parametrize("layout", ["gitea", "gitlab"])
def test_the_same_shim_file_everywhere(tmp_path: Path, layout: str) -> None:
    """One file: the installed pre-receive.d shim is byte for byte the bare repo's."""
    (tmp_path / "w").mkdir()
    world = make_world(tmp_path / "w", hook=False)
    gtoguard("install", "--repo", str(world.server), cwd=tmp_path)
    sub = "hooks" if layout == "gitea" else "custom_hooks"
    directory = world.server / sub / "pre-receive.d"
    gtoguard("install", "--hooks-dir", str(directory), cwd=tmp_path)
    bare = (world.server / "hooks" / "pre-receive").read_bytes()
    assert (directory / "gtoguard").read_bytes() == bare
