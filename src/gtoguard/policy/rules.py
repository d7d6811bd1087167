"""One function per rule. Each returns a ``Violation`` or None and never raises. Pure.

Rule ids are a contract (docs/design.md §3); messages say what is wrong, hints what to do.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable, Collection, Mapping
from typing import NamedTuple

from gtoguard.model.refupdate import TAG_PREFIX, printable_ref
from gtoguard.model.signatureblock import Verdict, split_signature
from gtoguard.model.state import ArtifactState, TagEvent
from gtoguard.model.tagname import (
    ASSIGN,
    DEPRECATE,
    DEREGISTER,
    REGISTER,
    UNASSIGN,
    TagName,
    TagNameError,
    artifact_to_tag,
    gto_reads,
    is_gto_shaped,
    parse_tag,
    ref_format_problem,
)
from gtoguard.policy.identity import Pusher
from gtoguard.policy.settings import GtoConfig, Policy, StageRules

# (commit, branch names or globs) -> (reachable from one of them, the branches looked at)
Reachability = Callable[[str, tuple[str, ...]], tuple[bool, list[str]]]
Verifier = Callable[[str, str], Verdict]  # (tag object id, its signature block) -> verdict


# Violation.severity: "error" declines; "warning" is printed and accepted (mode: warn);
# UNCHECKED: a rule that needs a fact this side cannot know (who pushed, on a clone or in
# an audit), said with the reason and never counted as a violation
UNCHECKED = "unchecked"


class Violation(NamedTuple):
    rule: str
    ref: str
    message: str
    hint: str | None = None
    severity: str = "error"  # "error" declines; "warning" is printed and accepted
    config: str | None = None  # an audit: the commit whose .gto and policy judged it
    # whose rule it is, for the mode that applies (``policy.mode_of``): a policy file (a
    # stage's rules), "knob:<key>" (a setting one policy made stricter), None: the built-in
    origin: str | None = None


class GitObject(NamedTuple):
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
    name: str | None = None  # tag objects: the object's own ``tag`` header (what gto reads)
    unreadable: str | None = None  # tag objects: why gto 1.10.1 cannot read it, if it cannot
    size: int = 0  # bytes of the object (for a tag beyond READ_CAP only its head was read)
    partial: bool = False  # tag objects: only the head was read (the message is cut short)


# --- the name and the object -----------------------------------------------------------


def check_name(ref: str, name: str, policy: Policy) -> tuple[TagName | None, Violation | None]:
    try:
        return parse_tag(name), None
    except TagNameError as err:
        if err.rule == "tag-malformed" and policy.tags.allow_malformed and not gto_reads(name):
            return None, None  # the knob admits names gto ignores, never names it decodes
        if err.rule == "tag-reserved":
            hint: str | None = (
                "register a version (NAME@vX.Y.Z) or assign a stage (NAME#STAGE) instead"
            )
            return None, Violation(err.rule, ref, f"'{printable_ref(name)}': {err.reason}", hint)
        hint = f"use '{err.suggestion}'" if err.suggestion else None
        message = f"'{printable_ref(name)}' is not a valid GTO tag: {err.reason}"
        return None, Violation(err.rule, ref, message, hint)


def check_object(ref: str, obj: GitObject, policy: Policy, decoded: bool = True) -> list[Violation]:
    """Every rule on the object a tag ref points at (``decoded``: its name is a GTO tag,
    so it needs a tagger date too). What git writes passes them all, and is answered at
    once: a replay of a whole registry asks this 100,000 times."""
    if (
        obj.kind == "tag"
        and obj.unreadable is None
        and obj.target_kind == "commit"
        and obj.time is not None
        and obj.size <= policy.tags.max_message
        and obj.name == ref.removeprefix(TAG_PREFIX)
    ):
        return []
    found = [
        check_one_name(ref, obj),
        check_readable(ref, obj),
        check_size(ref, obj, policy),
        check_annotated(ref, obj, policy),
        check_target(ref, obj),
        # a tagger line that is there but unreadable is said once (tag-unreadable)
        check_tagger_present(ref, obj)
        if decoded and not (obj.unreadable or "").startswith("the tagger")
        else None,
    ]
    return [v for v in found if v is not None]


def check_one_name(ref: str, obj: GitObject) -> Violation | None:
    """gto decodes the name stored in the tag object, not the ref name: the two must agree
    (``git push origin 'm#prod#2:refs/tags/m#dev#2'`` is a prod tag to every gto reader)."""
    if obj.kind != "tag" or obj.name is None:
        return None
    name = ref.removeprefix("refs/tags/")
    if obj.name == name:
        return None
    shown = printable_ref(obj.name)
    if is_gto_shaped(obj.name) and ref_format_problem(obj.name) is None:
        hint = f"push the tag under its own name: git push origin 'refs/tags/{shown}'"
    else:  # a name no ref can have (a trailing space): only a new tag object mends it
        hint = f"create the tag under this name: git tag -a '{printable_ref(name)}' COMMIT"
    return Violation(
        "tag-name-mismatch",
        ref,
        f"the ref is named '{printable_ref(name)}' but its tag object is named '{shown}'; "
        f"gto reads the object's name{', a GTO event' if is_gto_shaped(obj.name) else ''}",
        hint,
    )


def check_readable(ref: str, obj: GitObject) -> Violation | None:
    if obj.kind != "tag" or obj.unreadable is None:
        return None
    return Violation(
        "tag-unreadable",
        ref,
        f"gto cannot read this tag object: {obj.unreadable}; every gto reader of the "
        "repository would fail",
        "tag a commit git itself made (git commit writes its author, committer and "
        "encoding as every reader can read them)"
        if obj.unreadable.startswith("the tagged commit")
        else "create the tag again with git tag -a or gtoguard (UTF-8 text, a real date and zone)",
    )


def check_size(ref: str, obj: GitObject, policy: Policy) -> Violation | None:
    """A tag object past ``tags.max_message``: every later push and every gto reader of
    the artifact would read it again."""
    if obj.kind != "tag" or obj.size <= policy.tags.max_message:
        return None
    return Violation(
        "tag-too-large",
        ref,
        f"the tag object is {obj.size} bytes; at most {policy.tags.max_message} are allowed "
        "(tags.max_message)",
        "keep the message short and put long notes in the repository, linked from it",
    )


def check_annotated(ref: str, obj: GitObject, policy: Policy) -> Violation | None:
    if obj.kind in ("tag", "missing") or not policy.tags.annotated:
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
    if obj.kind == "missing":  # a damaged repository: the ref names no object here
        return Violation(
            "tag-target",
            ref,
            f"the ref names object {obj.oid[:12]}, which is missing from the repository",
            "run git fsck; fetch the tag again from a good copy, or delete the ref",
        )
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
        close = _closest(tag.stage, config.stages or ())
        add = "add it to 'stages' in .gto by a commit to the default branch first"
        holders = state.holders_of(close) if close and state is not None else []
        if close and state is not None and holders and max(holders)[1] == commit:
            hint = (f"did you mean '{close}'? {state.version_label(commit)[:12]} holds it "
                    f"already (if '{tag.stage}' is a new stage: {add})")  # fmt: skip
        elif close:
            hint = (f"did you mean '{close}'?  {assign_command(tag, close, state, commit)} "
                    f"(if '{tag.stage}' is a new stage: {add})")  # fmt: skip
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
    target = f"--version {version}" if version and version != commit else (commit or "REF")[:12]
    return f"gtoguard {verb} {tag.artifact} {target} --stage {stage}"


# --- rules that need the registry history ----------------------------------------------


def check_counter(ref: str, tag: TagName, state: ArtifactState) -> Violation | None:
    if tag.counter is None or tag.counter > state.max_counter:
        return None
    following = state.max_counter + 1
    hint = (f"use '{_with_counter(tag, following)}'" if len(str(following)) <= 18 else
            "this artifact's counters are used up (18 digits): push tags without one "
            "(gtoguard ... --simple)")  # fmt: skip
    return Violation(
        "counter-not-increasing",
        ref,
        f"counter #{tag.counter} is not greater than #{state.max_counter}, "
        f"the highest counter of '{tag.artifact}'",
        hint,
    )


def check_counter_order(ref: str, tag: TagName, event: TagEvent,
                        earlier: list[TagEvent]) -> Violation:  # fmt: skip
    """An audit found ``tag`` (``ref``) with a counter below those of ``earlier`` tags,
    dated before it. Either one of those was back-dated, or this one came after them with
    a counter it should not have taken: a hook, knowing the arrival, declined whichever
    came second; an audit does not know it, and both a counter and a date are written by
    the pusher, so it cannot tell which (a warning, never a fault of either: the fresh
    review's one low counter, dated now, made the audit condemn every tag before it)."""
    first = max(earlier, key=lambda e: e.name.counter or 0)
    names = ", ".join(f"'{e.tag}'" for e in earlier[:3]) + (" ..." if len(earlier) > 3 else "")
    gap = event.time - min(e.time for e in earlier)
    return Violation(
        "counter-not-increasing",
        ref,
        f"its counter #{tag.counter} is below #{first.name.counter} of {names}, dated up to "
        f"{gap}s before it: either this tag came after them with a counter it should not "
        "have taken, or one of them was back-dated; the tags alone cannot tell which (a "
        "hook judged them as they arrived; the server's decision log tells when)",
        "nothing to do if the server's hook accepted both; in CI, the job of each push "
        "judged it as it arrived (check TAG --pushed-at)",
        "warning",
    )


MAX_COUNTER_STEP = 1_000_000  # how far past the artifact's highest counter a new one may go


def check_counter_step(ref: str, tag: TagName, state: ArtifactState) -> Violation | None:
    """A counter far past every counter of the artifact: every later tag of the artifact
    must go past it, and a counter has at most 18 digits, so one tag dated #999…9 would
    lock the artifact's counters for good (the fresh review: bob, allowed only dev, did
    that with churn#dev#999999999999999999)."""
    if tag.counter is None or tag.counter <= state.max_counter + MAX_COUNTER_STEP:
        return None
    return Violation(
        "counter-too-high",
        ref,
        f"counter #{tag.counter} is more than {MAX_COUNTER_STEP:,} past #{state.max_counter}, "
        f"the highest counter of '{tag.artifact}' (counters take at most 18 digits: one this "
        "high would leave the next tags none to take)",
        f"use '{_with_counter(tag, state.max_counter + 1)}' (gtoguard picks the next counter)",
    )


def _with_counter(tag: TagName, counter: int) -> str:
    return TagName(tag.artifact, tag.action, tag.version, tag.stage, counter).tag


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
        f"commit {event.commit[:12]} already carries version {others[0]} of "
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
            f"{elsewhere[0][:12]}, not on {event.commit[:12]}"
        )
        hint = f"gtoguard deregister {tag.artifact} --version {tag.version}"
    else:
        message = f"version {tag.version} of '{tag.artifact}' was never registered"
        hint = (f"see its versions: gtoguard show {tag.artifact}" if state.events
                else "see the artifacts: gtoguard show")  # fmt: skip
    return Violation("version-not-registered", ref, message, hint)


