"""The rules in force over time: an audit judges each tag by the ``.gto`` and
``.gtoguard.yaml`` of the default branch as they stood at the tag's time (DESIGN §4.6).

gto's own rule, as the seed states it: once stages are defined, promotions *after that
point* use only those names. A registry that adopts stages late must not be audited
as if its old tags broke rules that did not exist yet. The hook needs none of this: it
judges a push by the files as they are just before it.

The eras come from the first-parent history of the default branch: each commit there
that changed one of the two files starts an era at its committer date (never before the
era it follows). Walking a long history costs git seconds (half a million commits: about
three), so the eras are kept in ``<git dir>/gtoguard-cache/eras.json`` by branch and tip,
and a later tip only walks the commits that came after the cached one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .gitrepo import Branch, Repo
from .policy import GTO_FILE, POLICY_FILE

EARLIEST = -(1 << 62)


@dataclass(frozen=True)
class Era:
    since: int  # committer date of the commit that made these files current
    commit: str | None  # the commit whose files apply; None: before either file existed


def eras(repo: Repo, branch: Branch) -> list[Era]:
    """The eras of ``branch``'s config, oldest first; the last one holds the files at the
    tip. A branch that never had either file has the one era of no config."""
    if branch.commit is None:
        return [Era(EARLIEST, None)]
    cache = _Cache(Path(repo.path) / "gtoguard-cache" / "eras.json")
    cached = cache.get(branch.ref)
    changes: list[tuple[str, int]] | None = None
    if cached is not None:
        tip, known = cached
        if tip == branch.commit:
            changes = known
        else:
            later = _changes(repo, branch.commit, since=tip)
            if later is not None:
                changes = known + later
    if changes is None:
        changes = _changes(repo, branch.commit) or []
    cache.put(branch.ref, branch.commit, changes)
    found = [Era(EARLIEST, None)]
    for commit, when in changes:
        found.append(Era(max(when, found[-1].since), commit))
    return found


def _changes(repo: Repo, tip: str, since: str | None = None) -> list[tuple[str, int]] | None:
    """(commit, committer date) of the first-parent commits up to ``tip`` that changed
    a config file, oldest first; with ``since``, only those after that commit (None if
    ``since`` is not on ``tip``'s first-parent chain: the branch was rewritten)."""
    spec = [tip] if since is None else [tip, f"^{since}"]
    done = repo.git("log", "--first-parent", "--format=%H %ct", *spec, "--", GTO_FILE,
                    POLICY_FILE)  # fmt: skip
    if done.returncode != 0:
        return None
    found = []
    for line in done.stdout.decode("ascii", "replace").splitlines():
        commit, when = line.split()
        found.append((commit, int(when)))
    found.reverse()
    if since is not None and not _extends(repo, tip, since):
        return None
    return found


def _extends(repo: Repo, tip: str, old: str) -> bool:
    """Whether ``old`` is on ``tip``'s first-parent chain: the oldest commit after it on
    that chain names it as its first parent."""
    done = repo.git("rev-list", "--first-parent", "--reverse", "--parents", tip, f"^{old}")
    if done.returncode != 0:
        return False
    first = done.stdout.split(b"\n", 1)[0].split()
    return len(first) >= 2 and first[1].decode("ascii") == old


class _Cache:
    """Eras by branch, best effort: a cache that cannot be read or written costs the walk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}
        self.entries: dict[str, object] = loaded if isinstance(loaded, dict) else {}

    def get(self, ref: str) -> tuple[str, list[tuple[str, int]]] | None:
        entry = self.entries.get(ref)
        if not isinstance(entry, dict):
            return None
        tip, changes = entry.get("tip"), entry.get("changes")
        if not isinstance(tip, str) or not isinstance(changes, list):
            return None
        try:
            return tip, [(str(c), int(t)) for c, t in changes]
        except (TypeError, ValueError):
            return None

    def put(self, ref: str, tip: str, changes: list[tuple[str, int]]) -> None:
        if self.get(ref) == (tip, changes):
            return
        self.entries[ref] = {"tip": tip, "changes": changes}
        try:
            self.path.parent.mkdir(exist_ok=True)
            temporary = self.path.with_name(f".eras.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(self.entries), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass  # a read-only repository: walk again next time
