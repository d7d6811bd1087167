"""Check a batch of ref updates in a repository (``run``): read the rules in force
(``rulefiles``), what this side can know (``facts``), the registry of the artifacts the
batch touches (``tagstate``) and the pushed objects; check what the push brings beside its
tags (``configchecks``, ``refchecks``); then ``evaluate``. It only judges: what a verdict
makes the caller write (the tombstones of accepted deletions) the caller writes.

Shared by the hooks and the CLI. Imported only when there is GTO work to do, so that a
push without GTO tags never pays for yaml and jsonschema.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence

from gtoguard.errors import ContentFailure
from gtoguard.git.branches import Branch, config_changes
from gtoguard.git.objects import object_info, pushed_object
from gtoguard.git.repo import Repo
from gtoguard.git.tagrefs import tag_targets
from gtoguard.model.approvalrefs import OWN_PREFIX
from gtoguard.model.refupdate import TAG_PREFIX, RefUpdate
from gtoguard.model.state import Registry, TagEvent
from gtoguard.model.tagname import TagNameError, parse_tag
from gtoguard.model.tagobject import HEAD_CAP
from gtoguard.policy import clock, timebudget
from gtoguard.policy.context import Context, Outcome, event_of
from gtoguard.policy.evaluate import evaluate
from gtoguard.policy.rules.pushers import SERVER_IDENTITY_HINT
from gtoguard.policy.rules.violation import GitObject, Violation
from gtoguard.policy.scope import gto_updates, touched_artifacts
from gtoguard.policy.settings import GtoConfig, Policy
from gtoguard.registry import tombstones
from gtoguard.registry.configchecks import check_config_changes, index_problems, tip_problems
from gtoguard.registry.facts import Where, facts_for
from gtoguard.registry.refchecks import (
    claimed_default,
    is_other_ref,
    namespaced_refs,
    refs_not_allowed,
)
from gtoguard.registry.rulefiles import load_settings, server_policy
from gtoguard.registry.tagstate import registry_for


class Result:
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.notes: list[str] = []
        self.receipt: list[str] = []  # what an accepted push changes
        # the deletions a server must remember before it accepts them (tombstones.keep)
        self.deleted: list[RefUpdate] = []


def pushed_objects(repo: Repo, updates: Iterable[RefUpdate]) -> dict[str, GitObject]:
    """The new side of every created or moved tag (gto reads a tag by its object), by its
    head for now: its name, target and tagger are all a plain tag needs, and a GTO tag's
    message is read whole once the policy says how long it may be (``whole_messages``)."""
    objects = {}
    for number, update in enumerate(updates):
        if number % 16 == 15:
            timebudget.spend("reading the pushed tag objects")
        if update.is_tag and not update.deleted and update.new not in objects:
            try:
                objects[update.new] = pushed_object(repo, update.new, HEAD_CAP)
            except KeyError:
                raise ContentFailure(f"object {update.new} of {update.ref} is missing") from None
    return objects


MAX_MESSAGES = 64 << 20  # bytes of pushed tag messages one push may make the hook hold


def whole_messages(
    repo: Repo, objects: dict[str, GitObject], gto: Iterable[RefUpdate], max_message: int
) -> None:
    """Read whole the GTO tags' objects read by their heads, where the policy allows
    their size (past it, ``tag-too-large`` needs no message). At most MAX_MESSAGES bytes
    in all: a push past that is too large to judge (``push-too-large``)."""
    held = 0
    for update in gto:
        obj = objects.get(update.new)
        if obj is None or not obj.partial or obj.size > max_message:
            continue
        held += obj.size
        if held > MAX_MESSAGES:
            raise timebudget.TooMuch(
                f"its tag objects hold more than {MAX_MESSAGES >> 20} MiB of messages to read"
            )
        timebudget.spend("reading the pushed tag messages")
        objects[update.new] = pushed_object(repo, update.new, max_message)


def _freeze_at(policy: Policy, where: Where | None, now: int | None, notes: list[str]) -> int:
    """The moment the freeze windows are judged at: the push's (``now``, else this
    machine's clock, else the test clock). Said in a note when the test clock is set."""
    if now is not None:
        return now
    env = where.env if where is not None else os.environ
    note = clock.clock_note(env) if any(r.freeze for r in policy.stages) else None
    if note is not None:
        notes.append(note)
    return clock.freeze_now(env)


