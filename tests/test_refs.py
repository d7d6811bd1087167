"""Which refs the hook reads: every tag of an artifact (names with '/'), the refs of a
GIT_NAMESPACE, and a default branch that must exist (docs/design.md §2, §7).

Real pushes into a bare repository with the installed pre-receive hook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gtoguard.git.repo import open_repo
from gtoguard.git.tagrefs import tag_names, tags_of
from gtoguard.server.install import install_into

from conftest import World, git, gtoguard, make_world

SLASHED = "stages: [dev, staging, prod, prod/eu]\n"


def on_server(world: World, *args: str) -> str:
    return git(*args, cwd=world.server).stdout.strip()


def set_head(world: World, target: str, namespace: str | None = None) -> None:
    """Point the server's HEAD (or a namespace's HEAD) at ``target`` (refs/heads/...)."""
    prefix = "".join(f"refs/namespaces/{part}/" for part in (namespace or "").split("/") if part)
    on_server(world, "symbolic-ref", f"{prefix}HEAD", prefix + target)


# --- every ref of the artifact ------------------------------------------------------------


@pytest.mark.parametrize("packed", [False, True])
def test_tag_names_take_names_with_a_slash(tmp_path: Path, packed: bool) -> None:
    world = make_world(tmp_path, hook=False)
    names = [
        "churn@v1.0.0",
        "churn#prod#3",
        "churn#prod/eu#10",
        "churn#a/b/c#2",
        "churn/x#prod#1",
        "churn/x@v1.0.0",
        "churnx#dev#4",
        "team/churn@v1.0.0",
        "team/churn#prod/eu#5",
        "sub/dir=churn#dev#6",
        "plain",
    ]
    for name in names:
        world.tag(name)
    world.push_tags(*names)
    if packed:
        on_server(world, "pack-refs", "--all")
    repo = open_repo(str(world.server))
    assert tag_names(repo, {"churn"}) == [
        "churn#a/b/c#2",
        "churn#prod#3",
        "churn#prod/eu#10",
        "churn@v1.0.0",
    ]
    assert tag_names(repo, {"team/churn"}) == ["team/churn#prod/eu#5", "team/churn@v1.0.0"]
    assert tag_names(repo, {"churn/x", "sub/dir:churn"}) == [
        "churn/x#prod#1",
        "churn/x@v1.0.0",
        "sub/dir=churn#dev#6",
    ]
    assert tag_names(repo, {"nothing*", "[a]"}) == []
    assert set(tag_names(repo)) == set(names)
    found = dict(tags_of(repo, {"churn"}, tag_names(repo, {"churn"})))
    assert sorted(found) == ["churn#a/b/c#2", "churn#prod#3", "churn#prod/eu#10", "churn@v1.0.0"]


def test_a_counter_in_a_stage_with_a_slash_counts(tmp_path: Path) -> None:
    world = make_world(tmp_path, gto=SLASHED)
    world.tag("churn@v1.0.0")
    world.tag("churn#prod/eu#10")
    assert world.push_tags("churn@v1.0.0", "churn#prod/eu#10").ok
    world.tag("churn#prod#5")
    pushed = world.push_tags("churn#prod#5")
    assert not pushed.ok and pushed.rules() == {"counter-not-increasing"}, pushed.output
    world.tag("churn#prod#11")
    assert world.push_tags("churn#prod#11").ok


def test_an_artifact_with_a_slash_sees_its_own_tags_only(tmp_path: Path) -> None:
    world = make_world(tmp_path, gto=SLASHED)
    world.tag("team/churn@v1.0.0")
    world.tag("team/churn#prod/eu#7")
    world.tag("churn/x@v1.0.0")  # same commit, another artifact: fine
    world.tag("churn/x#prod#30")
    assert world.push_tags(
        "team/churn@v1.0.0", "team/churn#prod/eu#7", "churn/x@v1.0.0", "churn/x#prod#30"
    ).ok
    world.tag("team/churn#dev#3")
    pushed = world.push_tags("team/churn#dev#3")
    assert not pushed.ok and pushed.rules() == {"counter-not-increasing"}, pushed.output
    world.tag("team/churn@v1.1.0")  # a second version of team/churn on the commit
    pushed = world.push_tags("team/churn@v1.1.0")
    assert not pushed.ok and pushed.rules() == {"commit-has-version"}, pushed.output
    # churn is not churn/x: neither its counters nor its versions count for churn
    world.tag("churn@v1.0.0")
    world.tag("churn#dev#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#dev#1")
    assert pushed.ok, pushed.output


def test_the_helper_counts_past_a_stage_with_a_slash(tmp_path: Path) -> None:
    world = make_world(tmp_path, gto=SLASHED)
    world.tag("churn@v1.0.0")
    world.tag("churn#prod/eu#10")
    assert world.push_tags("churn@v1.0.0", "churn#prod/eu#10").ok
    done = gtoguard(
        "assign",
        "churn",
        "--version",
        "v1.0.0",
        "--stage",
        "dev",
        "--counter",
        "--dry-run",
        cwd=world.clone,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("churn#dev#11\n"), done.stdout


# --- GIT_NAMESPACE --------------------------------------------------------------------------


def _namespaced(
    tmp_path: Path,
    root_gto: str = "stages: [dev, staging, prod, yolo]\n",
    team_gto: str = "stages: [dev, staging, prod]\n",
    head: bool = True,
    namespace: str = "team",
) -> World:
    """A server whose root main allows stage yolo; namespace ``team`` has its own main
    (and its own HEAD when ``head``) whose .gto does not."""
    world = make_world(tmp_path, gto=root_gto)
    world.commit("team config", {".gto": team_gto})
    pushed = world.push("HEAD:main", env={"GIT_NAMESPACE": namespace})
    assert pushed.ok, pushed.output
    if head:
        set_head(world, "refs/heads/main", namespace)
    return world


def test_a_second_version_on_one_commit_inside_a_namespace(tmp_path: Path) -> None:
    world = _namespaced(tmp_path)
    team = {"GIT_NAMESPACE": "team"}
    other = {"GIT_NAMESPACE": "other"}
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0", env=team).ok
    assert "refs/namespaces/team/refs/tags/churn@v1.0.0" in on_server(world, "for-each-ref")
    # another namespace and the root hold unrelated tags of the same artifact
    world.tag("churn@v5.0.0", target="HEAD~1")
    world.tag("churn#prod#40", target="HEAD~1")
    assert world.push_tags("churn@v5.0.0", "churn#prod#40", env=other).ok
    assert world.push_tags("churn@v5.0.0").ok
    world.tag("churn@v1.1.0")
    pushed = world.push_tags("churn@v1.1.0", env=team)
    assert not pushed.ok and pushed.rules() == {"commit-has-version"}, pushed.output
    # counters of other namespaces do not count in this one
    world.tag("churn#dev#2")
    assert world.push_tags("churn#dev#2", env=team).ok
    world.tag("churn#dev#1")
    pushed = world.push_tags("churn#dev#1", env=team)
    assert not pushed.ok and pushed.rules() == {"counter-not-increasing"}, pushed.output


@pytest.mark.parametrize("head", [True, False])
def test_the_namespace_main_decides_the_stages(tmp_path: Path, head: bool) -> None:
    """Without a HEAD of its own, the namespace's branch of the name the root HEAD names."""
    world = _namespaced(tmp_path, head=head)
    team = {"GIT_NAMESPACE": "team"}
    world.tag("churn@v1.0.0")
    world.tag("churn#yolo#1")
    assert world.push_tags("churn@v1.0.0", env=team).ok
    pushed = world.push_tags("churn#yolo#1", env=team)
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output
    assert ".gto on main" in pushed.output
    assert world.push_tags("churn@v1.0.0", "churn#yolo#1").ok  # the root allows it


