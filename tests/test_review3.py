"""The third adversarial review's findings that are not about refs or time (see
docs/reliability.md, "The third review"): what the repository's content may never
choose (fail: open), sizes nobody bounded, and input the hook could not read. Each test
pushes with the real git client into a bare repository with the installed hook."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import World, faulty_python, git, gtoguard, run_gto, store_object, tag_body

V1 = "churn@v1.0.0^{commit}"


@pytest.fixture
def registered(world: World) -> World:
    return world.landed()


def chained_groups(count: int) -> str:
    lines = ["stages:", "  prod: {pushers: ['@g0']}", "groups:"]
    lines += [f"  g{i}: ['@g{i + 1}', u{i}]" for i in range(count)]
    lines.append(f"  g{count}: [alice]")
    return "\n".join(lines) + "\n"


# --- finding 9: the repository's content never chooses fail: open ----------------------------


def test_chained_groups_are_config_invalid_even_with_fail_open(registered: World) -> None:
    """1,100 chained groups raised RecursionError, an internal error, and the server's
    fail: open then accepted that push and every later GTO push unchecked."""
    world = registered
    world.set_server_policy("fail: open\nstages:\n  prod: {pushers: [alice]}\n")
    before = world.server_snapshot()
    world.commit("groups", {".gtoguard.yaml": chained_groups(1100)})
    pushed = world.push("HEAD:main")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "nested more than 16 deep" in pushed.output
    assert world.server_snapshot() == before


def test_a_crash_on_the_repositorys_files_never_fails_open(
    registered: World, tmp_path: Path
) -> None:
    """Whatever gtoguard raises while reading the repository's files is config-invalid,
    and whatever it raises judging a push declines it: fail: open is for the server's
    own failures (tests/test_e2e_policy.py: a library that cannot load)."""
    world = registered
    world.set_policy("groups:\n  leads: [alice]\nstages:\n  prod: {pushers: ['@leads']}\n")
    world.set_server_policy("fail: open\n")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import gtoguard.policy.groups, gtoguard.policy.evaluate\n"
        "def deep(self, name):\n"
        "    raise RecursionError('maximum recursion depth exceeded')\n"
        "gtoguard.policy.groups.Groups.members = deep\n"
    )
    faulty_python(world, site)
    world.tag("churn#prod#1", V1)
    pushed = world.push_tags("churn#prod#1", env={"REMOTE_USER": "bob"})
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "RecursionError" in pushed.output and "accepted unchecked" not in pushed.output
    (site / "sitecustomize.py").write_text(
        "import gtoguard.policy.evaluate\n"
        "def broken(*args, **kwargs):\n"
        "    raise ValueError('a crafted tag')\n"
        "gtoguard.policy.evaluate.evaluate = broken\n"
        "import gtoguard.registry.judge\n"
        "gtoguard.registry.judge.evaluate = broken\n"
    )
    pushed = world.push_tags("churn#prod#1", env={"REMOTE_USER": "bob"})
    assert not pushed.ok and pushed.rules() == {"internal-error"}, pushed.output
    assert "fail: open does not apply" in pushed.output
    assert "churn#prod#1" not in world.server_tags()


# --- finding 11: group expansion is linear, and bounded ------------------------------------------


def test_eight_thousand_chained_groups_are_refused_at_once(registered: World) -> None:
    world = registered
    world.commit("groups", {".gtoguard.yaml": chained_groups(8000)})
    pushed = world.push("HEAD:main")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "nested more than 16 deep" in pushed.output


def test_wide_groups_expand_once(registered: World) -> None:
    """Many groups naming one big group: each is expanded once, not once per use."""
    world = registered
    users = ", ".join(f"u{i}" for i in range(2000))
    lines = [
        "stages:",
        "  prod: {pushers: [" + ", ".join(f"'@g{i}'" for i in range(300)) + "]}",
        "groups:",
        f"  big: [{users}, alice]",
    ]
    lines += [f"  g{i}: ['@big', v{i}]" for i in range(300)]
    world.set_policy("\n".join(lines) + "\n")
    world.tag("churn#prod#1", V1)
    assert not world.push_tags("churn#prod#1", env={"REMOTE_USER": "bob"}).ok
    assert world.push_tags("churn#prod#1", env={"REMOTE_USER": "alice"}).ok


# --- finding 14: a counter gto cannot read -------------------------------------------------------


def raw_push(server: Path, old: str, new: str, ref: str) -> tuple[int, str]:
    """One ref update sent to ``git receive-pack`` by hand, as a client that does not use
    git's own (which refuses ref names longer than a path may be) speaks the protocol:
    the update line, then an empty pack (the object is on the server already)."""
    import hashlib
    import struct
    import subprocess

    proc = subprocess.Popen(
        ["git", "receive-pack", str(server)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    while True:  # the advertisement, up to its flush packet
        size = int(proc.stdout.read(4), 16)
        if size == 0:
            break
        proc.stdout.read(size - 4)
    line = f"{old} {new} {ref}\0report-status\n".encode()
    pack = b"PACK" + struct.pack(">II", 2, 0)
    proc.stdin.write(
        b"%04x" % (len(line) + 4) + line + b"0000" + pack + hashlib.sha1(pack).digest()
    )
    proc.stdin.close()
    out = proc.stdout.read()
    err = proc.stderr.read() if proc.stderr else b""
    return proc.wait(timeout=60), (out + err).decode("utf-8", "replace")


def test_a_counter_of_4301_digits_is_malformed_not_an_internal_error(registered: World) -> None:
    """Python's int() refuses more than 4,300 digits (and so every gto reader fails): the
    hook said internal-error, where the name-length rule should answer. git's own client
    will not send a ref name that long; receive-pack takes it from any other."""
    world = registered
    world.tag("churn#prod#1", V1)
    assert world.push_tags("churn#prod#1").ok
    oid = git("rev-parse", "churn#prod#1", cwd=world.clone).stdout.strip()
    name = "churn#prod#" + "1" * 4301
    before = world.server_snapshot()
    _, output = raw_push(world.server, "0" * 40, oid, f"refs/tags/{name}")
    assert "[tag-malformed]" in output and "at most 255 are allowed" in output, output
    assert "internal-error" not in output and "Traceback" not in output, output
    assert world.server_snapshot() == before
    # the same name carried by the tag object under a plain ref name
    commit = git("rev-parse", V1, cwd=world.clone).stdout.strip()
    body = tag_body(name, commit, world.tick(), "promote\n", tagger="Bob <bob@example.com>")
    oid = store_object(world.clone, body)
    pushed = world.push(f"{oid}:refs/tags/release")
    assert not pushed.ok and pushed.rules() == {"tag-name-mismatch"}, pushed.output


# --- finding 15: a pattern that cannot compile as written ----------------------------------------


@pytest.mark.parametrize("pattern", ["a{4294967296}", "CHANGE-[0-9]{2,99999999999}", "x{,5}"])
def test_a_pattern_re2_reads_as_text_is_config_invalid(registered: World, pattern: str) -> None:
    """RE2 reads a repetition it cannot hold as literal text: the pattern compiled and
    then matched nothing a tag message would say."""
    world = registered
    policy = f"stages:\n  prod:\n    message: '{pattern}'\n"
    (world.clone / ".gtoguard.yaml").write_text(policy)
    done = gtoguard("config", "validate", ".gtoguard.yaml", cwd=world.clone)
    assert done.returncode == 1 and "/stages/prod/message" in done.stdout + done.stderr, done
    world.commit("policy", {".gtoguard.yaml": policy})
    pushed = world.push("HEAD:main")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "/stages/prod/message" in pushed.output


# --- finding 23: input the hook cannot read ------------------------------------------------------


def test_unreadable_hook_input_declines_the_push(registered: World) -> None:
    """hooks.main read an OSError on stdin as "no updates", and so accepted a push it
    never judged."""
    world = registered
    hook = world.server / "hooks" / "pre-receive"
    hook.write_text(
        # git's lines are read here; gtoguard gets a stdin open for writing only
        "#!/bin/sh\ncat > /dev/null\n"
        f"exec {shlex.quote(sys.executable)} -I -m gtoguard.hooks pre-receive 0> /dev/null\n"
    )
    hook.chmod(0o755)
    world.tag("churn#prd#1", V1)
    before = world.server_snapshot()
    pushed = world.push_tags("churn#prd#1")
    assert not pushed.ok and pushed.rules() == {"internal-error"}, pushed.output
    assert "cannot read the hook's input" in pushed.output
    assert world.server_snapshot() == before


# --- finding 22: tombstones by namespace, and a tombstone that cannot be written ----------------


def _namespace_with_main(world: World, namespace: str, policy: str) -> None:
    world.commit("config", {".gtoguard.yaml": policy})
    assert world.push("HEAD:main", env={"GIT_NAMESPACE": namespace}).ok
    prefix = "".join(f"refs/namespaces/{part}/" for part in namespace.split("/") if part)
    git("symbolic-ref", f"{prefix}HEAD", f"{prefix}refs/heads/main", cwd=world.server)


def test_deleted_tags_are_remembered_per_namespace_as_git_reads_it(world: World) -> None:
    """The file was named from GIT_NAMESPACE with '/' turned into '.': the distinct
    namespaces a/b and a.b shared one, and a/b written as a//b or /a/b had three."""
    for namespace in ("a/b", "a.b"):
        _namespace_with_main(world, namespace, "tags: {delete: allow}\n")
    first = world.head()
    world.tag("churn@v1.0.0", first)
    dotted, nested = {"GIT_NAMESPACE": "a.b"}, {"GIT_NAMESPACE": "a/b"}
    assert world.push_tags("churn@v1.0.0", env=dotted).ok
    assert world.push(":refs/tags/churn@v1.0.0", env=dotted).ok
    other = world.commit("elsewhere")
    git("tag", "-d", "churn@v1.0.0", cwd=world.clone)
    world.tag("churn@v1.0.0", other)
    pushed = world.push_tags("churn@v1.0.0", env=nested)  # never deleted in a/b
    assert pushed.ok, pushed.output
    assert world.push(":refs/tags/churn@v1.0.0", env={"GIT_NAMESPACE": "a//b"}).ok
    git("tag", "-d", "churn@v1.0.0", cwd=world.clone)
    world.tag("churn@v1.0.0", first)
    pushed = world.push_tags("churn@v1.0.0", env={"GIT_NAMESPACE": "/a/b"})
    assert not pushed.ok and pushed.rules() == {"tag-moved"}, pushed.output


