"""Many refs and objects at once, through git itself: the whole-registry commands.

``check --all`` and ``show`` read every tag of a registry; a lookup per tag from Python
costs more than the rest of the work (at 1,000,000 tags, seconds of pygit2 calls and
enum conversions). git lists the refs with ``for-each-ref`` and reads the objects with
``cat-file --batch-check`` (type and size) and ``cat-file --batch`` (the bytes), each in
one process that streams its answer while Python works on what came before.

Only tag objects of a bounded size (``READ_CAP``) are kept: the bytes of a blob, a
commit or a 600 MB tag pass by and are dropped as they arrive (git itself streams
blobs; it holds a commit, tree or tag whole while it writes it).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Generator, Iterable, Iterator
from typing import IO, NamedTuple

from gtoguard.errors import CannotRun
from gtoguard.git import invoke
from gtoguard.model.tagname import ref_format_problem
from gtoguard.model.tagobject import MAX_TIME, READ_CAP, Canonical

CHUNK = 1 << 20

# One object of ``cat-file --batch`` output: its header line, then its bytes.
_HEADER = re.compile(rb"[0-9a-f]{40,64} ([a-z]+) ([0-9]+)\n")
_GONE = re.compile(rb"\S+ (?:missing|ambiguous)\n")
# A tag object as git writes it, header line and all, matched in the buffer itself: the
# bytes form of ``tagobject._CANONICAL`` (each text field is then decoded on its own).
_CANONICAL_TAG = re.compile(
    rb"[0-9a-f]{40,64} tag ([0-9]+)\n"
    rb"object ([0-9a-f]{40})\ntype ([a-z]+)\ntag ([^\n]*)\n"
    rb"tagger ([^<>\n]*) <([^<>\n]*)> ([0-9]{1,12}) ([+-])([01][0-9]|2[0-3])([0-5][0-9])\n\n"
)

# (type, size, the fields of a tag as git writes it, or else a tag's bytes): a canonical
# tag comes with its fields and no bytes, another tag with its bytes, anything else
# (and a tag past READ_CAP) with neither. A missing object is of type "missing".
Read = tuple[str, int, "Canonical | None", "bytes | None"]


def _git(
    cwd: str, args: list[str], stdin: int | IO[bytes] = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    try:
        return invoke.popen(
            args, cwd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
    except OSError as exc:
        raise CannotRun(f"cannot run git: {exc.strerror}", "install git") from None


def refs_under(cwd: str, prefix: str) -> bytes:
    """``<oid> <refname>`` lines of every ref under ``prefix`` (``refs/tags/``, inside a
    namespace ``refs/namespaces/<ns>/refs/tags/``), symbolic refs resolved, in name
    order: one buffer, so that forked workers share it without copying."""
    proc = _git(cwd, ["for-each-ref", "--format=%(objectname) %(refname)", "--",
                      prefix.rstrip("/")])  # fmt: skip
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise CannotRun(
            "git for-each-ref could not list the tags", "run git fsck in the repository"
        )
    return out


MAX_LOOSE = 10_000  # more loose tags than this: git lists them (gc packs them anyway)
_LOOSE = re.compile(rb"(?:[0-9a-f]{40}|[0-9a-f]{64})\n")


class RefFiles(NamedTuple):
    """The refs under a prefix as git's files hold them: ``packed`` is the packed-refs
    file as stored (its lines under the prefix count, but for ``overridden`` ones), and
    ``loose`` has an ``<oid> <ref>`` line for each loose ref file, which wins."""

    packed: bytes
    loose: bytes
    overridden: frozenset[bytes]


def ref_files(gitdir: str, prefix: str) -> RefFiles | None:
    """The refs under ``prefix`` read from git's files, or None when that is not plainly
    possible (then ``refs_under`` asks git).

    A registry's tags sit in ``packed-refs`` (``git clone``, ``gc`` and ``pack-refs`` put
    them there), one ``<oid> <ref>`` line each, and a loose file under ``refs/`` wins
    over its packed line. git takes about a second to list a million packed tags; the
    file reads in milliseconds, and the whole-registry scan takes its lines as they are.
    The loose files are read first and the packed file after: a ``pack-refs`` running
    meanwhile moves a ref from the first to the second, never out of sight. Anything but
    that plain layout (a linked worktree, a symbolic or unreadable loose ref, a great
    many loose tags) goes to git; so does another ref storage (the caller checks)."""

    from pathlib import Path  # whole-registry commands only: not on the hook's path

    root = Path(gitdir)
    if (root / "commondir").exists():
        return None
    loose: dict[bytes, bytes] = {}
    top = root / prefix
    for where, _dirs, files in os.walk(top):
        for file in files:
            path = Path(where, file)
            ref = path.relative_to(root).as_posix()
            if ref_format_problem(ref[len(prefix) :]) is not None:
                continue  # a lock file, or a name git itself ignores
            try:
                text = path.read_bytes()
            except FileNotFoundError:
                continue  # packed meanwhile: the packed file, read below, has it
            except OSError:
                return None
            if _LOOSE.fullmatch(text) is None or len(loose) >= MAX_LOOSE:
                return None
            loose[os.fsencode(ref)] = text[:-1]
    try:
        packed = (root / "packed-refs").read_bytes()
    except FileNotFoundError:
        packed = b""
    except OSError:
        return None
    lines = b"".join(b"%s %s\n" % (oid, ref) for ref, oid in sorted(loose.items()))
    return RefFiles(packed, lines, frozenset(loose))


def _oid_file(oids: Iterable[str]) -> IO[bytes]:
    """The object ids as git's stdin: a file, so that writing never waits on reading."""

    import tempfile

    handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the caller's with)
    handle.write("".join(f"{oid}\n" for oid in oids).encode("ascii"))
    handle.seek(0)
    return handle