def test_the_namespace_head_names_its_default_branch(tmp_path: Path) -> None:
    world = make_world(tmp_path, gto="stages: [dev, staging, prod, yolo]\n")
    team = {"GIT_NAMESPACE": "team"}
    assert world.push("HEAD:main", env=team).ok  # allows yolo, like the root
    world.commit("release config", {".gto": "stages: [dev, prod]\n"})
    assert world.push("HEAD:release", env=team).ok
    set_head(world, "refs/heads/release", "team")
    world.tag("churn@v1.0.0")
    world.tag("churn#yolo#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#yolo#1", env=team)
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output
    assert ".gto on release" in pushed.output


def test_an_invalid_gto_on_the_namespace_default_branch(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    team = {"GIT_NAMESPACE": "team"}
    assert world.push("HEAD:release", env=team).ok
    set_head(world, "refs/heads/release", "team")
    world.commit("break it", {".gto": "stages: dev\n"})
    pushed = world.push("HEAD:release", env=team)
    assert not pushed.ok and "[config-invalid]" in pushed.output, pushed.output
    assert world.push("HEAD:elsewhere", env=team).ok  # not the default branch


def test_a_nested_namespace(tmp_path: Path) -> None:
    world = _namespaced(tmp_path, namespace="a/b")
    assert "refs/namespaces/a/refs/namespaces/b/refs/heads/main" in on_server(world, "for-each-ref")
    nested = {"GIT_NAMESPACE": "a/b"}
    world.tag("churn@v1.0.0")
    world.tag("churn#yolo#1")
    pushed = world.push_tags("churn@v1.0.0", "churn#yolo#1", env=nested)
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output
    assert world.push_tags("churn@v1.0.0", env=nested).ok
    world.tag("churn@v2.0.0")
    pushed = world.push_tags("churn@v2.0.0", env=nested)
    assert not pushed.ok and pushed.rules() == {"commit-has-version"}, pushed.output


@pytest.mark.parametrize("outside", [None, "other"])
def test_refs_of_a_namespace_written_from_outside_it(tmp_path: Path, outside: str | None) -> None:
    """A push from the root (or from inside another namespace, which nests) can name a
    namespace's refs in full. Judged there they would escape that namespace's .gto and
    policy: a stage it does not allow, a deleted tag, a broken .gto on its main, all
    declined, a plain branch too (adversarial review, 2026-12-06)."""
    world = _namespaced(tmp_path)
    world.tag("churn@v1.0.0")
    world.tag("churn#yolo#1")
    assert world.push_tags("churn@v1.0.0", env={"GIT_NAMESPACE": "team"}).ok
    env = {"GIT_NAMESPACE": outside} if outside else None
    # from inside 'other', refs/namespaces/team/... is other's nested namespace other/team
    team = "refs/namespaces/team/"
    space = f"{outside}/team" if outside else "team"
    world.commit("break the team's config", {".gto": "stages: dev\n"})
    snapshot = world.server_snapshot()[0]
    for refs in (
        [f"refs/tags/churn#yolo#1:{team}refs/tags/churn#yolo#1"],
        [f":{team}refs/tags/churn@v1.0.0"] if outside is None else [],
        [f"HEAD:{team}refs/heads/main"],
        [f"HEAD:{team}refs/heads/feature"],
    ):  # one plain ref: the shim's fast path
        if not refs:
            continue
        pushed = world.push(*refs, env=env)
        assert not pushed.ok and pushed.rules() == {"ref-namespaced"}, pushed.output
        assert f"the namespace '{space}'" in pushed.output
        assert f"GIT_NAMESPACE={space}" in pushed.output
        assert world.server_snapshot()[0] == snapshot
    assert world.push("HEAD:refs/heads/feature", env=env).ok  # its own refs: as before


@pytest.mark.parametrize("namespace", [None, "team"])
def test_deleting_the_default_branch_is_declined(tmp_path: Path, namespace: str | None) -> None:
    """The default branch holds .gto and .gtoguard.yaml: deleting it would leave the next
    push without rules (an any-stage registry) and the audit without their history. git
    refuses it at the root only under its default receive.denyDeleteCurrent, and never
    inside a namespace (adversarial review, 2026-12-06)."""
    if namespace:
        world = _namespaced(tmp_path)
    else:
        world = make_world(tmp_path)
        on_server(world, "config", "receive.denyDeleteCurrent", "warn")
    env = {"GIT_NAMESPACE": namespace} if namespace else None
    if not namespace:
        world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    snapshot = world.server_snapshot()[0]
    pushed = world.push(":main", env=env)
    assert not pushed.ok and pushed.rules() == {"branch-deleted"}, pushed.output
    assert "main is the default branch" in pushed.output
    assert "git symbolic-ref HEAD refs/heads/NEW" in pushed.output
    assert world.server_snapshot()[0] == snapshot
    # another branch may go, and so may a default branch that holds no config
    assert world.push("HEAD:old", env=env).ok
    assert world.push(":old", env=env).ok
    git("rm", "-q", "--ignore-unmatch", ".gto", ".gtoguard.yaml", cwd=world.clone)
    world.commit("no config")
    assert world.push("HEAD:main", env=env).ok
    assert world.push(":main", env=env).ok


@pytest.mark.parametrize("atomic", [False, True])
def test_deleting_the_default_branch_through_an_alias(tmp_path: Path, atomic: bool) -> None:
    """A ``master -> main`` alias left by a rename: deleting master deletes main, and git's
    receive.denyDeleteCurrent (which looks at the name pushed) lets it through."""
    world = make_world(tmp_path)
    on_server(world, "symbolic-ref", "refs/heads/master", "refs/heads/main")
    snapshot = world.server_snapshot()[0]
    pushed = world.push(*(["--atomic"] if atomic else []), ":refs/heads/master")
    assert not pushed.ok and pushed.rules() == {"branch-deleted"}, pushed.output
    assert world.server_snapshot()[0] == snapshot
    assert on_server(world, "rev-parse", "--verify", "-q", "refs/heads/main")


def test_a_missing_default_branch_is_not_claimed_by_a_push(tmp_path: Path) -> None:
    """HEAD names a branch that does not exist (a server made with another
    init.defaultBranch): GTO tags fail closed. Creating that branch without the config
    would make the registry's rules whatever the first pusher brings, so once GTO tags
    exist it is declined too (adversarial review, 2026-12-06)."""
    (tmp_path / "registry").mkdir()
    world = make_world(tmp_path / "registry")
    world.set_policy("stages:\n  prod: {pushers: [alice]}\n")
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    set_head(world, "refs/heads/master")
    world.tag("churn#prd#1")
    pushed = world.push_tags("churn#prd#1")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "git symbolic-ref HEAD refs/heads/main" in pushed.output
    assert "or push" not in pushed.output  # the hint no longer offers the side door
    git("checkout", "-q", "--orphan", "bare", cwd=world.clone)
    git("rm", "-q", "-r", "-f", ".", cwd=world.clone)
    world.commit("no config")
    snapshot = world.server_snapshot()[0]
    for refs in (["HEAD:refs/heads/master"], ["HEAD:refs/heads/master", "refs/tags/churn#prd#1"]):
        pushed = world.push(*refs, env={"REMOTE_USER": "bob"})
        assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
        assert "this push would create it" in pushed.output
        assert world.server_snapshot()[0] == snapshot

    # before any GTO tag, the repository is still being set up: the branch may come
    (tmp_path / "fresh").mkdir()
    fresh = make_world(tmp_path / "fresh")
    set_head(fresh, "refs/heads/master")
    assert fresh.push("HEAD:refs/heads/master").ok


def test_a_namespace_without_head_does_not_let_its_default_branch_be_claimed(
    tmp_path: Path,
) -> None:
    """The same inside a namespace with no HEAD of its own: its default branch is the
    name the repository's HEAD names (main). Tags came with another branch first."""
    world = make_world(tmp_path)
    ns = {"GIT_NAMESPACE": "ns4"}
    world.tag("churn@v1.0.0")
    assert world.push("HEAD:refs/heads/trunk", "refs/tags/churn@v1.0.0", env=ns).ok
    git("checkout", "-q", "--orphan", "bare", cwd=world.clone)
    git("rm", "-q", "-r", "-f", ".", cwd=world.clone)
    world.commit("no config")
    snapshot = world.server_snapshot()[0]
    pushed = world.push("HEAD:refs/heads/main", env=ns)
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "namespace ns4 has no HEAD of its own" in pushed.output
    assert world.server_snapshot()[0] == snapshot


def test_branches_of_the_namespace_decide_reachability(tmp_path: Path) -> None:
    world = _namespaced(tmp_path, team_gto="stages: [dev, staging, prod]\n")
    team = {"GIT_NAMESPACE": "team"}
    world.commit("policy", {".gtoguard.yaml": "stages:\n  prod: {branches: [main]}\n"})
    assert world.push("HEAD:main", env=team).ok
    side = world.commit("only in team's main")
    assert world.push("HEAD:main", env=team).ok
    world.tag("churn@v1.0.0", side)
    world.tag("churn#prod#1", side)
    pushed = world.push_tags("churn@v1.0.0", "churn#prod#1", env=team)
    assert pushed.ok, pushed.output  # the root's main lacks the commit; team's has it
    git("checkout", "-q", "-b", "topic", "HEAD~1", cwd=world.clone)
    off = world.commit("off main")
    assert world.push("HEAD:topic", env=team).ok
    world.tag("churn@v2.0.0", off)
    world.tag("churn#prod#2", off)
    pushed = world.push_tags("churn@v2.0.0", "churn#prod#2", env=team)
    assert not pushed.ok and pushed.rules() == {"branch-not-allowed"}, pushed.output


def test_pre_push_reads_the_clone_without_a_namespace(tmp_path: Path) -> None:
    """git applies GIT_NAMESPACE in receive-pack only; the clone's refs have none."""
    world = _namespaced(tmp_path)
    install_into(world.clone / ".git" / "hooks" / "pre-push", "pre-push", sys.executable)
    team = {"GIT_NAMESPACE": "team"}
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0", env=team, no_verify=False).ok
    world.tag("churn@v1.1.0")
    pushed = world.push_tags("churn@v1.1.0", env=team, no_verify=False)
    assert not pushed.ok and pushed.rules() == {"commit-has-version"}, pushed.output
    assert "push stopped" in pushed.output


def test_check_audits_the_namespace_in_the_environment(tmp_path: Path) -> None:
    world = _namespaced(tmp_path)
    team = {"GIT_NAMESPACE": "team"}
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0", env=team).ok
    done = gtoguard("check", "churn@v1.0.0", "--repo", str(world.server), cwd=tmp_path, env=team)
    assert done.returncode == 0, done.stdout + done.stderr
    done = gtoguard("check", "churn@v1.0.0", "--repo", str(world.server), cwd=tmp_path)
    assert done.returncode == 2 and "no tag 'churn@v1.0.0'" in done.stderr, done.stderr


# --- the default branch must exist (no silent fallback) -----------------------------------


def _dangling(tmp_path: Path) -> World:
    """The server's HEAD names main, which is gone; .gto lives on master."""
    world = make_world(tmp_path)
    assert world.push("HEAD:master").ok
    on_server(world, "update-ref", "-d", "refs/heads/main")
    assert on_server(world, "symbolic-ref", "HEAD") == "refs/heads/main"
    world.tag("churn@v1.0.0")
    world.tag("churn#yolo#3")
    return world


def test_a_head_naming_a_missing_branch_declines_gto_tags(tmp_path: Path) -> None:
    world = _dangling(tmp_path)
    before = world.server_snapshot()
    pushed = world.push_tags("churn@v1.0.0", "churn#yolo#3")
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "refs/heads/main" in pushed.output and "does not exist" in pushed.output
    assert "git symbolic-ref HEAD refs/heads/master" in pushed.output
    assert "push declined" in pushed.output and "Traceback" not in pushed.output
    assert world.server_snapshot() == before
    # a push without GTO tags is not gtoguard's business
    world.commit("more")
    assert world.push("HEAD:topic").ok
    # the fix the message names
    set_head(world, "refs/heads/master")
    pushed = world.push_tags("churn@v1.0.0", "churn#yolo#3")
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output


def test_check_on_the_server_says_so_too(tmp_path: Path) -> None:
    world = _dangling(tmp_path)
    done = gtoguard("check", "--all", "--repo", str(world.server), cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "[config-invalid]" in done.stderr and "refs/heads/main" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_push_that_creates_the_head_branch_is_judged_as_before_it(tmp_path: Path) -> None:
    """Before the push the default branch has no .gto: the default rules apply to the
    tags, and the new .gto is checked (it is valid here)."""
    world = _dangling(tmp_path)
    pushed = world.push("HEAD:main", "refs/tags/churn@v1.0.0", "refs/tags/churn#yolo#3")
    assert pushed.ok, pushed.output
    assert "checked against the files as they were before the push" in pushed.output
    world.tag("churn#yolo#4")
    pushed = world.push_tags("churn#yolo#4")
    assert not pushed.ok and pushed.rules() == {"stage-unknown"}, pushed.output


def test_a_namespace_head_naming_a_missing_branch(tmp_path: Path) -> None:
    world = _namespaced(tmp_path)
    team = {"GIT_NAMESPACE": "team"}
    set_head(world, "refs/heads/trunk", "team")
    world.tag("churn@v1.0.0")
    pushed = world.push_tags("churn@v1.0.0", env=team)
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert (
        "git symbolic-ref refs/namespaces/team/HEAD refs/namespaces/team/refs/heads/main"
        in pushed.output
    )


def test_a_repository_without_branches_keeps_the_default_rules(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    server = tmp_path / "empty.git"
    git("init", "-q", "--bare", str(server), cwd=tmp_path)
    install_into(server / "hooks" / "pre-receive", "pre-receive", sys.executable)
    git("remote", "add", "empty", str(server), cwd=world.clone)
    world.tag("churn@v1.0.0")
    world.tag("churn#yolo#1")
    pushed = world.push("refs/tags/churn@v1.0.0", "refs/tags/churn#yolo#1", remote="empty")
    assert pushed.ok, pushed.output
    world.tag("churn@v1.1.0")
    pushed = world.push("refs/tags/churn@v1.1.0", remote="empty")
    assert not pushed.ok and pushed.rules() == {"commit-has-version"}, pushed.output


# --- aliases: a symbolic ref writes the ref it names ------------------------------------------


def test_an_alias_of_the_default_branch_is_the_default_branch(world: World) -> None:
    """``refs/heads/master -> refs/heads/main`` (left after a rename): a push to master
    writes main. A broken .gto through the alias would lock every GTO reader out (found
    by an adversary: the hook's fast path compared ref names only)."""
    git("symbolic-ref", "refs/heads/master", "refs/heads/main", cwd=world.server)
    world.commit("break .gto", {".gto": "stages: dev\n"})
    before = world.server_snapshot()
    pushed = world.push("HEAD:refs/heads/master")
    assert not pushed.ok and "[config-invalid]" in pushed.output, pushed.output
    assert world.server_snapshot() == before
    git("reset", "-q", "--hard", "HEAD~1", cwd=world.clone)
    world.commit("fine")
    assert world.push("HEAD:refs/heads/master").ok  # a plain change through the alias


def test_an_alias_of_a_gto_tag_moves_that_tag(world: World) -> None:
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    assert world.push_tags("churn@v1.0.0", "churn#prod#1").ok
    git("symbolic-ref", "refs/tags/release", "refs/tags/churn#prod#1", cwd=world.server)
    world.commit("v2")
    world.tag("release", message="plain name, plain object")
    before = world.server_snapshot()
    pushed = world.push("+refs/tags/release:refs/tags/release")
    assert not pushed.ok and "tag-moved" in pushed.rules(), pushed.output
    assert world.server_snapshot() == before
