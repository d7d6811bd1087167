"""check --all and show split a large registry by artifact across processes; the joined
result must be exactly what one process computes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gtoguard.git.repo import open_repo
from gtoguard.registry import alltags, auditing, parallel, planning, reading

from conftest import World, git, make_world


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["m", "cv=seg", "a/b=c", "plain", "m/x"]),
            st.sampled_from(
                ["@v1.0.0", "#dev#3", "@deprecated", "#prod!#9", "", "#prod/eu#4", "-x"]
            ),
        ),
        max_size=30,
    ),
    st.integers(1, 4),
)
def test_each_artifact_lands_in_exactly_one_share(tags: list[tuple[str, str]], parts: int) -> None:
    names = sorted({artifact + body for artifact, body in tags})
    listing = alltags.Listing(
        b"".join(f"{n:040x} refs/tags/{name}\n".encode() for n, name in enumerate(names)),
        b"refs/tags/",
    )
    shares = [alltags.share(listing, part, parts) for part in range(parts)]
    got = sorted(name for share in shares for group in share.values() for name, _ in group)
    assert got == [name for name in names if "@" in name or "#" in name]
    for share in shares:
        for key, group in share.items():
            assert all(
                name.startswith(key.decode()) and name[len(key)] in "@#" for name, _ in group
            )
    keys = [key for share in shares for key in share]
    assert len(keys) == len(set(keys))  # no artifact in two shares


@given(
    st.lists(
        st.sampled_from(
            ["m@v1.0.0", "m#dev#3", "cv=seg#prod#9", "plain", "a/b=c@v2.0.0", "x#dev#1"]
        ),
        max_size=20,
    ),
    st.integers(0, 300),
)
def test_the_listing_read_in_chunks_is_the_listing_read_whole(names: list[str], chunk: int) -> None:
    # share matches a few MiB of lines at a time; any cut, down to one byte, gives the
    # same groups in the same order as one pass over the whole listing
    listing = alltags.Listing(
        b"".join(f"{n:040x} refs/tags/{name}\n".encode() for n, name in enumerate(names)),
        b"refs/tags/",
    )
    whole = alltags.share(listing, chunk=len(listing.lines) + 1)
    assert alltags.share(listing, chunk=chunk) == whole
    assert sum(map(len, whole.values())) == sum("@" in n or "#" in n for n in names)


@pytest.fixture
def registry(tmp_path: Path) -> World:
    """Several artifacts, good tags and bad ones."""
    world = make_world(tmp_path, hook=False)
    first = world.head()
    for n, artifact in enumerate(["churn", "cv=seg", "nlp", "a/b=c", "x", "y"]):
        world.commit(f"train {artifact}")
        world.tag(f"{artifact}@v1.0.0#1")
        world.tag(f"{artifact}#dev#2")
        world.tag(f"{artifact}#prd#3")  # stage-unknown
        world.tag(f"{artifact}#dev#2{n}")  # fine: higher counter
        world.tag(f"{artifact}@v1.0.0#99", first)  # version-exists
    world.tag("churn#staging!#100")  # stage-not-active
    return world


def _both(monkeypatch: pytest.MonkeyPatch, compute):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(parallel, "MIN_TAGS", 10**9)
    single = compute()
    monkeypatch.setattr(parallel, "MIN_TAGS", 0)
    monkeypatch.setattr(parallel, "cores", lambda: 3)
    split = compute()
    return single, split


def test_check_all_split_equals_one_process(
    registry: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = open_repo(str(registry.clone))
    branch = planning.config_branch(repo, None)
    single, split = _both(monkeypatch, lambda: auditing.audit(repo, branch, None).outcome)
    assert single.violations  # the planted tags are found
    assert sorted(map(repr, split.violations)) == sorted(map(repr, single.violations))
    assert split.checked == single.checked and split.declined_refs == single.declined_refs


def test_show_split_equals_one_process(registry: World, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = open_repo(str(registry.clone))
    branch = planning.config_branch(repo, None)
    git("tag", "-a", "nlp@deprecated#200", "-m", "d", cwd=registry.clone)
    for deprecated in (False, True):
        single, split = _both(
            monkeypatch, lambda d=deprecated: reading.registry_document(repo, branch, d)
        )
        assert split == single and len(single) >= 5
