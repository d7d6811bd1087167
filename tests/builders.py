"""Builders for in-process tests of the rules: pushed tag objects, an existing registry,
a policy from its YAML text, and ``evaluate`` run over them. No git, no process.

A pushed tag is a ``(RefUpdate, GitObject)`` pair, as the hook reads it from git; the
registry before the push is a list of ``TagEvent`` (``before``). Times are seconds near
``NOW``, the moment the push arrives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from gtoguard.config.files import parse_gto_config, parse_policy, tag_checker
from gtoguard.model.refupdate import RefUpdate
from gtoguard.model.state import Registry, TagEvent, build_registry
from gtoguard.model.tagname import parse_tag
from gtoguard.policy.context import Context, Facts, Outcome
from gtoguard.policy.evaluate import evaluate
from gtoguard.policy.rules.violation import GitObject
from gtoguard.policy.settings import Policy

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z: when the push arrives
C1, C2, C3 = "c1" * 20, "c2" * 20, "c3" * 20  # commits
ZERO = "0" * 40
GTO = "stages: [dev, staging, prod]\n"

Pushed = tuple[RefUpdate, "GitObject | None"]


def oid(*parts: object) -> str:
    """A stable object id for a made-up object."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()


def new(tag: str, /, commit: str = C1, at: int = NOW, message: str = "", **fields: Any) -> Pushed:
    """A new annotated tag ``tag`` on ``commit``, dated ``at``; ``fields`` replace any of
    the ``GitObject``'s (kind, target_kind, time, name, unreadable, size, ...)."""
    obj = GitObject(
        oid(tag, commit, at, message),
        "tag",
        commit,
        "commit",
        at,
        0,
        "Tagger",
        "tagger@example.com",
        message or f"tag {tag}",
        tag,
        size=200,
    )
    obj = obj._replace(**fields)
    return RefUpdate(f"refs/tags/{tag}", ZERO, obj.oid), obj


def lightweight(name: str, commit: str = C1) -> Pushed:
    obj = GitObject(commit, "commit")
    return RefUpdate(f"refs/tags/{name}", ZERO, commit), obj


def deleted(name: str) -> Pushed:
    """Deleting the existing tag ``name`` (its object id is ``oid(name)``)."""
    return RefUpdate(f"refs/tags/{name}", oid(name), ZERO), None


def moved(name: str, commit: str = C2, at: int = NOW) -> Pushed:
    """Re-pointing the existing tag ``name`` to a new tag object on ``commit``."""
    update, obj = new(name, commit, at)
    return update._replace(old=oid(name)), obj


def event(name: str, at: int = NOW - 100, commit: str = C1, message: str = "") -> TagEvent:
    """A tag already in the registry."""
    return TagEvent(name, parse_tag(name), at, commit, message=message or f"tag {name}")


def policy(text: str = "", server: str = "") -> Policy:
    """The policy a push is judged by: the repository's ``text`` (.gtoguard.yaml), and
    the server's, parsed and validated as the hook does."""
    mine = parse_policy(text.encode(), ".gtoguard.yaml") if text else None
    if not server:
        return mine or Policy()
    theirs = parse_policy(server.encode(), "/etc/gtoguard/policy.yaml", server=True)
    theirs = theirs._replace(server=True)
    return theirs if mine is None else mine.strictest(theirs)


def judge(
    pushed: Sequence[Pushed],
    before: Iterable[TagEvent] = (),
    text: str = "",
    server: str = "",
    gto: str = GTO,
    facts: Facts | None = None,
    **context: Any,
) -> Outcome:
    """``evaluate`` as the pre-receive hook runs it: the tags arrive at ``NOW`` onto a
    registry holding ``before``. ``context`` replaces any of the ``Context``'s fields
    (now, arrived, fresh, freeze_at, deleted, ...)."""
    config = parse_gto_config(gto.encode(), ".gto")
    rules = policy(text, server)
    events = list(before)
    registry = build_registry(events) if events else Registry()
    objects = {obj.oid: obj for _, obj in pushed if obj is not None}
    settings = {"arrived": True, "fresh": True, "facts": facts or Facts(), **context}
    ctx = Context(config, rules, tag_checker(config, rules), settings.pop("now", NOW), **settings)
    return evaluate([update for update, _ in pushed], objects, registry, ctx)


def found(outcome: Outcome) -> tuple[set[str], set[str]]:
    """(rule ids of the errors, rule ids of the warnings) an outcome holds."""
    errors = {v.rule for v in outcome.violations if v.severity == "error"}
    warnings = {v.rule for v in outcome.violations if v.severity == "warning"}
    return errors, warnings
