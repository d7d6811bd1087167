"""gtoguard as users get it: the built wheel in a fresh virtual environment (conftest's
``installed``), never the checkout's editable install. A plain install once could not find
its schemas (``importlib.resources`` gave a namespace path whose ``str()`` is no path):
every command failed and the installed hook declined every push with internal-error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import World, git, make_world, start_page

# read when the module is imported: each test's environment is cleaned of GTOGUARD_*
# variables (conftest's autouse fixture), so a test reading it would never see it
SUITE = os.environ.get("GTOGUARD_SUITE", "")


def _run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "gtoguard"), *args], cwd=cwd, capture_output=True,
                          text=True, check=False,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})  # fmt: skip


def test_the_wheels_hook_declines_and_accepts(tmp_path: Path, installed: Path) -> None:
    world: World = make_world(tmp_path, hook=False)
    done = _run(installed, "install", "--repo", str(world.server), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shim = (world.server / "hooks" / "pre-receive").read_text()
    assert str(installed.parent) in shim  # the hook runs the wheel's interpreter
    world.tag("churn@v1.0.0")
    world.tag("churn#prd#1", "churn@v1.0.0^{commit}")
    before = world.server_snapshot()
    pushed = world.push_tags("churn@v1.0.0", "churn#prd#1")
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output
    assert world.server_snapshot() == before
    git("tag", "-d", "churn#prd#1", cwd=world.clone)
    world.tag("churn#prod#1", "churn@v1.0.0^{commit}")
    pushed = world.push_tags("churn@v1.0.0", "churn#prod#1")
    assert pushed.ok, pushed.output
    assert "2 GTO tags checked; push accepted" in pushed.output


def test_the_wheels_commands_find_their_schemas(world: World, installed: Path) -> None:
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    for args in (
        ["config", "validate"],
        ["show", "--json"],
        ["check", "--all"],
        ["check", "churn@v1.0.0"],
    ):
        done = _run(installed, *args, cwd=world.clone)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "schema" not in done.stderr, done.stderr
    (world.clone / ".gto").write_text("stages: dev\n")  # broken: the schema must say why
    done = _run(installed, "config", "validate", cwd=world.clone)
    assert done.returncode == 1 and ".gto: /stages" in done.stdout + done.stderr, done


def test_the_suite_runs_against_the_installed_wheel() -> None:
    """./install.sh --test (what CI runs) builds the wheel and runs every test against it
    installed in .venv-test: the package the tests import, and the hooks they install,
    are not the checkout's sources. A developer's quick run in .venv may use them."""
    import sys

    import gtoguard

    source = Path(__file__).resolve().parents[1] / "src"
    imported = Path(gtoguard.__file__).resolve()
    if SUITE != "installed":
        # a developer's run (.venv, pip install -e) tests the code being edited, never a
        # stale non-editable gtoguard installed there
        assert source in imported.parents, (
            f"the suite imports {imported}, not this checkout's src/: install it editable "
            "(./install.sh --test does), or run the installed suite (GTOGUARD_SUITE=installed)"
        )
        return
    assert source not in imported.parents, imported
    assert Path(sys.prefix).name == ".venv-test", sys.prefix
    assert (Path(sys.prefix) / "bin" / "gtoguard").is_file()


def test_the_wheel_ships_the_registry_page(
    world: World, installed: Path, built_wheel: Path, tmp_path: Path
) -> None:
    """Templates and static files are package data: the installed page serves them."""
    import zipfile

    names = set(zipfile.ZipFile(built_wheel).namelist())
    for name in (
        "ui/static/ui.css",
        "ui/static/ui.js",
        "ui/templates/model.html",
        "commands/ui.py",
    ):
        assert f"gtoguard/{name}" in names, name
    env = {"PATH": f"{installed}:{os.environ['PATH']}"}
    page = start_page(
        "--repo",
        str(world.clone),
        cwd=tmp_path,
        log=tmp_path / "ui.log",
        env=env,
        program=installed / "gtoguard",
    )
    try:
        css = page.request("/static/ui.css")
        shipped = (Path(__file__).parent.parent / "src/gtoguard/ui/static/ui.css").read_text()
        assert css.status == 200 and css.body == shipped
        board = page.request("/")
        assert board.status == 200 and "<h1>Models</h1>" in board.body
    finally:
        page.stop()
    where = _run(installed, "ui", "--help", cwd=tmp_path)
    assert where.returncode == 0 and "registry page" in where.stdout
