"""Differential: the same sequence of commands through gtoguard and through the gto CLI
gives repositories that gto reads identically, and ``gtoguard show --json`` prints what
``gto show --json`` prints for either of them.

The gtoguard side pushes every new tag with ``--push`` into a bare server that runs the
pre-receive hook, so each tag the helper makes is also accepted by the hook.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from conftest import World, git, gto_clock, gtoguard, make_world, run_gto, tag_dates

GTO = "stages: [dev, staging, prod]\n"
CV = "models/cv:seg"

# (gtoguard arguments, gto arguments); ("commit",) makes a new commit on both sides
STEPS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("register", "churn"), ("register", "churn")),
    (
        ("assign", "churn", "--version", "v0.0.1", "--stage", "dev"),
        ("assign", "churn", "--version", "v0.0.1", "--stage", "dev"),
    ),
    (("commit",), ("commit",)),
    (("register", "churn", "--bump-minor"), ("register", "churn", "--bump-minor")),
    (
        ("assign", "churn", "--version", "v0.1.0", "--stage", "dev"),
        ("assign", "churn", "--version", "v0.1.0", "--stage", "dev"),
    ),
    (
        ("assign", "churn", "--version", "v0.1.0", "--stage", "staging"),
        ("assign", "churn", "--version", "v0.1.0", "--stage", "staging"),
    ),
    (
        ("assign", "churn", "--version", "v0.1.0", "--stage", "prod", "--simple"),
        ("assign", "churn", "--version", "v0.1.0", "--stage", "prod", "--simple", "true"),
    ),
    (("commit",), ("commit",)),
    (("assign", "churn", "HEAD", "--stage", "dev"), ("assign", "churn", "HEAD", "--stage", "dev")),
    (("register", CV, "--version", "v1.0.0-rc.1"), ("register", CV, "--version", "v1.0.0-rc.1")),
    (
        ("assign", CV, "--version", "v1.0.0-rc.1", "--stage", "dev"),
        ("assign", CV, "--version", "v1.0.0-rc.1", "--stage", "dev"),
    ),
    (("commit",), ("commit",)),
    (("register", CV, "--version", "v1.0.0"), ("register", CV, "--version", "v1.0.0")),
    (
        ("assign", CV, "--version", "v1.0.0", "--stage", "staging"),
        ("assign", CV, "--version", "v1.0.0", "--stage", "staging"),
    ),
    (
        ("promote", CV, "--version", "v1.0.0", "--stage", "prod"),
        ("promote", CV, "--version", "v1.0.0", "--stage", "prod"),
    ),
    (
        ("unassign", CV, "--version", "v1.0.0-rc.1", "--stage", "dev"),
        ("deprecate", CV, "v1.0.0-rc.1", "dev"),
    ),
    (
        ("unassign", "churn", "--version", "v0.0.1", "--stage", "dev"),
        ("deprecate", "churn", "v0.0.1", "dev"),
    ),
    (("commit",), ("commit",)),
    (("register", "churn", "--bump-major"), ("register", "churn", "--bump-major")),
    (
        ("assign", "churn", "--version", "v1.0.0", "--stage", "staging"),
        ("assign", "churn", "--version", "v1.0.0", "--stage", "staging"),
    ),
    (
        ("unassign", "churn", "--version", "v0.1.0", "--stage", "staging"),
        ("deprecate", "churn", "v0.1.0", "staging"),
    ),
    (
        ("assign", "churn", "--version", "v1.0.0", "--stage", "prod"),
        ("assign", "churn", "--version", "v1.0.0", "--stage", "prod"),
    ),
    (("deregister", "churn", "--version", "v0.0.1"), ("deprecate", "churn", "v0.0.1")),
    (("deprecate", "churn"), ("deprecate", "churn")),
    (("commit",), ("commit",)),
    (
        ("register", "churn", "--version", "v1.1.0+build.7"),
        ("register", "churn", "--version", "v1.1.0+build.7"),
    ),
    (
        ("assign", "churn", "--version", "v1.1.0+build.7", "--stage", "dev"),
        ("assign", "churn", "--version", "v1.1.0+build.7", "--stage", "dev"),
    ),
    (("deprecate", "churn", "--force"), ("deprecate", "churn", "--force")),
    (("commit",), ("commit",)),
    (("register", "churn"), ("register", "churn")),
    (("register", "nlp", "--counter"), ("register", "nlp", "--simple", "false")),
    (
        ("assign", "nlp", "--version", "v0.0.1", "--stage", "prod"),
        ("assign", "nlp", "--version", "v0.0.1", "--stage", "prod"),
    ),
    (
        ("assign", "nlp", "--version", "v0.0.1", "--stage", "prod", "--force"),
        ("assign", "nlp", "--version", "v0.0.1", "--stage", "prod", "--force"),
    ),
    (
        ("unassign", "nlp", "--version", "v0.0.1", "--stage", "prod", "--simple"),
        ("deprecate", "nlp", "v0.0.1", "prod", "--simple", "true"),
    ),
    (
        ("deregister", CV, "--version", "v1.0.0-rc.1", "--counter"),
        ("deprecate", CV, "v1.0.0-rc.1", "--simple", "false"),
    ),
    (
        ("assign", "churn", "--version", "v1.1.1", "--stage", "prod", "-m", "CHANGE-42 promote"),
        ("assign", "churn", "--version", "v1.1.1", "--stage", "prod", "-m", "CHANGE-42 promote"),
    ),
    (("deprecate", CV), ("deprecate", CV)),
    (("commit",), ("commit",)),
    (("register", CV, "--bump-minor"), ("register", CV, "--bump-minor")),
]


def _gto_side(root: Path) -> Path:
    """gto stamps each tag with "now": one event a second, as a user runs it. The seconds
    are gto's clock (``gto_clock``), set one apart, ending before the real "now"."""
    repo = root / "gto-side"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    (repo / ".gto").write_text(GTO, encoding="utf-8")
    (repo / "model.txt").write_text("v1\n", encoding="utf-8")
    git("add", "-A", cwd=repo)
    start = int(time.time()) - len(STEPS) - 1
    dated = {"GIT_COMMITTER_DATE": f"@{start} +0000", "GIT_AUTHOR_DATE": f"@{start} +0000"}
    git("commit", "-q", "-m", "initial", cwd=repo, env=dated)
    expected: list[int] = []
    with gto_clock(start) as clock:
        for step, (_, gto_args) in enumerate(STEPS):
            moment = clock.tick()
            if gto_args == ("commit",):
                (repo / "model.txt").write_text(f"step {step}\n", encoding="utf-8")
                dated = {"GIT_COMMITTER_DATE": f"@{moment} +0000",
                         "GIT_AUTHOR_DATE": f"@{moment} +0000"}  # fmt: skip
                git("commit", "-q", "-am", f"retrain {step}", cwd=repo, env=dated)
            else:
                made = len(tag_dates(repo))
                run_gto(*gto_args, cwd=repo)
                expected += [moment] * (len(tag_dates(repo)) - made)  # promote makes two
    assert sorted(tag_dates(repo).values()) == expected  # each step in a second of its own
    return repo