def test_a_deletion_is_accepted_only_once_remembered(registered: World) -> None:
    world = registered
    world.set_policy("tags: {delete: allow}\n")
    (world.server / "gtoguard-cache" / "deleted-tags").mkdir(parents=True)  # cannot be written
    pushed = world.push(":refs/tags/churn@v1.0.0")
    assert not pushed.ok and pushed.rules() == {"internal-error"}, pushed.output
    assert "cannot remember the deleted tags" in pushed.output
    assert "churn@v1.0.0" in world.server_tags()


# --- findings 10 and 12: what one push may make the hook read, hold, log and print ---------------


def _big_plain_tags(world: World, count: int, megabytes: int) -> list[str]:
    commit = world.head()
    names = []
    for n in range(count):
        body = tag_body(f"release-{n}", commit, world.tick(), tagger="Bob <bob@example.com>")
        oid = store_object(world.clone, body + b"y" * (megabytes << 20) + f"{n}\n".encode())
        git("update-ref", f"refs/tags/release-{n}", oid, cwd=world.clone)
        names.append(f"release-{n}")
    return names


def test_plain_tags_with_huge_messages_are_read_by_their_heads(
    world: World, tmp_path: Path
) -> None:
    """Finding 10: 60 plain-named tag objects with 16 MiB messages cost the hook 1 GB and
    seconds, every message read whole and kept. The hook reads a plain tag's head (its
    name is all gto reads of it): here its address space is capped at 200 MB, which
    reading 40 such messages of 6 MiB whole would pass (the hook needs about 60 MB; a
    reader that keeps them whole dies of MemoryError under this cap, as it did with
    16 MiB messages under 600 MB, at a third of the bytes to write and push)."""
    wrapper = tmp_path / "capped-python"
    wrapper.write_text(f'#!/bin/sh\nulimit -v 200000\nexec {shlex.quote(sys.executable)} "$@"\n')
    wrapper.chmod(0o755)
    from gtoguard.server.install import install_into

    install_into(world.server / "hooks" / "pre-receive", "pre-receive", str(wrapper))
    names = _big_plain_tags(world, 40, 6)
    pushed = world.push_tags(*names)
    assert pushed.ok, pushed.output[-2000:]
    assert len(world.server_tags()) == 40


