"""The reference-transaction hook's Python side: the backstop that re-judges a ref
update when what lands is no longer what pre-receive judged (docs/design.md §4 point 6, §7).

The shim answers in sh every transaction that is the next part of its push's plan, and
every transaction without a GTO tag. It starts this only at ``prepared`` (the refs are
locked, not written; a refusal aborts the transaction and git's receive-pack dies with
"ref updates aborted by hook", refs written before stay) when:

- a planned update before this transaction did not land (git refused it after
  pre-receive: an ``update`` hook, a ref lock, a rule of git's): this transaction and
  the rest of the plan are judged again against the refs as they are now;
- the plan marks an update of this transaction to be judged when it lands;
- there is no plan of ours (a tag made on the server itself, or no pre-receive shim):
  the transaction is judged as a push, under the repository's lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TextIO

from gtoguard.git.branches import Branch, default_branch
from gtoguard.git.objects import objects_of
from gtoguard.git.repo import Repo, open_repo
from gtoguard.model.refupdate import RefUpdate, printable_ref
from gtoguard.model.tagobject import HEAD_CAP
from gtoguard.policy import timebudget
from gtoguard.policy.context import Outcome
from gtoguard.policy.report import summary_line, write_text
from gtoguard.policy.scope import gto_updates
from gtoguard.registry import judge, tombstones
from gtoguard.registry.facts import Where
from gtoguard.server import landing
from gtoguard.server.lock import RepoLock, lease_from_env, serves_a_push, timeout_from_env


def run(state: str, stdin: bytes, err: TextIO, env: Mapping[str, str]) -> int:
    if state != "prepared":
        return 0  # committed and aborted are the shim's bookkeeping
    lines = _lines(stdin)
    if not lines:
        return 0
    repo = open_repo(None)
    lock = landing.lock_for(repo, env)
    timebudget.heartbeat(lock.renew)  # judging under the lock renews its lease
    plan = landing.read_plan(lock) if lock.held() else None
    if plan is None:
        if not _may_be_gto(repo, lines):
            return 0  # a large transaction the shim handed over unread: nothing of GTO's
        return _judge_unplanned(repo, lock, lines, err, env)
    if plan.free:  # a large transaction the shim handed over: only counted
        plan.set_pending(plan.progress + len(lines))
        return 0
    planned = [
        plan.line(i)
        for i in range(plan.progress + 1, plan.progress + len(lines) + 1)
        if i <= plan.count
    ]
    if planned == lines:  # the next part of the plan (a large one the shim handed over)
        plan.set_pending(plan.progress + len(lines))
        return 0
    return _judge_again(repo, plan, lines, err, env)


def _may_be_gto(repo: Repo, lines: list[str]) -> bool:
    """A GTO-shaped tag, or a plain tag name whose tag object carries a GTO name."""
    updates = landing.updates_of(repo, lines)
    if gto_updates(updates):
        return True
    plain = [u for u in updates if u.is_tag and not u.deleted]
    return bool(plain) and bool(gto_updates(plain, objects_of(repo, plain, HEAD_CAP)))


def _lines(stdin: bytes) -> list[str]:
    """The updates of the transaction: not the symbolic names that follow a branch
    (``HEAD``), not the packed-refs half of a deletion (old and new both zero)."""
    found = []
    for raw in stdin.decode("utf-8", "surrogateescape").splitlines():
        parts = raw.split(" ", 2)
        if len(parts) == 3 and parts[2].startswith("refs/") and parts[0] != parts[1]:
            found.append(raw)
    return found


def _judge_unplanned(
    repo: Repo, lock: RepoLock, lines: list[str], err: TextIO, env: Mapping[str, str]
) -> int:
    taken = lock.acquire(timeout_from_env(env), lease_from_env(env))
    took = taken.took
    if took:
        landing.clear_plans(lock.cache)
    notes = [landing.took_over(b) for b in taken.broken]
    updates = landing.updates_of(repo, lines)
    outcome = _judge(repo, updates, default_branch(repo), env)
    if not outcome.ok:
        if took:
            lock.release()
        notes += (
            []
            if serves_a_push(lock.owner)
            else [
                "this ref update was made on the server itself and judged like a push; an "
                "admin who means it runs the command as git -c core.hooksPath=/dev/null ..."
            ]
        )
        _report(
            err, env, outcome, updates, notes, "the ref update was refused; nothing was written"
        )
        return 1
    if took:  # released by the shim once this transaction committed or aborted
        landing.write_plan(lock, lines, default_branch(repo), pending=len(lines))
    if notes:
        write_text(err, [], None, notes, bool(env.get("GL_ID")))
    return 0


def _judge_again(
    repo: Repo, plan: landing.Plan, lines: list[str], err: TextIO, env: Mapping[str, str]
) -> int:
    first = plan.find(lines[0])
    if first is None:  # not part of the plan: judge it as it is
        outcome = _judge(repo, landing.updates_of(repo, lines), plan.base(repo), env)
        if not outcome.ok:
            _report(err, env, outcome, landing.updates_of(repo, lines), [], _STOPPED)
            return 1
        plan.set_pending(plan.progress)
        return 0
    last = first + len(lines) - 1
    skipped = [plan.line(i) for i in range(plan.progress + 1, first)]
    own = [plan.line(i) for i in range(first, min(last, plan.count) + 1)]
    rest = [plan.line(i) for i in range(last + 1, plan.count + 1)] if skipped else []
    mine = landing.updates_of(repo, lines)
    updates = mine + landing.updates_of(repo, rest)
    outcome = _judge(repo, updates, plan.base(repo), env)
    refs = {u.ref for u in mine}
    if outcome.declined_refs & refs:
        notes = [_did_not_land(u) for u in landing.updates_of(repo, skipped)]
        if not skipped and any(line.startswith(landing.FLAG) for line in own):
            notes.append(
                "this update relies on a later update of the same push, which had not "
                "landed yet: a push that is not atomic lands ref by ref (push with "
                "--atomic, or push what it relies on first)"
            )
        _report(err, env, outcome, mine, notes, _STOPPED)
        return 1
    for index, line in enumerate(rest, last + 1):
        if any(u.ref in outcome.declined_refs for u in landing.updates_of(repo, [line])):
            plan.flag(index)  # it relied on what did not land: judged when it comes
    plan.set_pending(last)
    return 0


_STOPPED = "the push stopped here: the refs before this one were written, the rest were not"


def _did_not_land(update: RefUpdate) -> str:
    return (
        f"{printable_ref(update.ref)} did not land: git refused it after gtoguard had "
        "accepted the push (an update hook, a ref lock or one of git's own rules), so "
        "the rest of the push is judged again without it"
    )


def _judge(
    repo: Repo, updates: Sequence[RefUpdate], branch: Branch, env: Mapping[str, str]
) -> Outcome:
    where = Where("server", env)
    result = judge.run(repo, updates, branch, where=where)
    tombstones.keep(repo, result.deleted)
    return result.outcome


def _report(
    err: TextIO,
    env: Mapping[str, str],
    outcome: Outcome,
    mine: Sequence[RefUpdate],
    notes: list[str],
    verdict: str,
) -> None:
    """The violations of this transaction's updates (of later ones only when none of
    its own fails, which cannot happen here)."""
    refs = {u.ref for u in mine}
    shown = [v for v in outcome.violations if v.ref in refs] or outcome.violations
    declined = sorted(outcome.declined_refs & refs) or sorted(outcome.declined_refs)
    summary = summary_line(shown, len(mine), declined, "push").rsplit("; ", 1)[0]
    write_text(err, shown, f"{summary}; {verdict}", notes, bool(env.get("GL_ID")))
