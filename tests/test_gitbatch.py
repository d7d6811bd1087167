"""The bulk reading of whole registries (``git cat-file --batch``, parsed as it streams)
says of every object exactly what the one-at-a-time reading says."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gtoguard.git import bulk
from gtoguard.git.objects import object_info
from gtoguard.git.repo import open_repo
from gtoguard.git.tagrefs import tag_targets, tags_of
from gtoguard.model.tagobject import canonical, parse_tag_object
from gtoguard.registry import alltags
from tagobjects import objects as tag_objects

from conftest import git, gtoguard, make_world, store_object

OID = "0123456789abcdef0123456789abcdef01234567"


def _batch(item: tuple[str, bytes] | None) -> bytes:
    """One object as ``cat-file --batch`` prints it (None: a missing one)."""
    if item is None:
        return b"fedcba9876543210fedcba9876543210fedcba98 missing\n"
    kind, data = item
    return f"{OID} {kind} {len(data)}\n".encode() + data + b"\n"


OTHERS = st.tuples(st.sampled_from(["commit", "blob", "tree"]), st.binary(max_size=300))


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(
        st.one_of(tag_objects().map(lambda d: ("tag", d)), OTHERS, st.none()), max_size=12
    ),
    cuts=st.lists(st.integers(1, 400), max_size=30),
)
def test_the_stream_reads_each_object_as_the_single_reader(
    items: list[tuple[str, bytes] | None], cuts: list[int]
) -> None:
    """Whatever the chunks the pipe delivers, each object comes out once, in order: a
    tag as git writes it with exactly ``tagobject.canonical``'s fields, another tag
    with its bytes, anything else by its type and size alone."""
    stream = b"".join(map(_batch, items))
    chunks, at = [], 0
    for cut in cuts:
        chunks.append(stream[at : at + cut])
        at += cut
    chunks.append(stream[at:])
    got = list(bulk.read_stream(iter([c for c in chunks if c])))
    assert len(got) == len(items)
    for item, (kind, size, fields, data) in zip(items, got, strict=True):
        if item is None:
            assert (kind, size, fields, data) == ("missing", 0, None, None)
            continue
        assert (kind, size) == (item[0], len(item[1]))
        if kind != "tag":
            assert fields is None and data is None
        elif fields is not None:
            assert data is None and fields == canonical(item[1])
        else:
            assert data == item[1] and canonical(item[1]) is None


def test_past_the_cap_an_object_streams_by_unkept(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(bulk, "READ_CAP", 100)
    big_tag = b"object " + OID.encode() + b"\ntype commit\ntag m@v1.0.0\n" + b"x" * 500
    stream = _batch(("blob", b"y" * 1000)) + _batch(("tag", big_tag)) + _batch(("commit", b"c"))
    chunks = [stream[i : i + 64] for i in range(0, len(stream), 64)]
    got = list(bulk.read_stream(iter(chunks)))
    assert got == [
        ("blob", 1000, None, None),
        ("tag", len(big_tag), None, None),
        ("commit", 1, None, None),
    ]


def test_a_repository_read_in_bulk_reads_as_object_info(tmp_path: Path) -> None:
    """Tags as git writes them, objects gto cannot read, lightweight tags on a commit, a
    blob and a tree, a tag of a blob, a huge message and a ref to a missing object: the
    bulk reading gives each the record ``Repo.object_info`` gives."""
    world = make_world(tmp_path, hook=False)
    clone = world.clone
    head = world.head()
    world.tag("m@v1.0.0")
    world.tag("m#dev#1")
    git("tag", "m#prod#2", head, cwd=clone)  # lightweight, on a commit
    blob = store_object(clone, b"weights\n", kind="blob")
    git("tag", "m#staging#3", blob, cwd=clone)  # lightweight, on a blob
    tree = git("rev-parse", "HEAD^{tree}", cwd=clone).stdout.strip()
    git("update-ref", "refs/tags/m#qa#4", tree, cwd=clone)
    odd = {
        "m#dev#5": b"tagger T <t@x> 1700000000 +2400\n\nzone\n",
        "m#dev#6": b"tagger T\xe9 <t@x> 1700000000 +0000\n\nlatin-1\n",
        "m#dev#7": b"tagger T <t@x> 1700000000 +0000\n\n" + b"long " * 40_000,
        "m#dev#8": b"tagger T <t@x> 1700000000 +0000\n",
    }
    for name, tail in odd.items():
        data = f"object {head}\ntype commit\ntag {name}\n".encode() + tail
        git(
            "update-ref",
            f"refs/tags/{name}",
            store_object(clone, data, literally=True),
            cwd=clone,
        )
    of_blob = f"object {blob}\ntype commit\ntag m#dev#9\ntagger T <t@x> 1 +0000\n\nx\n"
    git(
        "update-ref",
        "refs/tags/m#dev#9",
        store_object(clone, of_blob.encode(), literally=True),
        cwd=clone,
    )
    (clone / ".git" / "refs" / "tags" / "m#dev#10").write_text("e" * 40 + "\n")  # missing

    repo = open_repo(str(clone))
    groups = alltags.share(alltags.list_tags(repo))
    (tags,) = list(alltags.objects_by_artifact(repo, groups))
    assert len(tags) == 11
    for name, obj in tags:
        if name == "m#dev#10":
            assert obj.kind == "missing"
            continue
        assert obj == object_info(repo, obj.oid), name
    unreadable = {name for name, obj in tags if obj.unreadable}
    assert unreadable == {"m#dev#5", "m#dev#6", "m#dev#8", "m#dev#9"}
    assert parse_tag_object(b"x").unreadable  # the careful reader names the rest


def test_a_missing_object_is_a_violation_not_a_crash(tmp_path: Path) -> None:
    world = make_world(tmp_path, hook=False)
    world.tag("m@v1.0.0")
    (world.clone / ".git" / "refs" / "tags" / "m#dev#2").write_text("e" * 40 + "\n")
    checked = gtoguard("check", "--all", cwd=world.clone)
    assert checked.returncode == 1, checked.stderr
    assert "[tag-target]" in checked.stdout and "missing from the repository" in checked.stdout
    assert "Traceback" not in checked.stderr


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("tag"),
            st.sampled_from(
                ["m@v1.0.0", "m#dev#1", "m#prod/eu#2", "cv=seg@v2.0.0", "x/y#qa", "plain"]
            ),
        ),
        st.tuples(st.just("move"), st.sampled_from(["m@v1.0.0", "m#dev#1", "x/y#qa"])),
        st.tuples(st.just("delete"), st.sampled_from(["m@v1.0.0", "m#dev#1", "cv=seg@v2.0.0"])),
        st.tuples(st.just("pack"), st.just("")),
        st.tuples(st.just("lock"), st.sampled_from(["m#dev#9", "z@v9.0.0"])),
        st.tuples(st.just("symbolic"), st.just("m#alias#3")),
        st.tuples(st.just("namespace"), st.sampled_from(["m#dev#4", "n@v1.0.0"])),
    ),
    max_size=9,
)


@settings(max_examples=40, deadline=None)
@given(ops=OPS)
@example(
    ops=[
        ("tag", "m@v1.0.0"),
        ("tag", "m#dev#1"),
        ("pack", ""),
        ("move", "m@v1.0.0"),
        ("delete", "m#dev#1"),
        ("lock", "m#dev#9"),
        ("namespace", "n@v1.0.0"),
    ]
)
def test_the_ref_files_list_what_git_lists(tmp_path_factory, ops) -> None:  # type: ignore[no-untyped-def]
    """Reading packed-refs and the loose files gives, per artifact, exactly the tags and
    objects ``git for-each-ref`` gives, whatever mix of packed, loose, moved, deleted,
    locked, symbolic and namespaced refs the repository holds."""
    repo_dir = tmp_path_factory.mktemp("refs")
    git("init", "-q", "-b", "main", str(repo_dir), cwd=repo_dir)
    git("commit", "-q", "--allow-empty", "-m", "one", cwd=repo_dir)
    git("commit", "-q", "--allow-empty", "-m", "two", cwd=repo_dir)
    for op, name in ops:
        if op == "tag":
            git("tag", "-f", "-a", name, "-m", name, cwd=repo_dir)
        elif op == "move":
            git("tag", "-f", "-a", name, "HEAD~1", "-m", "moved", cwd=repo_dir)
        elif op == "delete":
            git("tag", "-d", name, cwd=repo_dir, check=False)
        elif op == "pack":
            git("pack-refs", "--all", cwd=repo_dir)
        elif op == "lock":  # a ref update caught half way: git ignores the lock file
            oid = git("rev-parse", "HEAD", cwd=repo_dir).stdout
            (repo_dir / ".git" / "refs" / "tags" / f"{name}.lock").write_text(oid)
        elif op == "symbolic":
            git("symbolic-ref", f"refs/tags/{name}", "refs/heads/main", cwd=repo_dir)
        else:
            git("update-ref", f"refs/namespaces/team/refs/tags/{name}", "HEAD", cwd=repo_dir)
    repo = open_repo(str(repo_dir))
    for prefix in ("refs/tags/", "refs/namespaces/team/refs/tags/"):
        raw = prefix.encode()
        by_git = alltags.Listing(bulk.refs_under(repo.path, prefix), raw)
        files = bulk.ref_files(repo.path, prefix)
        if files is None:  # a layout only git reads (here: the symbolic ref)
            assert any(op == "symbolic" for op, _ in ops)
            continue
        from_files = alltags.Listing(files.packed, raw, files.loose, files.overridden)
        ours = {k: sorted(v) for k, v in alltags.share(from_files).items()}
        assert ours == {k: sorted(v) for k, v in alltags.share(by_git).items()}


def test_a_push_onto_thousands_of_tags_reads_them_in_bulk_as_one_at_a_time(
    tmp_path: Path,
) -> None:
    """An artifact with more tags than ``BULK_READ`` is read by the hook in bulk
    (through the push's quarantine): the counters, versions and stages it finds are
    those a lookup per tag finds, so the verdicts are gto's."""
    from gtoguard.git.tagrefs import BULK_READ

    world = make_world(tmp_path)
    head = git("rev-parse", "HEAD", cwd=world.clone).stdout.strip()
    count = BULK_READ + 100
    stream = (
        "".join(
            f"tag churn#dev#{n}\nfrom {head}\ntagger B <b@example.com> {1_700_000_000 + n} +0000\n"
            f"data 2\nm\n"
            for n in range(1, count)
        )
        + f"tag churn@v1.0.0\nfrom {head}\ntagger B <b@example.com> 1690000000 +0000\ndata 2\nm\n"
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        input=stream.encode(),
        cwd=world.server,
        check=True,
        capture_output=True,
    )
    server = open_repo(str(world.server))
    names = tag_targets(server, ["churn"])
    assert len(names) == count
    bulk = dict(tags_of(server, ["churn"], names))
    assert bulk == {name: object_info(server, oid) for name, oid in names.items()}
    git("fetch", "-q", "origin", "+refs/tags/*:refs/tags/*", cwd=world.clone)
    world.tag(f"churn#prod#{count - 1}", head)  # a counter already taken
    stale = world.push_tags(f"churn#prod#{count - 1}")
    assert not stale.ok and stale.rules() == {"counter-not-increasing"}, stale.output
    world.tag(f"churn#prod#{count}", head)
    assert world.push_tags(f"churn#prod#{count}").ok