def check_unassign(
    ref: str, tag: TagName, event: TagEvent, state: ArtifactState
) -> Violation | None:
    if tag.action is not UNASSIGN or tag.stage is None:
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
        f"see which version holds '{tag.stage}': gtoguard show {tag.artifact}",
    )


def check_tagger_time(
    ref: str,
    event: TagEvent,
    state: ArtifactState,
    now: int,
    skew: int,
    max_age: int | None = None,
) -> Violation | None:
    """``max_age``: how far before ``now`` (the push) a new tag may be dated; None where
    the time of the push is not known, or the bound is off."""
    if event.time > now + skew:
        ahead = event.time - now
        return Violation(
            "tagger-time",
            ref,
            f"tagger date {iso_time(event.time)} is {ahead}s in the future (allowed: {skew}s)",
            "fix the clock (date -u) and create the tag again",
        )
    latest = state.latest_time()
    if latest is not None and event.time < latest - skew:
        return Violation(
            "tagger-time",
            ref,
            f"tagger date {iso_time(event.time)} is {latest - event.time}s before the latest event "
            f"of '{event.name.artifact}' ({iso_time(latest)}); gto orders events by this date, "
            "so a back-dated tag rewrites history",
            "create the tag again with the current date",
        )
    if max_age is not None and event.time < now - max_age:
        return Violation(
            "tagger-time",
            ref,
            f"tagger date {iso_time(event.time)} is {now - event.time}s before the push (allowed: "
            f"{max_age}s, tags.max_age); gto orders events by this date, so an old date "
            "rewrites history",
            f"create it again now and push it right away: git tag -d {event.tag}, then "
            "gtoguard ... --push (to mirror old history, the server admin sets "
            "tags.max_age: off in the server policy)",
        )
    return None


