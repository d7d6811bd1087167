"""The layers of ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml) are kept
by the code, and a deliberate break of each kind is caught, so the check can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# import-linter's command through this interpreter: the installed suite's venv reaches the
# test tools through a .pth file, and their scripts are not in its bin/
LINT = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; "
    "sys.exit(lint_imports_command())",
]


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the package found first on ``src``, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [*LINT, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_keeps_every_layer_contract() -> None:
    done = _lint(ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


BREAKS = {  # a line added to a module -> the contract it breaks
    "model/tagname.py": ("import pygit2", "model and policy are pure"),
    "policy/rules/counters.py": (
        "from gtoguard.registry import planning",
        "each layer imports only",
    ),
    "git/repo.py": ("from gtoguard.config import files", "each layer imports only"),
    "ui/site.py": ("from gtoguard.git import invoke", "the page reaches git only"),
}


@pytest.mark.parametrize("module", sorted(BREAKS))
def test_a_deliberate_break_is_caught(tmp_path: Path, module: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "gtoguard", src / "gtoguard", ignore=shutil.ignore_patterns("__pycache__")
    )
    line, contract = BREAKS[module]
    path = src / "gtoguard" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    done = _lint(src)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout, done.stdout


def test_no_test_module_imports_another() -> None:
    """Shared builders live in support modules (builders, histories, model_oracle,
    servers, tagobjects) and conftest; a test module importing another runs that one's
    module-level code and ties the two together."""
    found = [
        f"{path.name}: {line.strip()}"
        for path in sorted((ROOT / "tests").glob("test_*.py"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(("from test_", "import test_"))
    ]
    assert not found, found
