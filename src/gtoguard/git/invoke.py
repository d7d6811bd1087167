"""One way to start git: every git command gtoguard runs reads objects as they are stored.

git lets a repository change what its readers see. ``refs/replace/<oid>`` makes every
later command read another object in place of ``<oid>`` (``cat-file``, ``verify-tag``,
``merge-base``, ``diff``), and a push can create one; ``info/grafts`` gives commits other
parents. gtoguard judges the objects themselves, so every git it starts gets
``--no-replace-objects`` and an environment that turns both off, inherited by whatever
that git starts in turn (docs/reliability.md, "What git can make a reader see").

The hooks' environment (``GIT_DIR``, the quarantine's ``GIT_OBJECT_DIRECTORY``) is kept:
the commands must see the pushed objects. ``subprocess`` is imported only when a command
really runs: a push that needs no git process does not pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gtoguard.errors import CannotRun

if TYPE_CHECKING:
    import subprocess

# what every git gtoguard starts reads: the objects as stored, never a replacement
# (a graft file that cannot exist: git advises against one that exists, even empty)
AS_STORED = {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_GRAFT_FILE": os.path.join(os.devnull, "grafts")}


def argv(args: Sequence[str]) -> list[str]:
    """The command line of ``git ARGS``, reading objects as stored."""
    return ["git", "--no-replace-objects", *args]


def environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with ``extra`` on top and replacements turned off."""
    return {**os.environ, **(extra or {}), **AS_STORED}


# set in the environment of the helper's own ``git push`` (``remote.push_tags``): its
# pre-push hook does not repeat what the helper printed
HELPER_PUSH = "GTOGUARD_HELPER_PUSH"


def run(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` of ``git ARGS`` (output captured, no check); ``CannotRun`` when
    git cannot be started. ``env``: the whole environment to start from (default: ours)."""
    import subprocess

    options.setdefault("capture_output", True)
    options.setdefault("check", False)
    try:
        return subprocess.run(argv(args), cwd=cwd, env=_env(env), **options)
    except OSError as exc:
        raise CannotRun(f"cannot run git: {exc.strerror or exc}", "install git") from None


def popen(
    args: Sequence[str],
    cwd: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` of ``git ARGS``; ``OSError`` when git cannot be started."""
    import subprocess

    return subprocess.Popen(argv(args), cwd=cwd, env=_env(env), **options)


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    return environ() if env is None else {**env, **AS_STORED}