def iso_time(seconds: int) -> str:
    try:
        return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return f"@{seconds}"  # beyond what the C library can show


# --- deletions and moves ---------------------------------------------------------------


def check_delete(ref: str, tag: TagName, policy: Policy,
                 held: str | None = None) -> Violation | None:  # fmt: skip
    """``held``: the version (or commit) the tag is on, as the registry had it."""
    if policy.tags.allow_delete:
        return None
    return Violation(
        "tag-deleted",
        ref,
        "deleting a GTO tag erases registry history that deployments relied on",
        _undo_hint(tag, held),
    )


def check_move(ref: str, tag: TagName, policy: Policy, recreated: str | None = None,
               held: str | None = None) -> Violation | None:  # fmt: skip
    """``recreated``: the commit a deleted tag of this name pointed at (a deletion, then a
    new tag elsewhere, is a move by two pushes); ``held`` as for ``check_delete``."""
    if policy.tags.allow_move:
        return None
    how = (f"this tag was deleted from {recreated[:12]} and is made again elsewhere, which "
           "moves it" if recreated else "re-pointing an existing GTO tag")  # fmt: skip
    return Violation("tag-moved", ref, f"{how}: it rewrites registry history",
                     _undo_hint(tag, held or recreated))  # fmt: skip


def _undo_hint(tag: TagName, held: str | None) -> str:
    name = artifact_to_tag(tag.artifact)
    if tag.action is ASSIGN:
        if held is None:
            target = "--version VERSION"
        elif held.startswith("v"):  # a version name; gto's unregistered ones are commits
            target = f"--version {held}"
        else:
            target = held[:12]
        return f"unassign instead: gtoguard unassign {tag.artifact} {target} --stage {tag.stage}"
    if tag.action is REGISTER:
        return f"deregister instead: gtoguard deregister {tag.artifact} --version {tag.version}"
    return f"create a new event for '{name}' instead of changing this one"


