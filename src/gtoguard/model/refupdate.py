"""Hook stdin → ``RefUpdate(ref, old, new)``. Pure.

pre-receive gives ``<old> <new> <ref>`` lines; pre-push gives ``<local-ref> <local-oid>
<remote-ref> <remote-oid>``. Both become one shape; the zero id (all zeros, of the hash's
length, SHA-1 or SHA-256) marks a creation (old) or a deletion (new).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from gtoguard.errors import CannotRun
from gtoguard.model.printable import printable

TAG_PREFIX = "refs/tags/"
BRANCH_PREFIX = "refs/heads/"
NAMESPACE_PREFIX = "refs/namespaces/"  # another namespace's refs, seen from outside it
_OID = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")
MAX_LINES = 1_000_000


class BadHookInput(CannotRun):
    pass


def is_zero(oid: str) -> bool:
    return not oid.strip("0") and bool(oid)


class RefUpdate(NamedTuple):
    ref: str
    old: str
    new: str

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith(TAG_PREFIX)

    @property
    def tag_name(self) -> str:
        return self.ref[len(TAG_PREFIX) :]

    @property
    def created(self) -> bool:
        return is_zero(self.old) and not is_zero(self.new)

    @property
    def deleted(self) -> bool:
        return is_zero(self.new)

    @property
    def moved(self) -> bool:
        return not is_zero(self.old) and not is_zero(self.new) and self.old != self.new


def decode_ref(raw: bytes) -> str:
    """Ref names are bytes to git; keep undecodable bytes (they are reported, not lost)."""
    return raw.decode("utf-8", "surrogateescape")


def printable_ref(ref: str) -> str:
    """A ref name safe to print behind ``remote:``: odd bytes and controls escaped."""
    return printable(ref)


def _fields(data: bytes, count: int, shape: str) -> list[list[bytes]]:
    if b"\0" in data:
        raise BadHookInput("hook input contains a NUL byte", "run the hook only from git")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) > MAX_LINES:
        raise BadHookInput(f"hook input has more than {MAX_LINES} lines")
    rows = []
    for number, line in enumerate(lines, 1):
        parts = line.split(b" ")
        if len(parts) != count or not all(parts):
            raise BadHookInput(
                f"hook input line {number} is not '{shape}': {printable_ref(decode_ref(line[:200]))}",
                "git writes these lines itself; is the hook run by hand with the wrong input?",
            )
        rows.append(parts)
    return rows


def _oid(raw: bytes, number: int) -> str:
    text = raw.decode("ascii", "replace")
    if not _OID.fullmatch(text):
        raise BadHookInput(
            f"hook input line {number}: {printable_ref(text[:80])!s} is not an object id",
            "git writes full hexadecimal ids (40 or 64 digits)",
        )
    return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_ref(ref: str, number: int) -> str:
    if not ref.startswith("refs/") or _CONTROL.search(ref):
        raise BadHookInput(
            f"hook input line {number}: {printable_ref(ref)!s} is not a full ref name"
        )
    return ref


def parse_pre_receive(data: bytes) -> list[RefUpdate]:
    updates = []
    for number, (old, new, ref) in enumerate(_fields(data, 3, "<old> <new> <ref>"), 1):
        update = RefUpdate(
            _check_ref(decode_ref(ref), number), _oid(old, number), _oid(new, number)
        )
        _same_length(update, number)
        updates.append(update)
    return updates


def parse_pre_push(data: bytes) -> list[RefUpdate]:
    updates = []
    shape = "<local-ref> <local-oid> <remote-ref> <remote-oid>"
    for number, (_local, new, ref, old) in enumerate(_fields(data, 4, shape), 1):
        update = RefUpdate(
            _check_ref(decode_ref(ref), number), _oid(old, number), _oid(new, number)
        )
        _same_length(update, number)
        updates.append(update)
    return updates


def _same_length(update: RefUpdate, number: int) -> None:
    if len(update.old) != len(update.new):
        raise BadHookInput(f"hook input line {number}: the two object ids differ in length")
