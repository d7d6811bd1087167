"""``gtoguard demo``: a throwaway server and clone, one declined and one accepted promotion.

Runs the real git client against a real bare repository with the installed pre-receive
hook, and shows git's own output, as a user would see it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from gtoguard.errors import CannotRun, UsageError
from gtoguard.git import invoke
from gtoguard.server.install import install_into

DEMO_ENV = {
    "GIT_AUTHOR_NAME": "Demo User",
    "GIT_AUTHOR_EMAIL": "demo@example.com",
    "GIT_COMMITTER_NAME": "Demo User",
    "GIT_COMMITTER_EMAIL": "demo@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def run_demo(directory: str | None, echo: Callable[[str], None], keep: bool = False) -> int:
    """The demo in ``directory`` (kept), else in a temporary directory removed at the end
    unless ``keep``."""
    if directory:
        base = Path(directory)
        if base.exists() and (not base.is_dir() or any(base.iterdir())):
            what = "is not empty" if base.is_dir() else "is not a directory"
            raise UsageError(f"{base} {what}", "give the demo an empty or new directory")
        base.mkdir(parents=True, exist_ok=True)
        return _demo(base, echo)
    base = Path(tempfile.mkdtemp(prefix="gtoguard-demo-"))
    try:
        return _demo(base, echo)
    finally:
        if keep:
            echo(f"Kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def _demo(base: Path, echo: Callable[[str], None]) -> int:
    home = base / "home"
    home.mkdir()
    env = {
        **os.environ,
        **DEMO_ENV,
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
    }
    server, clone = base / "server.git", base / "clone"

    def git(*args: str, cwd: Path = base, show: bool = False) -> int:
        done = invoke.run(args, cwd, env=env, text=True)
        if show:
            echo(f"$ git {' '.join(_quote(a) for a in args)}")
            for line in (done.stdout + done.stderr).splitlines():
                echo(f"  {line}")
        elif done.returncode != 0:
            raise CannotRun(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.returncode

    echo(f"gtoguard demo in {base}")
    echo("1. A bare 'server' repository with gtoguard's pre-receive hook:")
    git("init", "--quiet", "--bare", "--initial-branch=main", str(server))
    installed = install_into(server / "hooks" / "pre-receive", "pre-receive", sys.executable)
    echo(f"   {installed.path}")
    echo("2. A clone whose .gto allows the stages dev, staging and prod:")
    git("clone", "--quiet", str(server), str(clone))
    gto = "stages: [dev, staging, prod]\n"
    (clone / ".gto").write_text(gto, encoding="utf-8")
    echo(f"   {clone / '.gto'}: {gto.strip()}")
    (clone / "model.txt").write_text("weights v1\n", encoding="utf-8")
    git("add", ".gto", "model.txt", cwd=clone)
    git("commit", "--quiet", "-m", "Add the churn model", cwd=clone)
    git("push", "--quiet", "origin", "HEAD:main", cwd=clone)
    git("tag", "-a", "churn@v1.0.0", "-m", "Registering artifact churn version v1.0.0", cwd=clone)
    echo("")
    echo("3. A promotion to the misspelt stage 'prd' is declined by the server:")
    git(
        "tag",
        "-a",
        "churn#prd#1",
        "-m",
        "Assigning stage prd to artifact churn version v1.0.0",
        cwd=clone,
    )
    declined = git("push", "origin", "churn@v1.0.0", "churn#prd#1", cwd=clone, show=True)
    git("tag", "-d", "churn#prd#1", cwd=clone)
    echo("")
    echo("4. The same promotion to 'prod' is accepted:")
    git(
        "tag",
        "-a",
        "churn#prod#1",
        "-m",
        "Assigning stage prod to artifact churn version v1.0.0",
        cwd=clone,
    )
    accepted = git("push", "origin", "churn@v1.0.0", "churn#prod#1", cwd=clone, show=True)
    tags = invoke.run(["tag", "--list"], server, env=env, text=True).stdout.split()
    echo("")
    echo(f"The server now has the tags: {', '.join(tags)}")
    ok = declined != 0 and accepted == 0 and "churn#prd#1" not in tags
    echo("Demo finished: one promotion declined, one accepted." if ok else "Demo went wrong.")
    return 0 if ok else 3


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(ch in arg for ch in "#!@ ") else arg
