"""What lands on the default branch or under a GTO tag, gto can read: the files gto reads
for every registry (``.gto``, ``artifacts.yaml``) and the commit a tag dates its version
by. From a black-box review of the installed hook: each of these landed, and every
``gto show`` on a fresh clone then failed.

Each case is a real push into a bare server with the installed pre-receive hook, and each
verdict is held against the real gto: what is declined, gto cannot read; what is
accepted, gto reads."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gtoguard.server.install import install_into

from conftest import World, git, gto_in_process, gtoguard, make_world

STAGES = "stages: [dev, staging, prod]\n"


def world_in(root: Path, hook: bool = True) -> World:
    root.mkdir()
    return make_world(root, hook=hook)


def gto_reads(repo: Path) -> bool:
    return gto_in_process(["show", "--json"], repo).returncode == 0


def fresh_clone(world: World, name: str) -> Path:
    reader = world.root / name
    git("clone", "-q", str(world.server), str(reader), cwd=world.root)
    return reader


def push_files(world: World, files: dict[str, str]) -> tuple[bool, str]:
    """Commit ``files`` on main with a new registration, push both; whether the server
    took them, and its answer. A declined push must leave the server as it was."""
    before = world.server_snapshot()
    world.commit("change", files)
    name = f"churn@v1.{len(world.server_tags())}.0"
    world.tag(name)
    pushed = world.push("HEAD:main", f"refs/tags/{name}")
    if not pushed.ok:
        assert world.server_snapshot()[0] == before[0], "a declined push changed the refs"
        git("reset", "-q", "--hard", "origin/main", cwd=world.clone)
        git("tag", "-d", name, cwd=world.clone)
    return pushed.ok, pushed.output


# (files, what gto makes of them): each a file gto 1.10.1 reads at HEAD
CASES = [
    pytest.param({"artifacts.yaml": "bad name!: {type: model}\n"}, False, id="index-bad-name"),
    pytest.param({"artifacts.yaml": ""}, False, id="index-empty"),
    pytest.param({"artifacts.yaml": "churn: {labels: x}\n"}, False, id="index-labels-not-list"),
    pytest.param({"artifacts.yaml": "churn: {virtual: maybe}\n"}, False, id="index-virtual"),
    pytest.param(
        {"artifacts.yaml": "churn: {type: model, virtual: yes, custom: [1]}\n"},
        True,
        id="index-valid",
    ),
    pytest.param({".gto": STAGES + "INDEX: .gto\n"}, False, id="index-names-gto"),
    pytest.param({".gto": STAGES + "enrichments: [{type: foo}]\n"}, False, id="enrichment-plugin"),
    pytest.param(
        {".gto": STAGES + "enrichments: [{type: gto, config: {source: 5}}]\n"},
        False,
        id="enrichment-bad-config",
    ),
    pytest.param({".gto": STAGES + "enrichments: [{type: gto}]\n"}, True, id="enrichment-gto"),
    pytest.param(
        {".gto": "%YAML 1.1\n---\nstages: [dev, staging, prod, on]\n"},
        False,
        id="yaml-1.1-directive",
    ),
    pytest.param({".gto": "%YAML 1.2\n---\n" + STAGES}, True, id="yaml-1.2-directive"),
]


@pytest.mark.parametrize(("files", "gto_can_read"), CASES)
def test_the_default_branch_keeps_what_gto_reads_readable(
    tmp_path: Path, files: dict[str, str], gto_can_read: bool
) -> None:
    # what gto itself makes of the files, in a repository without any hook
    plain = world_in(tmp_path / "plain", hook=False)
    plain.commit("files", files)
    plain.tag("churn@v1.0.0")
    assert gto_reads(plain.clone) is gto_can_read

    world = world_in(tmp_path / "guarded")
    landed, output = push_files(world, files)
    assert landed is gto_can_read, output
    if not landed:
        assert "[config-invalid]" in output, output
    assert gto_reads(fresh_clone(world, "reader"))


def test_a_broken_index_already_on_the_branch_is_reported(tmp_path: Path) -> None:
    """Installed after the fact: GTO tags are declined until the file is fixed, and the
    audit says why, since gto reads no registry there."""
    world = make_world(tmp_path, hook=False)
    world.commit("index", {"artifacts.yaml": "- not a mapping\n"})
    assert world.push("HEAD:main").ok
    install_into(world.server / "hooks" / "pre-receive", "pre-receive", sys.executable)
    world.tag("churn@v1.0.0")
    pushed = world.push_tags("churn@v1.0.0")
    assert (
        not pushed.ok and "[config-invalid]" in pushed.output and "artifacts.yaml" in pushed.output
    )
    audit = gtoguard("check", "--all", cwd=world.clone)
    assert audit.returncode != 0 and "artifacts.yaml" in audit.stdout + audit.stderr
    checked = gtoguard("config", "validate", cwd=world.clone)
    assert checked.returncode == 1 and "artifacts.yaml" in checked.stdout


def far_commit(clone: Path, when: str) -> str:
    """A commit on HEAD dated ``when`` (raw git date), written as git would not."""
    tree = git("rev-parse", "HEAD^{tree}", cwd=clone).stdout.strip()
    parent = git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    body = f"tree {tree}\nparent {parent}\nauthor a <a@x> {when}\ncommitter a <a@x> {when}\n\nfar\n"
    return git(
        "hash-object",
        "-t",
        "commit",
        "-w",
        "--literally",
        "--stdin",
        cwd=clone,
        input=body.encode(),
    ).stdout.strip()


@pytest.mark.parametrize("when", ["99999999999999 +0000", "253402300799 +0100"])
def test_a_tag_on_a_commit_gto_cannot_date_is_declined(tmp_path: Path, when: str) -> None:
    plain = world_in(tmp_path / "plain", hook=False)
    plain.tag("far@v1.0.0", far_commit(plain.clone, when))
    assert not gto_reads(plain.clone)  # gto fails on the whole registry

    world = world_in(tmp_path / "guarded")
    world.tag("far@v1.0.0", far_commit(world.clone, when))
    before = world.server_snapshot()
    pushed = world.push_tags("far@v1.0.0")
    assert not pushed.ok and "[tag-unreadable]" in pushed.output, pushed.output
    assert "outside the years 1 to 9999" in pushed.output
    assert world.server_snapshot()[0] == before[0]
    world.tag("near@v1.0.0")
    assert world.push_tags("near@v1.0.0").ok
    assert gto_reads(fresh_clone(world, "reader"))


@pytest.mark.parametrize("index", [True, False])
def test_a_default_branch_tip_gto_cannot_date_is_declined_with_an_index(
    tmp_path: Path, index: bool
) -> None:
    """gto dates the entries of artifacts.yaml by HEAD's commit: with an index, a far
    tip breaks every reader, even when the push leaves the index alone."""
    files = {"artifacts.yaml": "churn: {type: model}\n"} if index else {"model.txt": "v2\n"}
    plain = world_in(tmp_path / "plain", hook=False)
    plain.commit("index", files)
    plain.tag("churn@v1.0.0")
    git("reset", "-q", "--hard", far_commit(plain.clone, "99999999999999 +0000"), cwd=plain.clone)
    assert gto_reads(plain.clone) is not index

    world = world_in(tmp_path / "guarded")
    world.commit("index", files)
    assert world.push("HEAD:main").ok  # the index itself is fine
    git("reset", "-q", "--hard", far_commit(world.clone, "99999999999999 +0000"), cwd=world.clone)
    before = world.server_snapshot()
    pushed = world.push("HEAD:main")
    assert pushed.ok is not index, pushed.output
    if index:
        assert (
            "[config-invalid]" in pushed.output and "outside the years 1 to 9999" in pushed.output
        )
        assert world.server_snapshot()[0] == before[0]
    assert gto_reads(fresh_clone(world, "reader"))
