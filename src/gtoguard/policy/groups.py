"""A policy's groups (``groups:``): who each stands for, and what is wrong with them. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gtoguard.policy import timebudget

MAX_GROUP_DEPTH = 16  # groups inside groups, at most this deep (config-invalid beyond)


class Groups:
    """A policy's groups, each expanded to its users when first asked for: a group's
    members are its users and the members of the groups it names ('@name'). Each group is
    expanded once, without recursion, so a deep or wide nesting costs time linear in the
    policy, and only the groups the stages name are expanded at all. A name starting with
    '@' is a group, never a user; an undefined group and a cycle add nobody (``config
    validate`` refuses both, and nesting deeper than MAX_GROUP_DEPTH: ``group_problems``)."""

    def __init__(self, groups: Mapping[str, Any]) -> None:
        self._groups = groups
        self._done: dict[str, frozenset[str]] = {}

    def expand(self, written: Any) -> frozenset[str]:
        """The users a list as a policy writes one names ('@group' entries expanded)."""
        return frozenset(
            user
            for item in written
            for user in (self.members(item[1:]) if item.startswith("@") else (item,))
        )

    def members(self, name: str) -> frozenset[str]:
        found = self._done.get(name)
        if found is not None:
            return found
        users: set[str] = set()
        seen, todo = {name}, [name]
        while todo:
            if len(seen) % 1024 == 0:
                timebudget.spend("expanding the policy's groups")
            current = todo.pop()
            done = self._done.get(current)
            if done is not None and current != name:
                users |= done
                continue
            for item in _items(self._groups.get(current)):
                inner = item[1:] if item.startswith("@") else None
                if inner is None:
                    users.add(item)
                elif inner not in seen and inner in self._groups:
                    seen.add(inner)
                    todo.append(inner)
        self._done[name] = frozenset(users)
        return self._done[name]


def _items(entry: Any) -> list[str]:
    return [item for item in entry or () if isinstance(item, str)]


def group_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(JSON path, what is wrong) for each undefined group a policy uses, in a stage's
    pushers or inside another group, each cycle of groups, and each group nested deeper
    than MAX_GROUP_DEPTH. One walk over the groups: time linear in the policy."""
    groups = data.get("groups") or {}
    problems = [(path, f"group {item!r} is not defined") for path, item in undefined_groups(data)]
    for name, items in groups.items():
        for item in _items(items):
            if item.startswith("@") and item[1:] not in groups:
                problems.append((f"/groups/{name}", f"group {item!r} is not defined"))
    depth: dict[str, int] = {}  # a finished group: the longest chain of groups inside it
    for number, root in enumerate(groups):
        if number % 1024 == 1023:
            timebudget.spend("checking the policy's groups")
        if root in depth:
            continue
        path: list[str] = [root]  # the groups being walked, each inside the one before
        on_path = {root}
        stack = [iter(_inner(groups, root))]
        while stack:
            inner = next(stack[-1], None)
            if inner is None:  # every group inside path[-1] is done
                stack.pop()
                current = path.pop()
                on_path.discard(current)
                depth[current] = 1 + max(
                    (depth.get(g, 0) for g in _inner(groups, current) if g not in on_path),
                    default=0,
                )
                if depth[current] == MAX_GROUP_DEPTH + 1:
                    problems.append(
                        (
                            f"/groups/{current}",
                            f"groups are nested more than "
                            f"{MAX_GROUP_DEPTH} deep below '@{current}'",
                        )
                    )
                continue
            if inner in on_path:
                problems.append(
                    (
                        f"/groups/{inner}",
                        f"group '@{inner}' contains itself (through '@{path[-1]}')",
                    )
                )
                continue
            if inner in depth:
                continue
            path.append(inner)
            on_path.add(inner)
            stack.append(iter(_inner(groups, inner)))
    return problems


def _inner(groups: Mapping[str, Any], name: str) -> list[str]:
    """The defined groups that group ``name`` names."""
    return [
        item[1:] for item in _items(groups.get(name)) if item.startswith("@") and item[1:] in groups
    ]


def undefined_groups(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(JSON path, '@group') for every group a policy uses in a stage's ``pushers`` or
    ``approvals.from`` but does not define."""
    groups = data.get("groups") or {}
    found = []
    for stage, entry in (data.get("stages") or {}).items():
        lists = {
            f"/stages/{stage}/pushers": (entry or {}).get("pushers"),
            f"/stages/{stage}/approvals/from": ((entry or {}).get("approvals") or {}).get("from"),
        }
        for path, items in lists.items():
            found += [(path, i) for i in items or () if i.startswith("@") and i[1:] not in groups]
    return found