# --- team policy: versions ---------------------------------------------------------------


def check_version_increasing(ref: str, tag: TagName, state: ArtifactState, policy: Policy,
                             commit: str | None = None) -> Violation | None:  # fmt: skip
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
        hint = (f"this commit is {carried} already: commit your change, then register the "
                f"next version on it: gtoguard register {tag.artifact} --bump-patch")  # fmt: skip
    return Violation(
        "version-not-increasing",
        ref,
        f"version {tag.version} of '{tag.artifact}' is not greater than {top}, registered "
        "before (the policy requires increasing versions)",
        hint,
    )


def check_version_for_stage(ref: str, tag: TagName, event: TagEvent, state: ArtifactState,
                            policy: Policy) -> Violation | None:  # fmt: skip
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
            f"commit {event.commit[:12]} has no registered version of '{tag.artifact}' "
            "(the policy allows stages only on registered versions)",
            f"gtoguard assign {tag.artifact} {event.commit[:12]} --stage {tag.stage} "
            "(registers it first)",
        )
    return None


# --- team policy: stages -----------------------------------------------------------------


def check_stage_order(ref: str, tag: TagName, event: TagEvent, state: ArtifactState,
                      rules: StageRules, holders: Mapping[str, str]) -> Violation | None:  # fmt: skip
    """``from``: the version must hold one of the listed stages now, in the view ``gto
    show`` gives by default (``holders``: stage -> the commit shown in it; the page's
    Stages table). A version that held the stage it is given before may go back to it (a
    rollback) without holding a ``from`` stage again, unless the stage says ``rollback:
    false``."""
    if tag.action is not ASSIGN or not rules.from_stages or tag.stage is None:
        return None
    if any(holders.get(stage) == event.commit for stage in rules.from_stages):
        return None
    if rules.rollback and state.ever_held(event.commit, tag.stage):
        return None
    version = state.version_label(event.commit)
    label = version if version != event.commit else f"commit {event.commit[:12]}"
    needed = " or ".join(rules.from_stages)
    held = (f"; it held {tag.stage} before, but rollback: false"
            if not rules.rollback and state.ever_held(event.commit, tag.stage) else "")  # fmt: skip
    return Violation(
        "stage-order",
        ref,
        f"'{tag.artifact}' {label} must be in {needed} before {tag.stage} "
        f"({_shown_now(state, rules.from_stages, holders)}{held}; {rules.source})",
        f"promote it first: gtoguard assign {tag.artifact} --version {version} "
        f"--stage {rules.from_stages[0]}",
    )


