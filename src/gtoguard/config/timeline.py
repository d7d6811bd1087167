"""The rules in force over time: an audit judges each tag by the ``.gto`` and
``.gtoguard.yaml`` of the default branch as they stood at the tag's time (docs/design.md §4 point 6).

gto's own rule, as the seed states it: once stages are defined, promotions *after that
point* use only those names. A registry that adopts stages late must not be audited
as if its old tags broke rules that did not exist yet. The hook needs none of this: it
judges a push by the files as they are just before it.

The eras come from the first-parent history of the default branch: each commit there
that changed one of the two files starts an era. The branch orders them, not their
committer dates, which whoever commits writes. An era starts at its commit's date, but
never after the date of a commit that follows it on the branch, nor after now: a date
up to five minutes later than those is a clock a little off, and the era starts at the
later date (or now); a date later by more is wrong, and the era starts when the commit
before it was made (it came after that one; that is all the branch vouches for). So
one commit dated 2099 cannot keep every later policy out until 2099, nor hold back its
own past a push that the hook judged by it. Finding that takes the date of every
first-parent commit, not only of the changes: a second walk, run beside the first.

Walking a long history costs git seconds (half a million commits: about three), so
what the walks found is kept in ``<git dir>/gtoguard-cache/eras.json`` by branch and
tip, as the commits have it (dates as written, never as of a moment), and a later tip
only walks the commits that came after the cached one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gtoguard.errors import CannotRun
from gtoguard.git import invoke
from gtoguard.git.branches import Branch
from gtoguard.git.repo import Repo
from gtoguard.policy.settings import GTO_FILE, POLICY_FILE

EARLIEST = -(1 << 62)
SKEW = 300  # seconds two honest clocks may differ by (the default of tags.clock_skew)


@dataclass(frozen=True)
class Era:
    since: int  # when these files became current, in the branch's order
    config_commit: str | None  # the commit whose files apply; None: before either file existed
    dated: int | None = None  # the commit's own date, when it was taken as wrong


@dataclass(frozen=True)
class Change:
    """A first-parent commit that changed a config file, with the dates around it."""

    commit: str
    date: int  # its committer date, as written
    before: int | None  # the date of its first parent; None: the branch's first commit
    after: int | None  # the earliest date of a first-parent commit after it; None: the tip


@dataclass(frozen=True)
class _Walked:
    tip: str
    date: int  # the tip's committer date: the ``before`` of the next walk's oldest commit
    changes: list[Change]


def eras(repo: Repo, branch: Branch, now: int | None = None) -> list[Era]:
    """The eras of ``branch``'s config, oldest first; the last one holds the files at the
    tip. A branch that never had either file has the one era of no config."""
    if branch.commit is None:
        return [Era(EARLIEST, None)]
    cache = _Cache(Path(repo.path) / "gtoguard-cache" / "eras.json")
    walked = cache.get(branch.ref)
    if walked is None or walked.tip != branch.commit:
        later = None if walked is None else _walk(repo, branch.commit, walked)
        walked = later or _walk(repo, branch.commit, None)
        if walked is None:  # git cannot walk it: every tag is judged by the files of today
            return [Era(EARLIEST, None)]
        cache.put(branch.ref, walked)
    return ordered(walked.changes, int(time.time()) if now is None else now)


def ordered(changes: Sequence[Change], now: int) -> list[Era]:
    """The eras of ``changes`` (oldest first) as the branch orders them. Pure."""
    found = [Era(EARLIEST, None)]
    for change in changes:
        bound = min(when for when in (change.date, change.after, now) if when is not None)
        since, dated = bound, None
        if change.date - bound > SKEW and change.before is not None:
            # a date that is wrong, not a clock a little off: the commit came after the
            # one before it, which is all the branch vouches for
            since, dated = min(change.before, bound), change.date
        # (never before the era it follows: the bounds above already keep that order)
        found.append(Era(max(since, found[-1].since), change.commit, dated))
    return found


def _walk(repo: Repo, tip: str, known: _Walked | None) -> _Walked | None:
    """What the first-parent history up to ``tip`` holds; with ``known``, only the commits
    after its tip are walked (None if that tip is not on ``tip``'s first-parent chain:
    the branch was rewritten). The two walks run at once: on a second core, the dates
    cost no time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_changed, repo, tip, known)
        chain = _chain(repo, tip, known)
        changed = pending.result()
    if chain is None or changed is None:
        return None
    commits, dates = chain
    added = []
    earliest, seen = None, 0  # the earliest date of commits[:seen], all after the one at hand
    for index, commit in enumerate(commits):
        if commit not in changed:
            continue
        if index > seen:
            earliest = _least(earliest, min(dates[seen:index]))
        seen = index
        before = dates[index + 1] if index + 1 < len(dates) else None
        if index + 1 == len(dates) and known is not None:
            before = known.date  # the oldest walked commit's parent: the cached tip
        added.append(Change(commit, dates[index], before, earliest))
    added.reverse()
    if known is None:
        return _Walked(tip, dates[0], added)
    least = min(dates)  # every walked commit came after every known change
    kept = [Change(c.commit, c.date, c.before, _least(c.after, least)) for c in known.changes]
    return _Walked(tip, dates[0], kept + added)


