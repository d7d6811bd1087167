"""The server's decision log (server policy ``log: PATH``): one JSON line per push the
pre-receive hook decided, accepted or declined, and the reader behind ``gtoguard log``.

Each line is written by one ``os.write`` on a descriptor opened with ``O_APPEND``: the
kernel moves to the end and writes in one step, so lines of concurrent pushes never
interleave or overwrite each other (on a local file system; not over NFS). A log that
cannot be written never changes a verdict: the hook says so on stderr and goes on.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gtoguard.model.refupdate import RefUpdate, printable_ref
from gtoguard.policy.rules.violation import Violation

if TYPE_CHECKING:
    from datetime import datetime

ACCEPTED, DECLINED, UNCHECKED = "accepted", "declined", "accepted-unchecked"
MAX_LOGGED = 100  # refs and violations listed in one decision's line (the counts: all)


def record(
    updates: Sequence[RefUpdate],
    verdict: str,
    violations: Sequence[Violation],
    env: Mapping[str, str],
    dropped: int = 0,
    approved: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """pre-receive's decision, appended to the server policy's ``log`` if it names one.
    A server policy that cannot be read names no log (the push was declined for it).
    ``dropped``: the bytes of the report the pusher did not read (it hung up)."""
    import time

    from gtoguard.config.problems import ConfigInvalid
    from gtoguard.config.verdictcache import VerdictCache
    from gtoguard.git.repo import open_repo
    from gtoguard.policy.clock import TEST_CLOCK
    from gtoguard.policy.identity import pusher
    from gtoguard.registry.facts import Where, repository_name
    from gtoguard.registry.rulefiles import server_policy

    repo = open_repo(None)
    try:  # read as the check read it: a file validated before is not parsed again
        policy = server_policy(repo, env, VerdictCache(Path(repo.path) / "gtoguard-cache"))
    except ConfigInvalid:
        return
    if policy is None or policy.log is None:
        return
    who = pusher(env, policy.identity_variable)
    name = repository_name(repo, Where("server", env)) or repo.path.rstrip("/")
    line = entry(
        time.time(),
        name,
        (who.name, who.source) if who else None,
        "pre-receive",
        updates,
        verdict,
        violations,
        env.get(TEST_CLOCK) or None,
    )
    if dropped:  # the pusher stopped reading (or hung up): it did not see the whole report
        line["output_dropped"] = dropped
    if approved and verdict == ACCEPTED:  # who approved each promotion that needed it
        line["approvals"] = {printable_ref(ref): list(names) for ref, names in approved.items()}
    try:
        append(policy.log, line)
    except OSError as exc:
        raise OSError(f"{policy.log}: {exc.strerror or exc}") from None


def entry(
    when: float,
    repository: str,
    pusher: tuple[str, str] | None,
    hook: str,
    updates: Sequence[RefUpdate],
    verdict: str,
    violations: Sequence[Violation],
    clock: str | None = None,
) -> dict[str, Any]:
    """One decision. ``pusher``: (name, the variable it came from), None when unknown;
    ``clock``: the test clock (GTOGUARD_NOW), when one was in force."""
    line: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(int(when))),
        "repository": repository,
        "pusher": pusher[0] if pusher else None,
        "pusher_from": pusher[1] if pusher else None,
        "hook": hook,
        "refs": [
            {"ref": printable_ref(u.ref), "old": u.old, "new": u.new}
            for u in (updates if verdict == ACCEPTED else updates[:MAX_LOGGED])
        ],
        "verdict": verdict,
        "violations": [
            {"ref": printable_ref(v.ref), "rule": v.rule, "severity": v.severity}
            for v in violations[:MAX_LOGGED]
        ],
    }
    # a declined push of 20,000 refs is one line of a bounded size: the first ones and the
    # counts (an accepted push lists every ref it landed: an audit reads who pushed them)
    if len(updates) > MAX_LOGGED and verdict != ACCEPTED:
        line["refs_total"] = len(updates)
    if len(violations) > MAX_LOGGED:
        line["violations_total"] = len(violations)
        line["rules"] = sorted({v.rule for v in violations})
    if clock is not None:
        line["clock"] = clock
    return line


def append(path: str, line: Mapping[str, Any]) -> None:
    """Append ``line`` as one JSON line, in one write; raises ``OSError``."""
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
    # never through a symbolic link (the hook would append to whatever it names), and
    # never wait: a FIFO there would hold the push (and the repository's lock) for ever
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o660)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(f"{path} is a symbolic link; the log is written only to a file") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file; the log is written only to a file")
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):  # a full disk: the line is cut, and says so by not parsing
        raise OSError(f"only {written} of {len(data)} bytes were written")


def read(path: str) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, decision) for each line; None for a line that is not one (a line
    cut by a full disk, or not JSON)."""
    with open(path, "rb") as log:
        for number, raw in enumerate(log, start=1):
            if not raw.strip():
                continue
            try:
                found = json.loads(raw)
            except ValueError:
                found = None
            yield number, found if is_decision(found) else None


