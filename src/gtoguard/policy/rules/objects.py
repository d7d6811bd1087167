"""The object a tag ref points at: readable by gto, not too large, annotated, a commit
tagged, a tagger line."""

from __future__ import annotations

from gtoguard.model.printable import short
from gtoguard.model.refupdate import TAG_PREFIX
from gtoguard.policy.rules.names import check_one_name
from gtoguard.policy.rules.violation import GitObject, Violation
from gtoguard.policy.settings import Policy


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
        f"create it annotated: git tag -a '{name}' -m '…' {short(obj.oid)} (or use gtoguard)",
    )


def check_target(ref: str, obj: GitObject) -> Violation | None:
    if obj.kind == "missing":  # a damaged repository: the ref names no object here
        return Violation(
            "tag-target",
            ref,
            f"the ref names object {short(obj.oid)}, which is missing from the repository",
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
