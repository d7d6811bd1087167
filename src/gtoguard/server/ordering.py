"""Updates of a push that rely on a later update of the same push.

pre-receive judges a push whole, in tagger-date order; git lands a push that is not
atomic ref by ref, in push order (``git push --tags`` sends names in byte order, so
``churn#prod#2`` before ``churn#staging#1``). A tag that relies on a later one (a prod
promotion from a staging tag pushed after it, an unassign of a stage assigned after it,
a tag on a branch that a later update moves) would land before what it relies on, and
stay if that is refused. Such a tag is marked in the plan: the landing guard judges it
when it lands, against the refs as they are then. In an atomic push, what it relies on
lands in the same transaction, and it passes.

Only the rules where a tag needs another (``from``, registration required, unassign,
deregister, ``branches``) make a candidate, so that the common pushes (registrations and
assignments under the default policy) cost nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gtoguard.git.branches import Branch
from gtoguard.git.repo import Repo
from gtoguard.model.refupdate import BRANCH_PREFIX, RefUpdate
from gtoguard.model.tagname import Action, TagName, TagNameError, is_gto_shaped, parse_tag
from gtoguard.policy.settings import Policy
from gtoguard.registry import judge, tombstones
from gtoguard.registry.facts import Where
from gtoguard.registry.rulefiles import load_settings

MAX_CHECKS = 20  # candidates judged one by one; beyond, they are marked unjudged


@dataclass(frozen=True)
class Reliance:
    later: list[RefUpdate]  # updates whose verdict needs a later update of the push
    earlier: bool  # whether any update may need an earlier one (then skips matter)


@dataclass
class _Push:
    """Where, in push order, each artifact's updates and the branch updates are."""

    parsed: list[tuple[RefUpdate, TagName | None]]
    branches: list[int] = field(default_factory=list)
    of: dict[str, list[int]] = field(default_factory=dict)  # artifact -> its updates
    changes: dict[str, list[int]] = field(default_factory=dict)  # its deletions and moves

    @classmethod
    def of_updates(cls, lands: Sequence[RefUpdate]) -> _Push:
        push = cls([(u, _tag(u)) for u in lands])
        for index, (update, tag) in enumerate(push.parsed):
            if update.ref.startswith(BRANCH_PREFIX):
                push.branches.append(index)
            if tag is not None:
                push.of.setdefault(tag.artifact, []).append(index)
                if update.deleted or update.moved:
                    push.changes.setdefault(tag.artifact, []).append(index)
        return push


def reliance(
    repo: Repo, lands: Sequence[RefUpdate], branch: Branch, env: Mapping[str, str]
) -> Reliance:
    """Which updates of ``lands`` (in push order) need a later one, and whether any may
    need an earlier one. The policy is read only when the push has the shape for it."""
    push = _Push.of_updates(lands)
    shaped = [i for i, (u, t) in enumerate(push.parsed) if t is not None and not u.deleted]
    if not any(_before(push, i, later) for i in shaped for later in (True, False)):
        return Reliance([], False)
    policy = load_settings(repo, branch).policy
    earlier = any(_candidate(push, i, policy, later=False) for i in shaped)
    candidates = [i for i in shaped if _candidate(push, i, policy, later=True)]
    found = []
    where = Where("server", env)
    for count, index in enumerate(candidates):
        update, tag = push.parsed[index]
        assert tag is not None
        if count >= MAX_CHECKS:
            found.append(update)
            continue
        before = [
            u
            for u, t in push.parsed[:index]
            if u.ref.startswith(BRANCH_PREFIX) or (t and t.artifact == tag.artifact)
        ]
        result = judge.run(repo, [*before, update], branch, where=where)
        tombstones.keep(repo, result.deleted)  # as every server-side check does
        outcome = result.outcome
        if update.ref in outcome.declined_refs:
            found.append(update)
    return Reliance(found, earlier)


def _tag(update: RefUpdate) -> TagName | None:
    if not update.is_tag or not is_gto_shaped(update.tag_name):
        return None
    try:
        return parse_tag(update.tag_name)
    except TagNameError:
        return None


def _other(positions: Sequence[int], index: int, later: bool) -> bool:
    """Whether ``positions`` hold one after ``index`` (``later``) or before it."""
    if not positions:
        return False
    return positions[-1] > index if later else positions[0] < index


def _before(push: _Push, index: int, later: bool) -> bool:
    tag = push.parsed[index][1]
    assert tag is not None
    return _other(push.branches, index, later) or _other(push.of[tag.artifact], index, later)


def _candidate(push: _Push, index: int, policy: Policy, later: bool) -> bool:
    """Whether a rule can make this tag need another update of the push (a later one, or
    an earlier one): of its artifact (``from``, registration required, unassign,
    deregister, a deletion or move), or of a branch (``branches``)."""
    tag = push.parsed[index][1]
    assert tag is not None
    rules = policy.rules_for(tag.stage) if tag.stage else ()
    if _other(push.branches, index, later) and any(r.branches for r in rules):
        return True
    if not _other(push.of[tag.artifact], index, later):
        return False
    if _other(push.changes.get(tag.artifact, []), index, later):
        return True
    if tag.action in (Action.UNASSIGN, Action.DEREGISTER):
        return True
    return tag.action is Action.ASSIGN and (
        policy.registration_required or any(r.from_stages for r in rules)
    )