def _shown_now(state: ArtifactState, stages: tuple[str, ...], holders: Mapping[str, str]) -> str:
    """Who holds ``stages`` now, as gto show shows them, for a message."""
    said = []
    for stage in stages:
        commit = holders.get(stage)
        said.append(f"{stage} is {state.version_label(commit)}" if commit is not None
                    else f"no version is in {stage}")  # fmt: skip
    return ", ".join(said) + " now"


def check_restored_order(ref: str, tag: TagName, commit: str, state: ArtifactState,
                         rules: StageRules, holders: Mapping[str, str],
                         reactivating: bool = False) -> Violation | None:  # fmt: skip
    """Deleting an unassignment (or a deregistration) gives a stage back to a version, and
    so does making a deprecated artifact active again (``reactivating``): an assignment by
    other means. Giving a version back a stage it held is a rollback, which ``from`` lets
    through unless the stage says ``rollback: false``; then the version must hold one of
    the ``from`` stages (``holders``, after the change)."""
    if not rules.from_stages or rules.rollback:
        return None
    if any(holders.get(stage) == commit for stage in rules.from_stages):
        return None
    version = state.version_label(commit)
    label = version if version != commit else f"commit {commit[:12]}"
    how = (f"'{tag.tag}' makes '{tag.artifact}' active again, which gives stage "
           f"{rules.stage} back to {label}" if reactivating else
           f"removing '{tag.tag}' gives stage {rules.stage} back to '{tag.artifact}' {label}")  # fmt: skip
    return Violation(
        "stage-order",
        ref,
        f"{how}, which is not in {' or '.join(rules.from_stages)} "
        f"({_shown_now(state, rules.from_stages, holders)}; rollback: false; {rules.source})",
        f"assign it properly: gtoguard assign {tag.artifact} --version {version} "
        f"--stage {rules.from_stages[0]}",
    )


def check_branches(ref: str, tag: TagName, event: TagEvent, rules: StageRules,
                   reachable: Reachability | None) -> Violation | None:  # fmt: skip
    if tag.action is not ASSIGN or not rules.branches or reachable is None:
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


def _change(tag: TagName, stage: str, removing: bool = False, restoring: bool = False) -> str:
    """What the tag does to ``stage``, for messages: every way a stage changes counts."""
    if removing:
        return f"delete or move tag '{tag.tag}', which changes stage {stage}"
    if restoring:
        return (f"make deprecated '{tag.artifact}' active again ({tag.tag}), which gives "
                f"stage {stage} back to its versions")  # fmt: skip
    if tag.action is DEREGISTER:
        return f"deregister {tag.version}, which holds stage {stage}"
    if tag.action is DEPRECATE:
        return f"deprecate '{tag.artifact}', whose versions hold stage {stage}"
    if tag.action is REGISTER:
        return (f"register {tag.version} on a commit in stage {stage}, which renames the "
                "version gto shows there")  # fmt: skip
    return f"{tag.action.value} stage {stage}"


SERVER_IDENTITY_HINT = ("the server admin sets the variable that names the pusher (identity: "
                        "in the server policy) for the way pushes arrive (docs/servers/)")  # fmt: skip
