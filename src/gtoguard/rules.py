"""One function per rule. Each returns a ``Violation`` or None and never raises. Pure.

Rule ids are a contract (DESIGN §3); messages say what is wrong, hints what to do.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable
from dataclasses import dataclass

from .identity import Pusher
from .policy import GtoConfig, Policy, StageRules
from .refupdate import printable_ref
from .registry import ArtifactState, TagEvent
from .signature import Verdict, split_signature
from .tagname import Action, TagName, TagNameError, artifact_to_tag, parse_tag

# (commit, branch names or globs) -> (reachable from one of them, the branches looked at)
Reachability = Callable[[str, tuple[str, ...]], tuple[bool, list[str]]]
Verifier = Callable[[str], Verdict]  # tag object id -> verdict


@dataclass(frozen=True)
class Violation:
    rule: str
    ref: str
    message: str
    hint: str | None = None
    severity: str = "error"  # "error" declines; "warning" is printed and accepted


@dataclass(slots=True)  # built once per tag: plain (not frozen) init is 3x faster
class GitObject:
    """What a pushed tag ref points at."""

    oid: str
    kind: str  # commit | tag | tree | blob
    target: str | None = None  # tag objects: the object tagged
    target_kind: str | None = None
    time: int | None = None  # tag objects: tagger time (None: no tagger line)
    offset: int = 0
    tagger: str = ""
    email: str = ""
    message: str = ""


# --- the name and the object -----------------------------------------------------------


def check_name(ref: str, name: str, policy: Policy) -> tuple[TagName | None, Violation | None]:
    try:
        return parse_tag(name), None
    except TagNameError as err:
        if err.rule == "tag-malformed" and policy.tags.allow_malformed:
            return None, None
        if err.rule == "tag-reserved":
            hint: str | None = (
                "register a version (NAME@vX.Y.Z) or assign a stage (NAME#STAGE) instead"
            )
            return None, Violation(err.rule, ref, f"'{printable_ref(name)}': {err.reason}", hint)
        hint = f"use '{err.suggestion}'" if err.suggestion else None
        message = f"'{printable_ref(name)}' is not a valid GTO tag: {err.reason}"
        return None, Violation(err.rule, ref, message, hint)


def check_annotated(ref: str, obj: GitObject, policy: Policy) -> Violation | None:
    if obj.kind == "tag" or not policy.tags.annotated:
        return None
    name = ref.removeprefix("refs/tags/")
    return Violation(
        "tag-lightweight",
        ref,
        f"lightweight tag: GTO ignores it (it only shifts counters), so the {obj.kind} "
        "would be published without a registry event",
        f"create it annotated: git tag -a '{name}' -m '…' {obj.oid[:12]} (or use gtoguard)",
    )


def check_target(ref: str, obj: GitObject) -> Violation | None:
    if obj.kind != "tag" or obj.target_kind == "commit":
        return None
    return Violation(
        "tag-target",
        ref,
        f"the tag points at a {obj.target_kind}, not at a commit "
        "(gto readers fail on it or misread it)",
        "tag the commit itself: git tag -a NAME COMMIT",
    )


def check_tagger_present(ref: str, obj: GitObject) -> Violation | None:
    if obj.kind != "tag" or obj.time is not None:
        return None
    return Violation(
        "tagger-time",
        ref,
        "the tag object has no tagger line, so it has no date; gto cannot order it",
        "create it with git tag -a or gtoguard (both write the tagger)",
    )


# --- the decoded tag against .gto and the policy ---------------------------------------


def schema_violation(
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
        hint = None
        close = _closest(tag.stage, config.stages or ())
        if close:
            hint = f"did you mean '{close}'?  " + assign_command(tag, close, state, commit)
        elif config.stages == ():
            hint = "add the stage to 'stages' in .gto on the default branch first"
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
    verb = "assign" if tag.action is Action.ASSIGN else "unassign"
    version = state.version_label(commit) if state and commit else None
    target = f"--version {version}" if version and version != commit else (commit or "REF")[:12]
    return f"gtoguard {verb} {tag.artifact} {target} --stage {stage}"


# --- rules that need the registry history ----------------------------------------------


def check_counter(ref: str, tag: TagName, state: ArtifactState) -> Violation | None:
    if tag.counter is None or tag.counter > state.max_counter:
        return None
    return Violation(
        "counter-not-increasing",
        ref,
        f"counter #{tag.counter} is not greater than #{state.max_counter}, "
        f"the highest counter of '{tag.artifact}'",
        f"use '{_with_counter(tag, state.max_counter + 1)}'",
    )


def _with_counter(tag: TagName, counter: int) -> str:
    return TagName(tag.artifact, tag.action, tag.version, tag.stage, counter).tag


def check_version_exists(ref: str, tag: TagName, state: ArtifactState) -> Violation | None:
    if tag.action is not Action.REGISTER or tag.version not in state.version_names():
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
    if tag.action is not Action.REGISTER:
        return None
    others = sorted({v.name for v in state.versions_at(event.commit) if v.name != tag.version})
    if not others:
        return None
    return Violation(
        "commit-has-version",
        ref,
        f"commit {event.commit[:12]} already carries version {others[0]} of "
        f"'{tag.artifact}'; a second version on one commit breaks gto",
        f"register {tag.version} on a new commit, or keep using {others[0]}",
    )


def check_deregister(
    ref: str, tag: TagName, event: TagEvent, state: ArtifactState
) -> Violation | None:
    if tag.action is not Action.DEREGISTER or tag.version is None:
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
            f"{elsewhere[0][:12]}, not on {event.commit[:12]}"
        )
        hint = f"gtoguard deregister {tag.artifact} --version {tag.version}"
    else:
        message = f"version {tag.version} of '{tag.artifact}' was never registered"
        hint = f"gtoguard show {tag.artifact} lists its versions"
    return Violation("version-not-registered", ref, message, hint)


def check_unassign(
    ref: str, tag: TagName, event: TagEvent, state: ArtifactState
) -> Violation | None:
    if tag.action is not Action.UNASSIGN or tag.stage is None:
        return None
    if not state.registered_at(event.commit):
        return Violation(
            "version-not-registered",
            ref,
            f"commit {event.commit[:12]} has no registered version of '{tag.artifact}'; "
            "gto readers ignore an unassignment there and keep the stage",
            f"register the commit first (gtoguard register {tag.artifact} "
            f"{event.commit[:12]}), then unassign",
        )
    if state.stage_active(event.commit, tag.stage):
        return None
    version = state.version_label(event.commit)
    label = version if version != event.commit else f"commit {event.commit[:12]}"
    held = state.active_stages(event.commit)
    holds = f" (it holds: {', '.join(held)})" if held else " (it holds no stage)"
    return Violation(
        "stage-not-active",
        ref,
        f"'{tag.artifact}' {label} does not hold stage '{tag.stage}'{holds}",
        f"gtoguard show {tag.artifact} lists which version holds '{tag.stage}'",
    )


def check_tagger_time(
    ref: str, event: TagEvent, state: ArtifactState, now: int, skew: int
) -> Violation | None:
    if event.time > now + skew:
        ahead = event.time - now
        return Violation(
            "tagger-time",
            ref,
            f"tagger date {_iso(event.time)} is {ahead}s in the future (allowed: {skew}s)",
            "fix the clock (date -u) and create the tag again",
        )
    latest = state.latest_time()
    if latest is not None and event.time < latest - skew:
        return Violation(
            "tagger-time",
            ref,
            f"tagger date {_iso(event.time)} is {latest - event.time}s before the latest event "
            f"of '{event.name.artifact}' ({_iso(latest)}); gto orders events by this date, "
            "so a back-dated tag rewrites history",
            "create the tag again with the current date",
        )
    return None


def _iso(seconds: int) -> str:
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(seconds))


# --- deletions and moves ---------------------------------------------------------------


def check_delete(ref: str, tag: TagName, policy: Policy) -> Violation | None:
    if policy.tags.allow_delete:
        return None
    return Violation(
        "tag-deleted",
        ref,
        "deleting a GTO tag erases registry history that deployments relied on",
        _undo_hint(tag),
    )


def check_move(ref: str, tag: TagName, policy: Policy) -> Violation | None:
    if policy.tags.allow_move:
        return None
    return Violation(
        "tag-moved",
        ref,
        "re-pointing an existing GTO tag rewrites registry history",
        _undo_hint(tag),
    )


def _undo_hint(tag: TagName) -> str:
    name = artifact_to_tag(tag.artifact)
    if tag.action is Action.ASSIGN:
        return f"unassign instead: gtoguard unassign {tag.artifact} --stage {tag.stage} REF"
    if tag.action is Action.REGISTER:
        return f"deregister instead: gtoguard deregister {tag.artifact} --version {tag.version}"
    return f"create a new event for '{name}' instead of changing this one"


# --- team policy: versions ---------------------------------------------------------------


def check_version_increasing(ref: str, tag: TagName, state: ArtifactState,
                             policy: Policy) -> Violation | None:  # fmt: skip
    if not policy.versions_increasing or tag.action is not Action.REGISTER or not tag.version:
        return None
    from .views import semver_key

    new = semver_key(tag.version)
    known = [(semver_key(v), v) for v in state.version_names() if v != tag.version]
    higher = sorted((k, v) for k, v in known if k is not None and new is not None and k >= new)
    if not higher:
        return None
    top = higher[-1][1]
    return Violation(
        "version-not-increasing",
        ref,
        f"version {tag.version} of '{tag.artifact}' is not greater than {top}, registered "
        "before (the policy requires increasing versions)",
        f"register a higher version: gtoguard register {tag.artifact} --bump-patch",
    )


def check_version_for_stage(ref: str, tag: TagName, event: TagEvent, state: ArtifactState,
                            policy: Policy) -> Violation | None:  # fmt: skip
    """A stage on a deregistered version (GTO readers hide it), or, when the policy
    requires registration, on a commit with no registered version."""
    if tag.action is not Action.ASSIGN:
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
            f"commit {event.commit[:12]} has no registered version of '{tag.artifact}' "
            "(the policy allows stages only on registered versions)",
            f"gtoguard assign {tag.artifact} {event.commit[:12]} --stage {tag.stage} "
            "(registers it first)",
        )
    return None


# --- team policy: stages -----------------------------------------------------------------


def check_stage_order(ref: str, tag: TagName, event: TagEvent, state: ArtifactState,
                      rules: StageRules) -> Violation | None:  # fmt: skip
    if tag.action is not Action.ASSIGN or not rules.from_stages:
        return None
    held = state.active_stages(event.commit)
    if any(stage in held for stage in rules.from_stages):
        return None
    version = state.version_label(event.commit)
    label = version if version != event.commit else f"commit {event.commit[:12]}"
    needed = " or ".join(rules.from_stages)
    holds = f"it holds: {', '.join(held)}" if held else "it holds no stage"
    return Violation(
        "stage-order",
        ref,
        f"'{tag.artifact}' {label} must be in {needed} before {tag.stage} ({holds}; "
        f"{rules.source})",
        f"promote it first: gtoguard assign {tag.artifact} --version {version} "
        f"--stage {rules.from_stages[0]}",
    )


def check_branches(ref: str, tag: TagName, event: TagEvent, rules: StageRules,
                   reachable: Reachability | None) -> Violation | None:  # fmt: skip
    if tag.action is not Action.ASSIGN or not rules.branches or reachable is None:
        return None
    ok, branches = reachable(event.commit, rules.branches)
    if ok:
        return None
    wanted = ", ".join(rules.branches)
    seen = f" (branches checked: {', '.join(branches)})" if branches else " (no such branch)"
    return Violation(
        "branch-not-allowed",
        ref,
        f"commit {event.commit[:12]} is not on {wanted}{seen}; stage {tag.stage} only takes "
        f"commits from there ({rules.source})",
        f"merge the commit into {rules.branches[0]} first, then tag the merged commit",
    )


def check_pusher(ref: str, tag: TagName, rules: StageRules, who: Pusher | None,
                 required: bool) -> Violation | None:  # fmt: skip
    if tag.stage is None or rules.pushers is None:
        return None
    allowed = ", ".join(rules.pushers_as_written) or "nobody"
    if who is None:
        return Violation(
            "identity-unknown",
            ref,
            f"stage {tag.stage} may only be changed by {allowed}, and no pusher identity is "
            "available here (the tagger is not an identity: anyone can write it)",
            "the server checks this with the account you push as",
            "error" if required else "warning",
        )
    if who.name in rules.pushers:
        return None
    return Violation(
        "pusher-not-allowed",
        ref,
        f"{who.name} (from {who.source}) may not {tag.action.value} stage {tag.stage}; "
        f"allowed: {allowed} ({rules.source})",
        f"ask one of {allowed} to do it",
    )


def check_signed(ref: str, tag: TagName, oid: str, message: str, rules: StageRules,
                 verify: Verifier | None, will_sign: bool) -> Violation | None:  # fmt: skip
    if tag.stage is None or not rules.signed or will_sign:
        return None
    _, block = split_signature(message)
    if block is None:
        return Violation(
            "signature-required",
            ref,
            f"stage {tag.stage} takes only signed tags; this one is not signed ({rules.source})",
            f"sign it: gtoguard {tag.action.value} ... --sign (or git tag -s)",
        )
    if verify is None:
        return None  # no signers here (a client): the server verifies
    verdict = verify(oid)
    if verdict.ok:
        return None
    return Violation(
        "signature-invalid",
        ref,
        f"the signature does not verify: {verdict.detail}",
        "sign with a key the server trusts (ask the admin to add your public key to the signers)",
    )


def check_message(ref: str, tag: TagName, message: str, rules: StageRules) -> Violation | None:
    if tag.stage is None or rules.message is None:
        return None
    text = split_signature(message)[0].strip()
    if re.search(rules.message, text):
        return None
    shown = text.splitlines()[0][:80] if text else ""
    return Violation(
        "message-mismatch",
        ref,
        f"the tag message {shown!r} does not match {rules.message!r}, which stage {tag.stage} "
        f"requires ({rules.source})",
        f"give a matching message: gtoguard {tag.action.value} ... -m '...'",
    )