def objects(cwd: str, oids: list[str]) -> Generator[Read, None, None]:
    """Each object of ``oids``, in order, read by one ``git cat-file --batch``."""
    with _oid_file(oids) as stdin:
        proc = _git(cwd, ["cat-file", "--batch", "--buffer"], stdin)
        assert proc.stdout is not None
        with proc:
            fd = proc.stdout.fileno()
            yield from read_stream(iter(lambda: os.read(fd, CHUNK), b""))
    if proc.returncode not in (0, None):
        raise CannotRun(
            "git cat-file could not read the tag objects", "run git fsck in the repository"
        )


def read_stream(chunks: Iterator[bytes]) -> Iterator[Read]:
    """Parse ``cat-file --batch`` output arriving in ``chunks`` of any size: at most a
    chunk plus one object of up to READ_CAP bytes is held; larger objects and the bytes
    of anything but a tag are skipped as they stream past."""
    buffer = b""
    at = 0
    skip = 0  # bytes of the current object still to pass over
    for chunk in chunks:
        if skip:
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            chunk, skip = chunk[skip:], 0
        buffer = buffer[at:] + chunk if at < len(buffer) else chunk
        at = 0
        end = len(buffer)
        while at < end:
            found = _CANONICAL_TAG.match(buffer, at)
            if found is not None and int(found.group(1)) <= READ_CAP:
                start = found.start(2) - 7  # "object " opens the bytes
                stop = start + int(found.group(1))
                if stop >= end:
                    break  # the rest of it (and its newline) is still to come
                yield _canonical(buffer, found, start, stop)
                at = stop + 1
                continue
            head = _HEADER.match(buffer, at)
            if head is None:
                gone = _GONE.match(buffer, at)
                if gone is None:
                    break  # an incomplete header: wait for more
                at = gone.end()
                yield ("missing", 0, None, None)
                continue
            kind, size = head.group(1).decode("ascii"), int(head.group(2))
            start = head.end()
            stop = start + size
            if kind != "tag" or size > READ_CAP:
                yield (kind, size, None, None)
                if stop >= end:  # pass over what has not arrived, without keeping it
                    skip = stop + 1 - end
                    at = end
                    break
                at = stop + 1
                continue
            if stop >= end:
                break
            yield (kind, size, None, buffer[start:stop])
            at = stop + 1


def _canonical(buffer: bytes, found: re.Match[bytes], start: int, stop: int) -> Read:
    """The fields of a canonical tag; its bytes instead when a text is not UTF-8, the
    object holds a NUL, the tagger has no name or e-mail, the time is past 9999, or the
    headers' blank line is not inside the object (``tagobject.canonical`` says the same
    of the same bytes)."""
    size = stop - start
    target, kind, raw_name, raw_tagger, raw_email, when, sign, hours, minutes = found.groups()[1:]
    seconds = int(when)
    if found.end() <= stop and seconds <= MAX_TIME and buffer.find(b"\0", start, stop) < 0:
        try:
            name, tagger = raw_name.decode("utf-8"), raw_tagger.decode("utf-8")
            email = raw_email.decode("utf-8")
            message = buffer[found.end() : stop].decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if tagger.strip() and email.strip():
                offset = int(hours) * 60 + int(minutes)
                return (
                    "tag",
                    size,
                    (
                        target.decode("ascii"),
                        kind.decode("ascii"),
                        name,
                        tagger,
                        email,
                        seconds,
                        -offset if sign == b"-" else offset,
                        message,
                    ),
                    None,
                )
    return ("tag", size, None, buffer[start:stop])
