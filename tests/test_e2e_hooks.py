"""End to end: the real git client pushes into a bare repository with the installed hook.

Every default rule declines a push with its rule id, through pre-receive and through the
clone's pre-push hook, and a declined push leaves nothing on the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gtoguard.server.install import install_into

from conftest import World, faulty_python, git, make_world

Case = Callable[[World], list[str]]  # prepares the clone, returns the refspecs to push


def stage_unknown(world: World) -> list[str]:
    world.tag("churn@v1.0.0")
    world.tag("churn#prd#1")
    return ["refs/tags/churn@v1.0.0", "refs/tags/churn#prd#1"]


def malformed(world: World) -> list[str]:
    world.tag("churn@1.0.0")
    return ["refs/tags/churn@1.0.0"]


def reserved(world: World) -> list[str]:
    world.tag("churn@created")
    return ["refs/tags/churn@created"]


def lightweight(world: World) -> list[str]:
    world.tag("churn#dev#5", lightweight=True)
    return ["refs/tags/churn#dev#5"]


def on_a_tree(world: World) -> list[str]:
    tree = git("rev-parse", "HEAD^{tree}", cwd=world.clone).stdout.strip()
    world.tag("churn@v9.0.0", target=tree)
    return ["refs/tags/churn@v9.0.0"]


def deleted(world: World) -> list[str]:
    world.landed()
    return [":refs/tags/churn@v1.0.0"]


def moved(world: World) -> list[str]:
    world.landed()
    world.commit("second")
    git("tag", "-d", "churn@v1.0.0", cwd=world.clone)
    world.tag("churn@v1.0.0")
    return ["+refs/tags/churn@v1.0.0"]


def counter_not_increasing(world: World) -> list[str]:
    world.tag("churn@v1.0.0#5")
    assert world.push_tags("churn@v1.0.0#5").ok
    world.tag("churn#dev#3")
    return ["refs/tags/churn#dev#3"]


def stage_not_active(world: World) -> list[str]:
    world.landed()
    world.tag("churn#prod!#1")
    return ["refs/tags/churn#prod!#1"]


def version_exists(world: World) -> list[str]:
    world.landed()
    world.commit("retrained")
    world.tag("churn@v1.0.0#2")
    return ["refs/tags/churn@v1.0.0#2"]


def commit_has_version(world: World) -> list[str]:
    world.landed()
    world.tag("churn@v1.1.0")
    return ["refs/tags/churn@v1.1.0"]


def tagger_in_future(world: World) -> list[str]:
    world.tag("churn@v1.0.0", when=int(time.time()) + 7200)
    return ["refs/tags/churn@v1.0.0"]


def tagger_back_dated(world: World) -> list[str]:
    world.landed()
    world.tag("churn#prod#1", when=world.clock - 3600)
    return ["refs/tags/churn#prod#1"]


def broken_gto_on_main(world: World) -> list[str]:
    world.commit("break .gto", {".gto": "stages: dev\n"})
    return ["HEAD:main"]


CASES: dict[str, tuple[Case, str]] = {
    "stage-unknown": (stage_unknown, "stage-unknown"),
    "tag-malformed": (malformed, "tag-malformed"),
    "tag-reserved": (reserved, "tag-reserved"),
    "tag-lightweight": (lightweight, "tag-lightweight"),
    "tag-target": (on_a_tree, "tag-target"),
    "tag-deleted": (deleted, "tag-deleted"),
    "tag-moved": (moved, "tag-moved"),
    "counter-not-increasing": (counter_not_increasing, "counter-not-increasing"),
    "stage-not-active": (stage_not_active, "stage-not-active"),
    "version-exists": (version_exists, "version-exists"),
    "commit-has-version": (commit_has_version, "commit-has-version"),
    "tagger-time-future": (tagger_in_future, "tagger-time"),
    "tagger-time-back-dated": (tagger_back_dated, "tagger-time"),
    "config-invalid": (broken_gto_on_main, "config-invalid"),
}


def test_the_first_main_of_an_empty_server_goes_through_the_hook(tmp_path: Path) -> None:
    """An empty server with the hook judges the first main pushed to it: one whose .gto
    is broken is declined, the fixed one accepted, and both decisions are logged.
    (``make_world`` pushes its first main before it installs the hook.)"""
    import json

    server, clone = tmp_path / "server.git", tmp_path / "clone"
    git("init", "-q", "--bare", str(server), cwd=tmp_path)
    install_into(server / "hooks" / "pre-receive", "pre-receive", sys.executable)
    log = tmp_path / "decisions.jsonl"
    (tmp_path / "server-policy.yaml").write_text(f"log: {log}\n", encoding="utf-8")
    git("config", "gtoguard.policy", str(tmp_path / "server-policy.yaml"), cwd=server)
    git("clone", "-q", str(server), str(clone), cwd=tmp_path)
    world = World(tmp_path, server, clone)
    world.commit("initial", {"model.txt": "v1\n", ".gto": "stages: dev\n"})
    declined = world.push("HEAD:main")
    assert not declined.ok and "[config-invalid]" in declined.output, declined.output
    assert git("for-each-ref", cwd=server).stdout == ""
    world.commit("fix .gto", {".gto": "stages: [dev, staging, prod]\n"})
    accepted = world.push("HEAD:main")
    assert accepted.ok, accepted.output
    assert git("rev-parse", "main", cwd=server).stdout == git("rev-parse", "HEAD", cwd=clone).stdout
    verdicts = [json.loads(line)["verdict"] for line in log.read_text().splitlines()]
    assert verdicts == ["declined", "accepted"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_pre_receive_declines(world: World, case: str) -> None:
    prepare, rule = CASES[case]
    refspecs = prepare(world)
    before = world.server_snapshot()
    result = world.push(*refspecs)
    assert not result.ok, result.output
    assert f"[{rule}]" in result.output, result.output
    assert "push declined" in result.output
    assert "Traceback" not in result.output
    assert world.server_snapshot() == before, "a declined push left refs or objects behind"


@pytest.mark.parametrize("case", sorted(CASES))
def test_pre_push_predicts_the_server(world: World, case: str) -> None:
    install_into(world.clone / ".git" / "hooks" / "pre-push", "pre-push", sys.executable)
    prepare, rule = CASES[case]
    refspecs = prepare(world)
    before = world.server_snapshot()
    local = world.push(*refspecs, no_verify=False)
    assert not local.ok and f"[{rule}]" in local.output, local.output
    # the clone's hook stops the push itself: the server never saw it to decline it
    assert "push stopped" in local.output and "push declined" not in local.output, local.output
    assert world.server_snapshot() == before
    server = world.push(*refspecs, no_verify=True)
    assert not server.ok and f"[{rule}]" in server.output, server.output
    assert "push declined" in server.output
    assert world.server_snapshot() == before


def test_internal_error_fails_closed(world: World, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "jsonschema").mkdir(parents=True)
    (broken / "jsonschema" / "__init__.py").write_text("raise RuntimeError('disk on fire')\n")
    world.tag("churn@v1.0.0")
    faulty_python(world, broken)
    before = world.server_snapshot()
    done = git("push", "origin", "refs/tags/churn@v1.0.0", cwd=world.clone, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "[internal-error]" in output and "disk on fire" in output
    assert "Traceback" not in output
    assert world.server_snapshot() == before


def test_existing_invalid_gto_declines_tags(tmp_path: Path) -> None:
    world = make_world(tmp_path, gto="stages: [dev, 'bad stage']\n", hook=False)
    install_into(world.server / "hooks" / "pre-receive", "pre-receive", sys.executable)
    world.tag("churn@v1.0.0")
    result = world.push_tags("churn@v1.0.0")
    assert not result.ok
    assert "[config-invalid]" in result.output and "/stages/1" in result.output
    assert "refs/tags/churn@v1.0.0" not in git("show-ref", cwd=world.server, check=False).stdout


def test_register_and_promotions_in_one_push(world: World) -> None:
    world.tag("churn@v1.3.0")
    world.tag("churn#dev#1")
    world.tag("churn#staging#2")
    result = world.push_tags("churn@v1.3.0", "churn#dev#1", "churn#staging#2")
    assert result.ok, result.output
    assert {"churn@v1.3.0", "churn#dev#1", "churn#staging#2"} <= world.server_tags()


def test_same_second_register_and_assign(world: World) -> None:
    moment = world.tick()
    world.tag("churn@v1.0.0", when=moment)
    world.tag("churn#prod#1", when=moment)
    world.tag("churn#prod!#2", when=moment + 1)
    result = world.push_tags("churn@v1.0.0", "churn#prod#1", "churn#prod!#2")
    assert result.ok, result.output


def test_tag_and_its_new_commit_in_one_push(world: World) -> None:
    """Quarantine: the commit and the tag arrive together and only the tag is named."""
    commit = world.commit("new weights")
    world.tag("churn@v2.0.0", target=commit)
    assert commit not in git("rev-list", "--all", cwd=world.server).stdout
    result = world.push_tags("churn@v2.0.0")
    assert result.ok, result.output
    assert "1 GTO tag checked" in result.output


def test_tag_only_push_of_existing_commit_is_checked(world: World) -> None:
    head = world.head()
    assert head in git("rev-list", "--all", cwd=world.server).stdout
    world.tag("churn#Prod")
    result = world.push_tags("churn#Prod")
    assert not result.ok
    assert "[stage-unknown]" in result.output and "did you mean 'prod'" in result.output


def test_pushed_gto_does_not_apply_to_its_own_tags(world: World) -> None:
    world.commit("allow qa", {".gto": "stages: [dev, staging, prod, qa]\n"})
    world.tag("churn#qa")
    result = world.push("HEAD:main", "refs/tags/churn#qa")
    assert not result.ok
    assert "[stage-unknown]" in result.output
    assert "checked against the files as they were before the push" in result.output
    assert world.push("HEAD:main").ok
    assert world.push_tags("churn#qa").ok


def test_non_gto_pushes_pass_silently(world: World) -> None:
    world.commit("more")
    world.tag("release-1.0")
    world.tag("plain", lightweight=True)
    result = world.push("HEAD:main", "refs/tags/release-1.0", "refs/tags/plain")
    assert result.ok
    assert "gtoguard" not in result.output


def test_gitlab_prefix(world: World) -> None:
    world.tag("churn#prd")
    done = git("push", "origin", "refs/tags/churn#prd", cwd=world.clone, check=False,
               env={"GL_ID": "user-1"})  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if "gtoguard" in line]
    assert lines and all("GL-HOOK-ERR: " in line for line in lines)


def test_warn_mode_accepts_and_prints(world: World) -> None:
    world.commit("warn only", {".gtoguard.yaml": "mode: warn\n"})
    assert world.push("HEAD:main").ok
    world.tag("churn#prd")
    result = world.push_tags("churn#prd")
    assert result.ok, result.output
    assert "[stage-unknown] warning:" in result.output and "push accepted" in result.output


def test_policy_knobs_allow_delete_move_malformed_lightweight(world: World) -> None:
    policy = "tags:\n  delete: allow\n  move: allow\n  malformed: allow\n  annotated: false\n"
    world.commit("relaxed", {".gtoguard.yaml": policy})
    assert world.push("HEAD:main").ok
    assert deleted(world) and world.push(":refs/tags/churn@v1.0.0").ok
    world.tag("v1@what@ever")
    world.tag("churn#dev#7", lightweight=True)
    assert world.push_tags("v1@what@ever", "churn#dev#7").ok


def test_counter_required(world: World) -> None:
    world.commit("counters", {".gtoguard.yaml": "tags:\n  counter: required\n"})
    assert world.push("HEAD:main").ok
    world.tag("churn@v1.0.0")
    result = world.push_tags("churn@v1.0.0")
    assert "[counter-missing]" in result.output and not result.ok
    world.tag("churn@v1.0.0#1")
    assert world.push_tags("churn@v1.0.0#1").ok


def test_server_policy_cannot_be_loosened(world: World, tmp_path: Path) -> None:
    server_policy = tmp_path / "server-policy.yaml"
    server_policy.write_text("tags:\n  delete: deny\n", encoding="utf-8")
    git("config", "gtoguard.policy", str(server_policy), cwd=world.server)
    world.commit("loosen", {".gtoguard.yaml": "tags:\n  delete: allow\n"})
    assert world.push("HEAD:main").ok
    world.landed()
    result = world.push(":refs/tags/churn@v1.0.0")
    assert not result.ok and "[tag-deleted]" in result.output


def _imports_after_hook(world: World, old: str, new: str, ref: str) -> set[str]:
    """Run pre-receive in a fresh interpreter on one update; return the heavy modules loaded."""
    script = (
        "import sys\n"
        "from gtoguard.server.hooks import pre_receive\n"
        f"code = pre_receive([], {f'{old} {new} {ref}'.encode()!r} + b'\\n', sys.stderr, {{}})\n"
        "print(code, *sorted(m for m in ('yaml', 'jsonschema', 'click') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env={**os.environ, "GIT_DIR": str(world.server)})  # fmt: skip
    code, *modules = done.stdout.split()
    assert code == "0", done.stderr
    return set(modules)


def test_branch_push_without_config_change_loads_no_yaml_or_jsonschema(world: World) -> None:
    old = world.head()
    new = world.commit("more weights")
    git("push", "-q", "--no-verify", "origin", "HEAD:refs/heads/side", cwd=world.clone)
    assert _imports_after_hook(world, old, new, "refs/heads/main") == set()


def test_branch_push_with_config_change_validates_it(world: World) -> None:
    old = world.head()
    new = world.commit("add qa", {".gto": "stages: [dev, staging, prod, qa]\n"})
    git("push", "-q", "--no-verify", "origin", "HEAD:refs/heads/side", cwd=world.clone)
    assert _imports_after_hook(world, old, new, "refs/heads/main") == {"jsonschema", "yaml"}


def test_max_age_bounds_how_old_a_new_tag_may_be(world: World) -> None:
    """Even on a fresh artifact, where no earlier event exists to compare with, a tag
    dated long before the push is declined; mirroring old history is the server's call."""
    world.tag("old@v1.0.0", when=int(time.time()) - 3600)
    before = world.server_snapshot()
    pushed = world.push_tags("old@v1.0.0")
    assert not pushed.ok and pushed.rules() == {"tagger-time"}, pushed.output
    assert "before the push (allowed: 300s, tags.max_age)" in pushed.output
    assert world.server_snapshot() == before
    world.commit("no bound", {".gtoguard.yaml": "tags:\n  max_age: off\n"})
    pushed = world.push("HEAD:main")  # only the server policy may switch it off
    assert not pushed.ok and pushed.rules() == {"config-invalid"}, pushed.output
    assert "only the server policy" in pushed.output
    git("reset", "-q", "--hard", "HEAD~1", cwd=world.clone)
    world.set_server_policy("tags:\n  max_age: off\n")
    assert world.push_tags("old@v1.0.0").ok  # a mirror takes history as it was
    world.set_policy("tags:\n  max_age: 60\n")  # a repository may tighten it
    world.tag("old#dev#1", "old@v1.0.0^{commit}", when=int(time.time()) - 120)
    pushed = world.push_tags("old#dev#1")
    assert not pushed.ok and "(allowed: 60s, tags.max_age)" in pushed.output, pushed.output


