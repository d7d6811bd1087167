"""What git will refuse to write after pre-receive accepted a push, so that the push is
judged as it will land (docs/design.md §4 point 6, §7).

A push that is not atomic lands ref by ref, and git drops, after the hooks said yes, a
branch update that ``receive.denyNonFastForwards``, ``receive.denyDeletes`` or
``receive.denyDeleteCurrent`` forbid, and any ref the file system cannot store (a path
component longer than 250 bytes: NAME_MAX 255 less git's ``.lock``) or that clashes
with another ref as file and directory (``a`` and ``a/b``). Branch updates git will
refuse are left out of the batch before it is judged; a GTO tag git cannot store
declines the push. Reads only; no output.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from gtoguard.git.objects import object_info
from gtoguard.git.refstore import RefStore
from gtoguard.git.repo import Repo, namespace_prefix
from gtoguard.model.refupdate import BRANCH_PREFIX, RefUpdate, printable_ref
from gtoguard.model.tagname import is_gto_shaped
from gtoguard.policy import timebudget
from gtoguard.policy.rules.violation import Violation

MAX_COMPONENT = 250  # bytes: NAME_MAX (255) less ".lock"
_TRUE = {"true", "yes", "on", "1"}


class Forecast:
    def __init__(self) -> None:
        self.lands: list[RefUpdate] = []  # what git will write, in push order
        self.refused: list[tuple[RefUpdate, str]] = []  # branch, why
        self.violations: list[Violation] = []  # GTO tags git cannot store

    def notes(self) -> list[str]:
        return [
            f"git will refuse {printable_ref(u.ref)} ({why}); the push is judged without it"
            for u, why in self.refused
        ]


def forecast(
    repo: Repo, updates: Sequence[RefUpdate], pushed: Sequence[str] | None = None
) -> Forecast:
    """``updates`` as they land (an alias followed to the ref it names); ``pushed``: the
    names as pushed, which receive-pack's own rules look at (default: the same)."""
    found = Forecast()
    created = sorted(u.ref for u in updates if u.created)
    deleted = {u.ref for u in updates if u.deleted}
    store = _RefStore(repo, deleted)
    names = pushed if pushed is not None else [u.ref for u in updates]
    for number, (update, name) in enumerate(zip(updates, names, strict=True)):
        if number % 256 == 255:
            timebudget.spend("looking at what git will refuse to write")
        why = _refused_branch(repo, update._replace(ref=name))
        problem = _unstorable(update, created, store) if update.created else None
        if problem is not None and update.is_tag and is_gto_shaped(update.tag_name):
            found.violations.append(
                Violation(
                    "tag-malformed",
                    update.ref,
                    f"the server cannot store this name: {problem}; git would drop this tag "
                    "after the check while the rest of the push lands",
                    "choose a shorter name without a clash, and push the tags again",
                )
            )
        elif problem is not None and update.ref.startswith(BRANCH_PREFIX):
            why = why or f"the server cannot store this name: {problem}"
        if why is not None:
            found.refused.append((update, why))
        else:
            found.lands.append(update)
    return found


def _flag(repo: Repo, key: str) -> bool:
    return (repo.config_value(key) or "").strip().lower() in _TRUE


def _refused_branch(repo: Repo, update: RefUpdate) -> str | None:
    """Why receive-pack refuses this branch update by its own rules (it checks only
    ``refs/heads/``), or None. ``update`` under the name it was pushed as: git compares
    that name, not the one an alias leads to, with the current branch (deleting main
    through a ``master -> main`` alias is not refused)."""
    if not update.ref.startswith(BRANCH_PREFIX):
        return None
    if update.deleted:
        if _flag(repo, "receive.denyDeletes"):
            return "receive.denyDeletes is set"
        current = (repo.config_value("receive.denyDeleteCurrent") or "refuse").strip().lower()
        if current not in ("false", "no", "off", "0", "ignore", "warn"):
            head = repo.symbolic_target("HEAD")
            if head == namespace_prefix(repo.namespace) + update.ref:
                return "it is the current branch, and receive.denyDeleteCurrent refuses that"
        return None
    if update.created or not _flag(repo, "receive.denyNonFastForwards"):
        return None
    if not _commit(repo, update.old) or not _commit(repo, update.new):
        return "not a fast-forward, and receive.denyNonFastForwards is set"
    if not repo.reaches(update.new, update.old):
        return "not a fast-forward, and receive.denyNonFastForwards is set"
    return None


def _commit(repo: Repo, oid: str) -> bool:
    try:
        return object_info(repo, oid).kind == "commit"
    except KeyError:
        return False


def _unstorable(update: RefUpdate, created: list[str], store: _RefStore) -> str | None:
    ref = update.ref
    for part in ref.split("/"):
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > MAX_COMPONENT:
            return f"a part of it is {size} bytes long; file systems take at most {MAX_COMPONENT}"
    parts = ref.split("/")
    for end in range(3, len(parts)):
        above = "/".join(parts[:end])
        if store.exists(above) or _has(created, above):
            return f"'{printable_ref(above)}' exists, so '{printable_ref(ref)}' cannot"
    below = ref + "/"
    index = bisect_left(created, below)
    if (index < len(created) and created[index].startswith(below)) or store.has_below(below):
        return f"refs named '{printable_ref(below)}…' exist, so '{printable_ref(ref)}' cannot"
    return None


def _has(names: list[str], name: str) -> bool:
    index = bisect_left(names, name)
    return index < len(names) and names[index] == name


class _RefStore:
    """Existing refs, asked about one name or one prefix at a time."""

    def __init__(self, repo: Repo, deleted: set[str]) -> None:
        self._repo = repo
        self._deleted = deleted
        self._prefix = namespace_prefix(repo.namespace)
        self._files = RefStore(repo.path)

    def exists(self, ref: str) -> bool:
        return ref not in self._deleted and self._repo.ref_target(ref) is not None

    def has_below(self, prefix: str) -> bool:
        return self._files.has_below((self._prefix + prefix).encode("utf-8", "surrogateescape"))
