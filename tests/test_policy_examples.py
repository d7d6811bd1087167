"""The example policies of docs/policy.md, read from the document itself, on real pushes.

If the documentation changes, these tests exercise what it now says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gtoguard.config import files as cfg
from gtoguard.config.problems import ConfigInvalid

from conftest import World, git, gtoguard, make_world, ssh_key

DOC = Path(__file__).resolve().parent.parent / "docs" / "policy.md"
EXAMPLES = dict(re.findall(r"```yaml ([a-z-]+)\n(.*?)```", DOC.read_text(), re.S))


def test_the_document_has_the_three_examples_and_they_are_valid() -> None:
    assert set(EXAMPLES) == {"small-team", "regulated", "regulated-server", "data-registry"}
    for name, text in EXAMPLES.items():
        server = name.endswith("-server")
        cfg.parse_policy(text.encode(), f"{name}.yaml", server=server)
    with pytest.raises(ConfigInvalid):  # server-only keys, in a repository policy
        cfg.parse_policy(EXAMPLES["regulated-server"].encode(), ".gtoguard.yaml")


def _world(tmp_path: Path, policy: str) -> World:
    return make_world(tmp_path).set_policy(policy)


def test_small_team(tmp_path: Path) -> None:
    world = _world(tmp_path, EXAMPLES["small-team"])
    world.tag("churn@v1.0.0#1")
    world.tag("churn#prod#2")
    pushed = world.push_tags("churn@v1.0.0#1", "churn#prod#2")
    assert not pushed.ok and pushed.rules() == {"stage-order"}, pushed.output
    git("tag", "-d", "churn#prod#2", cwd=world.clone)
    world.tag("churn#dev")
    pushed = world.push_tags("churn@v1.0.0#1", "churn#dev")
    assert not pushed.ok and pushed.rules() == {"counter-missing"}, pushed.output
    for name in ("churn#dev#2", "churn#staging#3", "churn#prod#4"):
        world.tag(name)
    assert world.push_tags("churn@v1.0.0#1", "churn#dev#2", "churn#staging#3", "churn#prod#4").ok
    # a commit that is not on main goes up to staging, not to prod
    git("checkout", "-q", "-b", "try", cwd=world.clone)
    world.commit("experiment")
    names = ["churn@v1.1.0#5", "churn#dev#6", "churn#staging#7", "churn#prod#8"]
    for name in names:
        world.tag(name)
    pushed = world.push_tags(*names)
    assert not pushed.ok and pushed.rules() == {"branch-not-allowed"}, pushed.output
    assert world.push_tags(*names[:3]).ok


def test_regulated_production(tmp_path: Path) -> None:
    world = _world(tmp_path, EXAMPLES["regulated"])
    key = ssh_key(tmp_path / "alice-key", "alice")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("alice@example.com " + Path(f"{key}.pub").read_text(), encoding="utf-8")
    server = tmp_path / "policy.yaml"
    server.write_text(
        EXAMPLES["regulated-server"].replace("/etc/gtoguard/allowed_signers", str(allowed))
    )
    git("config", "gtoguard.policy", str(server), cwd=world.server)
    alice, bob = {"REMOTE_USER": "alice"}, {"REMOTE_USER": "bob"}

    world.tag("churn@v1.0.0")
    world.tag("churn#staging#1")
    assert world.push_tags("churn@v1.0.0", "churn#staging#1", env=bob).ok
    world.tag("churn#prod#2", message="promote")
    pushed = world.push_tags("churn#prod#2", env=bob)
    assert not pushed.ok, pushed.output
    assert pushed.rules() == {"pusher-not-allowed", "signature-required", "message-mismatch"}
    git("tag", "-d", "churn#prod#2", cwd=world.clone)
    git("-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", "tag", "-s", "churn#prod#2",
        "-m", "CHANGE-7: promote v1.0.0", cwd=world.clone,
        env={"GIT_COMMITTER_DATE": f"@{world.tick()} +0000"})  # fmt: skip
    assert not world.push_tags("churn#prod#2", env=bob).ok
    pushed = world.push_tags("churn#prod#2", env=alice)
    assert pushed.ok, pushed.output
    # versions only go up, and stages need a registered version
    world.commit("older")
    world.tag("churn@v0.9.0")
    world.tag("churn#dev#3", "HEAD")
    pushed = world.push_tags("churn@v0.9.0", env=alice)
    assert pushed.rules() == {"version-not-increasing"}, pushed.output
    pushed = world.push_tags("churn#dev#3", env=alice)
    assert pushed.rules() == {"version-not-registered"}, pushed.output


def test_data_registry(tmp_path: Path) -> None:
    world = _world(tmp_path, EXAMPLES["data-registry"])
    bot, dana = {"REMOTE_USER": "etl-bot"}, {"REMOTE_USER": "dana"}
    names = []
    counter = 0
    for night in ("2026.11.24", "2026.11.25", "2026.11.26"):
        world.commit(f"snapshot {night}")
        minor = night.rsplit(".", 1)[1]
        for name in (f"sales@v1.{minor}.0", "sales#dev"):
            counter += 1
            names.append(f"{name}#{counter}")
            world.tag(names[-1])
    pushed = world.push_tags(*names, env=bot)
    assert pushed.ok, pushed.output
    shown = gtoguard("show", "sales", "--json", "--rows", cwd=world.clone)
    versions = {v["version"]: v["stages"] for v in json.loads(shown.stdout)}
    assert versions == {"v1.24.0": ["dev"], "v1.25.0": ["dev"], "v1.26.0": ["dev"]}

    world.tag("sales#prod#7", "sales@v1.25.0#3^{commit}")  # in dev, but not the one shown
    pushed = world.push_tags("sales#prod#7", env=dana)
    assert pushed.rules() == {"stage-order"}, pushed.output
    assert "dev is v1.26.0 now" in pushed.output
    git("tag", "-d", "sales#prod#7", cwd=world.clone)
    world.tag("sales#prod#7", "sales@v1.26.0#5^{commit}")
    pushed = world.push_tags("sales#prod#7", env=bot)
    assert pushed.rules() == {"pusher-not-allowed"}, pushed.output
    assert world.push_tags("sales#prod#7", env=dana).ok
    world.commit("not a snapshot")
    world.tag("sales#dev#8")
    pushed = world.push_tags("sales#dev#8", env=bot)
    assert pushed.rules() == {"version-not-registered"}, pushed.output
    world.tag("sales@v1.27.0#9")
    world.tag("sales#prod#10")
    pushed = world.push_tags("sales@v1.27.0#9", "sales#prod#10", env=dana)
    assert pushed.rules() == {"stage-order"}, pushed.output