CI_IDENTITY_HINT = ("run the check in the job the push started, as the CI templates in "
                    "docs/ci/ do")  # fmt: skip


def check_pusher(ref: str, tag: TagName, rules: StageRules, who: Pusher | None,
                 required: bool, removing: bool = False, sources: str = "",
                 restoring: bool = False, fix: str = "") -> Violation | None:  # fmt: skip
    """``rules`` are the rules of a stage the tag changes (assigns, unassigns, or takes
    away by deregistering or deprecating what holds it; ``removing``: by deleting or
    moving the tag itself). ``sources``: where the pusher was looked for; ``fix``: what
    to do when it was found nowhere (the server's hint by default)."""
    if rules.pushers is None:
        return None
    allowed = ", ".join(rules.pushers_as_written) or "nobody"
    if who is None:
        if not required:  # a fact this side cannot know: never a violation here
            return Violation(
                "identity-unknown",
                ref,
                f"stage {rules.stage} may only be changed by {allowed}; {sources}",
                None,
                UNCHECKED,
            )
        where = f" ({sources})" if sources else ""
        return Violation(
            "identity-unknown",
            ref,
            f"stage {rules.stage} may only be changed by {allowed}, and no pusher identity is "
            f"available here{where}; the tagger is not an identity: anyone can write it",
            fix or SERVER_IDENTITY_HINT,
        )
    if who.name in rules.pushers:
        return None
    ask = _ask(rules.pushers_as_written, rules.pushers)
    return Violation(
        "pusher-not-allowed",
        ref,
        f"{who.name} (from {who.source}) may not {_change(tag, rules.stage, removing, restoring)}; "
        f"allowed: {allowed} ({rules.source})",
        ask,
    )


def _ask(written: tuple[str, ...], people: Collection[str] = ()) -> str:
    """Who to ask, in words: one person, a member of a group, or one of several; a
    group is followed by the people it stands for (the first ten)."""
    if not written:
        return "nobody may; the stage's pushers in the policy say who can"
    if len(written) == 1:
        one = written[0]
        ask = f"ask {'a member of ' if one.startswith('@') else ''}{one} to do it"
    else:
        ask = f"ask one of {', '.join(written[:-1])} or {written[-1]} to do it"
    if not any(w.startswith("@") for w in written):
        return ask
    if not people:
        return f"{ask} (the group has no members: the policy's groups say who is in it)"
    names = sorted(people)
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"{ask} ({', '.join(names[:10])}{more})"


def check_signed(ref: str, tag: TagName, oid: str, message: str, rules: StageRules,
                 verify: Verifier | None, will_sign: bool,
                 restoring: bool = False) -> Violation | None:  # fmt: skip
    if not rules.signed:
        return None
    _, block = split_signature(message)
    if block is None and not will_sign:
        return Violation(
            "signature-required",
            ref,
            f"stage {rules.stage} takes only signed tags, and this tag would "
            f"{_change(tag, rules.stage, restoring=restoring)} unsigned ({rules.source})",
            f"sign it: gtoguard {tag.action.value} ... --sign (or git tag -s)",
        )
    if verify is None:  # no signers here (a clone): the server verifies
        return Violation(
            "signature-invalid",
            ref,
            f"stage {rules.stage} takes only tags signed by a key the server trusts; whether "
            "this signature verifies is known only to the server, which holds the signers",
            None,
            UNCHECKED,
        )
    if block is None:  # the helper signs it once it is written
        return None
    verdict = verify(oid, block)
    if verdict.ok:
        return None
    return Violation(
        "signature-invalid",
        ref,
        f"the signature does not verify: {verdict.detail}",
        "sign with a key the server trusts (ask the admin to add your public key to the signers)",
    )


