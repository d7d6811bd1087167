"""Rendering: plain, stable text for hooks (it appears behind ``remote:``) and JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, TextIO

from gtoguard.errors import CannotRun
from gtoguard.model.printable import printable
from gtoguard.model.refupdate import printable_ref
from gtoguard.policy.rules.violation import UNCHECKED, Violation

PREFIX = "gtoguard: "
# violations, and receipt lines, a hook prints for one push (then a count), so that what
# a pusher reads behind remote: stays readable; GTOGUARD_MAX_SHOWN sets it (the tests of a
# pusher who stops reading need more output than fits in git's pipes)
MAX_SHOWN = int(os.environ.get("GTOGUARD_MAX_SHOWN", "") or 0) or 100


# what a line says before its message when it does not decline (the CLI, hooks and page)
SEVERITY_LABELS = {"warning": "warning:", UNCHECKED: "not checkable here:"}


def severity_label(severity: str) -> str:
    """The label of a violation of ``severity``: "" for an error."""
    return SEVERITY_LABELS.get(severity, "")


def violation_lines(violation: Violation, gitlab: bool = False) -> list[str]:
    label = severity_label(violation.severity)
    lines = [
        f"{PREFIX}{printable_ref(violation.ref)}: [{violation.rule}]{f' {label}' if label else ''} "
        f"{_one_line(violation.message)}"
    ]
    if violation.hint:
        lines.append(f"  hint: {_one_line(violation.hint)}")
    if gitlab:
        lines = [f"GL-HOOK-ERR: {line}" for line in lines]
    return lines


def _one_line(text: str) -> str:
    """Messages may quote pushed text; never let it forge extra output lines, nor reach
    the terminal as controls."""
    return printable(text)


def write_text(
    out: TextIO,
    violations: Sequence[Violation],
    summary: str | None,
    notes: Sequence[str] = (),
    gitlab: bool = False,
) -> None:
    lines = [f"{PREFIX}note: {_one_line(n)}" for n in notes]
    for violation in violations[:MAX_SHOWN]:
        lines.extend(violation_lines(violation, gitlab))
    if len(violations) > MAX_SHOWN:  # what a pusher reads behind remote: stays readable
        rules = ", ".join(sorted({v.rule for v in violations[MAX_SHOWN:]}))
        more = (
            f"... and {len(violations) - MAX_SHOWN} more ({rules}); the first {MAX_SHOWN} are shown"
        )
        lines.append(f"{'GL-HOOK-ERR: ' if gitlab else ''}{PREFIX}{more}")
    if summary:
        lines.append(f"{'GL-HOOK-ERR: ' if gitlab else ''}{PREFIX}{summary}")
    if lines:
        out.write("\n".join(lines) + "\n")
        out.flush()


def write_receipt(out: TextIO, changes: Sequence[str], label: str, gitlab: bool = False) -> None:
    """An accepted push's receipt, one line per registry change: ``label`` is "changed"
    (pre-receive) or "will change" (pre-push). Under GitLab prefixed as every other line."""
    mark = "GL-HOOK-ERR: " if gitlab else ""
    if changes:
        shown = list(changes[:MAX_SHOWN])
        if len(changes) > MAX_SHOWN:
            shown.append(f"... and {len(changes) - MAX_SHOWN} more changes")
        out.write("".join(f"{mark}{PREFIX}{label}: {_one_line(c)}\n" for c in shown))
        out.flush()


def summary_line(
    violations: Sequence[Violation], checked: int, declined: Sequence[str], what: str
) -> str:
    """``checked`` updates looked at, ``declined`` refs; ``what``: "push" (pre-receive),
    "pre-push" or "check" (the CLI)."""
    warnings = sum(1 for v in violations if v.severity == "warning")
    unchecked = sum(1 for v in violations if v.severity == UNCHECKED)
    kind = "tag" if all(r.startswith("refs/tags/") for r in declined) else "ref"
    noun = kind if checked == 1 else f"{kind}s"
    aside = f" ({unchecked} not checkable here)" if unchecked else ""
    if declined:
        verdict = {
            "push": "push declined",
            "pre-push": "push stopped before sending: the "
            "rules this clone can read decline it (the server's own policy, which a "
            "clone cannot read, may differ; git push --no-verify lets the server judge "
            "it)",
        }.get(what, "check failed")
        return f"{len(declined)} of {checked} {noun} rejected; {verdict}{aside}"
    them = "it" if checked == 1 else "them"
    accepted = {
        "check": "check passed",
        "pre-push": f"sending {them}; the server checks {them} again",
    }.get(what, "push accepted")
    if warnings:
        return (
            f"{warnings} warning{'s' if warnings != 1 else ''} in {checked} {noun}; "
            f"{accepted}{aside}"
        )
    return f"{checked} GTO {noun} checked; {accepted}{aside}"


def failure_violations(exc: CannotRun, where: str) -> list[Violation]:
    """Why gtoguard cannot run, as violation records: one per config problem (the file as
    the ref, the JSON path in the message), else one for ``where``."""
    problems = getattr(exc, "problems", None) or []
    found = [
        Violation(exc.rule, p.file, f"{p.path}: {p.message}", p.hint or _fix(p.file))
        for p in problems
    ]
    return found or [Violation(exc.rule, where, exc.message, exc.hint)]


def _fix(file: str) -> str:
    """What to do about a configuration file nothing can be checked against: one on a
    branch (``main:.gtoguard.yaml``) is fixed by a commit there, which the hook checks
    against the fixed file; any other is the server's, which its admin fixes."""
    branch, colon, path = file.partition(":")
    if colon and not branch.startswith("/"):
        return (
            f"commit a fixed {path} to {branch} and push that first (the push that fixes "
            "it is checked against the fixed file), then push the rest again"
        )
    return f"ask the server admin to fix {file}; until then nothing can be checked"


def violation_json(violation: Violation) -> dict[str, Any]:
    return {
        "ref": violation.ref,
        "rule": violation.rule,
        "message": violation.message,
        "hint": violation.hint,
        "severity": violation.severity,
        "config": violation.config_commit,
    }


def dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False)
