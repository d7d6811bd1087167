"""Load and concurrency: a 10,000-tag push (a mirror or migration) and 20 clients pushing
promotions of one artifact at once. Timing is not asserted here; docs/reliability.md has
the figures and the commands that measured them."""

from __future__ import annotations

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import World, git, gtoguard, make_world


def _fast_import_tags(world: World, names: list[str], start: int) -> None:
    """Annotated tags on HEAD, one second apart, written in one go by git fast-import."""
    head = world.head()
    stream = "".join(
        f"tag {name}\nfrom {head}\ntagger Mirror <mirror@example.com> {start + i} +0000\n"
        f"data {len(name) + 4}\ntag {name}\n"
        for i, name in enumerate(names)
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        input=stream.encode(),
        cwd=world.clone,
        check=True,
        capture_output=True,
    )


def _mirror_names(count: int) -> list[str]:
    names = [f"m{a}@v1.0.0" for a in range(100)]  # 100 artifacts, one version each
    names += [f"m{i % 100}#dev#{i // 100 + 1}" for i in range(count - len(names))]
    return names


def test_a_10000_tag_push_is_checked_whole(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    # a mirror brings old history in one push: the server admin says so for the import
    world.set_server_policy("tags: {max_age: off}\nbudget: off\n")
    names = _mirror_names(10_000)
    start = int(time.time()) - 20_000
    _fast_import_tags(world, names, start)
    # one bad tag among them declines the push, and names just that tag
    _fast_import_tags(world, ["m7#prd#999"], start + 10_001)
    before = world.server_snapshot()
    pushed = world.push("--tags")
    assert not pushed.ok
    assert pushed.rules() == {"stage-unknown"}, pushed.output[-2000:]
    assert "gtoguard: 1 of 10001 tags rejected; push declined" in pushed.output
    assert world.server_snapshot() == before
    git("tag", "-d", "m7#prd#999", cwd=world.clone)
    pushed = world.push("--tags")
    assert pushed.ok, pushed.output[-2000:]
    assert "10000 GTO tags checked; push accepted" in pushed.output
    assert len(world.server_tags()) == 10_000


def test_twenty_clients_promote_at_once(tmp_path: Path) -> None:
    """Valid pushes land unless git's ref locking or a newer counter that landed first
    refuses them (the client then retries with a new counter); invalid ones are always
    declined; the final registry is consistent."""
    world = make_world(tmp_path)
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    start = world.tick()
    clients = []
    for i in range(20):
        clone = tmp_path / f"client{i}"
        git("clone", "-q", str(world.server), str(clone), cwd=tmp_path)
        counter = max(i, 1)  # clients 0 and 1 race for the same name with different objects
        stage = "prd" if i % 5 == 4 else "dev"
        name = f"churn#{stage}#{counter}"
        date = {"GIT_COMMITTER_DATE": f"@{start + counter} +0000"}  # time order = counter order
        git("tag", "-a", name, "churn@v1.0.0^{commit}", "-m", f"client {i}", cwd=clone, env=date)
        clients.append((clone, name))

    def push(client: tuple[Path, str]) -> tuple[str, int, str]:
        clone, name = client
        done = git("push", "--porcelain", "origin", f"refs/tags/{name}", cwd=clone, check=False)
        return name, done.returncode, done.stdout + done.stderr

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(push, clients))

    accepted = {name for name, code, _ in results if code == 0}
    counters = sorted(int(n.rsplit("#", 1)[1]) for n in accepted)
    for name, code, output in results:
        if "#prd#" in name:
            assert code != 0 and "[stage-unknown]" in output, output  # always declined
        elif code != 0:
            rules = set(re.findall(r"\[([a-z-]+)\]", output)) - {"remote", "rejected"}
            mine = int(name.rsplit("#", 1)[1])
            if rules == {"counter-not-increasing"}:  # a higher counter landed first
                assert (counters and counters[-1] > mine) or name in accepted, output
            else:  # the same name landed from the other racer: git's ref locking
                assert not rules and name in accepted, output
    if "churn#dev#1" in accepted:  # one of the two racers won (unless #2+ landed first)
        racer = git("cat-file", "tag", "churn#dev#1", cwd=world.server).stdout
        assert racer.rstrip().endswith(("client 0", "client 1"))
    assert sum(1 for name, code, _ in results if name == "churn#dev#1" and code == 0) <= 1
    assert not any("#prd#" in n for n in world.server_tags())
    assert accepted | {"churn@v1.0.0"} == world.server_tags()
    fsck = git("fsck", "--strict", cwd=world.server, check=False)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    audit = gtoguard("check", "--all", "--json", cwd=world.server)
    assert audit.returncode == 0, audit.stdout + audit.stderr
