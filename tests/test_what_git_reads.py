"""What git can make a reader see (docs/reliability.md): replace refs, grafts and symbolic
refs. A push may write branches and tags only (and what the server policy's refs.allow
names); every git gtoguard runs reads objects as they are stored; the default branch is
resolved to the end of its symref chain. Real pushes into bare repositories with the
installed hook."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gtoguard.server.install import install_into

from conftest import World, git, ssh_key, store_object, tag_body


def on_server(world: World, *args: str, input: bytes | None = None) -> str:
    return git(*args, cwd=world.server, input=input).stdout.strip()


def tag_object(
    world: World, name: str, target: str, message: str, where: Path | None = None
) -> str:
    """A tag object written by hand (any message, no signature made): its id."""
    body = tag_body(name, target, world.tick(), message, tagger="Bob <bob@example.com>")
    return store_object(where or world.clone, body)


def replace_refs(world: World) -> str:
    return on_server(world, "for-each-ref", "refs/replace/")


@pytest.fixture
def registered(world: World) -> World:
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    return world


# --- refs a push may write -------------------------------------------------------------------


def test_a_push_writes_branches_and_tags_only(registered: World) -> None:
    world = registered
    head = world.head()
    for ref in ("refs/replace/" + head, "refs/notes/commits", "refs/pull/1/head", "refs/x"):
        pushed = world.push(f"{head}:{ref}")
        assert not pushed.ok and pushed.rules() == {"ref-not-allowed"}, (ref, pushed.output)
        assert f"gtoguard: {ref}: [ref-not-allowed]" in pushed.output, pushed.output
    assert on_server(world, "for-each-ref", "--format=%(refname)") == (
        "refs/heads/main\nrefs/tags/churn@v1.0.0"
    )
    # the server admin may allow more; never replace refs
    world.set_server_policy("refs:\n  allow: ['refs/notes/*', 'refs/pull/*']\n")
    assert world.push(f"{head}:refs/notes/commits", f"{head}:refs/pull/1/head").ok
    pushed = world.push(f"{head}:refs/replace/{head}", f"{head}:refs/other")
    assert not pushed.ok and pushed.rules() == {"ref-not-allowed"}, pushed.output
    assert "never accepts" in pushed.output and "refs.allow lists (refs/notes/*" in pushed.output


def test_deleting_a_replace_ref_is_always_allowed(registered: World) -> None:
    world = registered
    head = world.head()
    on_server(world, "update-ref", f"refs/replace/{'1' * 40}", head)
    pushed = world.push(f":refs/replace/{'1' * 40}")
    assert pushed.ok, pushed.output
    assert replace_refs(world) == ""


def test_a_repository_policy_cannot_allow_refs(registered: World) -> None:
    world = registered
    world.commit("policy", {".gtoguard.yaml": "refs:\n  allow: ['refs/*']\n"})
    pushed = world.push("HEAD:main")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "'refs' is a server-only key" in pushed.output


def test_the_client_hook_warns_of_what_the_server_declines(registered: World) -> None:
    world = registered
    install_into(world.clone / ".git" / "hooks" / "pre-push", "pre-push", sys.executable)
    head = world.head()
    pushed = world.push(f"{head}:refs/replace/{head}", no_verify=False)
    assert not pushed.ok and "[ref-not-allowed]" in pushed.output, pushed.output
    assert "pre-receive" not in pushed.output  # stopped before it was sent
    pushed = world.push(f"{head}:refs/notes/commits", no_verify=False)
    assert "[ref-not-allowed] warning:" in pushed.output, pushed.output


# --- replace refs: the ways around the rules the review found ----------------------------------


def test_a_replace_ref_cannot_lend_a_signature(registered: World, tmp_path: Path) -> None:
    """Finding 1: bob's unsigned tag X, with alice's signed tag as refs/replace/X, was
    verified as alice's signature."""
    world = registered
    key = ssh_key(tmp_path / "alice", "alice")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice@example.com {key.with_suffix('.pub').read_text()}")
    world.set_policy("stages:\n  prod: {signed: true}\n")
    world.set_server_policy(f"signers:\n  ssh: {allowed}\n")
    commit = git("rev-parse", "churn@v1.0.0^{commit}", cwd=world.clone).stdout.strip()
    git("-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", "tag", "-s", "churn#prod#1",
        commit, "-m", "promote", cwd=world.clone,
        env={"GIT_COMMITTER_DATE": f"@{world.tick()} +0000"})  # fmt: skip
    assert world.push_tags("churn#prod#1").ok
    signed = git("rev-parse", "churn#prod#1", cwd=world.clone).stdout.strip()
    raw = git("cat-file", "tag", signed, cwd=world.clone).stdout
    block = raw[raw.index("-----BEGIN SSH SIGNATURE-----") :]
    forged = tag_object(world, "churn#prod#2", commit, "promote\n" + block)
    git("update-ref", "refs/tags/churn#prod#2", forged, cwd=world.clone)
    pushed = world.push(f"{signed}:refs/replace/{forged}")
    assert not pushed.ok and pushed.rules() == {"ref-not-allowed"}, pushed.output
    assert replace_refs(world) == ""
    # a replace ref that got there another way (made on the server) changes nothing
    on_server(world, "update-ref", f"refs/replace/{forged}", signed)
    pushed = world.push_tags("churn#prod#2")
    assert not pushed.ok and pushed.rules() == {"signature-invalid"}, pushed.output


