"""The hooks: ``pre_receive``, ``pre_push`` and ``reference_transaction``, each
``(argv, stdin, err, env) -> exit code``, and ``main``, which the shims run
(``python -I -m gtoguard.hooks HOOK``). A push is judged in ``pushcheck.py``; what
happens when it cannot be is ``failsafe.py``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn, TextIO

from gtoguard.errors import (
    EXIT_CANNOT_RUN,
    EXIT_OK,
    EXIT_USAGE,
    CannotRun,
    environmental_failure,
    failure_reason,
)
from gtoguard.model.refupdate import parse_pre_push, parse_pre_receive
from gtoguard.policy.report import failure_violations, write_text
from gtoguard.policy.rules.violation import Violation
from gtoguard.server.failsafe import busy_violation, fails_open, guarded, unreadable_input
from gtoguard.server.lock import Busy
from gtoguard.server.pushcheck import on_gitlab


def pre_receive(
    argv: Sequence[str],
    stdin: bytes,
    err: TextIO = sys.stderr,
    env: Mapping[str, str] | None = None,
) -> int:
    if argv:
        err.write("usage: gtoguard hook pre-receive  (reads git's ref updates on stdin)\n")
        return EXIT_USAGE
    return guarded(
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
    return guarded(
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
    if environmental and fails_open(env):
        warnings = [Violation(v.rule, v.ref, v.message, v.hint, "warning") for v in violations]
        write_text(
            err,
            warnings,
            "cannot check this ref update; written unchecked (the server policy says fail: open)",
            (),
            on_gitlab(env),
        )
        return EXIT_OK
    write_text(
        err, violations, "cannot check this ref update; it was not written", (), on_gitlab(env)
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
