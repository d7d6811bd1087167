"""A tag object's bytes, read the way gto 1.10.1's readers need them. Pure.

gto reads tags through its git backends (dulwich, pygit2), which fail on things git itself stores
without complaint: text that is not UTF-8, a time zone of ``+2400``, a time past what
Python's ``datetime`` holds, a tagger without a name or e-mail. Such an object in a
repository makes every ``gto show`` fail, so ``unreadable`` says why it would.
"""

from __future__ import annotations

import re
from typing import NamedTuple

READ_CAP = (16 << 20) + (64 << 10)  # bytes of a tag past the largest max_message: never held whole
HEAD_CAP = 64 << 10  # bytes of a tag object's head: its headers and the start of its message

# The latest instant every zone can show in datetime (year 9999), with a day to spare.
MAX_TIME = 253_402_214_400
MIN_TIME = -62_135_510_400  # the first instant of the year 1 in every zone, with a day to spare
_HEADERS = (b"object", b"type", b"tag", b"tagger")
_IDENT = re.compile(rb"(?P<name>[^<>\n]*) <(?P<email>[^<>\n]*)> (?P<time>[0-9]+) (?P<tz>\S+)")
# What git writes, read in one match of the decoded text (the fast path): the four
# headers in order, a tagger with a time and a zone in range, a blank line, the message.
# Anything else, or text that is not UTF-8, takes the careful path, which says why.
_CANONICAL = re.compile(
    r"object ([0-9a-f]{40})\ntype ([a-z]+)\ntag ([^\n]*)\n"
    r"tagger ([^<>\n]*) <([^<>\n]*)> ([0-9]{1,12}) ([+-])([01][0-9]|2[0-3])([0-5][0-9])\n\n"
)


class Identity(NamedTuple):
    name: str
    email: str
    time: int
    offset: int  # minutes east of UTC


class TagObject(NamedTuple):
    target: str | None
    target_type: str | None  # what the ``type`` header says
    name: str | None  # the ``tag`` header (undecodable bytes kept as surrogates)
    tagger: Identity | None
    message: str
    unreadable: str | None = None  # why gto cannot read it; None: it can


def parse_ident(text: str) -> Identity | None:
    """``Name <email> 1700000000 +0100`` as git writes it; None if it is not that."""
    found = _ident(text.encode("utf-8", "surrogateescape"))
    return found[0] if found else None


def _ident(raw: bytes) -> tuple[Identity, str | None] | None:
    """The identity and, when gto cannot read it, why."""
    match = _IDENT.fullmatch(raw)
    if match is None:
        return None
    raw_name, raw_email, digits, tz = match.groups()
    try:
        name, email, utf8 = raw_name.decode("utf-8"), raw_email.decode("utf-8"), True
    except UnicodeDecodeError:
        name = raw_name.decode("utf-8", "surrogateescape")
        email = raw_email.decode("utf-8", "surrogateescape")
        utf8 = False
    time = int(digits) if len(digits) <= 19 else MAX_TIME + 1
    offset = 0
    problem = None
    if len(tz) != 5 or tz[:1] not in (b"+", b"-") or not tz[1:].isdigit():
        problem = f"the tagger's time zone {_show(tz)} is not in ±HHMM form"
    else:
        hours, minutes = int(tz[1:3]), int(tz[3:5])
        offset = (hours * 60 + minutes) * (-1 if tz[:1] == b"-" else 1)
        if hours > 23 or minutes > 59:
            problem = f"the tagger's time zone {_show(tz)} is outside ±2359"
    if time > MAX_TIME:
        problem = f"the tagger's time {_show(digits[:30])} is past the year 9999"
        time = MAX_TIME + 1
    elif not utf8:
        problem = "the tagger's name or e-mail is not UTF-8"
    elif not name.strip() or not email.strip():
        problem = "the tagger has no name or no e-mail (gto's readers require both)"
    return Identity(name, email, time, offset), problem


def parse_tag_object(data: bytes) -> TagObject:
    """Read a tag object's headers (object, type, tag, tagger, in that order, nothing
    else) and message. Never raises: what gto could not read is named in ``unreadable``."""
    fast = _fast(data)
    if fast is not None:
        return fast
    return _careful(data)


Canonical = tuple[str, str, str, str, str, int, int, str]


