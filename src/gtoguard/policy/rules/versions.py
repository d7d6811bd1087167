"""Versions: never reused, one per commit, deregistered and staged only where they
are registered, increasing when the policy says so."""

from __future__ import annotations

from gtoguard.model.printable import short
from gtoguard.model.state import ArtifactState, TagEvent
from gtoguard.model.tagname import (
    ASSIGN,
    DEREGISTER,
    REGISTER,
    TagName,
)
from gtoguard.policy.rules.violation import Violation
from gtoguard.policy.settings import Policy


def check_version_exists(ref: str, tag: TagName, state: ArtifactState) -> Violation | None:
    if tag.action is not REGISTER or tag.version not in state.version_names():
        return None
    return Violation(
        "version-exists",
        ref,
        f"version {tag.version} of '{tag.artifact}' was registered before "
        "(a version name is never reused, even after deregistration)",
        f"register a new version: gtoguard register {tag.artifact} --bump-patch",
    )


def check_commit_has_version(
    ref: str, tag: TagName, event: TagEvent, state: ArtifactState
) -> Violation | None:
    if tag.action is not REGISTER:
        return None
    others = sorted({v.name for v in state.versions_at(event.commit) if v.name != tag.version})
    if not others:
        return None
    return Violation(
        "commit-has-version",
        ref,
        f"commit {short(event.commit)} already carries version {others[0]} of "
        f"'{tag.artifact}'; a second version on one commit breaks gto",
        f"register {tag.version} on a new commit, or keep using {others[0]}",
    )


def check_deregister(
    ref: str, tag: TagName, event: TagEvent, state: ArtifactState
) -> Violation | None:
    if tag.action is not DEREGISTER or tag.version is None:
        return None
    here = [v for v in state.versions_at(event.commit) if v.name == tag.version]
    if here and here[0].active:
        return None
    elsewhere = state.commits_of(tag.version)
    if here:
        message = f"version {tag.version} of '{tag.artifact}' is deregistered already"
        hint = None
    elif elsewhere:
        message = (
            f"version {tag.version} of '{tag.artifact}' is registered on "
            f"{short(elsewhere[0])}, not on {short(event.commit)}"
        )
        hint = f"gtoguard deregister {tag.artifact} --version {tag.version}"
    else:
        message = f"version {tag.version} of '{tag.artifact}' was never registered"
        hint = (
            f"see its versions: gtoguard show {tag.artifact}"
            if state.events
            else "see the artifacts: gtoguard show"
        )
    return Violation("version-not-registered", ref, message, hint)


def check_version_increasing(
    ref: str, tag: TagName, state: ArtifactState, policy: Policy, commit: str | None = None
) -> Violation | None:
    """``commit``: the commit the version is registered on (a bump there cannot help
    when it carries a version already)."""
    if not policy.versions_increasing or tag.action is not REGISTER or not tag.version:
        return None
    from gtoguard.model.gtoshow import semver_key

    new = semver_key(tag.version)
    known = [(semver_key(v), v) for v in state.version_names() if v != tag.version]
    higher = sorted((k, v) for k, v in known if k is not None and new is not None and k >= new)
    if not higher:
        return None
    top = higher[-1][1]
    hint = f"register a higher version: gtoguard register {tag.artifact} --bump-patch"
    carried = state.version_label(commit) if commit else None
    if carried is not None and carried != commit:  # this tag's version too (warn mode)
        hint = (
            f"this commit is {carried} already: commit your change, then register the "
            f"next version on it: gtoguard register {tag.artifact} --bump-patch"
        )
    return Violation(
        "version-not-increasing",
        ref,
        f"version {tag.version} of '{tag.artifact}' is not greater than {top}, registered "
        "before (the policy requires increasing versions)",
        hint,
    )


def check_version_for_stage(
    ref: str, tag: TagName, event: TagEvent, state: ArtifactState, policy: Policy
) -> Violation | None:
    """A stage on a deregistered version (GTO readers hide it), or, when the policy
    requires registration, on a commit with no registered version."""
    if tag.action is not ASSIGN:
        return None
    found = state.versions_at(event.commit)
    if found and not any(v.active for v in found):
        return Violation(
            "version-deregistered",
            ref,
            f"version {found[0].name} of '{tag.artifact}' is deregistered; GTO readers do not "
            "show stages of a deregistered version",
            f"register a new version and assign that: gtoguard register {tag.artifact} COMMIT",
        )
    if not found and policy.registration_required:
        return Violation(
            "version-not-registered",
            ref,
            f"commit {short(event.commit)} has no registered version of '{tag.artifact}' "
            "(the policy allows stages only on registered versions)",
            f"gtoguard assign {tag.artifact} {short(event.commit)} --stage {tag.stage} "
            "(registers it first)",
        )
    return None
