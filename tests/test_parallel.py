"""check --all and show split a large registry by artifact across processes; the joined
result must be exactly what one process computes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gtoguard import helper, parallel
from gtoguard.gitrepo import open_repo

from conftest import World, git, make_world


@given(st.lists(st.tuples(st.sampled_from(["m", "cv=seg", "a/b=c"]),
                          st.sampled_from(["@v1.0.0", "#dev#3", "@deprecated", "#prod!#9"])),
                max_size=30), st.integers(1, 4))  # fmt: skip
def test_split_keeps_each_artifact_in_one_group(tags: list[tuple[str, str]], parts: int) -> None:
    pairs = [(artifact + body, "0" * 40) for artifact, body in tags]
    groups = parallel.split(pairs, parts)
    assert sorted(p for g in groups for p in g) == sorted(pairs)
    homes = {parallel.artifact_key(name): i for i, g in enumerate(groups) for name, _ in g}
    for i, group in enumerate(groups):
        assert all(homes[parallel.artifact_key(name)] == i for name, _ in group)


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


def test_check_all_split_equals_one_process(registry: World,
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    repo = open_repo(str(registry.clone))
    branch = helper.config_branch(repo, None)
    single, split = _both(monkeypatch, lambda: helper.audit(repo, branch, None).outcome)
    assert single.violations  # the planted tags are found
    assert sorted(map(repr, split.violations)) == sorted(map(repr, single.violations))
    assert split.checked == single.checked and split.rejected_refs == single.rejected_refs


def test_show_split_equals_one_process(registry: World, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = open_repo(str(registry.clone))
    branch = helper.config_branch(repo, None)
    git("tag", "-a", "nlp@deprecated#200", "-m", "d", cwd=registry.clone)
    for deprecated in (False, True):
        single, split = _both(monkeypatch,
                              lambda d=deprecated: helper.registry_document(repo, branch, d))  # fmt: skip
        assert split == single and len(single) >= 5
