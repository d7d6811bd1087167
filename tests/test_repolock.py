"""The repository lock's lease, taken over in one step: a holder that shows progress
between being judged idle and the lock being moved aside keeps it."""

from __future__ import annotations

import os
from pathlib import Path

from gtoguard.policy import timebudget
from gtoguard.server.lock import Owner, RepoLock, lease_from_env, start_time


def _held(tmp_path: Path) -> tuple[RepoLock, Owner]:
    cache = tmp_path / "gtoguard-cache"
    cache.mkdir()
    holder = Owner(os.getpid(), start_time(os.getpid()) or "0")  # alive: no stale lock
    (cache / "lock").write_text(holder.line() + "\n")
    return RepoLock(cache, Owner(1, "1")), holder


def test_a_lease_renewed_while_it_is_broken_is_put_back(tmp_path: Path) -> None:
    breaker, holder = _held(tmp_path)
    lock = breaker.path
    os.utime(lock, (1000, 1000))  # judged idle since then
    os.utime(lock, (2000, 2000))  # and renewed before the breaker moved it aside
    assert not breaker._break(holder, 1000.0)
    assert lock.read_text() == holder.line() + "\n" and lock.stat().st_mtime == 2000
    assert breaker._break(holder, 2000.0)  # no progress since it was judged: removed
    assert not lock.exists()
    assert not list(lock.parent.iterdir())  # nothing left aside


def test_progress_on_the_plan_also_counts(tmp_path: Path) -> None:
    breaker, holder = _held(tmp_path)
    os.utime(breaker.path, (1000, 1000))
    plan = breaker.cache / f"plan.{holder.pid}.{holder.start}"
    plan.mkdir()
    (plan / "progress").write_text("3\n")
    os.utime(plan / "progress", (2000, 2000))  # the landing guard wrote a ref's progress
    assert not breaker._break(holder, 1000.0)
    assert breaker.path.exists()


def test_the_lease_from_the_environment() -> None:
    assert lease_from_env({}) == 30.0
    assert lease_from_env({"GTOGUARD_LEASE": "2.5"}) == 2.5
    assert lease_from_env({"GTOGUARD_LEASE": "0"}) == 0.0  # a live holder keeps it
    assert lease_from_env({"GTOGUARD_LEASE": "soon"}) == 30.0


def test_judging_renews_the_lease(tmp_path: Path) -> None:
    """pre-receive renews its lease from ``timebudget.spend``, at most once a second."""
    cache = tmp_path / "gtoguard-cache"
    lock = RepoLock(cache, Owner(os.getpid(), start_time(os.getpid()) or "0"))
    assert lock.acquire().took
    os.utime(lock.path, (1000, 1000))
    timebudget.heartbeat(lock.renew)
    try:
        timebudget.spend("checking the pushed tags")
        assert lock.path.stat().st_mtime > 1000
        os.utime(lock.path, (1000, 1000))
        timebudget.spend("checking the pushed tags")  # within the same second: not again
        assert lock.path.stat().st_mtime == 1000
    finally:
        timebudget.heartbeat(None)
    timebudget.spend("checking the pushed tags")
    assert lock.path.stat().st_mtime == 1000  # the hook's report is no progress