def check_bound(ref: str, tag: TagName, message: str, rules: StageRules,
                repository: str | None, judge: bool) -> Violation | None:  # fmt: skip
    """signed: repository. A signature binds the message, not the place: without the
    trailer alice's signed promotion from one repository is good in any other.
    ``judge``: this side verifies signatures (a server or CI), so it must know its name."""
    if not rules.bound:
        return None
    text, block = split_signature(message)
    if block is None and judge:
        return None  # unsigned: signature-required says so
    named = repository_trailers(text)
    if repository is None:
        if not judge:
            return None  # a client does not know the server's name: the server checks
        return Violation(
            "signature-invalid",
            ref,
            f"stage {rules.stage} takes only tags bound to this repository, and the server "
            f"has no name for it ({rules.source})",
            "the admin sets one: git config gtoguard.repository <id> in the server repository",
        )
    if repository in named:
        return None
    found = f"it names {', '.join(repr(n) for n in named)}" if named else "it has none"
    return Violation(
        "signature-invalid",
        ref,
        f"stage {rules.stage} takes only tags whose signed message ends with the trailer "
        f"'Repository: {repository}', and {found}: a signed tag from another repository "
        f"must not be replayed here ({rules.source})",
        f"sign a new tag with the trailer: -m 'promote ...' -m 'Repository: {repository}'",
    )


def repository_trailers(text: str) -> list[str]:
    """The values of ``Repository:`` trailers in the last paragraph of a message."""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]
    if not paragraphs:
        return []
    found = []
    for line in paragraphs[-1].splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == "repository" and value.strip():
            found.append(value.strip())
    return found


def check_signed_now(ref: str, tag: TagName, event: TagEvent, rules: StageRules, now: int,
                     skew: int) -> Violation | None:  # fmt: skip
    """git verifies a signature as of the tagger date, which the signer writes: an old date
    revives an expired key. A signed stage takes only tags dated at the push."""
    if not rules.signed or event.time >= now - skew:
        return None
    return Violation(
        "signature-invalid",
        ref,
        f"stage {rules.stage} takes only signed tags, and this one is dated "
        f"{now - event.time}s before the push (allowed: {skew}s, tags.clock_skew); a "
        "signature is checked as of that date, so an old date could revive an expired key "
        f"({rules.source})",
        "sign a new tag now",
    )


def check_message(ref: str, tag: TagName, message: str, rules: StageRules,
                  restoring: bool = False) -> Violation | None:  # fmt: skip
    if rules.message is None:
        return None
    from gtoguard.policy.patterns import (  # RE2: only where a stage has a pattern
        PatternError,
        search,
    )

    text = split_signature(message)[0].strip()
    try:
        if search(rules.message, text):
            return None
    except PatternError:  # config validation refuses such patterns; never let one pass
        pass
    shown = text.splitlines()[0][:80] if text else ""
    return Violation(
        "message-mismatch",
        ref,
        f"the tag message {shown!r} does not match {rules.message!r}, which every change "
        f"to stage {rules.stage} needs ({rules.source}); this tag would "
        f"{_change(tag, rules.stage, restoring=restoring)}",
        f"give the tag a message matching {rules.message!r} (-m on the command line, "
        "Message in the page's dialog)",
    )


def check_frozen(ref: str, tag: TagName, rules: StageRules, now: int,
                 removing: bool = False, restoring: bool = False) -> Violation | None:  # fmt: skip
    """``now``: the moment the change arrives (the server's clock at the push, never a
    tagger date). Of the windows open then, the one that ends last is named; a window
    that cannot be read counts as open (config validation refuses such windows)."""
    if not rules.freeze:
        return None
    from gtoguard.policy.freeze import WindowError, describe, open_window

    found = []
    for window in rules.freeze:
        try:
            span = open_window(window, now)
        except WindowError as exc:
            return Violation("stage-frozen", ref, f"stage {rules.stage} has a freeze window "
                             f"gtoguard cannot read ({window.reason}: {exc.message}; "
                             f"{rules.source}), so it stays frozen",
                             "fix the window (gtoguard config validate says how)")  # fmt: skip
        if span is not None:
            found.append((span[1], window))
    if not found:
        return None
    end, window = max(found, key=lambda pair: pair[0].timestamp())
    until = describe(end, window)
    return Violation(
        "stage-frozen",
        ref,
        f"stage {rules.stage} is frozen until {until} ({window.reason}; {rules.source}): "
        f"no one may {_change(tag, rules.stage, removing, restoring)} now",
        f"push it again after {until}",
    )
