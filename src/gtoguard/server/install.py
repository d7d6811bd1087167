"""Install and uninstall the hook shims.

The shim records the interpreter that runs gtoguard. A hook that is not ours is never
overwritten: it moves to ``<hook>.legacy`` and the shim runs it first with the same input.
Installing twice is installing once; uninstalling puts the legacy hook back.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from gtoguard.errors import CannotRun, NotARepository
from gtoguard.git import invoke
from gtoguard.server.shimmarker import is_ours

HOOK_KINDS = ("pre-push", "pre-receive")
GUARD = "reference-transaction"  # the landing guard, next to pre-receive in a bare repository
SHIMS = (*HOOK_KINDS, GUARD)
NO_GUARD = (
    "the landing guard (the reference-transaction hook) cannot be installed in a "
    "pre-receive.d directory: pre-receive alone cannot stop what git refuses after it "
    "accepted a push, nor a second push racing this one (see docs/reliability.md)"
)


@dataclass(frozen=True)
class Installed:
    path: Path
    legacy: Path | None  # the foreign hook now chained, if any
    changed: bool  # False: the same shim was there already
    also: tuple[Installed, ...] = ()  # hooks installed with it (the landing guard)
    notes: tuple[str, ...] = ()  # what the user should know


def hooks_dir(repo: str) -> tuple[Path, bool]:
    """Where git runs this repository's hooks (honours core.hooksPath), and whether bare."""

    def git(*args: str) -> str:
        done = invoke.run(["-C", repo, *args], text=True)
        if done.returncode != 0:
            raise NotARepository(
                f"not a git repository: {repo}", "pass --repo with the repository's path"
            )
        return str(done.stdout).strip()

    bare = git("rev-parse", "--is-bare-repository") == "true"
    path = Path(git("rev-parse", "--git-path", "hooks"))
    if not path.is_absolute():
        path = Path(repo) / path
    return path, bare


def shim_text(kind: str, python: str) -> str:
    if _packaged_shims():
        template = resources.files("gtoguard.shims").joinpath(kind).read_text(encoding="utf-8")
    else:
        template = (_source_hooks() / kind).read_text(encoding="utf-8")
    return template.replace("GTOGUARD_PYTHON=''", f"GTOGUARD_PYTHON={shlex.quote(python)}", 1)


def _packaged_shims() -> bool:
    try:
        return resources.files("gtoguard.shims").joinpath("pre-push").is_file()
    except (ModuleNotFoundError, TypeError):
        return False


def _source_hooks() -> Path:
    return Path(__file__).resolve().parents[3] / "hooks"  # src/gtoguard/server/install.py


def install(
    repo: str, kind: str | None = None, python: str | None = None, force: bool = False
) -> Installed:
    """A bare repository gets pre-receive and the landing guard next to it
    (reference-transaction), a clone pre-push. ``force`` rewrites our own shims even
    when they are up to date."""
    directory, bare = hooks_dir(repo)
    kind = kind or ("pre-receive" if bare else "pre-push")
    if kind not in HOOK_KINDS:
        raise CannotRun(f"unknown hook {kind!r}", "use --pre-push or --pre-receive")
    kinds = (kind, GUARD) if kind == "pre-receive" and bare else (kind,)
    done = []
    for each in kinds:
        target = directory / each
        if force and is_ours(target):
            target.unlink()
        done.append(install_into(target, each, python or sys.executable))
    first, *also = done
    return replace(first, also=tuple(also))


HOOKS_DIR_NAME = "gtoguard"  # the file name inside a pre-receive.d/ directory


def install_hooks_dir(directory: str, python: str | None = None, force: bool = False) -> Installed:
    """The pre-receive shim as ``DIRECTORY/gtoguard``, for servers that run every
    executable of a directory as a pre-receive hook: GitLab ``custom_hooks/pre-receive.d``
    (per project, or the global ``custom_hooks_dir``), Gitea/Forgejo
    ``hooks/pre-receive.d``. Nothing else in the directory is touched."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise CannotRun(f"{directory} is not a directory", "give the pre-receive.d directory")
    if path.name != "pre-receive.d":
        raise CannotRun(
            f"{directory} is not a pre-receive.d directory",
            "servers run the hooks of a directory named pre-receive.d "
            "(GitLab custom_hooks/pre-receive.d, Gitea hooks/pre-receive.d)",
        )
    target = path / HOOKS_DIR_NAME
    if force and is_ours(target):
        target.unlink()
    done = install_into(target, "pre-receive", python or sys.executable)
    return replace(done, notes=(NO_GUARD,))


def uninstall_hooks_dir(directory: str) -> list[str]:
    return uninstall_from(Path(directory) / HOOKS_DIR_NAME)


def install_into(target: Path, kind: str, python: str) -> Installed:
    """Write the shim at ``target``; a foreign hook there moves to ``<target>.legacy``."""
    text = shim_text(kind, python)
    legacy = target.with_name(target.name + ".legacy")
    target.parent.mkdir(parents=True, exist_ok=True)
    chained = legacy if os.path.lexists(legacy) else None
    if os.path.lexists(target) and not is_ours(target):
        if chained is not None:
            raise CannotRun(
                f"{target} is not gtoguard's and {legacy.name} exists already",
                f"merge the two hooks into {legacy} by hand, remove {target}, then install again",
            )
        os.replace(target, legacy)
        chained = legacy
    elif os.path.lexists(target) and target.read_text(encoding="utf-8", errors="replace") == text:
        return Installed(target, chained, changed=False)
    temporary = target.with_name(f".{target.name}.gtoguard-tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o755)
    os.replace(temporary, target)
    return Installed(target, chained, changed=True)


def uninstall(repo: str, kinds: tuple[str, ...] = SHIMS) -> list[str]:
    """Remove our shims and put back the hooks they chained; returns what was done."""
    directory, _ = hooks_dir(repo)
    return [line for kind in kinds for line in uninstall_from(directory / kind)]


def uninstall_from(target: Path) -> list[str]:
    done: list[str] = []
    if not os.path.lexists(target):
        return done
    if not is_ours(target):
        return [f"left {target}: it is not gtoguard's"]
    target.unlink()
    done.append(f"removed {target}")
    legacy = target.with_name(target.name + ".legacy")
    if os.path.lexists(legacy):
        os.replace(legacy, target)
        done.append(f"restored {target} (was {legacy.name})")
    return done
