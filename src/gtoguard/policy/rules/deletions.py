"""Deleting or moving a GTO tag: it rewrites registry history."""

from __future__ import annotations

from gtoguard.model.printable import short
from gtoguard.model.tagname import (
    ASSIGN,
    REGISTER,
    TagName,
    artifact_to_tag,
)
from gtoguard.policy.rules.violation import Violation
from gtoguard.policy.settings import Policy


def check_delete(
    ref: str, tag: TagName, policy: Policy, held: str | None = None
) -> Violation | None:
    """``held``: the version (or commit) the tag is on, as the registry had it."""
    if policy.tags.allow_delete:
        return None
    return Violation(
        "tag-deleted",
        ref,
        "deleting a GTO tag erases registry history that deployments relied on",
        _undo_hint(tag, held),
    )


def check_move(
    ref: str, tag: TagName, policy: Policy, recreated: str | None = None, held: str | None = None
) -> Violation | None:
    """``recreated``: the commit a deleted tag of this name pointed at (a deletion, then a
    new tag elsewhere, is a move by two pushes); ``held`` as for ``check_delete``."""
    if policy.tags.allow_move:
        return None
    how = (
        f"this tag was deleted from {short(recreated)} and is made again elsewhere, which moves it"
        if recreated
        else "re-pointing an existing GTO tag"
    )
    return Violation(
        "tag-moved", ref, f"{how}: it rewrites registry history", _undo_hint(tag, held or recreated)
    )


def _undo_hint(tag: TagName, held: str | None) -> str:
    name = artifact_to_tag(tag.artifact)
    if tag.action is ASSIGN:
        if held is None:
            target = "--version VERSION"
        elif held.startswith("v"):  # a version name; gto's unregistered ones are commits
            target = f"--version {held}"
        else:
            target = short(held)
        return f"unassign instead: gtoguard unassign {tag.artifact} {target} --stage {tag.stage}"
    if tag.action is REGISTER:
        return f"deregister instead: gtoguard deregister {tag.artifact} --version {tag.version}"
    return f"create a new event for '{name}' instead of changing this one"