def test_a_push_past_the_budget_is_declined_with_a_hint(world: World) -> None:
    """The server's budget (seconds, default 5) bounds what one push may cost; past it the
    push is declined with push-too-large and a hint to split it, never left to hang. A
    budget of 1 ms is spent before the hook has read its first tag."""
    world.set_server_policy("budget: 0.001\n")
    names = ["churn@v1.0.0"] + [f"churn#dev#{n}" for n in range(1, 100)]
    for name in names:
        world.tag(name, "HEAD")
    before = world.server_snapshot()
    pushed = world.push_tags(*names)
    assert not pushed.ok and pushed.rules() == {"push-too-large"}, pushed.output
    assert "split it into smaller pushes" in pushed.output
    assert world.server_snapshot() == before
    world.set_server_policy("fail: open\nbudget: 0.001\n")  # the content of a push:
    assert not world.push_tags(*names).ok  # never accepted by fail: open
    world.set_server_policy("budget: off\n")
    assert world.push_tags(*names).ok
    world.commit("mine", {".gtoguard.yaml": "budget: off\n"})
    pushed = world.push("HEAD:main")
    assert not pushed.ok and "'budget' is a server-only key" in pushed.output, pushed.output


def test_clock_skew_knob_tunes_tagger_time(world: World) -> None:
    world.commit("tight clock", {".gtoguard.yaml": "tags:\n  clock_skew: 3600\n"})
    assert world.push("HEAD:main").ok
    world.landed()
    world.tag("churn#dev#1", when=world.clock - 1800)  # 30 min behind: inside 3600 s
    assert world.push_tags("churn#dev#1").ok
    world.commit("tighter", {".gtoguard.yaml": "tags:\n  clock_skew: 60\n"})
    assert world.push("HEAD:main").ok
    world.tag("churn#prod#2", when=world.clock - 1800)  # same lag, now outside 60 s
    result = world.push_tags("churn#prod#2")
    assert not result.ok and "[tagger-time]" in result.output and "(allowed" not in result.output


