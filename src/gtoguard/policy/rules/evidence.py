"""Evidence in the promoted commit (``stages.<name>.requires``): files that must be there,
and metrics that must clear their bars. Read from the commit's own tree, so it is worth
what the commit is worth: ``branches:`` makes sure it was reviewed (docs/policy.md)."""

from __future__ import annotations

import math

from gtoguard.model.printable import printable, short
from gtoguard.model.state import TagEvent
from gtoguard.model.tagname import ASSIGN, TagName
from gtoguard.policy.context import EvidenceReader
from gtoguard.policy.rules.violation import Violation
from gtoguard.policy.settings import MetricCheck, StageRules

_MISSING = object()


def check_evidence(
    ref: str,
    tag: TagName,
    event: TagEvent,
    rules: StageRules,
    read: EvidenceReader | None,
    passed: list[str] | None = None,
) -> list[Violation]:
    """Every piece of evidence the promoted commit lacks, and every bar a metric misses:
    one violation each (nothing when everything ``requires`` asks for is there)."""
    if tag.action is not ASSIGN or tag.stage is None or read is None:
        return []
    commit, where = event.commit, f"commit {short(event.commit)}"
    wants = f"stage {tag.stage} requires it ({rules.source})"
    fix = (
        f"commit it, then promote the version of a commit that holds it "
        f"(gtoguard register {tag.artifact} HEAD --bump-patch)"
    )
    found: list[Violation] = []

    def missing(path: str, problem: str | None) -> None:
        said = (
            f"{where} has no file {path}"
            if problem is None
            else (f"{path} in {where} cannot be read: {problem}")
        )
        hint = fix if problem is None else f"fix {path} in a new commit and promote that one"
        found.append(Violation("evidence-missing", ref, f"{said}; {wants}", hint))

    for pattern in rules.files:
        path = pattern.replace("{artifact}", tag.artifact)
        got = read(commit, path, False)
        if not got.found or got.problem is not None:
            missing(path, got.problem)
        elif passed is not None:
            passed.append(f"{path} is in {where}")
    for metrics in rules.metrics:
        path = metrics.file.replace("{artifact}", tag.artifact)
        got = read(commit, path, True)
        if not got.found or got.problem is not None:
            missing(path, got.problem)
            continue
        for check in metrics.checks:
            failed = _judge(check, got.document)
            if failed is None:
                if passed is not None:
                    passed.append(
                        f"{path}: {check.key} {_value(check, got.document)} {check.written}"
                    )
                continue
            rule, said = failed
            hint = (
                f"promote a version whose {path} clears the bar, or change the bar in the "
                f"policy ({rules.source}) by a reviewed commit"
                if rule == "metric-failed"
                else f"write {check.key} into {path} in a new commit and promote that one"
            )
            found.append(
                Violation(
                    rule,
                    ref,
                    f"{path} in {where}: {said}, for stage {tag.stage} ({rules.source})",
                    hint,
                )
            )
    return found


def _judge(check: MetricCheck, document: object) -> tuple[str, str] | None:
    """(rule, what is wrong) when ``document`` fails ``check``; None when it clears it."""
    value: object = document
    for part in check.key.split("."):
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            nested = " (a dotted key is read as nested keys)" if "." in check.key else ""
            return "evidence-missing", f"there is no {check.key}{nested}"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        return (
            "metric-failed",
            f"{check.key} is {_shown(value)}, not a finite number to hold to {check.written}",
        )
    if not _holds(value, check.op, check.bound):  # an int of any size compares exactly
        return "metric-failed", f"{check.key} is {value}, which is not {check.written}"
    return None


def _value(check: MetricCheck, document: object) -> object:
    """The value a dotted key reaches (one ``_judge`` found there)."""
    for part in check.key.split("."):
        document = document.get(part) if isinstance(document, dict) else None
    return document


def _shown(value: object) -> str:
    """A value found where a number was wanted, for a message: text quoted, anything else
    as YAML writes it (a date as 2001-12-14, not its Python form)."""
    text = repr(value) if isinstance(value, str) else str(value)
    return printable(text if len(text) <= 60 else text[:57] + "...")


def _holds(value: float, op: str, bound: float) -> bool:  # (an int is a float here)
    return {
        ">=": value >= bound,
        "<=": value <= bound,
        ">": value > bound,
        "<": value < bound,
        "==": value == bound,
        "!=": value != bound,
    }[op]
