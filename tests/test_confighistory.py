"""An audit judges each tag by the .gto and .gtoguard.yaml of the default branch as they
stood at the tag's time (the seed: once stages are defined, promotions *after that
point* use only those names); the hook keeps judging by the files before the push."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from gtoguard.config import timeline
from gtoguard.git.repo import open_repo
from gtoguard.registry.planning import config_branch

from conftest import World, git, gtoguard, make_world


def _commit(world: World, when: int, files: dict[str, str]) -> str:
    """A commit dated ``when`` on main, pushed (the clone's origin/main follows)."""
    for name, text in files.items():
        (world.clone / name).write_text(text, encoding="utf-8")
    git("add", "-A", cwd=world.clone)
    date = f"@{when} +0000"
    git("commit", "-q", "-m", f"config at {when}", cwd=world.clone,
        env={"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date})  # fmt: skip
    pushed = world.push("HEAD:main", "--force")
    assert pushed.ok, pushed.output
    return world.head()


def _past_world(tmp_path: Path, **kwargs: Any) -> World:
    """A world whose history is an hour old, so that ``start + N`` dates stay in the past,
    as a real history's are: an era never starts after now (nor after a later commit)."""
    return make_world(tmp_path, since=int(time.time()) - 3600, **kwargs)


def _hookless(world: World, *refs: str) -> None:
    """Push ``refs`` past the server's hook, as on github.com (no hook runs there) or by
    an admin: the tag is in the repository for CI and the audit to judge."""
    hooks = world.server / "hooks"
    aside = world.root / "hooks-aside"
    hooks.rename(aside)
    try:
        pushed = world.push(*refs)
    finally:
        aside.rename(hooks)
    assert pushed.ok, pushed.output


def _audit(world: World, *args: str) -> dict:  # type: ignore[type-arg]
    done = gtoguard("check", *(args or ("--all",)), "--json", cwd=world.clone)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _flagged(report: dict) -> dict[str, tuple[str, str | None]]:  # type: ignore[type-arg]
    return {
        v["ref"].removeprefix("refs/tags/"): (v["rule"], v["config"]) for v in report["violations"]
    }


def test_stages_adopted_late_bind_only_the_tags_after_them(tmp_path: Path) -> None:
    world = _past_world(tmp_path, gto=None, hook=False)
    start = world.clock
    world.tag("m@v1.0.0", when=start + 10)
    world.tag("m#qa#1", when=start + 20)  # no stages defined yet: any stage goes
    adopted = _commit(world, start + 100, {".gto": "stages: [dev, prod]\n"})
    world.tag("m#qa#2", when=start + 200)  # after the adoption: qa is not a stage
    world.tag("m#prod#3", when=start + 210)
    widened = _commit(world, start + 300, {".gto": "stages: [dev, prod, qa]\n"})
    world.tag("m#qa#4", when=start + 400)  # qa is a stage again
    git("push", "-q", "origin", "--tags", cwd=world.clone)

    report = _audit(world)
    assert _flagged(report) == {"m#qa#2": ("stage-unknown", adopted)}
    (message,) = [v["message"] for v in report["violations"]]
    assert f"by .gto on origin/main as of {adopted[:12]}" in message  # not today's .gto
    assert "(allowed: dev, prod)" in message
    assert widened != adopted
    assert _audit(world, "m#qa#1")["ok"] is True  # one tag, by the rules of its time
    assert _flagged(_audit(world, "m#qa#2")) == {"m#qa#2": ("stage-unknown", adopted)}


def test_a_policy_binds_from_its_commit_on(tmp_path: Path) -> None:
    world = _past_world(tmp_path, hook=False)  # .gto from the first commit
    start = world.clock
    world.tag("m@v1.0.0", when=start + 10)
    world.tag("m#prod#1", when=start + 20)  # straight to prod, before any policy
    policy = _commit(world, start + 100, {".gtoguard.yaml": "stages:\n  prod: {from: [staging]}\n"})
    world.clock = start + 150
    world.commit("v2")
    world.tag("m@v2.0.0", when=start + 200)
    world.tag("m#prod#3", when=start + 210)  # straight to prod, after the policy
    git("push", "-q", "origin", "HEAD:main", "--tags", cwd=world.clone)
    assert _flagged(_audit(world)) == {"m#prod#3": ("stage-order", policy)}


def test_check_as_it_arrived_takes_the_rules_of_the_push(tmp_path: Path) -> None:
    """--pushed-at: the tag as the hook saw it, by the files of that moment."""
    world = _past_world(tmp_path, gto=None, hook=False)
    start = world.clock
    world.tag("m@v1.0.0", when=start + 10)
    world.tag("m#qa#1", when=start + 20)
    adopted = _commit(world, start + 100, {".gto": "stages: [dev, prod]\n"})
    git("push", "-q", "origin", "--tags", cwd=world.clone)
    early = _audit(world, "m#qa#1", "--pushed-at", str(start + 21))
    assert early["ok"] is True, early
    late = _audit(world, "m#qa#1", "--pushed-at", str(start + 101))
    assert _flagged(late) == {"m#qa#1": ("stage-unknown", adopted)}


def test_an_unreadable_old_config_leaves_its_time_to_the_era_before(tmp_path: Path) -> None:
    world = _past_world(tmp_path, gto=None, hook=False)
    start = world.clock
    world.tag("m@v1.0.0", when=start + 10)
    broken = _commit(world, start + 100, {".gto": "stages: dev\n"})  # gto failed on it
    world.tag("m#qa#1", when=start + 150)
    fixed = _commit(world, start + 200, {".gto": "stages: [dev, prod]\n"})
    world.tag("m#qa#2", when=start + 250)
    git("push", "-q", "origin", "--tags", cwd=world.clone)
    done = gtoguard("check", "--all", cwd=world.clone)
    assert done.returncode == 1
    assert "m#qa#2: [stage-unknown]" in done.stdout and "m#qa#1" not in done.stdout
    assert f"as of {broken[:12]}" in done.stdout and "invalid" in done.stdout  # the note
    assert _flagged(_audit(world)) == {"m#qa#2": ("stage-unknown", fixed)}


def test_no_config_history_judges_as_today(tmp_path: Path) -> None:
    world = make_world(tmp_path, gto=None, hook=False)
    world.tag("m@v1.0.0")
    world.tag("m#anything#1")
    git("push", "-q", "origin", "--tags", cwd=world.clone)
    repo = open_repo(str(world.clone))
    branch = config_branch(repo, None)
    assert timeline.eras(repo, branch) == [timeline.Era(timeline.EARLIEST, None)]
    report = _audit(world)
    assert report["ok"] is True and report["checked"] == 2


def test_the_eras_follow_the_branch_and_survive_a_rewrite(tmp_path: Path) -> None:
    """The eras are cached by branch and tip; a later tip walks only what came after,
    and a rewritten branch is walked again: each time the audit reads the right rules."""
    world = _past_world(tmp_path, gto=None, hook=False)
    start = world.clock
    world.tag("m@v1.0.0", when=start + 10)
    first = _commit(world, start + 100, {".gto": "stages: [dev, prod]\n"})
    world.tag("m#prod#1", when=start + 150)
    git("push", "-q", "origin", "--tags", cwd=world.clone)
    assert _audit(world)["ok"] is True
    cache = world.clone / ".git" / "gtoguard-cache" / "eras.json"
    assert first in cache.read_text()

    narrowed = _commit(world, start + 200, {".gto": "stages: [dev]\n"})  # prod goes
    world.tag("m#prod#2", when=start + 250)
    git("push", "-q", "origin", "--tags", cwd=world.clone)
    assert _flagged(_audit(world)) == {"m#prod#2": ("stage-unknown", narrowed)}

    git("reset", "-q", "--hard", first, cwd=world.clone)  # the branch rewritten: prod back
    assert world.push("HEAD:main", "--force").ok
    assert _audit(world)["ok"] is True
    assert narrowed not in cache.read_text()


def test_the_hook_keeps_judging_by_the_files_before_the_push(tmp_path: Path) -> None:
    """A push that brings a stage list and a tag using an old stage: the hook judges by
    the files before the push (no stages), so it lands; the audit, by the rules at the
    tag's time, agrees when the tag is older than the commit."""
    world = make_world(tmp_path, gto=None)
    world.tag("m@v1.0.0")
    world.tag("m#qa#1")
    world.commit("stages", {".gto": "stages: [dev, prod]\n"})
    pushed = world.push("HEAD:main", "refs/tags/m@v1.0.0", "refs/tags/m#qa#1")
    assert pushed.ok, pushed.output
    assert "checked against the files as they were before the push" in pushed.output
    assert _audit(world)["ok"] is True


FUTURE = 4070908800  # 2099-01-01 00:00 UTC: a wrong clock, or a date chosen on purpose
TIGHT = "stages:\n  prod: {from: [staging]}\n"


def test_a_commit_dated_in_the_future_does_not_hold_back_the_rules_after_it(
    tmp_path: Path,
) -> None:
    """Issue 29, item 21: one config commit dated 2099 made every later change start in
    2099, so CI and the audit judged a promotion by the rules before the policy that the
    hook enforced. The eras follow the branch's order: the later commit's date bounds it."""
    world = make_world(tmp_path)  # the server runs the hook
    world.tag("m@v1.0.0")
    assert world.push_tags("m@v1.0.0").ok
    future = _commit(world, FUTURE, {".gtoguard.yaml": "mode: enforce\n"})
    tightened = _commit(world, world.tick(), {".gtoguard.yaml": TIGHT})
    world.tag("m#prod#1")  # straight to prod: the tightened policy forbids it
    pushed = world.push_tags("m#prod#1")
    assert not pushed.ok and pushed.rules() == {"stage-order"}, pushed.output
    _hookless(world, "refs/tags/m#prod#1")
    arrived = str(world.tick())
    assert _flagged(_audit(world, "m#prod#1", "--pushed-at", arrived)) == {
        "m#prod#1": ("stage-order", tightened)
    }
    assert _flagged(_audit(world)) == {"m#prod#1": ("stage-order", tightened)}
    done = gtoguard("check", "--all", cwd=world.clone)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{future[:12]} (a config change on origin/main) is dated 2099-01-01" in done.stdout


def test_a_tightening_dated_in_the_future_binds_from_the_commit_before_it(
    tmp_path: Path,
) -> None:
    """No later commit bounds the tip's date, and now would be too late: a tag pushed
    after the tightening landed (the hook declined it) arrived before the CI job ran.
    The era starts when the commit before it was made."""
    world = make_world(tmp_path)
    world.tag("m@v1.0.0")
    assert world.push_tags("m@v1.0.0").ok
    tightened = _commit(world, FUTURE, {".gtoguard.yaml": TIGHT})
    world.tag("m#prod#1")
    pushed = world.push_tags("m#prod#1")
    assert not pushed.ok and pushed.rules() == {"stage-order"}, pushed.output
    _hookless(world, "refs/tags/m#prod#1")
    arrived = str(world.tick())
    assert _flagged(_audit(world, "m#prod#1", "--pushed-at", arrived)) == {
        "m#prod#1": ("stage-order", tightened)
    }
    report = _audit(world)
    assert _flagged(report) == {"m#prod#1": ("stage-order", tightened)}


def test_a_date_ahead_of_the_commits_after_it_is_caught_once_it_has_passed(
    tmp_path: Path,
) -> None:
    """A date a few days ahead, audited after those days: no longer in the future, and
    after the later config changes' dates neither (there are none); only the commits
    after it tell. The cached eras, extended commit by commit, tell the same."""
    day = 86400
    world = make_world(tmp_path, hook=False, since=int(time.time()) - 30 * day)
    start = world.clock
    world.tag("m@v1.0.0", when=start + 10)
    git("push", "-q", "origin", "--tags", cwd=world.clone)
    tightened = _commit(world, start + 5 * day, {".gtoguard.yaml": TIGHT})  # 4 days ahead
    assert _audit(world)["ok"] is True  # cached: the tip, no commit after it yet
    world.clock = start + day
    world.commit("retrained")  # made a day after the tightening landed
    world.tag("m#prod#1", when=start + day + 10)
    world.clock = start + 10 * day
    world.commit("later")  # after the ahead date: dates after it are fine again
    git("push", "-q", "origin", "HEAD:main", "--tags", cwd=world.clone)
    assert _flagged(_audit(world)) == {"m#prod#1": ("stage-order", tightened)}
    cache = world.clone / ".git" / "gtoguard-cache" / "eras.json"
    cache.unlink()  # walked from scratch: the same
    assert _flagged(_audit(world)) == {"m#prod#1": ("stage-order", tightened)}


H = 3600
ORDER = [  # (each change's date, its first parent's, the earliest after it; now; the starts)
    # an honest history: each era at its date
    ([(10 * H, 5 * H, 15 * H), (20 * H, 15 * H, None)], 100 * H, [10 * H, 20 * H]),
    # dated after the change that follows: wrong, so from the commit before it
    ([(500 * H, 5 * H, 15 * H), (20 * H, 15 * H, None)], 100 * H, [5 * H, 20 * H]),
    # the tip dated after now
    ([(10 * H, 5 * H, 15 * H), (500 * H, 15 * H, None)], 100 * H, [10 * H, 15 * H]),
    # dated after a later commit that changed no config file
    ([(30 * H, 5 * H, 15 * H), (40 * H, 35 * H, None)], 100 * H, [5 * H, 40 * H]),
    # a clock a few minutes ahead of the next commit's, or of now: as late as they allow
    ([(10 * H + 200, 5 * H, 10 * H), (100 * H + 200, 15 * H, None)], 100 * H, [10 * H, 100 * H]),
    # the branch's first commit, ahead: no commit before it, so the earliest after it
    ([(500 * H, None, 15 * H)], 100 * H, [15 * H]),
]


@pytest.mark.parametrize(("changes", "now", "starts"), ORDER)
def test_the_eras_follow_the_order_of_the_branch(
    changes: list[tuple[int, int | None, int | None]], now: int, starts: list[int]
) -> None:
    found = timeline.ordered(
        [timeline.Change(f"c{i}", d, b, a) for i, (d, b, a) in enumerate(changes)], now
    )
    assert [era.since for era in found[1:]] == starts
    wrong = [
        d if b is not None and d - s > timeline.SKEW else None
        for (d, b, _), s in zip(changes, starts, strict=True)
    ]
    assert [era.dated for era in found[1:]] == wrong


def test_the_eras_read_the_history_as_stored_not_as_a_replace_ref_shows_it(tmp_path: Path) -> None:
    """The walk of the default branch's first-parent chain starts git as every git
    gtoguard runs does (git/invoke): a replace ref in the clone that gives main's tip
    another parent must not change the commits the config eras are read from."""
    world = make_world(tmp_path, hook=False)
    base = world.head()
    kept = world.commit("kept")
    tip = world.commit("tip")
    git("checkout", "-q", "-b", "side", base, cwd=world.clone)
    side = world.commit("side")
    git("checkout", "-q", "main", cwd=world.clone)
    fake = git("commit-tree", f"{tip}^{{tree}}", "-p", side, "-m", "tip", cwd=world.clone)
    git("replace", tip, fake.stdout.strip(), cwd=world.clone)
    assert git("rev-list", "--first-parent", "main", cwd=world.clone).stdout.split()[1] == side
    walked = timeline._chain(open_repo(str(world.clone)), tip, None)
    assert walked is not None
    commits, _ = walked
    assert commits[:3] == [tip, kept, base] and side not in commits
