"""A remote's side: its tag names, as ``git ls-remote`` lists them (started early by
``prefetch``), and a push of tags to it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from gtoguard.errors import CannotRun
from gtoguard.git import invoke
from gtoguard.git.repo import Repo
from gtoguard.git.tagwriting import first_line
from gtoguard.model.refupdate import TAG_PREFIX, decode_ref
from gtoguard.model.tagname import artifact_to_tag

if TYPE_CHECKING:
    import subprocess


def remote_tag_names(repo: Repo, remote: str, artifacts: Iterable[str] | None = None) -> list[str]:
    """The remote's tag names; only those of ``artifacts`` when given (git matches
    the patterns, so 100,000 tags cost no parsing here)."""
    return ask_remote_tag_names(repo, remote, artifacts)()


def ask_remote_tag_names(
    repo: Repo,
    remote: str,
    artifacts: Iterable[str] | None = None,
    running: subprocess.Popen[bytes] | None = None,
) -> Callable[[], list[str]]:
    """``remote_tag_names``, started now (or ``running`` already, from
    ``prefetch.Early``) and collected by calling the result."""
    from gtoguard.git import prefetch

    proc = running
    where = repo.workdir or repo.path
    wanted = list(artifacts or ())
    if proc is None:
        proc = prefetch.start(prefetch.ls_remote_command(remote, wanted, where), where)
    if proc is None:
        raise CannotRun("cannot run git", "install git")
    started = proc

    def collect() -> list[str]:
        out, err = started.communicate()
        if started.returncode != 0 and prefetch.is_local_read(started.args):
            names = [artifact_to_tag(a) for a in wanted]
            again = prefetch.start(prefetch.network_command(remote, names), where)
            if again is None:
                raise CannotRun("cannot run git", "install git")
            out, err = again.communicate()
            started_rc = again.returncode
        else:
            started_rc = started.returncode
        if started_rc != 0:
            raise CannotRun(
                f"cannot list the tags of {remote!r}: {first_line(err)}",
                "check the remote name and your access (git ls-remote --tags REMOTE)",
            )
        names = []
        for line in out.splitlines():
            _, _, ref = line.partition(b"\t")
            if ref.startswith(TAG_PREFIX.encode()):
                names.append(decode_ref(ref[len(TAG_PREFIX) :]))
        return names

    return collect


def push_tags(repo: Repo, remote: str, names: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    """``git push`` of these tags, atomic. Its pre-push hook is told that the helper
    pushes (``invoke.HELPER_PUSH``): what the helper printed already is not printed twice."""
    refspecs = [f"{TAG_PREFIX}{n}:{TAG_PREFIX}{n}" for n in names]
    return invoke.run(["push", "--atomic", "--porcelain", "--", remote, *refspecs],
                          repo.workdir or repo.path,
                          env={**os.environ, invoke.HELPER_PUSH: "1"})  # fmt: skip
