"""objectfiles: an object's head read from git's files, as git itself reads the object:
loose, packed whole, and (answered by no one here) packed as a delta."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gtoguard.git import objectfiles

from conftest import git, local_repo, store_object, tag_body


def _tag(repo: Path, name: str, message: bytes) -> str:
    head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    body = tag_body(name, head, 1700000000, tagger="B <b@example.com>") + message
    oid = store_object(repo, body)
    git("update-ref", f"refs/tags/{name}", oid, cwd=repo)
    return oid


def _cat(repo: Path, oid: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "tag", oid], cwd=repo, capture_output=True, check=True
    ).stdout


def test_the_head_of_a_loose_and_a_packed_tag_is_what_git_reads(tmp_path: Path) -> None:
    repo = local_repo(tmp_path / "r")
    objects = str(repo / ".git" / "objects")
    small = _tag(repo, "a", b"short\n")
    large = _tag(repo, "b", b"y" * 3_000_000 + b"\n")
    for oid in (small, large):
        assert objectfiles.head(oid, [objects], 4096) == _cat(repo, oid)[:4096]
    git("repack", "-q", "-a", "-d", cwd=repo)
    git("prune-packed", cwd=repo)
    assert not (repo / ".git" / "objects" / large[:2]).exists()  # packed now
    for oid in (small, large):
        assert objectfiles.head(oid, [objects], 4096) == _cat(repo, oid)[:4096]
    assert objectfiles.head("0" * 40, [objects], 10) is None


def test_a_tag_stored_as_a_delta_is_left_to_git(tmp_path: Path) -> None:
    repo = local_repo(tmp_path / "r")
    message = b"".join(b"line %d of a long message\n" % n for n in range(20_000))
    oids = [_tag(repo, f"t{n}", message + b"%d\n" % n) for n in range(4)]
    git("repack", "-q", "-a", "-d", "-f", "--window=10", cwd=repo)
    git("prune-packed", cwd=repo)
    verified = git(
        "verify-pack", "-v", *map(str, (repo / ".git/objects/pack").glob("*.idx")), cwd=repo
    ).stdout
    deltas = [
        oid
        for oid in oids
        if any(line.startswith(oid) and len(line.split()) > 5 for line in verified.splitlines())
    ]
    assert deltas, verified  # git stored some of them as deltas of others
    for oid in oids:
        found = objectfiles.head(oid, [str(repo / ".git" / "objects")], 4096)
        assert found is None if oid in deltas else found == _cat(repo, oid)[:4096]