def canonical(data: bytes) -> Canonical | None:
    """(target, type, name, tagger, e-mail, time, offset, message) of an object as git
    writes it, or None (``_careful`` then reads it and says what is odd). The
    whole-registry replays read every tag object through here."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = _CANONICAL.match(text)
    if match is None or "\0" in text:
        return None
    target, kind, name, tagger, email, when, sign, hours, minutes = match.groups()
    seconds = int(when)
    if seconds > MAX_TIME or not tagger.strip() or not email.strip():
        return None
    offset = int(hours) * 60 + int(minutes)
    return (target, kind, name, tagger, email, seconds, -offset if sign == "-" else offset,
            text[match.end() :])  # fmt: skip


def _fast(data: bytes) -> TagObject | None:
    """The object as git writes it, or None (then ``_careful`` reads it)."""
    found = canonical(data)
    if found is None:
        return None
    target, kind, name, tagger, email, when, offset, message = found
    return TagObject(target, kind, name, Identity(tagger, email, when, offset), message)


def _careful(data: bytes) -> TagObject:
    head, blank, body = data.partition(b"\n\n")
    if not blank and data.endswith(b"\n"):
        head = data[:-1]
    fields: dict[bytes, bytes] = {}
    order: list[bytes] = []
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        order.append(key)
        fields.setdefault(key, value)
    target = fields.get(b"object", b"").decode("ascii", "replace") or None
    kind = fields.get(b"type", b"").decode("ascii", "replace") or None
    name = fields[b"tag"].decode("utf-8", "surrogateescape") if b"tag" in fields else None
    message = body.decode("utf-8", "replace")
    problem = None
    tagger = None
    if b"tagger" in fields:
        found = _ident(fields[b"tagger"])
        if found is None:
            problem = (
                f"the tagger line {_show(fields[b'tagger'][:80])} is not 'NAME <EMAIL> TIME ±HHMM'"
            )
        else:
            tagger, problem = found
    expected = list(_HEADERS if b"tagger" in fields else _HEADERS[:3])
    if order != expected:
        odd = next((k for i, k in enumerate(order) if i >= len(expected) or k != expected[i]), b"")
        problem = f"odd header {_show(odd[:40])} (gto reads object, type, tag, tagger only)"
    elif name is not None and not _utf8(fields[b"tag"]):
        problem = "the tag name in the object is not UTF-8"
    elif problem is None and not blank:
        problem = "the object has no message part (gto's reader needs one, even empty)"
    elif problem is None and not _utf8(body):
        problem = "the message is not UTF-8"
    elif problem is None and b"\0" in data:
        problem = "the object holds a NUL byte"
    return TagObject(target, kind, name, tagger, message, problem)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _show(raw: bytes) -> str:
    return repr(raw.decode("utf-8", "backslashreplace"))


_COMMIT_IDENT = re.compile(rb"[^<>\n]* <[^<>\n]*> ([0-9]{1,19}) ([+-])([0-9]{2})([0-9]{2})")


def commit_problem(raw: bytes) -> str | None:
    """Why gto cannot read a commit object (``raw``: its bytes), or None. gto reads the
    default branch's tip and each version's commit, and every reader fails on an author
    or committer line it cannot split into name, e-mail, time and zone, on an
    ``encoding`` header it cannot decode the message with, and on a committer date past
    what ``datetime`` holds (gto dates each version by it). Stricter than gto where gto
    lets a line through by accident (an author without a time)."""
    head, _, message = raw.partition(b"\n\n")
    found: dict[bytes, bytes] = {}
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key in (b"author", b"committer", b"encoding"):
            if key in found:
                return f"it has two {key.decode()} lines"
            found[key] = value
    for key in (b"author", b"committer"):
        ident = found.get(key)
        if ident is None:
            return f"it has no {key.decode()} line"
        if _COMMIT_IDENT.fullmatch(ident) is None:
            return f"its {key.decode()} line {_show(ident[:80])} is not 'NAME <EMAIL> TIME ±HHMM'"
    encoding = found.get(b"encoding")
    if encoding is not None:
        import codecs  # only for a commit that names an encoding

        name = encoding.decode("ascii", "replace").strip()
        try:
            codecs.lookup(name)
            message.decode(name)
        except (LookupError, UnicodeError, ValueError):
            return (
                f"its message does not decode as its encoding header says ({_show(encoding[:40])})"
            )
    match = _COMMIT_IDENT.fullmatch(found[b"committer"])
    assert match is not None
    seconds, sign, hours, minutes = match.groups()
    offset = (int(hours) * 60 + int(minutes)) * (-1 if sign == b"-" else 1)
    when = int(seconds) + 60 * offset
    if MIN_TIME <= when <= MAX_TIME:
        return None
    return f"it is dated {int(seconds)}, outside the years 1 to 9999"