def _add_removed(
    repo: Repo, updates: Sequence[RefUpdate], before: dict[str, list[TagEvent]]
) -> None:
    """The receipt's "before" holds what a deleted or moved tag was, where the registry
    did not (pre-push: the clone's registry leaves the pushed names out, and a deleted
    tag is gone from the clone already); its old object, if this repository has it."""
    for update in updates:
        if update.created or not (update.deleted or update.moved):
            continue
        try:
            tag = parse_tag(update.tag_name)
            obj = object_info(repo, update.old)
        except (TagNameError, KeyError):
            continue
        events = before.setdefault(tag.artifact, [])
        event = event_of(update.tag_name, tag, obj)
        if event is not None and all(e.tag != event.tag for e in events):
            events.append(event)


RECEIPT_RESERVE = 0.5  # seconds of the budget the receipt leaves to git and the landing


def _receipt(
    repo: Repo,
    before: Mapping[str, list[TagEvent]],
    registry: Registry,
    config: GtoConfig,
    notes: list[str],
) -> list[str]:
    """The push's receipt, from the state the check judged it against (``before``) and the
    state the check left (``registry``). Never worth declining a push for: with the time
    budget nearly spent it is left out, and said so."""
    from gtoguard.model.receipt import receipt

    left = timebudget.left()
    if left is not None and left < RECEIPT_RESERVE:
        notes.append("no receipt: this push used its time budget up")
        return []
    commits = {e.commit for events in before.values() for e in events}
    commits |= {e.commit for state in registry.artifacts.values() for e in state.events}
    lines = receipt(before, registry, {c: repo.commit_time(c) for c in commits}, config.stages)
    return lines or ["nothing that gto readers show (the tags join the history only)"]


def run(
    repo: Repo,
    updates: Sequence[RefUpdate],
    branch: Branch,
    *,
    changes: list[tuple[RefUpdate, str]] | None = None,
    existing_exclude: set[str] | None = None,
    now: int | None = None,
    where: Where | None = None,
    receipt: bool = False,
) -> Result:
    """Check a batch of updates; raises ``CannotRun`` (e.g. ``ConfigInvalid``) if it cannot.
    ``changes``: ``config_changes(repo, updates, branch)``, when the caller has it already;
    ``receipt``: say in ``Result.receipt`` what an accepted batch changes (the hooks)."""
    result = Result(Outcome())
    if changes is None:
        changes = config_changes(repo, updates, branch)
    config_violations = check_config_changes(repo, changes)
    config_violations += namespaced_refs(updates, repo.namespace)
    config_violations += claimed_default(repo, updates, branch)
    config_violations += tip_problems(repo, updates, branch)
    other = [u for u in updates if is_other_ref(u.ref) and not u.ref.startswith(OWN_PREFIX)]
    own = [u for u in updates if u.ref.startswith(OWN_PREFIX)]
    if own:  # gtoguard's own namespace is judged by gtoguard, whatever refs.allow says
        config_violations += _own_refs(repo, own, branch, where, now, result.notes)
    if other:
        server = where is None or where.side == "server"
        config_violations += refs_not_allowed(other, _allowed_refs(repo, where), server)
    objects = pushed_objects(repo, updates)
    gto = gto_updates(updates, objects)
    if changes and gto:
        changed = ", ".join(dict.fromkeys(name for _, name in changes))
        result.notes.append(
            f"this push changes {changed} on {branch.short}; its tags are checked "
            "against the files as they were before the push"
        )
    if gto:
        if branch.missing is not None and any(
            u.ref == branch.ref and not u.deleted for u in updates
        ):  # this push creates the default branch: before it, no config (no GTO tag yet
            # either: ``claimed_default`` declines the push otherwise)
            branch = Branch(branch.ref, None)
        settings = load_settings(repo, branch)
        timebudget.limit(settings.policy.budget)
        whole_messages(repo, objects, gto, settings.policy.tags.max_message)
        config_violations += index_problems(repo, gto, objects, settings.cache)
        touched = touched_artifacts(gto)
        names = tag_targets(repo, touched)
        exclude = (
            {u.tag_name for u in gto if u.created} if existing_exclude is None else existing_exclude
        )
        registry = registry_for(repo, touched, names, exclude)
        before = {
            name: list(registry.artifacts[name].events) if name in registry.artifacts else []
            for name in touched
        }
        if receipt:
            _add_removed(repo, gto, before)
        ctx = Context(
            settings.config,
            settings.policy,
            settings.tag_checker(),
            int(time.time()) if now is None else now,
            settings.origin,
            facts_for(repo, where or Where("server"), settings.policy, updates),
            deleted=(
                tombstones.read(repo.path, repo.namespace)
                if settings.policy.tags.allow_delete
                else {}
            ),
            arrived=True,
            freeze_at=_freeze_at(settings.policy, where, now, result.notes),
            fresh=True,
        )
        result.outcome = evaluate(gto, objects, registry, ctx)
        if settings.cache is not None:
            settings.cache.save()  # the verdicts jsonschema reached, for the next push
        if receipt and result.outcome.ok:
            result.receipt = _receipt(repo, before, registry, settings.config, result.notes)
            result.receipt = _with_approvers(result.receipt, result.outcome.approved)
        if (
            result.outcome.ok
            and settings.policy.tags.allow_delete
            and (where is None or where.side == "server")
        ):  # the server's caller records them (tombstones.keep) before it accepts the push
            result.deleted = [u for u in gto if u.deleted]
    for violation in config_violations:
        result.outcome.add(violation)
    return result


