"""Writing and pushing planned tags: written with ``git tag`` (identity and signing as git
does them) and removed again if any of a plan fails, so register+assign is all or
nothing; then pushed, and a refusal told in the server's words."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from gtoguard.git.remote import push_tags, remote_tag_names
from gtoguard.git.repo import Repo
from gtoguard.git.tagrefs import tag_names, tags_of
from gtoguard.git.tagwriting import create_tag, delete_tag
from gtoguard.model.tagging import NewTag
from gtoguard.model.tagname import (
    Action,
    parse_tag,
)
from gtoguard.registry.tagstate import registry_of


def write(repo: Repo, tags: Sequence[NewTag], sign: bool) -> list[tuple[NewTag, str]]:
    """Create every tag of a plan, or none: on a failure the ones made are deleted."""
    written: list[tuple[NewTag, str]] = []
    try:
        for new in tags:
            written.append((new, create_tag(repo, new.name, new.commit, new.message, sign)))
    except BaseException:
        for new, oid in reversed(written):
            delete_tag(repo, new.name, oid)
        raise
    return written


@dataclass
class PushResult:
    accepted: bool
    declined: bool  # by the server's (or the local pre-push) hook, not a transport error
    remote_lines: list[str]
    reason: str


def relied_on(repo: Repo, tags: Sequence[NewTag], remote: str) -> list[str]:
    """The local registration tags the new tags build on (a stage or a deregistration on
    a commit registered here) that ``remote`` lacks: pushed with them, so that the server
    never holds a stage on a version it has not seen registered."""
    wanted = {
        new.commit
        for new in tags
        if parse_tag(new.name).action not in (Action.REGISTER, Action.DEPRECATE)
    }
    if not wanted:
        return []
    artifacts = {parse_tag(new.name).artifact for new in tags}
    registry = registry_of(tags_of(repo, artifacts, tag_names(repo, artifacts)), artifacts)
    there = set(remote_tag_names(repo, remote, artifacts)) | {new.name for new in tags}
    found = []
    for state in registry.artifacts.values():
        for event in state.events:
            if (
                event.name.action is Action.REGISTER
                and event.commit in wanted
                and event.tag not in there
            ):
                found.append(event.tag)
    return found


def push(
    repo: Repo, remote: str, written: Sequence[tuple[NewTag, str]], carried: Sequence[str] = ()
) -> PushResult:
    """Push these tags (and the ``carried`` ones they rely on) atomically. If a hook
    declines them, the new local tags are removed too: a promotion the server refused
    must not linger in the clone. Carried tags stay: they were there before."""
    done = push_tags(repo, remote, [*carried, *(new.name for new, _ in written)])
    stderr = done.stderr.decode("utf-8", "replace").splitlines()
    stdout = done.stdout.decode("utf-8", "replace").splitlines()
    # git pads what a hook printed (to clear its progress lines): drop the padding
    remote_lines = [line.rstrip() for line in stderr if line.startswith("remote:")]
    if done.returncode == 0:
        return PushResult(True, False, remote_lines, "")
    rejected = [line for line in stdout if line.startswith("!")]
    ours = [line for line in stderr if line.startswith("gtoguard:")]
    declined = bool(ours) or any("rejected" in line for line in rejected)
    if declined:
        for new, oid in written:
            delete_tag(repo, new.name, oid)
    reason, said = push_failure(done)
    return PushResult(False, declined, said, reason)


def push_failure(done: subprocess.CompletedProcess[bytes]) -> tuple[str, list[str]]:
    """Why a ``git push --porcelain`` failed: its first refusal or error line (git's own
    words, whole: "fatal: ... does not appear to be a git repository"), and what the
    server's hooks said (``remote:`` lines)."""
    stderr = done.stderr.decode("utf-8", "replace").splitlines()
    stdout = done.stdout.decode("utf-8", "replace").splitlines()
    rejected = [line for line in stdout if line.startswith("!")]
    errors = [line for line in stderr if line.startswith(("error:", "fatal:"))]
    fatal = [line for line in errors if line.startswith("fatal:")]
    reason = (fatal or [_refused(line) for line in rejected] or errors or ["git push failed"])[0]
    return reason, [line.rstrip() for line in stderr if line.startswith(("remote:", "gtoguard:"))]


def _refused(line: str) -> str:
    """A ``git push --porcelain`` refusal in words: ``!<TAB>FROM:TO<TAB>[remote rejected]
    (pre-receive hook declined)`` reads "TO: remote rejected (pre-receive hook declined)"."""
    fields = line.split("\t")
    if len(fields) < 3:
        return line.lstrip("!").strip()
    summary = fields[2].strip()
    if summary.startswith("[") and "]" in summary:
        summary = summary[1:].replace("]", "", 1)
    return f"{fields[1].rpartition(':')[2]}: {summary}"
