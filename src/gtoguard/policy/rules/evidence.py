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
    ref: str, tag: TagName, event: TagEvent, rules: StageRules, read: EvidenceReader | None
) -> Violation | None:
    """The first piece of evidence the promoted commit lacks, or the first bar a metric
    misses; None when everything ``requires`` asks for is there."""
    if tag.action is not ASSIGN or tag.stage is None or read is None:
        return None
    if not rules.files and not rules.metrics:
        return None
    commit, where = event.commit, f"commit {short(event.commit)}"
    wants = f"stage {tag.stage} requires it ({rules.source})"
    fix = (
        f"commit it, then promote the version of a commit that holds it "
        f"(gtoguard register {tag.artifact} HEAD --bump-patch)"
    )
    for pattern in rules.files:
        path = pattern.replace("{artifact}", tag.artifact)
        if not read(commit, path, False).found:
            return Violation("evidence-missing", ref, f"{where} has no file {path}; {wants}", fix)
    for metrics in rules.metrics:
        path = metrics.file.replace("{artifact}", tag.artifact)
        got = read(commit, path, True)
        if not got.found:
            return Violation("evidence-missing", ref, f"{where} has no file {path}; {wants}", fix)
        if got.problem is not None:
            return Violation(
                "evidence-missing",
                ref,
                f"{path} in {where} cannot be read: {got.problem}; {wants}",
                f"fix {path} (JSON or YAML) in a new commit and promote that one",
            )
        for check in metrics.checks:
            failed = _judge(check, got.document)
            if failed is not None:
                rule, said = failed
                return Violation(
                    rule,
                    ref,
                    f"{path} in {where}: {said}; {wants}",
                    f"promote a version whose {path} clears the bar, or change the bar in "
                    f"the policy ({rules.source}) by a reviewed commit"
                    if rule == "metric-failed"
                    else f"write {check.key} into {path} in a new commit and promote that one",
                )
    return None


def _judge(check: MetricCheck, document: object) -> tuple[str, str] | None:
    """(rule, what is wrong) when ``document`` fails ``check``; None when it clears it."""
    value: object = document
    for part in check.key.split("."):
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            return "evidence-missing", f"there is no {check.key}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        shown = printable(repr(value)[:60])
        return "metric-failed", f"{check.key} is {shown}, not a number to hold to {check.written}"
    if not _holds(float(value), check.op, check.bound):
        return "metric-failed", f"{check.key} is {value}, which is not {check.written}"
    return None


def _holds(value: float, op: str, bound: float) -> bool:
    return {
        ">=": value >= bound,
        "<=": value <= bound,
        ">": value > bound,
        "<": value < bound,
        "==": value == bound,
        "!=": value != bound,
    }[op]
