"""What lands is what was judged (docs/design.md §4 point 6): the lock a push holds from its
judgement until its refs landed, and the plan of what it will write.

pre-receive takes the repository's lock (``repolock``) before it judges a push with GTO
work, so it judges after every earlier push landed. If it accepts, it leaves the plan
next to the lock: the ref updates git will attempt, in the order git attempts them, one
file per update (``1``, ``2``, …), so that the reference-transaction shim can check in
sh, without starting a process, that each transaction is the next part of the plan:

    gtoguard-cache/lock                 "<receive-pack pid> <its start time>"
    gtoguard-cache/plan.<pid>.<start>/  count, progress (updates landed), pending (set by
                                        gtoguard when it judged a transaction: the progress
                                        once it commits), base (the default branch judged
                                        against), 1 … count, or "free" (see write_plan)

A plan line is ``<old> <new> <ref>`` as the transaction hook reads it (full ref name,
``GIT_NAMESPACE`` prefix included), or ``! <old> <new> <ref>`` for an update that must
be judged again when it lands. The shim releases the lock when the last planned update
committed; a lock whose owner died, or whose lease ran out (``repolock``), is taken
over. Nothing here prints.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from gtoguard.git.branches import Branch, default_branch
from gtoguard.git.repo import Repo, namespace_prefix
from gtoguard.model.refupdate import RefUpdate, parse_pre_receive, printable_ref
from gtoguard.policy import timebudget
from gtoguard.server.lock import (
    CACHE_DIR,
    Broken,
    Busy,
    RepoLock,
    lease_from_env,
    owner_from_env,
    plan_dir,
    read_owner,
    serves_a_push,
    timeout_from_env,
)

FLAG = "! "
SHIM = "reference-transaction"


def lock_for(repo: Repo, env: Mapping[str, str]) -> RepoLock:
    return RepoLock(Path(repo.path) / CACHE_DIR, owner_from_env(env))


def plan_path(lock: RepoLock) -> Path:
    return plan_dir(lock.cache, lock.owner)


def took_over(broken: Broken) -> str:
    """The note of a push that took the lock from a live holder whose lease ran out."""
    holder = f"pid {broken.holder.pid}" if broken.holder else "a process"
    return (
        f"took over the repository's lock from {holder}, which showed no progress for "
        f"{broken.idle:.0f} s (a push whose client stopped reading, or whose hook was killed)"
    )


def plan_line(repo: Repo, update: RefUpdate) -> str:
    return f"{update.old} {update.new} {namespace_prefix(repo.namespace)}{update.ref}"


def guard_installed(repo: Repo) -> bool:
    """Whether git will run our reference-transaction shim here: without it a plan
    would never be read (GitLab, Gitea, GHES run pre-receive only)."""
    from gtoguard.server.shimmarker import is_ours

    hooks = repo.config_value("core.hooksPath") or "hooks"
    return is_ours(Path(repo.path, hooks, SHIM))


class Landing:
    """pre-receive's side: the lock taken before judging, and the plan left behind."""

    def __init__(self, repo: Repo, lock: RepoLock, notes: Sequence[str] = ()) -> None:
        self.repo = repo
        self.lock = lock
        self.kept = False
        self.notes = list(notes)  # for the pusher: a lease taken over
        self.began = time.monotonic()

    @classmethod
    def begin(cls, repo: Repo, env: Mapping[str, str]) -> Landing:
        """Wait for the lock (``repolock.Busy`` after the timeout), and hold its lease
        while the push is judged."""
        lock = lock_for(repo, env)
        taken = lock.acquire(timeout_from_env(env), lease_from_env(env))
        if taken.took:
            clear_plans(lock.cache)
        timebudget.heartbeat(lock.renew)
        return cls(repo, lock, [took_over(b) for b in taken.broken])

    def keep(self, lands: Sequence[RefUpdate], base: Branch, env: Mapping[str, str]) -> list[str]:
        """The push is accepted: keep the lock until it landed, and write its plan if the
        reference-transaction shim will read it. Returns notes for the pusher."""
        if not self.lock.held():  # its lease ran out while judging: judged against old refs
            raise Busy(read_owner(self.lock.path), time.monotonic() - self.began)
        guard = guard_installed(self.repo)
        serving = serves_a_push(self.lock.owner)
        # the lock outlives this hook only with an owner that ends with the push
        self.kept = serving is True or (serving is None and guard)
        if not (self.kept and guard):
            return []
        from gtoguard.server.ordering import reliance

        found = reliance(self.repo, lands, base, env)
        marks = {u.ref for u in found.later}
        lines = [(FLAG if u.ref in marks else "") + plan_line(self.repo, u) for u in lands]
        # no update can need another one: the guard has nothing to compare, only to count
        write_plan(self.lock, lines, base, free=not (marks or found.earlier))
        return [
            f"{printable_ref(ref)} relies on a later update of this push; a push that is "
            "not atomic lands ref by ref, so it will be judged again when it lands, without "
            "what comes after it (push with --atomic, or push what it relies on first)"
            for ref in sorted(marks)
        ]

    def end(self) -> None:
        timebudget.heartbeat(None)  # what the hook still does (its report) is no progress
        if not self.kept:
            self.lock.release()


