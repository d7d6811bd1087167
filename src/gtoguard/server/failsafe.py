"""What every hook does when it cannot judge: a failure inside gtoguard declines the push
with ``internal-error`` and a one-line reason (fail closed) unless the server policy says
``fail: open`` and the failure is the server's own; a traceback never reaches the pusher.
``guarded`` runs ``pushcheck.run_hook`` inside that, with the time budget and the
decision log around it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

from gtoguard.errors import (
    EXIT_CANNOT_RUN,
    EXIT_OK,
    EXIT_VIOLATIONS,
    CannotRun,
    environmental_failure,
    failure_reason,
)
from gtoguard.model.printable import printable
from gtoguard.model.refupdate import RefUpdate
from gtoguard.policy import timebudget
from gtoguard.policy.report import failure_violations, write_text
from gtoguard.policy.rules.violation import Violation
from gtoguard.policy.settings import DEFAULT_BUDGET
from gtoguard.server.lock import Busy
from gtoguard.server.pushcheck import Decision, on_gitlab, run_hook


def guarded(
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
            decision.approved,
        )
    except Exception as exc:
        reason = failure_reason(exc)
        mark = "GL-HOOK-ERR: " if on_gitlab(env) else ""
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
            on_gitlab(env),
        )
        return EXIT_VIOLATIONS
    except Busy as busy:  # never fail: open: the push was not judged, nor can it wait longer
        decision.set("declined", [busy_violation(busy, hook)])
        write_text(
            err,
            [busy_violation(busy, hook)],
            "push declined; nothing was changed",
            (),
            on_gitlab(env),
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
    if hook == "pre-receive" and fails_open(env):
        if environmental:
            warnings = [v._replace(severity="warning") for v in violations]
            decision.set("accepted-unchecked", warnings)
            write_text(
                err,
                warnings,
                "cannot check this push; accepted unchecked (the server policy says fail: open)",
                (),
                on_gitlab(env),
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
    write_text(err, violations, f"{why}; {verdict}", notes, on_gitlab(env))
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


def fails_open(env: Mapping[str, str]) -> bool:
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
    write_text(
        sys.stderr, [violation], f"cannot check this push; {what}", (), on_gitlab(os.environ)
    )
    return EXIT_CANNOT_RUN
