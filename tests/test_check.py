"""``gtoguard check``: an audit of existing tags reports exactly the bad ones."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import World, git, gtoguard, make_world

GOOD_BEFORE = [
    "churn@v1.0.0#1",
    "churn#dev#2",
    "churn@v1.1.0#3",
    "churn#staging#4",
    "cv=seg@v0.1.0",
]
PLANTED = {  # tag -> the one rule it breaks
    "churn@1.0.0": "tag-malformed",
    "churn@created": "tag-reserved",
    "churn#dev#90": "tag-lightweight",
    "churn@v9.0.0": "tag-target",
    "churn#dev#3": "counter-not-increasing",
    "churn#prd#6": "stage-unknown",
    "churn#prod!#7": "stage-not-active",
    "churn@v1.0.0#8": "version-exists",
    "churn@v5.0.0#9": "commit-has-version",
    "churn@v7.0.0!#10": "version-not-registered",
    "cv=seg#dev#1": "tagger-time",
}
GOOD_AFTER = "churn#prod#11"


@pytest.fixture
def audited(tmp_path: Path) -> World:
    world = make_world(tmp_path, hook=False)
    c1 = world.head()
    c2 = world.commit("retrain")
    for name in GOOD_BEFORE:
        target = c1 if name in ("churn@v1.0.0#1", "churn#dev#2") else c2
        world.tag(name, target)
    tree = git("rev-parse", "HEAD^{tree}", cwd=world.clone).stdout.strip()
    c3 = world.commit("another")
    targets = {"churn@v9.0.0": tree, "churn@v1.0.0#8": c3, "churn@v5.0.0#9": c1}
    for name in PLANTED:
        if name == "churn#dev#90":
            world.tag(name, c2, lightweight=True)
        elif name == "cv=seg#dev#1":
            continue  # dated last, in the future
        else:
            world.tag(name, targets.get(name, c2))
    world.tag(GOOD_AFTER, c2)
    world.tag("cv=seg#dev#1", c2, when=int(time.time()) + 86_400)
    return world


def test_check_all_reports_exactly_the_planted_tags(audited: World) -> None:
    done = gtoguard("check", "--all", "--json", cwd=audited.clone)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    found = {(v["ref"].removeprefix("refs/tags/"), v["rule"]) for v in report["violations"]}
    assert found == set(PLANTED.items())
    assert report["ok"] is False
    assert report["checked"] == len(GOOD_BEFORE) + len(PLANTED) + 1
    text = gtoguard("check", "--all", cwd=audited.clone)
    assert text.returncode == 1
    assert f"{len(PLANTED)} of {report['checked']} tags rejected; check failed" in text.stdout


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("churn#dev#2", set()),  # later tags do not count against an early one
        (GOOD_AFTER, set()),
        ("churn#prd#6", {"stage-unknown"}),
        ("churn#dev#3", {"counter-not-increasing"}),  # #4 came before it
        ("refs/tags/churn@created", {"tag-reserved"}),
    ],
)
def test_check_one_tag_against_the_history_before_it(
    audited: World, tag: str, expected: set[str]
) -> None:
    done = gtoguard("check", tag, "--json", cwd=audited.clone)
    report = json.loads(done.stdout)
    assert {v["rule"] for v in report["violations"]} == expected
    assert done.returncode == (1 if expected else 0)
    assert report["checked"] == 1


def test_check_a_plain_tag_and_the_branch_option(audited: World) -> None:
    git("tag", "v1.0", cwd=audited.clone)
    done = gtoguard("check", "v1.0", cwd=audited.clone)
    assert done.returncode == 0 and "not a GTO tag" in done.stdout
    # stage 'prd' is fine by a .gto that allows it, read from another branch, for a tag
    # made after that branch allowed it (an audit judges by the rules of the tag's time)
    git("checkout", "-q", "-b", "loose", cwd=audited.clone)
    audited.commit("loosen", {".gto": "stages: [dev, prd]\n"})
    git("checkout", "-q", "main", cwd=audited.clone)
    audited.tag("churn#prd#60")
    assert gtoguard("check", "churn#prd#60", cwd=audited.clone).returncode == 1
    assert gtoguard("check", "churn#prd#60", "--branch", "loose", cwd=audited.clone).returncode == 0
    before = gtoguard("check", "churn#prd#6", "--branch", "loose", cwd=audited.clone)
    assert before.returncode == 1, before.stdout  # made before loose allowed it
    missing = gtoguard("check", "churn#prd#6", "--branch", "nope", cwd=audited.clone)
    assert missing.returncode == 2 and "no branch 'nope'" in missing.stderr
