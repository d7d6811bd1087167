"""Which ref updates are gto's business: tags whose name, or whose tag object's name, gto
decodes. Kept apart from the evaluation so that the hook, on a push without GTO tags,
answers without importing the rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gtoguard.model.refupdate import RefUpdate
from gtoguard.model.tagname import TagNameError, is_gto_shaped, parse_tag
from gtoguard.policy.rules.violation import GitObject


def gto_updates(
    updates: Iterable[RefUpdate], objects: Mapping[str, GitObject] | None = None
) -> list[RefUpdate]:
    """The updates that are GTO's business: tags whose name holds '@' or '#', and (when
    the objects are known) tags whose object carries such a name: gto reads that one."""
    found = []
    for update in updates:
        if not update.is_tag:
            continue
        if is_gto_shaped(update.tag_name):
            found.append(update)
        elif objects is not None and not update.deleted:
            obj = objects.get(update.new)
            if obj is not None and (
                (obj.name is not None and is_gto_shaped(obj.name))
                or (obj.kind == "tag" and obj.partial and obj.name is None)
            ):
                found.append(update)  # (a tag whose name could not be read may be GTO's)
    return found


def touched_artifacts(updates: Iterable[RefUpdate]) -> set[str]:
    names = set()
    for update in gto_updates(updates):
        try:
            names.add(parse_tag(update.tag_name).artifact)
        except TagNameError:
            continue
    return names
