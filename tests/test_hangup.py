"""A client that stops reading and hangs up (issue 29 item 6): real pushes into a bare
server with gtoguard's pre-receive hook and its landing guard, by a ``git push`` whose
output goes to a pipe the test never reads.

Such a client fills the pipes from the hook to it (its stderr, receive-pack's side-band,
the hook's stderr) and the hook blocks on a write; when the client then hangs up,
receive-pack's side-band thread dies and the hook and receive-pack used to wait on each
other for ever, an accepted push holding the repository's lock. Now every write of a
server hook waits at most ``GTOGUARD_WRITE_TIMEOUT`` seconds in all, and a lock whose
live holder shows no progress for ``GTOGUARD_LEASE`` seconds is taken over.

Each test bounds every wait, so that on code without the fix it fails instead of
hanging, and kills in ``finally`` whatever it left behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from servers import guarded

from conftest import World, git, gtoguard

SMALL_PIPE = 4096  # the client's own pipe, made small: fewer tags fill the way to it
BOUND = 30.0  # seconds the leftovers of a hang-up may take to go (the write timeout is 2)
# a push locked out fails in 20 s, not 60; the hook prints every line of its report (a
# report of 100 lines, its cap, may fit in git's pipes and never block)
QUICK = {"GTOGUARD_LOCK_TIMEOUT": "20", "GTOGUARD_MAX_SHOWN": "100000"}


def long_names(count: int, suffix: str) -> list[str]:
    """Tag names near the longest a ref can have (a path component of 250 bytes): the
    report on them is large (about 280 bytes a tag), as an attacker would make it."""
    return [f"{'a' * 232}{i:04d}{suffix}" for i in range(count)]


def fast_tags(world: World, names: list[str]) -> None:
    """Annotated tags on HEAD, all at one tagger time, written by git fast-import."""
    head, when = world.head(), world.tick()
    stream = "".join(
        f"tag {name}\nfrom {head}\ntagger T <t@example.com> {when} +0000\n"
        f"data {len(name) + 4}\ntag {name}\n"
        for name in names
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        input=stream.encode(),
        cwd=world.clone,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _proc(pid: str, name: str) -> str:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as found:
            return found.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def server_processes(world: World) -> dict[int, str]:
    """pid -> command line of every process serving this test's server repository: its
    path in the command line (receive-pack) or as the working directory (its hooks)."""
    server = str(world.server)
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        command = _proc(pid, "cmdline")
        if command and (server in command or cwd == server or cwd.startswith(server + "/")):
            found[int(pid)] = command
    return found


def until(done: Callable[[], bool], seconds: float) -> bool:
    """Poll ``done`` for at most ``seconds`` (what is tested here is a timeout)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if done():
            return True
        time.sleep(0.1)
    return done()


def _buffered(fd: int) -> int:
    size = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, size)
    return int.from_bytes(size, "little")


@contextmanager
def stalled_push(world: World, refs: list[str], env: dict[str, str]) -> Iterator[Stalled]:
    """``git push`` of ``refs`` whose output nobody reads, held until its pre-receive
    hook blocks writing to it; whatever is left of it is killed on the way out."""
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, SMALL_PIPE)
    client = subprocess.Popen(["git", "push", "origin", *refs], cwd=world.clone,
                              stdin=subprocess.DEVNULL, stdout=write, stderr=write,
                              env={**os.environ, **env})  # fmt: skip
    os.close(write)
    stalled = Stalled(world, client, read)
    try:
        assert until(stalled.hook_blocked, 120), "the hook never blocked on its output"
        yield stalled
    finally:
        stalled.hang_up()
        for pid in server_processes(world):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Stalled:
    def __init__(self, world: World, client: subprocess.Popen[bytes], read: int) -> None:
        self.world, self.client, self.read = world, client, read
        self.hook = 0

    def hook_blocked(self) -> bool:
        """The client's pipe is (about) full, so it stopped reading the server, and the
        hook sleeps in a write (or in the poll before one)."""
        if _buffered(self.read) < SMALL_PIPE // 2:
            return False
        for pid, command in server_processes(self.world).items():
            wchan = _proc(str(pid), "wchan")  # "0" where the kernel does not tell
            writing = "pipe_write" in wchan or "poll" in wchan or wchan in ("", "0")
            if "gtoguard.hooks pre-receive" in command and writing:
                self.hook = pid
                return True
        return False

    def hang_up(self) -> None:
        """The client goes, and its connection with it."""
        if self.client.poll() is None:
            self.client.kill()
            self.client.wait(timeout=10)
        if self.read >= 0:
            os.close(self.read)
            self.read = -1


