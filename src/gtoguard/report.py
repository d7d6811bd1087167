"""Rendering: plain, stable text for hooks (it appears behind ``remote:``) and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from .refupdate import printable_ref
from .rules import Violation

PREFIX = "gtoguard: "


def violation_lines(violation: Violation, gitlab: bool = False) -> list[str]:
    label = " warning:" if violation.severity == "warning" else ""
    lines = [
        f"{PREFIX}{printable_ref(violation.ref)}: [{violation.rule}]{label} "
        f"{_one_line(violation.message)}"
    ]
    if violation.hint:
        lines.append(f"  hint: {_one_line(violation.hint)}")
    if gitlab:
        lines = [f"GL-HOOK-ERR: {line}" for line in lines]
    return lines


def _one_line(text: str) -> str:
    """Messages may quote pushed text; never let it forge extra output lines."""
    return printable_ref(text.replace("\n", "\\n").replace("\r", "\\r"))


def write_text(
    out: TextIO,
    violations: Sequence[Violation],
    summary: str | None,
    notes: Sequence[str] = (),
    gitlab: bool = False,
) -> None:
    lines = [f"{PREFIX}note: {_one_line(n)}" for n in notes]
    for violation in violations:
        lines.extend(violation_lines(violation, gitlab))
    if summary:
        lines.append(f"{'GL-HOOK-ERR: ' if gitlab else ''}{PREFIX}{summary}")
    if lines:
        out.write("\n".join(lines) + "\n")
        out.flush()


def summary_line(violations: Sequence[Violation], checked: int, rejected: int, what: str) -> str:
    """``what`` is "push" in hooks, "check" in the CLI."""
    warnings = sum(1 for v in violations if v.severity == "warning")
    noun = "tag" if checked == 1 else "tags"
    if rejected:
        verdict = "push declined" if what == "push" else "check failed"
        return f"{rejected} of {checked} {noun} rejected; {verdict}"
    accepted = "push accepted" if what == "push" else "check passed"
    if warnings:
        return f"{warnings} warning{'s' if warnings != 1 else ''} in {checked} {noun}; {accepted}"
    return f"{checked} GTO {noun} checked; {accepted}"


def violation_json(violation: Violation) -> dict[str, Any]:
    return {
        "ref": violation.ref,
        "rule": violation.rule,
        "message": violation.message,
        "hint": violation.hint,
        "severity": violation.severity,
    }


def dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False)