def _stage_object(world: World, name: str) -> str:
    """Put tag ``name``'s object on the server without the ref (a hook then judges it)."""
    world.tag(name)
    staging = f"refs/staging/{name.replace('#', '-')}"  # fetched by the server: no hook runs
    git(
        "fetch",
        "-q",
        "--no-tags",
        str(world.clone),
        f"refs/tags/{name}:{staging}",
        cwd=world.server,
    )
    git("update-ref", "-d", staging, cwd=world.server)
    return git("rev-parse", f"refs/tags/{name}", cwd=world.clone).stdout.strip()


def test_a_tag_push_in_the_steady_state_loads_no_yaml_or_jsonschema(world: World) -> None:
    """Once a .gto blob, a policy and a tag shape were judged, a later push of a tag of
    that shape takes the verdicts from the cache: neither yaml nor jsonschema loads."""
    world.set_policy("stages:\n  prod: {from: [staging]}\n")
    world.set_server_policy("tags: {clock_skew: 600}\n")
    world.landed()
    world.tag("churn#dev#2", "churn@v1.0.0^{commit}")
    assert world.push_tags("churn#dev#2").ok  # the first of its shape: jsonschema decides
    zero = "0" * 40
    oid = _stage_object(world, "churn#dev#3")
    assert _imports_after_hook(world, zero, oid, "refs/tags/churn#dev#3") == set()
    # a shape not seen before is decided by jsonschema again
    oid = _stage_object(world, "churn#staging")
    assert _imports_after_hook(world, zero, oid, "refs/tags/churn#staging") == {"jsonschema"}


def test_a_damaged_verdict_cache_only_costs_the_imports(world: World) -> None:
    world.landed()
    cache = world.server / "gtoguard-cache" / "verdicts.json"
    assert cache.is_file()
    for number, damage in enumerate(("{not json", '{"tag:x": 5, "gto:y": [1, 2]}', "")):
        cache.write_text(damage)
        world.tag(f"churn#dev#{10 + 2 * number}", "churn@v1.0.0^{commit}")
        pushed = world.push_tags(f"churn#dev#{10 + 2 * number}")
        assert pushed.ok, pushed.output
        world.tag(f"churn#prd#{11 + 2 * number}", "churn@v1.0.0^{commit}")
        declined = world.push_tags(f"churn#prd#{11 + 2 * number}")
        assert not declined.ok and declined.rules() == {"stage-unknown"}, declined.output
        git("tag", "-d", f"churn#prd#{11 + 2 * number}", cwd=world.clone)