def _with_approvers(lines: list[str], approved: Mapping[str, list[str]]) -> list[str]:
    """Each promotion that needed approvals says whose: ``churn: v1.3.0 → prod (approved
    by bob, carol)``."""
    for ref, names in approved.items():
        try:
            tag = parse_tag(ref[len(TAG_PREFIX) :])
        except TagNameError:
            continue
        for number, line in enumerate(lines):
            if line.startswith(f"{tag.artifact}: ") and f" → {tag.stage}" in line:
                lines[number] = f"{line} (approved by {', '.join(names)})"
                break
    return lines


def _own_refs(
    repo: Repo,
    own: Sequence[RefUpdate],
    branch: Branch,
    where: Where | None,
    now: int | None,
    notes: list[str],
) -> list[Violation]:
    """Requests and approvals pushed (``registry/approvals.py``): on the server, each
    names its pusher; a server that cannot tell who pushes declines them."""
    from gtoguard.policy.identity import pusher
    from gtoguard.registry.approvals import own_ref_violations

    where = where or Where("server")
    settings = load_settings(repo, branch)
    policy = settings.policy
    who = None
    if where.side == "server":
        who = pusher(where.env, policy.identity_variable)
        if who is None:
            facts = facts_for(repo, where, policy)
            return [
                Violation(
                    "identity-unknown",
                    u.ref,
                    "a request or an approval names the person who pushes it, and no pusher "
                    f"identity is available here ({facts.identity_from})",
                    SERVER_IDENTITY_HINT,
                )
                for u in own
            ]
    # the server's clock at the push (freeze windows' too: GTOGUARD_NOW in tests)
    moment = _freeze_at(policy, where, now, notes)
    freeze_at = moment if where.side == "server" else None
    return own_ref_violations(repo, own, policy, who.name if who else None, moment, freeze_at)


def _allowed_refs(repo: Repo, where: Where | None) -> tuple[str, ...]:
    """The server policy's ``refs.allow`` (on the server; a client cannot know it)."""
    if where is not None and where.side != "server":
        return ()
    policy = server_policy(repo, where.env if where is not None else None)
    return policy.refs_allow if policy is not None else ()
