"""The remote's tags of one artifact, asked for before they are needed.

A creating command (``assign``, ``register`` …) must know the remote's counters and
versions of its artifact (``git ls-remote`` with patterns). That round trip costs as much
as importing gtoguard, so the command starts it first and collects it when the plan needs
it: the two overlap. Light on purpose: imported before anything heavy.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable

from gtoguard.errors import CannotRun
from gtoguard.git import invoke
from gtoguard.model.tagname import artifact_to_tag


def ls_remote_command(remote: str, artifacts: Iterable[str], cwd: str | None = None) -> list[str]:
    """The command that lists ``remote``'s tags of ``artifacts`` (all its tags if none),
    as ``<oid>TAB<ref>`` lines. ``git ls-remote`` (2.39) asks the server for every tag
    and filters on this side: a million tags cost it two seconds. A remote that is a
    repository on this machine is read directly instead, through its sorted ref store
    (``for-each-ref`` with prefix patterns): what its upload-pack would advertise."""
    names = [artifact_to_tag(a) for a in artifacts]
    local = _local_repository(remote, cwd) if cwd is not None else None
    if local is not None:
        patterns = [
            f"refs/tags/{a}{sep}{tail}"
            for a in names
            for sep in ("@", "#")
            for tail in ("*", "*/**")
        ] or ["refs/tags"]
        return invoke.argv([f"--git-dir={local}", "for-each-ref",
                                "--format=%(objectname)%09%(refname)", "--", *patterns])  # fmt: skip
    return network_command(remote, names)


def network_command(remote: str, names: Iterable[str]) -> list[str]:
    """``git ls-remote`` for the tags of the artifacts whose tag-name forms are ``names``."""
    patterns = [f"refs/tags/{a}{sep}*" for a in names for sep in ("@", "#")]
    return invoke.argv(["ls-remote", "--tags", "--refs", "--", remote, *patterns])


def is_local_read(command: object) -> bool:
    """Whether ``command`` reads a same-machine remote directly (if it fails, as for a
    repository another user owns, ``ls-remote`` is asked instead)."""
    return isinstance(command, list) and any(
        str(part).startswith("--git-dir=") for part in command[1:3]
    )


def _local_repository(remote: str, cwd: str) -> str | None:
    """The directory of ``remote`` when its URL names a repository on this machine (a
    path or ``file://``, as git tells local transports apart), with no ``insteadOf``
    rewriting URLs; else None."""
    try:
        done = invoke.run(
            ["config", "--get-regexp", r"^(remote\..*\.url|url\..*\.insteadof)$"], cwd, timeout=10
        )
    except (CannotRun, subprocess.SubprocessError):
        return None
    url = remote
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(" ")
        if key.endswith(".insteadof"):
            return None  # git may rewrite the URL: let it
        if key == f"remote.{remote.lower()}.url" or key == f"remote.{remote}.url":
            url = value
    if url.startswith("file://"):
        url = url[len("file://") :]
    elif "://" in url or (":" in url and "/" not in url.split(":", 1)[0]):
        return None  # ssh://, https://, host:path
    path = os.path.abspath(os.path.join(cwd, url))
    if os.path.isdir(os.path.join(path, ".git")):
        path = os.path.join(path, ".git")  # a working clone (a .git file: let git resolve it)
    bare = all(os.path.exists(os.path.join(path, p)) for p in ("HEAD", "objects", "refs"))
    return path if bare else None


def start(command: list[str], cwd: str) -> subprocess.Popen[bytes] | None:
    """The command, running; None if it cannot start (the caller asks again, and says
    why, when it needs the answer)."""
    try:
        return subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            env=invoke.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError:
        return None


class Early:
    """An ``ls-remote`` started at the command's start, for ``remote`` and ``artifact``."""

    def __init__(self, repo: str, remote: str, artifact: str) -> None:
        self.remote, self.artifact = remote, artifact
        self.command = ls_remote_command(remote, [artifact], repo)
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
