"""The ref files read without git (refstore): whatever they answer equals what
``git for-each-ref`` lists, and whatever they cannot read the same way, they leave to
git (None). Real repositories, refs written by git itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtoguard.git.refstore import RefStore
from gtoguard.git.repo import open_repo
from gtoguard.git.tagrefs import tag_targets

from conftest import git

PARTS = st.sampled_from(["churn", "churn/x", "team/churn", "ch", "churnx", "a.b", "ü"])
TAILS = st.sampled_from(["@v1.0.0", "@v1.2.0", "#prod#3", "#prod/eu#10", "#a/b#2", "@deprecated",
                         "#dev#1", "@v1.0.0!#4", "/z@v1.0.0"])  # fmt: skip
NAMES = st.builds(lambda a, t: a + t, PARTS, TAILS)
PREFIXES = [
    b"refs/tags/churn@",
    b"refs/tags/churn#",
    b"refs/tags/team/churn@",
    b"refs/tags/churn/x#",
    b"refs/tags/ch",
    "refs/tags/ü@".encode(),
    b"refs/tags/a.b#",
    b"refs/tags/",
    b"refs/namespaces/team/refs/tags/churn@",
]


def objects(repo: Path) -> tuple[str, str]:
    one = git("hash-object", "-w", "--stdin", cwd=repo, input=b"one\n").stdout.strip()
    two = git("hash-object", "-w", "--stdin", cwd=repo, input=b"two\n").stdout.strip()
    return one, two


def update_refs(repo: Path, refs: dict[str, str]) -> None:
    if refs:
        script = "".join(f"update {name} {oid}\n" for name, oid in refs.items())
        git("update-ref", "--stdin", cwd=repo, input=script.encode())


def listed_by_git(repo: Path, prefix: bytes) -> dict[bytes, bytes]:
    pattern = prefix.decode()
    done = subprocess.run(
        [
            "git",
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            f"{pattern}*",
            f"{pattern}*/**",
        ],
        cwd=repo,
        capture_output=True,
        check=True,
    )
    return {
        name: oid for oid, _, name in (line.partition(b" ") for line in done.stdout.splitlines())
    }


def fresh(repo: Path) -> None:
    shutil.rmtree(repo / "refs" / "tags", ignore_errors=True)
    shutil.rmtree(repo / "refs" / "namespaces", ignore_errors=True)
    (repo / "refs" / "tags").mkdir()
    (repo / "packed-refs").unlink(missing_ok=True)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    packed=st.sets(NAMES, max_size=8),
    loose=st.sets(NAMES, max_size=8),
    namespaced=st.sets(NAMES, max_size=3),
)
def test_the_ref_files_list_what_for_each_ref_lists(
    tmp_path: Path, packed: set[str], loose: set[str], namespaced: set[str]
) -> None:
    repo = tmp_path / "r.git"
    if not repo.exists():
        git("init", "-q", "--bare", str(repo), cwd=tmp_path)
    fresh(repo)
    one, two = objects(repo)

    def clash_free(names: set[str]) -> dict[str, str]:
        """git refuses a ref that is a directory of another (a, a/b): keep the first."""
        kept: dict[str, str] = {}
        for name in sorted(names):
            if not any(name.startswith(k + "/") or k.startswith(name + "/") for k in kept):
                kept[name] = f"refs/tags/{name}"
        return kept

    first = clash_free(packed | loose)
    update_refs(repo, {ref: one for name, ref in first.items() if name in packed})
    update_refs(repo, {f"refs/namespaces/team/{ref}": one
                       for ref in clash_free(namespaced).values()})  # fmt: skip
    git("pack-refs", "--all", cwd=repo)
    update_refs(repo, {ref: two for name, ref in first.items() if name in loose})  # loose wins

    store = RefStore(str(repo))
    for prefix in PREFIXES:
        assert store.under([prefix]) == listed_by_git(repo, prefix), prefix
    both = store.under(PREFIXES[:3])
    assert both == {k: v for p in PREFIXES[:3] for k, v in listed_by_git(repo, p).items()}


def test_what_it_cannot_read_as_git_does_is_left_to_git(tmp_path: Path) -> None:
    repo = tmp_path / "r.git"
    git("init", "-q", "--bare", str(repo), cwd=tmp_path)
    one, _ = objects(repo)
    update_refs(repo, {"refs/tags/churn@v1.0.0": one, "refs/tags/other@v1.0.0": one})
    prefix = [b"refs/tags/churn@"]
    assert RefStore(str(repo)).under(prefix) == {b"refs/tags/churn@v1.0.0": one.encode()}

    git("symbolic-ref", "refs/tags/churn@v2.0.0", "refs/tags/other@v1.0.0", cwd=repo)
    assert RefStore(str(repo)).under(prefix) is None  # a symbolic ref: git resolves it
    assert RefStore(str(repo)).under([b"refs/tags/other@"]) is not None
    (repo / "refs/tags/churn@v2.0.0").unlink()

    (repo / "refs/tags/churn@v3.0.0.lock").write_text(one + "\n")
    assert RefStore(str(repo)).under(prefix) is None  # a lock file: git skips it
    (repo / "refs/tags/churn@v3.0.0.lock").unlink()

    (repo / "refs/tags/churn@v4.0.0").write_text(one + " trailing\n")
    assert RefStore(str(repo)).under(prefix) is None  # not a plain id line
    (repo / "refs/tags/churn@v4.0.0").unlink()

    git("pack-refs", "--all", cwd=repo)
    assert RefStore(str(repo)).under(prefix) == {b"refs/tags/churn@v1.0.0": one.encode()}
    packed = repo / "packed-refs"
    lines = packed.read_text().splitlines(keepends=True)
    packed.write_text("".join(lines[1:]))  # no "sorted" trait: git sorts it, we do not
    assert RefStore(str(repo)).under(prefix) is None
    assert listed_by_git(repo, prefix[0]) == {b"refs/tags/churn@v1.0.0": one.encode()}
    assert RefStore(str(repo)).has_below(b"refs/tags/churn@v1.0.0/") is False
    assert RefStore(str(repo)).has_below(b"refs/tags/") is True

    (repo / "commondir").write_text("..\n")  # a linked worktree's git directory
    assert RefStore(str(repo)).under([b"refs/tags/"]) is None


def test_a_ref_to_a_missing_object_is_listed_as_git_lists_it(tmp_path: Path) -> None:
    repo = tmp_path / "r.git"
    git("init", "-q", "--bare", str(repo), cwd=tmp_path)
    one, _ = objects(repo)
    update_refs(repo, {"refs/tags/churn@v1.0.0": one})
    (repo / "refs/tags/churn@v2.0.0").write_text("1" * 40 + "\n")
    expected = {"churn@v1.0.0": one, "churn@v2.0.0": "1" * 40}
    assert tag_targets(open_repo(str(repo)), {"churn"}) == expected
    assert listed_by_git(repo, b"refs/tags/churn@") == {
        f"refs/tags/{name}".encode(): oid.encode() for name, oid in expected.items()
    }