def is_decision(found: object) -> bool:
    """Whether a parsed line has a decision's shape (as ``entry`` writes it): a line of
    other JSON is reported like a cut one, never shown as a decision of ``None`` s."""
    if not isinstance(found, dict) or not isinstance(found.get("time"), str):
        return False
    if moment(found) is None or not isinstance(found.get("verdict"), str):
        return False
    listed = (found.get("refs"), found.get("violations"))
    return all(isinstance(v, list) and all(isinstance(x, dict) for x in v) for v in listed)


def pushers(path: str, limit: int = 64 << 20) -> dict[tuple[str, str], tuple[str, str]]:
    """(ref, object id) -> (pusher, the variable it came from) of every ref an accepted
    push landed, from the log at ``path`` (its first ``limit`` bytes of lines: a rotated
    log's older pushes are in the rotated files). Unreadable lines are skipped."""
    return {key: (who, source) for key, (who, source, _) in landings(path, limit).items()}


def rotated(path: str) -> list[str]:
    """The log and the files logrotate made of it (``decisions.jsonl.1``,
    ``decisions.jsonl.2.gz``, …), oldest first."""
    import glob
    import re

    numbered = []
    for name in glob.glob(glob.escape(path) + ".*"):
        found = re.fullmatch(re.escape(path) + r"\.([0-9]{1,4})(\.gz)?", name)
        if found:
            numbered.append((-int(found[1]), name))
    return [name for _, name in sorted(numbered)] + [path]


def landings(path: str, limit: int = 64 << 20) -> dict[tuple[str, str], tuple[str, str, int]]:
    """``pushers``, with the moment each push was accepted (epoch seconds): the arrival
    a ``soak`` counts from where the log knows it. The rotated files are read too."""
    found: dict[tuple[str, str], tuple[str, str, int]] = {}
    for line in accepted_lines(path, limit):
        who, source = line.get("pusher"), line.get("pusher_from")
        when = moment(line)
        if not isinstance(who, str) or not isinstance(source, str) or when is None:
            continue
        for ref in line.get("refs") or ():
            if isinstance(ref.get("ref"), str) and isinstance(ref.get("new"), str):
                found[(ref["ref"], ref["new"])] = (who, source, int(when.timestamp()))
    return found


def logged_approvals(path: str, limit: int = 64 << 20) -> dict[tuple[str, str], list[str]]:
    """(ref, object id) -> who approved it, for every ref an accepted push landed (an
    empty list: it landed with no approvals); the rotated files are read too."""
    found: dict[tuple[str, str], list[str]] = {}
    for line in accepted_lines(path, limit):
        given = line.get("approvals")
        given = given if isinstance(given, dict) else {}
        for ref in line.get("refs") or ():
            name, new = ref.get("ref"), ref.get("new")
            if isinstance(name, str) and isinstance(new, str):
                names = given.get(name)
                found[(name, new)] = (
                    [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
                )
    return found


def accepted_lines(path: str, limit: int = 64 << 20) -> Iterator[dict[str, Any]]:
    """The accepted decisions of the log and of the files logrotate made of it, oldest
    first, at most ``limit`` bytes of lines in all (the newest files win)."""
    files = rotated(path)
    sizes = [_size(name) for name in files]
    while len(files) > 1 and sum(sizes) > limit:  # the oldest go first
        files, sizes = files[1:], sizes[1:]
    for name in files:
        yield from _accepted(name, limit)


def _size(name: str) -> int:
    try:
        return os.path.getsize(name) * (8 if name.endswith(".gz") else 1)  # gz: a guess
    except OSError:
        return 0


def _accepted(path: str, limit: int) -> Iterator[dict[str, Any]]:
    import gzip

    read_bytes = 0
    try:
        opened = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # noqa: SIM115
        with opened as log:
            for raw in log:
                read_bytes += len(raw)
                if read_bytes > limit:
                    break
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if is_decision(line) and line.get("verdict") == ACCEPTED:
                    yield line
    except (OSError, EOFError):  # unreadable, or a gzip file cut short: what was read counts
        return


def moment(line: Mapping[str, Any]) -> datetime | None:
    from datetime import datetime

    try:
        when = datetime.fromisoformat(str(line["time"]))
    except (KeyError, ValueError):
        return None
    return when if when.tzinfo is not None else None