def test_a_declined_push_of_many_refs_logs_one_bounded_line(
    registered: World, tmp_path: Path
) -> None:
    """Finding 12: one bad tag plus 20,000 long branch names appended 6.6 MB to the
    decision log, and the push could be repeated without end. A decision's line lists
    the first 100 refs and violations, and counts them all; the pusher sees the first
    100 violations and a count."""
    world = registered
    log = tmp_path / "decisions.jsonl"
    world.set_server_policy(f"log: {log}\n")
    head = world.head()
    # 600 long branch names: their names alone pass the 64 KiB bound on a line (the
    # finding's 20,000 and the 2,000 this test pushed before only pass it further)
    lines = "".join(f"create refs/heads/{'b' * 150}-{n} {head}\n" for n in range(600))
    git("update-ref", "--stdin", cwd=world.clone, input=lines.encode())
    names = [f"churn#prd#{n}" for n in range(1, 151)]
    for name in names:
        world.tag(name, V1)
    refspecs = [f"refs/heads/{'b' * 150}-{n}" for n in range(600)] + [
        f"refs/tags/{n}" for n in names
    ]
    assert sum(map(len, refspecs)) > 64 << 10  # a line listing every ref would pass the bound
    pushed = world.push(*refspecs)
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output[-3000:]
    assert pushed.output.count("[stage-unknown]") == 100, pushed.output.count("[stage-unknown]")
    assert "... and 50 more (stage-unknown); the first 100 are shown" in pushed.output
    decided = [json.loads(line) for line in log.read_text().splitlines()]
    assert decided[-1]["verdict"] == "declined"
    assert decided[-1]["refs_total"] == 750 and len(decided[-1]["refs"]) == 100
    assert decided[-1]["violations_total"] == 150 and decided[-1]["rules"] == ["stage-unknown"]
    assert len(log.read_bytes().splitlines()[-1]) < 64 << 10


