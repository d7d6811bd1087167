"""Gather what a check needs from a repository: the config files from the default branch,
the registry of the artifacts a batch touches, the pushed objects. Then run the check.

Shared by the hooks and the CLI. Imported only when there is GTO work to do, so that a
push without GTO tags never pays for yaml and jsonschema.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import config as cfg
from .check import (
    Context,
    Outcome,
    evaluate,
    event_of,
    gto_updates,
    touched_artifacts,
)
from .errors import CannotRun
from .gitrepo import Branch, Repo
from .policy import GTO_FILE, POLICY_FILE, GtoConfig, Policy
from .refupdate import TAG_PREFIX, RefUpdate
from .registry import Registry, TagEvent, build_registry
from .rules import GitObject, Violation
from .tagname import Action, TagNameError, is_gto_shaped, parse_tag


@dataclass
class Result:
    outcome: Outcome
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    config: GtoConfig
    policy: Policy
    origin: str


def load_settings(repo: Repo, branch: Branch) -> Settings:
    """``.gto`` and ``.gtoguard.yaml`` from the default branch, plus the server policy."""
    where = f"{branch.short}:" if branch.ref != "HEAD" else "HEAD:"
    config = cfg.parse_gto_config(repo.file_at(branch.commit, GTO_FILE), where + GTO_FILE)
    policy_data = repo.file_at(branch.commit, POLICY_FILE)
    policy = cfg.parse_policy(policy_data, where + POLICY_FILE) if policy_data is not None else None
    server = server_policy(repo)
    if policy is None:
        policy = server or Policy()
    elif server is not None:
        policy = policy.strictest(server)
    return Settings(config, policy, branch.short)


def server_policy(repo: Repo) -> Policy | None:
    path = os.environ.get("GTOGUARD_POLICY") or repo.config_value("gtoguard.policy")
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise cfg.ConfigInvalid(
            [cfg.Problem(path, "/", f"cannot read the server policy: {exc.strerror}",
                         "fix the path in 'git config gtoguard.policy' or GTOGUARD_POLICY")]
        ) from None  # fmt: skip
    return cfg.parse_policy(data, path)


def check_config_changes(repo: Repo, changes: Iterable[tuple[RefUpdate, str]]) -> list[Violation]:
    """A default-branch update may not bring an invalid ``.gto`` or ``.gtoguard.yaml``."""
    violations = []
    for update, name in changes:
        data = repo.file_at(update.new, name)
        if data is None:
            continue  # deleting a config file is allowed: the defaults apply again
        for problem in cfg.validate_file(data, name):
            hint = problem.hint or f"fix {name} and push again"
            violations.append(Violation("config-invalid", update.ref, str(problem), hint))
    return violations


def gto_tags(repo: Repo) -> list[tuple[str, GitObject]]:
    """(name, object) of every tag whose name holds '@' or '#', in name order."""
    found = []
    for name in sorted(repo.tag_names()):
        if not is_gto_shaped(name):
            continue
        oid = repo.ref_target(TAG_PREFIX + name)
        if oid is not None:
            found.append((name, repo.object_info(oid)))
    return found


def registry_of(
    tags: Iterable[tuple[str, GitObject]], artifacts: set[str] | None = None
) -> Registry:
    """The registry gto reads from these tags (of ``artifacts`` only, when given);
    lightweight ones count for counters only."""
    events: list[TagEvent] = []
    counters: list[tuple[str, int | None]] = []
    for name, obj in tags:
        try:
            tag = parse_tag(name)
        except TagNameError:
            continue
        if artifacts is not None and tag.artifact not in artifacts:
            continue
        counters.append((tag.artifact, tag.counter))
        event = event_of(name, tag, obj)
        if event is not None:
            events.append(event)
    registry = build_registry(events)
    for artifact, counter in counters:
        registry.artifact(artifact).note_counter(counter)
    return registry


def commit_times(repo: Repo, registry: Registry) -> dict[str, int]:
    """Committer dates of the commits that carry versions: gto's enrichment events."""
    commits = {
        e.commit
        for state in registry.artifacts.values()
        for e in state.events
        if e.name.action is not Action.DEPRECATE
    }
    return {c: repo.commit_time(c) for c in commits}


def registry_for(
    repo: Repo, artifacts: set[str], names: Sequence[str], exclude: set[str]
) -> Registry:
    """The state of ``artifacts`` from existing tags (names in ``exclude`` left out)."""
    candidates = [n for n in names if n not in exclude]
    return registry_of(repo.tags_of(artifacts, candidates), artifacts)


def run(
    repo: Repo,
    updates: Sequence[RefUpdate],
    branch: Branch,
    *,
    changes: list[tuple[RefUpdate, str]] | None = None,
    existing_exclude: set[str] | None = None,
    now: int | None = None,
) -> Result:
    """Check a batch of updates; raises ``CannotRun`` (e.g. ``ConfigInvalid``) if it cannot.
    ``changes``: ``repo.config_changes(updates, branch)``, when the caller has it already."""
    result = Result(Outcome())
    if changes is None:
        changes = repo.config_changes(updates, branch)
    config_violations = check_config_changes(repo, changes)
    gto = gto_updates(updates)
    if changes and gto:
        changed = ", ".join(dict.fromkeys(name for _, name in changes))
        result.notes.append(
            f"this push changes {changed} on {branch.short}; its tags are checked "
            "against the files as they were before the push"
        )
    if gto:
        settings = load_settings(repo, branch)
        names = repo.tag_names()
        exclude = {u.tag_name for u in gto} if existing_exclude is None else existing_exclude
        registry = registry_for(repo, touched_artifacts(gto), names, exclude)
        objects = {}
        for update in gto:
            if update.deleted:
                continue
            try:
                objects[update.new] = repo.object_info(update.new)
            except KeyError:
                raise CannotRun(f"object {update.new} of {update.ref} is missing") from None
        ctx = Context(
            settings.config,
            settings.policy,
            cfg.tag_checker(settings.config, settings.policy),
            int(time.time()) if now is None else now,
            settings.origin,
        )
        result.outcome = evaluate(gto, objects, registry, ctx)
    for violation in config_violations:
        result.outcome.add(violation)
    return result
