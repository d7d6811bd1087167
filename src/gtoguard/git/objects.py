"""What an object is, read for the rules: a tag object's headers read the way gto's
readers need them (``GitObject``), by its head only past a size, one at a time or in
bulk; and what the commits that pushed tags point at say about them."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable

from gtoguard.errors import CannotRun
from gtoguard.git import invoke, objectfiles
from gtoguard.git.repo import KIND_NAMES, Repo
from gtoguard.model.refupdate import RefUpdate
from gtoguard.model.tagobject import (
    HEAD_CAP,
    READ_CAP,
    Canonical,
    canonical,
    parse_tag_object,
)
from gtoguard.policy import timebudget
from gtoguard.policy.rules.violation import GitObject


def object_info(repo: Repo, oid: str, keep: int = READ_CAP) -> GitObject:
    """What ``oid`` is; for a tag object, its headers read the way gto's readers need
    them (``tagobject``), so that what gto cannot read is known, not a crash. A tag
    object of more than ``keep`` bytes is read by its head only (``HEAD_CAP``: the
    headers and the start of the message; ``partial`` says so): no push holds the
    hook to reading, and keeping, what no rule needs whole."""
    kind, size = repo.header(oid)
    if kind != "tag":  # a commit, or a blob of any size: never read whole
        return GitObject(oid, kind, size=size)
    if size <= keep:
        return tag_info(repo, oid, size, repo.raw(oid))
    head = _tag_head(repo, oid)
    cut = head.rfind(b"\n") + 1  # whole lines only: never half a UTF-8 character
    return tag_info(repo, oid, size, head[:cut] if cut else head)._replace(partial=True)


def tag_info(repo: Repo, oid: str, size: int, data: bytes) -> GitObject:
    """What ``object_info`` says of tag object ``oid`` of ``size`` bytes, from its
    ``data`` (read here, or in bulk by ``git/bulk``)."""
    fast = canonical(data)
    if fast is not None:  # as git writes it: straight to the record, no detour
        return tag_from_fields(repo, oid, size, fast)
    tag = parse_tag_object(data)
    target_kind = repo.kind_of(tag.target) if tag.target else "missing"
    unreadable = tag.unreadable
    if unreadable is None and target_kind in KIND_NAMES and tag.target_type != target_kind:
        unreadable = f"its type header says {tag.target_type!r} but it tags a {target_kind}"
    who = tag.tagger
    return GitObject(
        oid=oid,
        kind="tag",
        target=tag.target,
        target_kind=target_kind,
        time=who.time if who else None,
        offset=who.offset if who else 0,
        tagger=who.name if who else "",
        email=who.email if who else "",
        message=tag.message,
        name=tag.name,
        unreadable=unreadable,
        size=size,
    )


def tag_from_fields(repo: Repo, oid: str, size: int, fields: Canonical) -> GitObject:
    """``tag_info`` of a tag object as git writes it, from its fields."""
    target, kind, name, tagger, email, when, offset, message = fields
    target_kind = repo.kind_of(target)
    odd = (
        None
        if target_kind == kind or target_kind not in KIND_NAMES
        else f"its type header says {kind!r} but it tags a {target_kind}"
    )
    return GitObject(
        oid, "tag", target, target_kind, when, offset, tagger, email, message, name, odd, size
    )


def _tag_head(repo: Repo, oid: str) -> bytes:
    """The first ``HEAD_CAP`` bytes of tag object ``oid`` (past its type and size),
    without inflating the rest (``objectfiles``: a loose object, or a pack entry that
    is no delta; the push's quarantine first). Else from ``git cat-file``, stopped once
    it has sent them, and at most READ_CAP bytes of object: git holds the object
    whole meanwhile, so a larger one stored as a delta is not read at all (empty:
    the caller sees no headers, and the tag is too large anyway)."""
    directories = [
        os.environ.get("GIT_OBJECT_DIRECTORY") or "",
        *os.environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES", "").split(os.pathsep),
        os.path.join(repo.path, "objects"),
    ]
    head = objectfiles.head(oid, filter(None, directories), HEAD_CAP)
    if head is not None:
        return head
    try:
        size = repo.header(oid)[1]
    except KeyError:
        return b""
    if size > READ_CAP:
        return b""
    import subprocess  # here, not above: the hook's usual path starts no process

    try:
        with invoke.popen(
            ["cat-file", "tag", oid], repo.path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ) as proc:
            head = proc.stdout.read(HEAD_CAP) if proc.stdout else b""
            proc.kill()
    except OSError as exc:
        raise CannotRun(f"cannot run git: {exc.strerror}", "install git") from None
    return head


def objects_of(
    repo: Repo, updates: Iterable[RefUpdate], keep: int = READ_CAP
) -> dict[str, GitObject]:
    """The new side of every created or moved tag of ``updates`` that is here, by
    object id (a missing one is for the caller to report); tag objects past ``keep``
    bytes by their heads only."""
    found = {}
    for number, update in enumerate(updates):
        if number % 16 == 15:
            timebudget.spend("reading the pushed tag objects")
        if update.is_tag and not update.deleted:
            try:
                found[update.new] = pushed_object(repo, update.new, keep)
            except KeyError:
                continue
    return found


def pushed_object(repo: Repo, oid: str, keep: int = READ_CAP) -> GitObject:
    """``object_info`` of a pushed object, and for a tag also whether gto can date
    the commit it tags (what is already here was judged when it came)."""
    obj = object_info(repo, oid, keep)
    why = _undatable_target(repo, obj)
    return obj if why is None else obj._replace(unreadable=why)


def _undatable_target(repo: Repo, obj: GitObject) -> str | None:
    if obj.kind != "tag" or obj.target_kind != "commit" or obj.unreadable is not None:
        return None
    why = repo.undatable(obj.target) if obj.target else None
    return f"the tagged commit {why} (gto reads each version's commit)" if why else None


def bulk_objects(repo: Repo, oids: list[str]) -> Generator[GitObject, None, None]:
    """``object_info`` of each of ``oids``, in order, read by one ``git cat-file
    --batch`` that streams while they are used (``git/bulk``). An object the
    repository lacks is a ``missing`` one here, where ``object_info`` raises: a
    whole-registry read judges it, the hook's reading raises (``tags_of``)."""
    from gtoguard.git import bulk

    read = bulk.objects(repo.path, oids)
    try:
        for oid in oids:
            kind, size, fields, data = next(read, ("missing", 0, None, None))
            if fields is not None:
                yield tag_from_fields(repo, oid, size, fields)
            elif data is not None:
                yield tag_info(repo, oid, size, data)
            elif kind == "tag":  # past READ_CAP: its head only, as object_info reads it
                yield object_info(repo, oid)
            else:
                yield GitObject(oid, kind, size=size)
    finally:
        read.close()
