"""The hooks: ``pre_receive`` and ``pre_push``, each ``main(argv, stdin) -> int``.

No click here, and yaml/jsonschema only once there is GTO work to do. Any failure inside
gtoguard declines the push with ``internal-error`` and a one-line reason (fail closed);
a traceback never reaches the pusher.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NoReturn, TextIO

from gtoguard.errors import CannotRun, environmental_failure, failure_reason
from gtoguard.git.invoke import HELPER_PUSH
from gtoguard.model.printable import printable
from gtoguard.model.refupdate import (
    BRANCH_PREFIX,
    TAG_PREFIX,
    RefUpdate,
    parse_pre_push,
    parse_pre_receive,
)
from gtoguard.model.tagobject import HEAD_CAP
from gtoguard.policy import timebudget
from gtoguard.policy.report import failure_violations, summary_line, write_receipt, write_text
from gtoguard.policy.rules.violation import UNCHECKED, Violation
from gtoguard.policy.settings import DEFAULT_BUDGET
from gtoguard.server.lock import Busy

if TYPE_CHECKING:
    from gtoguard.git.branches import Branch
    from gtoguard.git.repo import Repo
    from gtoguard.registry.judge import Result

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


def _gitlab(env: Mapping[str, str]) -> bool:
    return bool(env.get("GL_ID"))


class Decision:
    """What pre-receive decided, for the decision log: None while there was nothing to
    decide (no GTO tag, no config change)."""

    def __init__(self) -> None:
        self.updates: Sequence[RefUpdate] = ()
        self.verdict: str | None = None  # "accepted", "declined", "accepted-unchecked"
        self.violations: Sequence[Violation] = ()

    def set(self, verdict: str, violations: Sequence[Violation]) -> None:
        self.verdict, self.violations = verdict, violations


def run_hook(
    hook: str,
    updates: Sequence[RefUpdate],
    remote: str | None,
    err: TextIO,
    env: Mapping[str, str],
    decision: Decision | None = None,
) -> int:
    from gtoguard.git.branches import config_changes, default_branch, remote_default_branch
    from gtoguard.git.objects import objects_of
    from gtoguard.git.repo import open_repo
    from gtoguard.policy.scope import gto_updates

    gitlab = _gitlab(env)
    decision = decision or Decision()
    decision.updates = updates
    repo = open_repo(None)
    pushed = [u.ref for u in updates]
    if hook == "pre-receive":  # judge what git writes: an alias updates the ref it names
        updates = [_landing(repo, u, n) for n, u in enumerate(updates)]
    # pre-push: the remote's default branch as last fetched, never an unpushed commit
    branch = remote_default_branch(repo, remote) if remote else default_branch(repo)
    changes = config_changes(repo, updates, branch)
    # another namespace's refs, and refs that are neither branches nor tags
    elsewhere = any(not u.ref.startswith((BRANCH_PREFIX, TAG_PREFIX)) for u in updates)
    claims = branch.missing is not None and any(u.ref == branch.ref for u in updates)
    if (
        not changes
        and not elsewhere
        and not claims
        and not gto_updates(updates)
        and (not _tip_trouble(repo, updates, branch))
    ):
        # a plain tag name can still carry a GTO-named object, which is what gto reads
        plain = [u for u in updates if u.is_tag and not u.deleted]
        if not plain or not gto_updates(plain, objects_of(repo, plain, HEAD_CAP)):
            return EXIT_OK
    from gtoguard.registry import judge  # yaml and jsonschema come with it
    from gtoguard.registry.facts import Where

    if hook == "pre-receive":
        from gtoguard.server.landing import Landing

        landing = Landing.begin(repo, env)  # judged after every earlier push landed
        try:
            result, lands = _judge_as_it_lands(repo, updates, pushed, branch, env)
            result.notes[:0] = landing.notes  # a lease it took over says so
            if result.outcome.ok:
                result.notes += landing.keep(lands, branch, env)
        finally:
            landing.end()
    else:
        # the pushed tags already exist locally; the remote does not have them yet
        exclude = {u.tag_name for u in updates if u.is_tag}
        where = Where("client", env, remote)
        result = judge.run(
            repo,
            updates,
            branch,
            changes=changes,
            existing_exclude=exclude,
            where=where,
            receipt=True,
        )
    outcome = result.outcome
    decision.set("accepted" if outcome.ok else "declined", outcome.violations)
    if not outcome.violations and not outcome.checked:
        return EXIT_OK
    declined = sorted(outcome.declined_refs)
    checked = outcome.checked + sum(1 for r in declined if not r.startswith("refs/tags/"))
    summary = summary_line(
        outcome.violations, checked, declined, "push" if hook == "pre-receive" else "pre-push"
    )
    shown = outcome.violations
    if hook == "pre-push" and env.get(HELPER_PUSH) == "1":
        # the helper checked these very tags and printed its verdict and notes a moment
        # ago: say only what is new (a warning or a refusal it cannot have seen)
        shown = [v for v in shown if v.severity != UNCHECKED]
        if outcome.ok and not shown:
            return EXIT_OK
    write_text(err, shown, summary, result.notes, gitlab)
    if outcome.ok:
        write_receipt(
            err, result.receipt, "changed" if hook == "pre-receive" else "will change", gitlab
        )
    return EXIT_OK if outcome.ok else EXIT_VIOLATIONS


def _tip_trouble(repo: Repo, updates: Sequence[RefUpdate], branch: Branch) -> bool:
    """Whether a default-branch update brings a tip or a .gitattributes gto cannot read
    (``configchecks.tip_problems``, which the full check then reports)."""
    if not any(u.ref == branch.ref and not u.deleted for u in updates):
        return False
    from gtoguard.registry.configchecks import tip_problems

    return bool(tip_problems(repo, updates, branch))


def _landing(repo: Repo, update: RefUpdate, number: int = 0) -> RefUpdate:
    if number % 256 == 255:
        timebudget.spend("reading the pushed refs")
    ref = repo.landing_ref(update.ref)
    return update if ref == update.ref else RefUpdate(ref, update.old, update.new)


def _judge_as_it_lands(
    repo: Repo,
    updates: Sequence[RefUpdate],
    pushed: Sequence[str],
    branch: Branch,
    env: Mapping[str, str],
) -> tuple[Result, list[RefUpdate]]:
    """Judge the push as git will land it: without the branch updates git will refuse
    (by the names as ``pushed``), declined whole if git cannot store one of its GTO tags."""
    from gtoguard.git.branches import config_changes
    from gtoguard.registry import judge, tombstones
    from gtoguard.registry.facts import Where
    from gtoguard.server.gitrefusals import forecast

    found = forecast(repo, updates, pushed)
    lands = found.lands
    where = Where("server", env)
    result = judge.run(
        repo, lands, branch, changes=config_changes(repo, lands, branch), where=where, receipt=True
    )
    tombstones.keep(repo, result.deleted)  # before git may land them
    for violation in found.violations:
        result.outcome.add(violation)
    result.notes[:0] = found.notes()
    return result, lands


def _guarded(
    hook: str,
    read: Callable[[bytes], list[RefUpdate]],
    remote: str | None,
    stdin: bytes,
    err: TextIO,
    env: Mapping[str, str],
) -> int:
    if hook == "pre-receive":
        timebudget.start(DEFAULT_BUDGET)  # the server policy may change the seconds, not the start
    decision = Decision()
    try:
        return _judged(hook, read, remote, stdin, err, env, decision)
    finally:
        timebudget.stop()
        if hook == "pre-receive" and decision.verdict is not None:
            _record(decision, err, env)


def _record(decision: Decision, err: TextIO, env: Mapping[str, str]) -> None:
    """The decision's line in the server policy's ``log``, if it names one. Whatever
    goes wrong here changes no verdict: it is said on stderr."""
    try:
        from gtoguard.registry import decisionlog
        from gtoguard.server import clientstream

        decisionlog.record(
            decision.updates,
            decision.verdict or "",
            decision.violations,
            env,
            clientstream.dropped(),
        )
    except Exception as exc:
        reason = failure_reason(exc)
        mark = "GL-HOOK-ERR: " if _gitlab(env) else ""
        err.write(
            f"{mark}gtoguard: warning: the decision log was not written ({printable(reason)}); "
            "the verdict above stands\n"
        )
        err.flush()


def _judged(
    hook: str,
    read: Callable[[bytes], list[RefUpdate]],
    remote: str | None,
    stdin: bytes,
    err: TextIO,
    env: Mapping[str, str],
    decision: Decision | None = None,
) -> int:
    decision = decision or Decision()
    try:
        return run_hook(hook, read(stdin), remote, err, env, decision)
    except timebudget.OverBudget as over:  # the push itself is too much: never fail: open
        decision.set("declined", [over_budget_violation(over)])
        write_text(
            err,
            [over_budget_violation(over)],
            "push declined; nothing was changed",
            (),
            _gitlab(env),
        )
        return EXIT_VIOLATIONS
    except Busy as busy:  # never fail: open: the push was not judged, nor can it wait longer
        decision.set("declined", [busy_violation(busy, hook)])
        write_text(
            err,
            [busy_violation(busy, hook)],
            "push declined; nothing was changed",
            (),
            _gitlab(env),
        )
        return EXIT_CANNOT_RUN
    except CannotRun as exc:
        violations = failure_violations(exc, hook)
        environmental = exc.environmental
    except Exception as exc:
        reason = failure_reason(exc)
        hint = "nothing was changed; report this with the line above"
        violations = [Violation("internal-error", hook, f"gtoguard failed: {reason}", hint)]
        environmental = environmental_failure(exc)
    notes = []
    if hook == "pre-receive" and _fails_open(env):
        if environmental:
            warnings = [v._replace(severity="warning") for v in violations]
            decision.set("accepted-unchecked", warnings)
            write_text(
                err,
                warnings,
                "cannot check this push; accepted unchecked (the server policy says fail: open)",
                (),
                _gitlab(env),
            )
            return EXIT_OK
        notes.append(
            "fail: open does not apply: what failed is what the push or the "
            "repository's files hold, not the server"
        )
    decision.set("declined", violations)
    verdict = "push declined" if hook == "pre-receive" else "push stopped"
    why = (
        "cannot check this push until the configuration above is fixed"
        if all(v.rule == "config-invalid" for v in violations)
        else "cannot check this push"
    )
    write_text(err, violations, f"{why}; {verdict}", notes, _gitlab(env))
    return EXIT_CANNOT_RUN


def over_budget_violation(over: timebudget.OverBudget) -> Violation:
    said = (
        "this push holds more than the server reads for one push"
        if isinstance(over, timebudget.TooMuch)
        else "checking this push would take longer than the server allows"
    )
    return Violation(
        "push-too-large",
        "pre-receive",
        f"{said}: {over}",
        "split it into smaller pushes (fewer tags or artifacts each); an admin migrating a "
        "whole registry can set budget: off in the server policy for the import",
    )


def busy_violation(busy: Busy, where: str) -> Violation:
    holder = f"pid {busy.holder.pid}" if busy.holder else "a process"
    return Violation(
        "internal-error",
        where,
        f"another push to this repository ({holder}) is still being checked or landing; "
        f"waited {busy.waited:.0f} s for it",
        "push again in a moment; if it persists, the server admin can look at "
        "gtoguard-cache/lock in the repository",
    )


_FAIL_OPEN = re.compile(rb"^fail[ \t]*:[ \t]*[\"']?open[\"']?[ \t]*(?:#.*)?$", re.M)


def _fails_open(env: Mapping[str, str]) -> bool:
    """Whether the server policy says ``fail: open``, read with a plain pattern: the
    failure may be that yaml or jsonschema cannot load. Any doubt means closed."""
    try:
        path = env.get("GTOGUARD_POLICY")
        if not path:
            from gtoguard.git import invoke

            done = invoke.run(["config", "gtoguard.policy"], timeout=10)
            path = done.stdout.decode("utf-8", "replace").strip()
        with open(path, "rb") as policy:
            return _FAIL_OPEN.search(policy.read(1 << 20)) is not None
    except Exception:
        return False


def pre_receive(
    argv: Sequence[str],
    stdin: bytes,
    err: TextIO = sys.stderr,
    env: Mapping[str, str] | None = None,
) -> int:
    if argv:
        err.write("usage: gtoguard hook pre-receive  (reads git's ref updates on stdin)\n")
        return EXIT_USAGE
    return _guarded(
        "pre-receive", parse_pre_receive, None, stdin, err, os.environ if env is None else env
    )


def pre_push(
    argv: Sequence[str],
    stdin: bytes,
    err: TextIO = sys.stderr,
    env: Mapping[str, str] | None = None,
) -> int:
    if len(argv) != 2:
        err.write("usage: gtoguard hook pre-push REMOTE URL  (reads git's ref updates on stdin)\n")
        return EXIT_USAGE
    return _guarded(
        "pre-push", parse_pre_push, argv[0], stdin, err, os.environ if env is None else env
    )


def reference_transaction(
    argv: Sequence[str],
    stdin: bytes,
    err: TextIO = sys.stderr,
    env: Mapping[str, str] | None = None,
) -> int:
    """The landing guard's Python side (``transaction.py``); the shim calls it only for
    what it cannot answer in sh. A non-zero exit at ``prepared`` aborts the transaction."""
    if len(argv) != 1:
        err.write("usage: python -m gtoguard.hooks reference-transaction STATE\n")
        return EXIT_USAGE
    env = os.environ if env is None else env
    hook = "reference-transaction"
    try:
        from gtoguard.server import transaction

        # a large transaction: the lines the shim read, then the rest straight from git
        head = env.get("GTOGUARD_READ", "").encode("utf-8", "surrogateescape")
        return transaction.run(argv[0], head + stdin, err, env)
    except Busy as busy:
        violations, environmental = [busy_violation(busy, hook)], False
    except CannotRun as exc:
        violations, environmental = failure_violations(exc, hook), exc.environmental
    except Exception as exc:
        reason = failure_reason(exc)
        violations = [
            Violation(
                "internal-error",
                hook,
                f"gtoguard failed: {reason}",
                "report this with the line above",
            )
        ]
        environmental = environmental_failure(exc)
    if environmental and _fails_open(env):
        warnings = [Violation(v.rule, v.ref, v.message, v.hint, "warning") for v in violations]
        write_text(
            err,
            warnings,
            "cannot check this ref update; written unchecked (the server policy says fail: open)",
            (),
            _gitlab(env),
        )
        return EXIT_OK
    write_text(
        err, violations, "cannot check this ref update; it was not written", (), _gitlab(env)
    )
    return EXIT_CANNOT_RUN


HOOKS = {
    "pre-receive": pre_receive,
    "pre-push": pre_push,
    "reference-transaction": reference_transaction,
}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gtoguard.hooks HOOK [ARGS]``: the fast path the shims exec (no click)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in HOOKS:
        sys.stderr.write(
            "usage: python -m gtoguard.hooks {pre-receive|pre-push|reference-transaction} [ARGS]\n"
        )
        return EXIT_USAGE
    try:
        stdin = sys.stdin.buffer.read()
    except (OSError, ValueError, AttributeError) as exc:  # AttributeError: no stdin at all
        return unreadable_input(args[0], exc)
    if args[0] != "pre-push":  # the pusher may stop reading: no write waits past a deadline
        from gtoguard.server.clientstream import take_std_streams

        take_std_streams(os.environ)
    return HOOKS[args[0]](args[1:], stdin, sys.stderr)


def unreadable_input(hook: str, exc: BaseException) -> int:
    """git's input could not be read: the updates are unknown, so nothing was judged and
    nothing may pass (never "no updates", which would accept the push)."""
    reason = failure_reason(exc)
    violation = Violation(
        "internal-error",
        hook,
        f"cannot read the hook's input ({reason})",
        "push again; if it persists, the server admin can run the hook by hand to see why",
    )
    what = {"pre-receive": "push declined", "pre-push": "push stopped"}.get(hook, "refused")
    write_text(sys.stderr, [violation], f"cannot check this push; {what}", (), _gitlab(os.environ))
    return EXIT_CANNOT_RUN


def exit_now(code: int) -> NoReturn:
    """Ends the hook process once its work is done, without the interpreter's teardown:
    tearing down pygit2 and the modules a push needs took a fifth of a one-tag push (33 of
    161 ms, measured on this project's benchmark machine), and a hook has nothing left to
    release that the kernel does not. Every file gtoguard writes is closed (and synced
    where it must be) before ``main`` returns; only the standard streams are flushed here
    (a server hook's through ``clientstream``: never longer than its deadline)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a pusher that hung up
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