def push(world: World, *refs: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A push that cannot hang the test (the old code locked the next push out)."""
    return subprocess.run(["git", "push", "origin", *refs], cwd=world.clone, text=True,
                          capture_output=True, timeout=90, env={**os.environ, **env})  # fmt: skip


def lock_is_free(world: World) -> bool:
    from gtoguard.server.lock import is_stale, read_owner

    lock = world.server / "gtoguard-cache" / "lock"
    return not lock.exists() or is_stale(read_owner(lock))


def logged(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _server(world: World) -> Path:
    log = world.root / "decisions.jsonl"
    # the long pushes below must not meet the 5 s budget on a busy machine
    world.set_server_policy(f"budget: off\nlog: {log}\n")
    return log


def test_a_client_that_hangs_up_on_an_accepted_push_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    world = guarded(tmp_path)
    log = _server(world)
    names = long_names(700, "@v1.0.0")
    fast_tags(world, names)
    env = {**QUICK, "GTOGUARD_WRITE_TIMEOUT": "2"}
    with stalled_push(world, [f"refs/tags/{n}" for n in names], env) as stalled:
        assert (world.server / "gtoguard-cache" / "lock").exists()  # held while it writes
        stalled.hang_up()
        assert until(lambda: not server_processes(world), BOUND), server_processes(world)
    assert lock_is_free(world)
    (line,) = [entry for entry in logged(log) if len(entry["refs"]) == 700]
    assert line["verdict"] == "accepted"
    assert int(line["output_dropped"]) > 0
    shown = gtoguard("log", "--file", str(log), cwd=world.root).stdout
    assert f"(the pusher stopped reading: {line['output_dropped']} bytes of the report" in shown
    world.tag("churn@v1.0.0")
    pushed = push(world, "refs/tags/churn@v1.0.0", env=QUICK)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    assert "churn@v1.0.0" in world.server_tags()


def test_a_client_that_hangs_up_on_a_declined_push_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    """Twice: hang-ups used to pile up a stuck hook and receive-pack each."""
    world = guarded(tmp_path)
    log = _server(world)
    names = long_names(400, "#prd#1")  # stage-unknown, each with a hint: a long report
    fast_tags(world, names)
    env = {**QUICK, "GTOGUARD_WRITE_TIMEOUT": "2"}
    for _ in range(2):
        with stalled_push(world, [f"refs/tags/{n}" for n in names], env) as stalled:
            stalled.hang_up()
            assert until(lambda: not server_processes(world), BOUND), server_processes(world)
    assert lock_is_free(world)
    declined = [entry for entry in logged(log) if entry["verdict"] == "declined"]
    assert len(declined) == 2 and all(int(e["output_dropped"]) > 0 for e in declined)
    assert not any(n in world.server_tags() for n in names)
    world.tag("churn@v1.0.0")
    pushed = push(world, "refs/tags/churn@v1.0.0", env=QUICK)
    assert pushed.returncode == 0, pushed.stderr[-2000:]


def _second_pusher(world: World) -> World:
    """Another clone of the same server, its clock after the first one's."""
    other = world.root / "other"
    git("clone", "-q", str(world.server), str(other), cwd=world.root)
    second = World(world.root, world.server, other)
    second.clock = world.tick()
    return second


def test_a_hook_killed_while_it_holds_the_lock_loses_it_with_its_lease(tmp_path: Path) -> None:
    """The hook is killed (SIGKILL) while it holds the lock and writes to a client that
    stopped reading but stays connected: receive-pack then waits on that client for ever.
    The next push waits for the lock only as long as the lease (2 s here), takes it over
    and says so."""
    world = guarded(tmp_path)
    _server(world)
    names = long_names(700, "@v1.0.0")
    fast_tags(world, names)
    second = _second_pusher(world)
    env = {**QUICK, "GTOGUARD_WRITE_TIMEOUT": "300"}  # it stays blocked until killed
    with stalled_push(world, [f"refs/tags/{n}" for n in names], env) as stalled:
        os.kill(stalled.hook, signal.SIGKILL)
        holder = (world.server / "gtoguard-cache" / "lock").read_text().split()[0]
        assert int(holder) in server_processes(world)  # receive-pack lives on, stuck
        second.tag("churn@v1.0.0")
        pushed = push(second, "refs/tags/churn@v1.0.0", env={**QUICK, "GTOGUARD_LEASE": "2"})
        assert pushed.returncode == 0, pushed.stderr[-2000:]
        assert f"took over the repository's lock from pid {holder}" in pushed.stderr
        assert "churn@v1.0.0" in world.server_tags()
        stalled.hang_up()
        assert until(lambda: not server_processes(world), BOUND), server_processes(world)
    assert not any(n in world.server_tags() for n in names)  # its hook died: declined


def test_a_long_push_keeps_its_lease_while_it_is_judged_and_lands(tmp_path: Path) -> None:
    """Judging and landing 700 tags holds the lock longer than the lease (3 s here; about
    10 s on this machine): a push that waits meanwhile does not take it over, since the
    lease runs from the last progress (the landing guard's, per ref; receive-pack's CPU
    time), not from when the lock was taken."""
    world = guarded(tmp_path)
    _server(world)
    names = long_names(700, "@v1.0.0")
    fast_tags(world, names)
    second = _second_pusher(world)
    second.tag("churn@v1.0.0")
    lock = world.server / "gtoguard-cache" / "lock"
    first = subprocess.Popen(
        ["git", "push", "origin", *[f"refs/tags/{n}" for n in names]],
        cwd=world.clone,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert until(lock.exists, 60)  # the first push is being judged
        pushed = push(second, "refs/tags/churn@v1.0.0",
                      env={**QUICK, "GTOGUARD_LEASE": "3"})  # fmt: skip
        _, errors = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, errors[-2000:]
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    assert "took over" not in pushed.stderr
    assert set(names) | {"churn@v1.0.0"} <= world.server_tags()