def write_plan(
    lock: RepoLock,
    lines: Sequence[str],
    base: Branch,
    progress: int = 0,
    pending: int | None = None,
    free: bool = False,
) -> Path:
    """Write the plan; ``progress`` last: the shim takes a plan with one as whole. A
    ``free`` plan has no update files: nothing in it needs another update of the push,
    so a skipped one harms none (10,000 files cost seconds on some file systems)."""
    path = plan_path(lock)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    if free:
        _write(path / "free", "")
    else:
        for index, line in enumerate(lines, 1):
            _write(path / str(index), line)
    _write(path / "base", f"{base.ref} {base.commit or '-'}")
    _write(path / "count", str(len(lines)))
    _write(path / "pending", "" if pending is None else str(pending))
    _write(path / "progress", str(progress))
    return path


def _write(path: Path, text: str) -> None:
    """One line (an empty file for ``""``: the shim tests ``pending`` with ``-s``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, (text + "\n" if text else "").encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape").rstrip("\n")


def clear_plans(cache: Path, keep: Path | None = None) -> None:
    """Remove the plans of earlier owners (the lock was just taken: they are over)."""
    for entry in cache.glob("plan.*"):
        if entry != keep:
            shutil.rmtree(entry, ignore_errors=True)


def drop(lock: RepoLock) -> None:
    """Release the lock and remove this owner's plan."""
    lock.release()
    shutil.rmtree(plan_path(lock), ignore_errors=True)


class Plan:
    def __init__(self, path: Path, count: int, progress: int) -> None:
        self.path, self.count, self.progress = path, count, progress

    @property
    def free(self) -> bool:
        return (self.path / "free").exists()

    def line(self, index: int) -> str:
        return _read(self.path / str(index))

    def base(self, repo: Repo) -> Branch:
        """The default branch as the push was judged: its config applies, not one the
        push itself brought (docs/design.md §2)."""
        ref, _, commit = _read(self.path / "base").partition(" ")
        branch = default_branch(repo)
        if branch.ref != ref:
            return Branch(ref, None if commit == "-" else commit)
        return Branch(branch.ref, None if commit == "-" else commit, branch.missing, branch.fix)

    def find(self, line: str) -> int | None:
        """The index of ``line`` among the updates not landed yet."""
        for index in range(self.progress + 1, self.count + 1):
            if self.line(index).removeprefix(FLAG) == line:
                return index
        return None

    def flag(self, index: int) -> None:
        line = self.line(index)
        if not line.startswith(FLAG):
            _write(self.path / str(index), FLAG + line)

    def set_pending(self, index: int) -> None:
        _write(self.path / "pending", str(index))


def read_plan(lock: RepoLock) -> Plan | None:
    path = plan_path(lock)
    try:
        return Plan(path, int(_read(path / "count")), int(_read(path / "progress")))
    except (OSError, ValueError):
        return None


def updates_of(repo: Repo, lines: Iterable[str]) -> list[RefUpdate]:
    """Plan or transaction lines as ref updates named inside the namespace; lines of
    other namespaces are not this repository's view and are left out."""
    prefix = namespace_prefix(repo.namespace)
    rows = []
    for line in lines:
        old, new, ref = line.removeprefix(FLAG).split(" ", 2)
        if not ref.startswith(prefix):
            continue
        rows.append(f"{old} {new} {ref[len(prefix) :]}")
    text = "".join(row + "\n" for row in rows)
    return parse_pre_receive(text.encode("utf-8", "surrogateescape"))