# --- the fresh review of the fixes above (2026-12-07): what it landed ---------------------------


def _raw_commit(
    world: World, author: str, extra: str = "", message: bytes = b"x\n", parent: bool = True
) -> str:
    tree = git("rev-parse", "HEAD^{tree}", cwd=world.clone).stdout.strip()
    head = f"tree {tree}\n" + (f"parent {world.head()}\n" if parent else "")
    extra = f"{extra}\n" if extra else ""
    body = (f"{head}{author}\ncommitter A <a@b> {world.tick()} +0000\n{extra}\n").encode() + message
    done = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
        cwd=world.clone,
        input=body,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


def test_content_never_fails_open_through_a_commit_gto_cannot_read(registered: World) -> None:
    """R1: bob's forbidden promotion plus a tag on an 'author garbage' commit, under fail:
    open: pygit2 raised on the commit, the failure counted as the server's, and both tags
    landed unchecked."""
    world = registered
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    world.set_server_policy("fail: open\n")
    bad = _raw_commit(world, "author garbage")
    world.tag("zz@v1.0.0", bad)
    world.tag("churn#prod#1", V1)
    pushed = world.push("--atomic", "refs/tags/churn#prod#1", "refs/tags/zz@v1.0.0",
                        env={"REMOTE_USER": "bob"})  # fmt: skip
    assert not pushed.ok, pushed.output
    assert pushed.rules() == {"pusher-not-allowed", "tag-unreadable"}, pushed.output
    assert "accepted unchecked" not in pushed.output
    assert "'NAME <EMAIL> TIME ±HHMM'" in pushed.output


@pytest.mark.parametrize(
    ("author", "extra", "message"),
    [
        ("author A <a@b> 1 +0000", "encoding bogus-enc", b"x\n"),
        ("author A <a@b> 1 +0000", "encoding utf-8", b"caf\xe9\n"),
        ("author garbage", "", b"x\n"),
        ("author A <a@b> 1", "", b"x\n"),
    ],
)
def test_a_commit_gto_cannot_read_never_becomes_the_tip_or_a_version(
    registered: World, author: str, extra: str, message: bytes
) -> None:
    """R2: a commit with an encoding header its message does not decode with, or an
    author line gto cannot split, as main's tip or under a version: every gto reader
    failed ('unknown encoding', 'Invalid commit')."""
    world = registered
    bad = _raw_commit(world, author, extra, message)
    before = world.server_snapshot()
    pushed = world.push(f"{bad}:refs/heads/main")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "every gto reader reads the default branch's tip commit" in pushed.output
    world.tag("churn@v1.1.0", bad)
    pushed = world.push(f"{bad}:refs/heads/side", "refs/tags/churn@v1.1.0")
    assert not pushed.ok and pushed.rules() == {"tag-unreadable"}, pushed.output
    assert world.server_snapshot() == before


def test_a_version_on_a_commit_with_a_broken_index_is_unreadable(registered: World) -> None:
    """R3: gto reads artifacts.yaml at every version's commit, not only at HEAD."""
    world = registered
    git("checkout", "-q", "-b", "side", cwd=world.clone)
    world.commit("broken index", {"artifacts.yaml": "[\n"})
    world.tag("churn#dev#1")
    pushed = world.push("side", "refs/tags/churn#dev#1")
    assert not pushed.ok and pushed.rules() == {"tag-unreadable"}, pushed.output
    assert "gto reads artifacts.yaml at every version's commit" in pushed.output