def _gtoguard_side(world: World) -> Path:
    for step, (args, _) in enumerate(STEPS):
        moment = world.tick()
        dates = {"GIT_COMMITTER_DATE": f"@{moment} +0000", "GIT_AUTHOR_DATE": f"@{moment} +0000"}
        if args == ("commit",):
            (world.clone / "model.txt").write_text(f"step {step}\n", encoding="utf-8")
            git("commit", "-q", "-am", f"retrain {step}", cwd=world.clone, env=dates)
            assert world.push("HEAD:main").ok
            continue
        done = gtoguard(*args, "--push", cwd=world.clone, env=dates)
        assert done.returncode == 0, f"gtoguard {' '.join(args)}:\n{done.stdout}{done.stderr}"
        assert "the server accepted" in done.stdout, done.stdout + done.stderr
    return world.clone


def _tags(repo: Path) -> list[str]:
    return sorted(git("tag", "--list", cwd=repo).stdout.split())


def _gto_json(repo: Path, *args: str) -> Any:
    return json.loads(run_gto(*args, "--json", cwd=repo).stdout)


def _history(repo: Path) -> list[dict[str, Any]]:
    events = _gto_json(repo, "history")
    return [{k: v for k, v in e.items() if k not in ("timestamp", "commit")} for e in events]


def test_helper_and_gto_make_the_same_registry(tmp_path: Path) -> None:
    assert sum(1 for args, _ in STEPS if args != ("commit",)) >= 30
    (tmp_path / "guard").mkdir()
    world = make_world(tmp_path / "guard", gto=GTO)
    with ThreadPoolExecutor(1) as pool:  # gto needs a second per step: run it alongside
        gto_side = pool.submit(_gto_side, tmp_path)
        ours = _gtoguard_side(world)
        theirs = gto_side.result()

    assert _tags(ours) == _tags(theirs)
    assert _tags(world.server) == _tags(ours)  # every tag went through the server's hook
    for name in _tags(ours):  # messages byte for byte
        ours_message = git("cat-file", "tag", name, cwd=ours).stdout.split("\n\n", 1)[1]
        theirs_message = git("cat-file", "tag", name, cwd=theirs).stdout.split("\n\n", 1)[1]
        assert ours_message == theirs_message, name

    gto_show = _gto_json(theirs, "show")
    assert _gto_json(ours, "show") == gto_show
    assert _history(ours) == _history(theirs)
    for repo in (ours, theirs):
        done = gtoguard("show", "--json", cwd=repo)
        assert done.returncode == 0, done.stderr
        assert json.dumps(json.loads(done.stdout)) == json.dumps(_gto_json(repo, "show"))
    for repo in (ours, theirs):  # an audit of either history finds nothing
        audit = gtoguard("check", "--all", "--json", cwd=repo)
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert json.loads(audit.stdout)["checked"] == len(_tags(repo))
    assert gto_show["churn"]["stage"] == {
        "dev": "v1.1.0+build.7",
        "staging": "v1.0.0",
        "prod": "v1.1.1",
    }
    assert "nlp" in gto_show and gto_show["nlp"]["stage"]["prod"] is None
