"""Which refs a push may write: not the default branch HEAD names once the registry has
tags, not another namespace's refs, no replace ref, nothing but branches and tags unless
the server policy's ``refs.allow`` names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from gtoguard.git.branches import Branch
from gtoguard.git.repo import Repo
from gtoguard.git.tagrefs import tag_names
from gtoguard.model.refupdate import BRANCH_PREFIX, NAMESPACE_PREFIX, TAG_PREFIX, RefUpdate
from gtoguard.model.tagname import is_gto_shaped
from gtoguard.policy.rules.violation import Violation


def claimed_default(repo: Repo, updates: Sequence[RefUpdate], branch: Branch) -> list[Violation]:
    """HEAD names a branch that does not exist while others do (``Branch.missing``), and
    this push creates it. Before any GTO tag that is a repository being set up; once the
    registry has tags, the branch's files would replace the rules GTO tags cannot be
    judged by now, chosen by whoever pushes first: declined, for the server's admin to
    point HEAD at the branch that holds them."""
    if branch.missing is None:
        return []
    claimed = [u for u in updates if u.ref == branch.ref and u.created]
    if not claimed or not any(is_gto_shaped(name) for name in tag_names(repo)):
        return []
    return [
        Violation(
            "config-invalid",
            claimed[0].ref,
            f"{branch.missing}; this push would create it, and so choose the rules of a "
            "registry that has GTO tags already",
            branch.fix,
        )
    ]


def namespaced_refs(updates: Iterable[RefUpdate], namespace: str) -> list[Violation]:
    """Refs of a namespace (``refs/namespaces/<ns>/…``) written from outside it: judged
    there, they would escape that namespace's ``.gto`` and policy, so they are declined.
    (A push into a namespace names its refs without the prefix; this is a write into
    another namespace, or one nested in the push's own ``namespace``.)"""
    violations = []
    for update in updates:
        if not update.ref.startswith(NAMESPACE_PREFIX):
            continue
        parts = [namespace] if namespace else []
        rest = update.ref
        while rest.startswith(NAMESPACE_PREFIX):
            name, _, rest = rest[len(NAMESPACE_PREFIX) :].partition("/")
            parts.append(name)
        space = "/".join(parts)
        violations.append(
            Violation(
                "ref-namespaced",
                update.ref,
                f"this ref belongs to the namespace '{space}'; gtoguard judges a namespace's tags "
                "and config only in a push through that namespace",
                f"push through it (GIT_NAMESPACE={space}, or the URL your host gives it)",
            )
        )
    return violations


REPLACE_PREFIX = "refs/replace/"  # git reads the object such a ref names in place of another
WRITABLE = (BRANCH_PREFIX, TAG_PREFIX)  # what a push may write unless the server allows more


def is_other_ref(ref: str) -> bool:
    """Neither a branch nor a tag (nor another namespace's ref: ``namespaced_refs``)."""
    return not ref.startswith(WRITABLE) and not ref.startswith(NAMESPACE_PREFIX)


def refs_not_allowed(
    updates: Iterable[RefUpdate], allow: Sequence[str], server: bool = True
) -> list[Violation]:
    """A push writes branches and tags, and the refs the server policy's ``refs.allow``
    names. ``refs/replace/`` is never allowed: a replace ref makes every later git
    command read another object in place of the one it names (a forged signature, a
    commit on another branch, an old ``.gto``); deleting one is always allowed. On a
    client (``server`` False) the server's list is unknown: other refs are warnings."""
    violations = []
    for update in updates:
        ref = update.ref
        if not is_other_ref(ref):
            continue
        if ref.startswith(REPLACE_PREFIX):
            if update.deleted:
                continue  # git reads the real object again
            violations.append(
                Violation(
                    "ref-not-allowed",
                    ref,
                    "a replace ref makes git read another object in place of the one it names, "
                    "for every later command on the server; gtoguard never accepts one",
                    "push the objects themselves (branches and tags); to drop replace refs "
                    "from the push, leave refs/replace/* out of its refspecs",
                )
            )
            continue
        if any(fnmatchcase(ref, pattern) for pattern in allow):
            continue
        listed = ", ".join(allow) if allow else "nothing else"
        violations.append(
            Violation(
                "ref-not-allowed",
                ref,
                "a push may write branches (refs/heads/) and tags (refs/tags/), and what the "
                f"server policy's refs.allow lists ({listed})",
                "push a branch or a tag instead; if the server should take such refs, its "
                "admin adds a pattern to refs.allow in the server policy",
                "error" if server else "warning",
            )
        )
    return violations
