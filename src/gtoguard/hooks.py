"""The hooks: ``pre_receive`` and ``pre_push``, each ``main(argv, stdin) -> int``.

No click here, and yaml/jsonschema only once there is GTO work to do. Any failure inside
gtoguard declines the push with ``internal-error`` and a one-line reason (fail closed);
a traceback never reaches the pusher.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from .errors import CannotRun
from .refupdate import RefUpdate, parse_pre_push, parse_pre_receive
from .report import failure_violations, summary_line, write_text
from .rules import Violation

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


def _gitlab(env: Mapping[str, str]) -> bool:
    return bool(env.get("GL_ID"))


def run_hook(
    hook: str,
    updates: Sequence[RefUpdate],
    remote: str | None,
    err: TextIO,
    env: Mapping[str, str],
) -> int:
    from .check import gto_updates
    from .gitrepo import open_repo

    gitlab = _gitlab(env)
    repo = open_repo(None)
    branch = repo.default_branch(remote)
    changes = repo.config_changes(updates, branch)
    if not gto_updates(updates) and not changes:
        return EXIT_OK
    from . import repostate  # yaml and jsonschema come with it

    exclude = None
    if hook == "pre-push":
        # the pushed tags already exist locally; the remote does not have them yet
        exclude = {u.tag_name for u in updates if u.is_tag}
    where = repostate.Where("server" if hook == "pre-receive" else "client", env, remote)
    result = repostate.run(repo, updates, branch, changes=changes, existing_exclude=exclude,
                           where=where)  # fmt: skip
    outcome = result.outcome
    if not outcome.violations and not outcome.checked:
        return EXIT_OK
    rejected = sorted(outcome.rejected_refs)
    checked = outcome.checked + sum(1 for r in rejected if not r.startswith("refs/tags/"))
    summary = summary_line(
        outcome.violations, checked, rejected, "push" if hook == "pre-receive" else "pre-push"
    )
    write_text(err, outcome.violations, summary, result.notes, gitlab)
    return EXIT_OK if outcome.ok else EXIT_VIOLATIONS


def _guarded(hook: str, read: Callable[[bytes], list[RefUpdate]], remote: str | None,
             stdin: bytes, err: TextIO, env: Mapping[str, str]) -> int:  # fmt: skip
    try:
        return run_hook(hook, read(stdin), remote, err, env)
    except CannotRun as exc:
        violations = failure_violations(exc, hook)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        hint = "nothing was changed; report this with the line above"
        violations = [Violation("internal-error", hook, f"gtoguard failed: {reason}", hint)]
    if hook == "pre-receive" and _fails_open(env):
        warnings = [Violation(v.rule, v.ref, v.message, v.hint, "warning") for v in violations]
        write_text(err, warnings, "cannot check this push; accepted unchecked (the server "
                   "policy says fail: open)", (), _gitlab(env))  # fmt: skip
        return EXIT_OK
    verdict = "push declined" if hook == "pre-receive" else "push stopped"
    write_text(err, violations, f"cannot check this push; {verdict}", (), _gitlab(env))
    return EXIT_CANNOT_RUN


_FAIL_OPEN = re.compile(rb"^fail[ \t]*:[ \t]*[\"']?open[\"']?[ \t]*(?:#.*)?$", re.M)


def _fails_open(env: Mapping[str, str]) -> bool:
    """Whether the server policy says ``fail: open``, read with a plain pattern: the
    failure may be that yaml or jsonschema cannot load. Any doubt means closed."""
    try:
        path = env.get("GTOGUARD_POLICY")
        if not path:
            import subprocess

            done = subprocess.run(["git", "config", "gtoguard.policy"], capture_output=True,
                                  check=False, timeout=10)  # fmt: skip
            path = done.stdout.decode("utf-8", "replace").strip()
        with open(path, "rb") as policy:
            return _FAIL_OPEN.search(policy.read(1 << 20)) is not None
    except Exception:
        return False


def pre_receive(argv: Sequence[str], stdin: bytes, err: TextIO = sys.stderr,
                env: Mapping[str, str] | None = None) -> int:  # fmt: skip
    if argv:
        err.write("usage: gtoguard hook pre-receive  (reads git's ref updates on stdin)\n")
        return EXIT_USAGE
    return _guarded("pre-receive", parse_pre_receive, None, stdin, err,
                    os.environ if env is None else env)  # fmt: skip


def pre_push(argv: Sequence[str], stdin: bytes, err: TextIO = sys.stderr,
             env: Mapping[str, str] | None = None) -> int:  # fmt: skip
    if len(argv) != 2:
        err.write("usage: gtoguard hook pre-push REMOTE URL  (reads git's ref updates on stdin)\n")
        return EXIT_USAGE
    return _guarded("pre-push", parse_pre_push, argv[0], stdin, err,
                    os.environ if env is None else env)  # fmt: skip


HOOKS = {"pre-receive": pre_receive, "pre-push": pre_push}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gtoguard.hooks HOOK [ARGS]``: the fast path the shims exec (no click)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in HOOKS:
        sys.stderr.write("usage: python -m gtoguard.hooks {pre-receive|pre-push} [ARGS]\n")
        return EXIT_USAGE
    try:
        stdin = sys.stdin.buffer.read()
    except (OSError, ValueError):
        stdin = b""
    return HOOKS[args[0]](args[1:], stdin)


if __name__ == "__main__":
    sys.exit(main())
