"""The decoded tag against .gto: a JSON Schema error turned into the rule it stands for."""

from __future__ import annotations

from gtoguard.model.printable import short
from gtoguard.model.state import ArtifactState
from gtoguard.model.tagname import (
    ASSIGN,
    TagName,
)
from gtoguard.policy.rules.violation import Violation
from gtoguard.policy.settings import GtoConfig


def schema_violation(  # noqa: PLR0913, PLR0917 (the facts one tag is checked against)
    ref: str,
    tag: TagName,
    path: str,
    keyword: str,
    message: str,
    config: GtoConfig,
    origin: str,
    state: ArtifactState | None,
    commit: str | None,
) -> Violation:
    """Turn one JSON Schema error of the decoded tag into the rule it stands for."""
    if path == "/stage" and keyword == "enum" and tag.stage is not None:
        allowed = config.describe_stages()
        close = _closest(tag.stage, config.stages or ())
        add = "add it to 'stages' in .gto by a commit to the default branch first"
        holders = state.holders_of(close) if close and state is not None else []
        if close and state is not None and holders and max(holders)[1] == commit:
            hint = (
                f"did you mean '{close}'? {short(state.version_label(commit))} holds it "
                f"already (if '{tag.stage}' is a new stage: {add})"
            )
        elif close:
            hint = (
                f"did you mean '{close}'?  {assign_command(tag, close, state, commit)} "
                f"(if '{tag.stage}' is a new stage: {add})"
            )
        else:
            hint = f"if '{tag.stage}' is a new stage, {add}"
        return Violation(
            "stage-unknown",
            ref,
            f"stage '{tag.stage}' is not allowed by .gto on {origin} (allowed: {allowed})",
            hint,
        )
    if path == "/counter":
        return Violation(
            "counter-missing",
            ref,
            "the policy requires a counter (#N) on every GTO tag",
            f"use '{tag.tag}#{(state.max_counter if state else 0) + 1}' "
            "(gtoguard adds it unless --simple)",
        )
    return Violation("tag-malformed", ref, f"{tag.tag!r} at {path}: {message}")


def _closest(stage: str, allowed: tuple[str, ...]) -> str | None:
    import difflib  # only when a stage is unknown

    lowered = {s.lower(): s for s in allowed}
    if stage.lower() in lowered:
        return lowered[stage.lower()]
    close = difflib.get_close_matches(stage, allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def assign_command(
    tag: TagName, stage: str, state: ArtifactState | None, commit: str | None
) -> str:
    verb = "assign" if tag.action is ASSIGN else "unassign"
    version = state.version_label(commit) if state and commit else None
    target = f"--version {version}" if version and version != commit else short(commit or "REF")
    return f"gtoguard {verb} {tag.artifact} {target} --stage {stage}"