def _least(one: int | None, other: int | None) -> int | None:
    return other if one is None else one if other is None else min(one, other)


def _chain(repo: Repo, tip: str, known: _Walked | None) -> tuple[list[str], list[int]] | None:
    """The commits of the first-parent chain up to ``tip`` and their committer dates,
    newest first; with ``known``, only those after its tip, and None unless the oldest
    of them is that tip's child (else the branch was rewritten: walk it all). Half a
    million of them are read as two columns, not line by line."""
    import subprocess
    import tempfile

    spec = [tip] if known is None else [tip, f"^{known.tip}"]
    # through a file: 26 MB through a pipe cost git and us more than the walk itself; git
    # started as every git gtoguard runs (invoke): the history as stored, no replace refs
    with tempfile.TemporaryFile() as listing:
        try:
            done = invoke.run(
                ["rev-list", "--first-parent", "--timestamp", *spec],
                repo.workdir or repo.path,
                capture_output=False,
                stdout=listing,
                stderr=subprocess.DEVNULL,
            )
        except CannotRun:
            return None
        if done.returncode != 0:
            return None
        listing.seek(0)
        fields = listing.read().decode("ascii", "replace").split()
    commits, dates = fields[1::2], [int(when) for when in fields[0::2]]
    if not commits:
        return None
    if known is not None:
        parent = repo.git("rev-parse", "--verify", "--quiet", f"{commits[-1]}^")
        if parent.stdout.decode("ascii", "replace").strip() != known.tip:
            return None
    return commits, dates


def _changed(repo: Repo, tip: str, known: _Walked | None) -> set[str] | None:
    """The first-parent commits up to ``tip`` (after ``known``'s tip) that changed a
    config file."""
    spec = [tip] if known is None else [tip, f"^{known.tip}"]
    done = repo.git("log", "--first-parent", "--format=%H", *spec, "--", GTO_FILE, POLICY_FILE)
    if done.returncode != 0:
        return None
    return set(done.stdout.decode("ascii", "replace").split())


class _Cache:
    """Walks by branch, best effort: a cache that cannot be read or written costs the walk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}
        self.entries: dict[str, object] = loaded if isinstance(loaded, dict) else {}

    def get(self, ref: str) -> _Walked | None:
        entry = self.entries.get(ref)
        if not isinstance(entry, dict):
            return None
        tip, date, changes = entry.get("tip"), entry.get("date"), entry.get("changes")
        if not isinstance(tip, str) or not isinstance(date, int) or not isinstance(changes, list):
            return None
        try:
            return _Walked(tip, date, [Change(str(c), int(d), _number(b), _number(a))
                                       for c, d, b, a in changes])  # fmt: skip
        except (TypeError, ValueError):
            return None  # an older layout, or damage: walk again

    def put(self, ref: str, walked: _Walked) -> None:
        entry = {
            "tip": walked.tip,
            "date": walked.date,
            "changes": [[c.commit, c.date, c.before, c.after] for c in walked.changes],
        }
        if self.entries.get(ref) == entry:
            return
        self.entries[ref] = entry
        try:
            self.path.parent.mkdir(exist_ok=True)
            temporary = self.path.with_name(f".eras.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(self.entries), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass  # a read-only repository: walk again next time


def _number(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value