def _v2_off_main(world: World) -> tuple[str, str]:
    """prod only for commits on main; v2.0.0 registered on a commit only on a side
    branch (registering needs no branch). main's tip and that commit."""
    world.set_policy("stages:\n  prod: {branches: [main]}\n")
    tip = world.head()
    git("checkout", "-q", "-b", "side", cwd=world.clone)
    side = world.commit("only on side")
    world.tag("churn@v2.0.0", side)
    assert world.push_tags("churn@v2.0.0").ok
    return tip, side


def test_a_replace_ref_cannot_put_a_commit_on_main(registered: World) -> None:
    """Finding 2: main's tip replaced by a commit whose parent is only on bob's branch."""
    world = registered
    tip, side = _v2_off_main(world)
    tree = git("rev-parse", f"{tip}^{{tree}}", cwd=world.clone).stdout.strip()
    fake = git(
        "commit-tree", tree, "-p", side, "-m", "main, as bob tells it", cwd=world.clone
    ).stdout.strip()
    world.tag("churn#prod#1", side)
    pushed = world.push(f"{fake}:refs/replace/{tip}", "refs/tags/churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"ref-not-allowed", "branch-not-allowed"}, (
        pushed.output
    )
    # made on the server: git merge-base is asked without it
    fake = on_server(world, "commit-tree", tree, "-p", side, "-m", "main, as bob tells it")
    on_server(world, "update-ref", f"refs/replace/{tip}", fake)
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"branch-not-allowed"}, pushed.output


def test_a_replace_ref_cannot_hide_a_config_change(registered: World) -> None:
    """Finding 3: the new tip replaced by a commit with the old tree, so that the shim's
    diff saw no change of .gto, and an invalid .gto landed."""
    world = registered
    old = world.head()
    new = world.commit("break .gto", {".gto": "stages: [dev, staging, prod]\nwhat: 1\n"})
    tree = git("rev-parse", f"{old}^{{tree}}", cwd=world.clone).stdout.strip()
    fake = git("commit-tree", tree, "-p", old, "-m", "nothing", cwd=world.clone).stdout.strip()
    pushed = world.push(f"{fake}:refs/replace/{new}", "HEAD:main")
    assert not pushed.ok, pushed.output
    assert pushed.rules() == {"ref-not-allowed", "config-invalid"}, pushed.output
    fake = on_server(world, "commit-tree", tree, "-p", old, "-m", "nothing")
    on_server(world, "update-ref", f"refs/replace/{new}", fake)
    pushed = world.push("HEAD:main")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert on_server(world, "rev-parse", "main") == old