def test_gitattributes_cannot_rewrite_the_config_on_checkout(registered: World) -> None:
    """R4: `.gto working-tree-encoding=UTF-16` on main: every clone checked .gto out as
    UTF-16, and gto failed ('Wrong config file'); the shim had answered the push itself."""
    world = registered
    for attributes in (
        ".gto working-tree-encoding=UTF-16\n",
        "[attr]evil filter=lfs\nartifacts.yaml evil\n",
    ):
        (world.clone / ".gitattributes").write_text(attributes)
        git("add", ".gitattributes", cwd=world.clone)
        git("commit", "-qm", "attributes", cwd=world.clone)
        pushed = world.push("HEAD:main")
        assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
        assert "a checkout then holds another file" in pushed.output
        git("reset", "-q", "--hard", "HEAD~1", cwd=world.clone)
    (world.clone / ".gitattributes").write_text("*.bin binary\n")
    git("add", ".gitattributes", cwd=world.clone)
    git("commit", "-qm", "harmless", cwd=world.clone)
    assert world.push("HEAD:main").ok


def test_the_decision_log_is_written_only_to_a_file(registered: World, tmp_path: Path) -> None:
    """R8: the log was opened following symbolic links and blocking: a FIFO at its path
    held every push (and the repository's lock); a symlink made the hook append to
    whatever it named."""
    world = registered
    logs = tmp_path / "logs"
    logs.mkdir()
    world.set_server_policy(f"log: {logs / 'decisions.jsonl'}\n")
    os.mkfifo(logs / "decisions.jsonl")
    world.tag("churn#dev#1", V1)
    done = subprocess.run(
        ["git", "push", "origin", "refs/tags/churn#dev#1"],
        cwd=world.clone,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "the decision log was not written" in done.stderr
    (logs / "decisions.jsonl").unlink()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (logs / "decisions.jsonl").symlink_to(victim)
    world.tag("churn#dev#2", V1)
    pushed = world.push_tags("churn#dev#2")
    assert pushed.ok and "symbolic link" in pushed.output, pushed.output
    assert victim.read_text() == "precious\n"


def test_a_counter_may_not_lock_the_artifact(registered: World) -> None:
    """R5: bob, allowed only dev, pushed churn#dev#999999999999999999, and every later
    counter tag of the artifact failed for good (the next counter has 19 digits)."""
    world = registered
    world.tag("churn#dev#999999999999999999", V1)
    pushed = world.push_tags("churn#dev#999999999999999999")
    assert not pushed.ok and pushed.rules() == {"counter-too-high"}, pushed.output
    world.tag("churn#dev#1000000", V1)
    assert world.push_tags("churn#dev#1000000").ok


def test_a_registration_dated_ahead_cannot_void_a_later_deprecation(world: World) -> None:
    """R7: bob registered v1.1.0 dated 250 s ahead; alice then deprecated churn, and gto,
    which reads bob's tag after her deprecation, showed churn active with prod v1.0.0:
    bob's tag had made churn active again, which only alice may do."""
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    alice, bob = {"REMOTE_USER": "alice"}, {"REMOTE_USER": "bob"}
    for name in ("churn@v1.0.0", "churn#prod#1"):
        world.tag(name)
    assert world.push_tags("churn@v1.0.0", "churn#prod#1", env=alice).ok
    world.commit("v1.1")
    world.tag("churn@v1.1.0#2", when=int(time.time()) + 250)
    assert world.push_tags("churn@v1.1.0#2", env=bob).ok
    world.tag("churn@deprecated#3", when=int(time.time()))
    pushed = world.push_tags("churn@deprecated#3", env=alice)
    assert not pushed.ok and pushed.rules() == {"identity-unknown"}, pushed.output
    assert "'churn@v1.1.0#2' is dated after this push arrived" in pushed.output
    assert "GIT_COMMITTER_DATE=@" in pushed.output
    # dated after it, as the hint says, the deprecation holds
    git("tag", "-d", "churn@deprecated#3", cwd=world.clone)
    world.tag("churn@deprecated#3", when=int(time.time()) + 260)
    assert world.push_tags("churn@deprecated#3", env=alice).ok
    assert "churn" not in json.loads(run_gto("show", "--json", cwd=_fresh_clone(world)).stdout)


def _fresh_clone(world: World) -> Path:
    reader = world.root / f"reader-{time.time_ns()}"
    git("clone", "-q", str(world.server), str(reader), cwd=world.root)
    return reader
