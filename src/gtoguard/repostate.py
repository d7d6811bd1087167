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
from .policy import GtoConfig, Policy
from .refupdate import RefUpdate
from .registry import Registry, TagEvent
from .rules import Violation
from .tagname import TagNameError, parse_tag

CONFIG_FILES = (cfg.GTO_FILE, cfg.POLICY_FILE)


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
    config = cfg.parse_gto_config(repo.file_at(branch.commit, cfg.GTO_FILE), where + cfg.GTO_FILE)
    policy_data = repo.file_at(branch.commit, cfg.POLICY_FILE)
    policy = (
        cfg.parse_policy(policy_data, where + cfg.POLICY_FILE) if policy_data is not None else None
    )
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


def config_changes(repo: Repo, updates: Iterable[RefUpdate], branch: Branch) -> list[str]:
    """Config files that this batch changes on the default branch."""
    changed = []
    for update in updates:
        if update.ref != branch.ref or update.deleted:
            continue
        old = None if update.created else update.old
        for name in CONFIG_FILES:
            if repo.blob_id_at(old, name) != repo.blob_id_at(update.new, name):
                changed.append(name)
    return changed


def check_config_update(
    repo: Repo, updates: Iterable[RefUpdate], branch: Branch
) -> list[Violation]:
    """A default-branch update may not bring an invalid ``.gto`` or ``.gtoguard.yaml``."""
    violations = []
    for update in updates:
        if update.ref != branch.ref or update.deleted:
            continue
        for name in CONFIG_FILES:
            data = repo.file_at(update.new, name)
            if data is None:
                continue
            for problem in cfg.validate_file(data, name):
                violations.append(
                    Violation("config-invalid", update.ref, str(problem),
                              problem.hint or f"fix {name} and push again")
                )  # fmt: skip
    return violations


def registry_for(
    repo: Repo, artifacts: set[str], names: Sequence[str], exclude: set[str]
) -> Registry:
    """The state of ``artifacts`` from existing tags (names in ``exclude`` left out)."""
    registry = Registry()
    events: list[TagEvent] = []
    candidates = [n for n in names if n not in exclude]
    for name, obj in repo.tags_of(artifacts, candidates):
        try:
            tag = parse_tag(name)
        except TagNameError:
            continue
        if tag.artifact not in artifacts:
            continue
        state = registry.artifact(tag.artifact)
        state.note_counter(tag.counter)
        event = event_of(name, tag, obj)
        if event is not None:
            events.append(event)
    for event in sorted(events, key=lambda e: (e.time, e.tag)):
        registry.add(event)
    return registry


def run(
    repo: Repo,
    updates: Sequence[RefUpdate],
    branch: Branch,
    *,
    existing_exclude: set[str] | None = None,
    now: int | None = None,
) -> Result:
    """Check a batch of updates; raises ``CannotRun`` (e.g. ``ConfigInvalid``) if it cannot."""
    result = Result(Outcome())
    changed = config_changes(repo, updates, branch)
    config_violations = check_config_update(repo, updates, branch) if changed else []
    gto = gto_updates(updates)
    if changed and gto:
        result.notes.append(
            f"this push changes {', '.join(changed)} on {branch.short}; its tags are checked "
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