def test_a_replace_ref_cannot_hide_a_gto_name(registered: World) -> None:
    """Finding 4: a plain ref name holding a GTO-named tag object, the object hidden
    behind a replace ref that names a plain tag."""
    world = registered
    commit = world.head()
    gto = tag_object(world, "churn#prod#5", commit, "promote\n")
    plain = tag_object(world, "release", commit, "release\n")
    pushed = world.push(f"{plain}:refs/replace/{gto}", f"{gto}:refs/tags/release")
    assert not pushed.ok, pushed.output
    assert pushed.rules() == {"ref-not-allowed", "tag-name-mismatch"}, pushed.output
    world.push(f"{plain}:refs/tags/plain-release")  # the replacement's object on the server
    on_server(world, "update-ref", f"refs/replace/{gto}", plain)
    pushed = world.push(f"{gto}:refs/tags/release")
    assert not pushed.ok and pushed.rules() == {"tag-name-mismatch"}, pushed.output


def test_a_replace_loop_cannot_be_pushed(registered: World) -> None:
    """Finding 5: two replace refs naming each other on main's tip: git dies with
    "replace depth too high" on every later push, for everyone."""
    world = registered
    tip = world.head()
    other = world.commit("other")
    pushed = world.push(f"{other}:refs/replace/{tip}", f"{tip}:refs/replace/{other}")
    assert not pushed.ok and pushed.rules() == {"ref-not-allowed"}, pushed.output
    assert replace_refs(world) == ""
    world.tag("churn#dev#1", tip)
    assert world.push_tags("churn#dev#1").ok


def test_grafts_do_not_change_what_gtoguard_reads(registered: World) -> None:
    """info/grafts (written by an admin, never by a push) gives commits other parents to
    git and to libgit2; gtoguard's git ignores it (GIT_GRAFT_FILE)."""
    world = registered
    tip, side = _v2_off_main(world)
    (world.server / "info").mkdir(exist_ok=True)
    (world.server / "info" / "grafts").write_text(f"{tip} {side}\n")
    world.tag("churn#prod#1", side)
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"branch-not-allowed"}, pushed.output


# --- the default branch, to the end of its symref chain -----------------------------------------


def test_a_default_branch_named_through_an_alias_chain(world: World) -> None:
    """Finding 16: HEAD -> master -> main. gtoguard took HEAD's first link (master) as
    the default branch but followed the alias for pushed refs: a push to main was never
    judged as a config change, and an invalid .gto landed."""
    on_server(world, "symbolic-ref", "refs/heads/master", "refs/heads/main")
    on_server(world, "symbolic-ref", "HEAD", "refs/heads/master")
    before = on_server(world, "rev-parse", "main")
    world.commit("break .gto", {".gto": "stages: [dev, staging, prod]\nwhat: 1\n"})
    for ref in ("HEAD:main", "HEAD:master"):
        pushed = world.push(ref)
        assert not pushed.ok and pushed.rules() == {"config-invalid"}, (ref, pushed.output)
        assert "on main" in pushed.output or ".gto" in pushed.output
    assert on_server(world, "rev-parse", "main") == before
    # and the rules of main apply to tags
    git("reset", "-q", "--hard", before, cwd=world.clone)
    world.tag("churn@v1.0.0")
    world.tag("churn#prd#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#prd#1")
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output
    assert "not allowed by .gto on main" in pushed.output


def test_a_shallow_boundary_can_only_hide_ancestry(registered: World) -> None:
    """``receive.shallowUpdate`` lets a push from a shallow clone add commits to the
    server's ``shallow`` file, which git and libgit2 then read as having no parents. That
    can hide a commit's ancestry, never invent one: the branches rule declines what it
    can no longer see on main (fail-safe), and nothing is ever let through by it."""
    world = registered
    world.set_policy("stages:\n  prod: {branches: [main]}\n")
    version = git("rev-parse", "churn@v1.0.0^{commit}", cwd=world.clone).stdout.strip()
    world.commit("later")
    tip = world.commit("tip")
    assert world.push("HEAD:main").ok
    (world.server / "shallow").write_text(f"{tip}\n")  # what a shallow update leaves
    world.tag("churn#prod#1", version)
    pushed = world.push_tags("churn#prod#1")
    assert not pushed.ok and pushed.rules() == {"branch-not-allowed"}, pushed.output
    (world.server / "shallow").unlink()
    assert world.push_tags("churn#prod#1").ok
