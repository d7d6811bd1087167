"""The remote's tags of one artifact, asked for before they are needed.

A creating command (``assign``, ``register`` …) must know the remote's counters and
versions of its artifact (``git ls-remote`` with patterns). That round trip costs as much
as importing gtoguard, so the command starts it first and collects it when the plan needs
it: the two overlap. Light on purpose: imported before anything heavy.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

from .tagname import artifact_to_tag


def ls_remote_command(remote: str, artifacts: Iterable[str]) -> list[str]:
    """``git ls-remote`` for the tags of ``artifacts`` only (git matches the patterns)."""
    patterns = [f"refs/tags/{artifact_to_tag(a)}{sep}*" for a in artifacts
                for sep in ("@", "#")]  # fmt: skip
    return ["git", "ls-remote", "--tags", "--refs", "--", remote, *patterns]


def start(command: list[str], cwd: str) -> subprocess.Popen[bytes] | None:
    """The command, running; None if it cannot start (the caller asks again, and says
    why, when it needs the answer)."""
    try:
        return subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    except OSError:
        return None


class Early:
    """An ``ls-remote`` started at the command's start, for ``remote`` and ``artifact``."""

    def __init__(self, repo: str, remote: str, artifact: str) -> None:
        self.remote, self.artifact = remote, artifact
        self.command = ls_remote_command(remote, [artifact])
        self.process = start(self.command, repo)

    def take(self, remote: str, artifact: str) -> subprocess.Popen[bytes] | None:
        """The running process if it asks what the caller wants; else stop it."""
        process, self.process = self.process, None
        if process is not None and (remote, artifact) != (self.remote, self.artifact):
            drop(process)
            return None
        return process

    def close(self) -> None:
        if self.process is not None:
            drop(self.process)
            self.process = None


def drop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.communicate()
