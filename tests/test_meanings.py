"""Each policy's mode covers its own rules (docs/policy.md, "mode"): the server's
``mode: warn`` turns the server's rules and the built-in ones into warnings, the
repository's ``mode`` covers the repository's rules, and every surface says the same."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gtoguard.config.files import parse_policy, tag_checker
from gtoguard.policy.settings import GtoConfig

from conftest import World, git, gtoguard

V1 = "churn@v1.0.0^{commit}"
SERVER_WARN = "mode: warn\nstages:\n  dev: {message: 'CHANGE-[0-9]+'}\n"
REPO = "stages:\n  prod: {message: 'PROD-[0-9]+'}\n"


@pytest.fixture
def rollout(world: World) -> World:
    """A repository with its own policy (no mode: enforce) on a server in warn mode."""
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    world.set_policy(REPO)
    world.set_server_policy(SERVER_WARN)
    return world


def test_the_servers_warn_mode_covers_its_own_rules(rollout: World) -> None:
    """The review: the server's mode: warn was enforced once the repository had a policy
    of its own (Policy.merge warned only when both policies did)."""
    world = rollout
    world.tag("churn#dev#1", V1, message="no ticket")
    pushed = world.push_tags("churn#dev#1")
    assert pushed.ok, pushed.output
    assert "[message-mismatch] warning:" in pushed.output
    # the repository's own rule stays enforced
    world.tag("churn#prod#2", V1, message="no ticket")
    pushed = world.push_tags("churn#prod#2")
    assert not pushed.ok and pushed.rules() == {"message-mismatch"}, pushed.output
    assert "warning" not in pushed.output
    # and a built-in rule follows the server's mode during the rollout
    world.tag("churn#prd#3", V1)
    pushed = world.push_tags("churn#prd#3")
    assert pushed.ok and "[stage-unknown] warning:" in pushed.output, pushed.output


def test_the_helper_and_the_audit_agree_with_the_hook(rollout: World) -> None:
    world = rollout
    done = gtoguard(
        "assign",
        "churn",
        "--version",
        "v1.0.0",
        "--stage",
        "dev",
        "-m",
        "x",
        "--push",
        cwd=world.clone,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[message-mismatch] warning:" in done.stdout + done.stderr
    audit = gtoguard("check", "--all", "--repo", str(world.server), cwd=world.root)
    assert audit.returncode == 0, audit.stdout
    assert "[message-mismatch] warning:" in audit.stdout


@pytest.mark.parametrize(
    ("server", "repo", "severity"),
    [
        ("mode: warn\n", "stages: {dev: {message: X}}\n", ["error"]),  # the repo's rule
        ("mode: warn\nstages: {dev: {message: X}}\n", "", ["warning"]),  # the server's
        ("mode: warn\nstages: {dev: {message: X}}\n", "mode: warn\n", ["warning"]),
        ("stages: {dev: {message: X}}\n", "mode: warn\n", ["error"]),
        (
            "mode: warn\nstages: {dev: {message: X}}\n",
            "stages: {dev: {message: X}}\n",
            ["error", "warning"],
        ),  # both have the rule: the repository enforces its own
    ],
)
def test_whose_mode_applies(server: str, repo: str, severity: list[str]) -> None:
    from gtoguard.model.refupdate import RefUpdate
    from gtoguard.model.state import Registry
    from gtoguard.policy.context import Context
    from gtoguard.policy.evaluate import evaluate
    from gtoguard.policy.rules.violation import GitObject

    parts = [
        parse_policy(repo.encode(), ".gtoguard.yaml") if repo else None,
        parse_policy(server.encode(), "/etc/server.yaml", server=True)._replace(server=True),
    ]
    policy = parts[1] if parts[0] is None else parts[0].strictest(parts[1])
    config = GtoConfig(stages=("dev",))
    commit = "c" * 40
    objects = {
        "1" * 40: GitObject(
            "1" * 40, "tag", commit, "commit", 1000, 0, "T", "t@e", "no ticket", "m#dev#1"
        )
    }
    update = RefUpdate("refs/tags/m#dev#1", "0" * 40, "1" * 40)
    ctx = Context(config, policy, tag_checker(config, policy), 1000)
    found = evaluate([update], objects, Registry(), ctx).violations
    assert [(v.rule, v.severity) for v in found] == [("message-mismatch", s) for s in severity]


# --- from: the version holds the stage now, as gto show shows it ------------------------------


def test_from_asks_who_holds_the_stage_now(world: World) -> None:
    """The review: v1.0.0 -> staging, then v2.0.0 -> staging (gto show: staging is
    v2.0.0), and then v1.0.0 -> prod was accepted: the engine read gto's "held until
    unassigned", which no screen shows."""
    world.set_policy("stages:\n  prod: {from: [staging]}\n")
    world.tag("m@v1.0.0")
    world.tag("m#staging#1")
    assert world.push_tags("m@v1.0.0", "m#staging#1").ok
    world.commit("v2")
    world.tag("m@v2.0.0#2")
    world.tag("m#staging#3")
    assert world.push_tags("m@v2.0.0#2", "m#staging#3").ok
    done = gtoguard(
        "assign", "m", "--version", "v1.0.0", "--stage", "prod", "--push", cwd=world.clone
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[stage-order]" in done.stdout + done.stderr
    assert "staging is v2.0.0 now" in done.stdout + done.stderr
    world.tag("m#prod#4", "m@v1.0.0^{commit}")
    pushed = world.push_tags("m#prod#4")
    assert not pushed.ok and pushed.rules() == {"stage-order"}, pushed.output
    git("tag", "-d", "m#prod#4", cwd=world.clone)
    done = gtoguard(
        "assign", "m", "--version", "v2.0.0", "--stage", "prod", "--push", cwd=world.clone
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_rollback_returns_to_a_stage_without_from(world: World) -> None:
    """A version that held prod may go back to it (rollback) without being in staging
    now; rollback: false holds it to from as well."""
    world.set_policy("stages:\n  prod: {from: [staging]}\n")
    for name in ("m@v1.0.0", "m#staging#1", "m#prod#2"):
        world.tag(name)
    assert world.push_tags("m@v1.0.0", "m#staging#1", "m#prod#2").ok
    world.commit("v2")
    for name in ("m@v2.0.0#3", "m#staging#4", "m#prod#5"):
        world.tag(name)
    assert world.push_tags("m@v2.0.0#3", "m#staging#4", "m#prod#5").ok
    world.tag("m#prod#6", "m@v1.0.0^{commit}")  # back to v1.0.0, in staging no longer
    assert world.push_tags("m#prod#6").ok
    world.set_policy("stages:\n  prod: {from: [staging], rollback: false}\n")
    world.tag("m#prod#7", "m@v2.0.0#3^{commit}")
    pushed = world.push_tags("m#prod#7")
    assert pushed.ok, pushed.output  # v2.0.0 is in staging now: from holds
    world.tag("m#prod#8", "m@v1.0.0^{commit}")
    pushed = world.push_tags("m#prod#8")
    assert not pushed.ok and pushed.rules() == {"stage-order"}, pushed.output


# --- what a surface cannot know is never a violation there -------------------------------------


def test_who_pushed_is_not_checkable_where_it_is_not_known(world: World, tmp_path: Path) -> None:
    """The review: alice's server-accepted churn#prod#6 under pushers: ['@leads'] put a red
    badge on the page and failed `check TAG`, all identity-unknown: a fact a clone and an
    audit cannot know. On the server, the decision log says who pushed each tag."""
    world.set_policy("stages:\n  prod: {pushers: ['@leads']}\ngroups:\n  leads: [alice]\n")
    world.set_server_policy(f"log: {tmp_path / 'decisions.jsonl'}\n")
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    assert world.push_tags("churn@v1.0.0", "churn#prod#1", env={"REMOTE_USER": "alice"}).ok
    git("pull", "-q", "origin", "main", cwd=world.clone)
    # outside the CI job the push started, nobody is named: not checkable, exit 0
    done = gtoguard("check", "churn#prod#1", cwd=world.clone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[identity-unknown] not checkable here:" in done.stdout, done.stdout
    assert "GITHUB_ACTOR or GITLAB_USER_LOGIN name who started a CI job" in done.stdout
    # an audit replays history: the job's actor did not push it
    done = gtoguard("check", "--all", cwd=world.clone, env={"GITHUB_ACTOR": "bob"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[identity-unknown] not checkable here:" in done.stdout, done.stdout
    assert "an audit does not know who pushed each tag" in done.stdout
    # on the server the log tells: alice pushed it, which the policy allows
    server = gtoguard("check", "--all", "--repo", str(world.server), cwd=world.root)
    assert server.returncode == 0 and "identity-unknown" not in server.stdout, server.stdout
    # a tag that came around the hook (by bob, unlogged) stays not checkable, never alice's
    hook = world.server / "hooks" / "pre-receive"
    hook.rename(hook.with_suffix(".off"))
    world.tag("churn#prod#2")
    assert world.push_tags("churn#prod#2", env={"REMOTE_USER": "bob"}).ok
    server = gtoguard("check", "--all", "--repo", str(world.server), cwd=world.root)
    assert "churn#prod#2: [identity-unknown] not checkable here" in server.stdout, server.stdout
    assert "churn#prod#1: [identity-unknown]" not in server.stdout


def test_the_pages_badge_counts_only_violations(world: World, page_of: Any) -> None:
    """The same tag on the page: not checkable there, said on the tag, and the badge
    says the registry is clean."""
    world.set_policy("stages:\n  prod: {pushers: ['@leads']}\ngroups:\n  leads: [alice]\n")
    world.tag("churn@v1.0.0")
    world.tag("churn#prod#1")
    assert world.push_tags("churn@v1.0.0", "churn#prod#1", env={"REMOTE_USER": "alice"}).ok
    git("pull", "-q", "origin", "main", cwd=world.clone)
    page = page_of(world.clone)
    dashboard = page.request("/").body
    assert "registry clean" in dashboard, dashboard
    model = page.request("/models/churn").body
    assert "not checkable here" in model and "violating" not in model


# --- config validate says what the hook says --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("stages:\n  prdo: {pushers: [alice]}\n", "/stages/prdo: stage 'prdo'"),
        ("stages:\n  prod: {soak: {stagign: 24h}}\n", "/stages/prod/soak/stagign: stage 'stagign'"),
    ],
    ids=["stage", "soak"],
)
def test_config_validate_says_what_the_hook_says(world: World, text: str, said: str) -> None:
    """The review: a policy with stages: prdo beside a .gto of dev/staging/prod was
    '.gtoguard.yaml: valid' to config validate (and to the gtoguard-config pre-commit
    hook that runs it), while the hook said config-invalid. A misspelt stage under
    ``soak`` would protect nothing as well."""
    (world.clone / ".gtoguard.yaml").write_text(text)
    for args in ((), (".gtoguard.yaml",)):
        done = gtoguard("config", "validate", *args, cwd=world.clone)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"{said} is not allowed by .gto" in done.stdout, done.stdout
    world.commit("policy", {".gtoguard.yaml": text})
    pushed = world.push("HEAD:main")
    assert not pushed.ok and f"{said} is not allowed by .gto" in pushed.output


def test_every_rule_id_is_in_the_readme_and_nowhere_else_invented() -> None:
    """One catalog of rules (gtoguard.policy.catalog): the README's Rules table is its rows,
    word for word, and no other, and every id the code writes into a violation is on the list."""
    import re

    from gtoguard.policy.catalog import RULE_IDS, readme_table

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Rules") : readme.index("Where gtoguard is stricter")]
    documented = {
        rid
        for row in re.findall(r"^\| (`[^|]*`) \|", table, re.M)
        for rid in re.findall(r"`([a-z-]+)`", row)
    }
    assert documented == RULE_IDS
    rows = "\n".join(line for line in table.splitlines() if line.startswith("| `"))
    assert rows == readme_table(), "the README's Rules table is policy/catalog.py's RULES"
    source = "\n".join(p.read_text(encoding="utf-8") for p in (root / "src").rglob("*.py"))
    written = set(re.findall(r'Violation\(\s*"([a-z-]+)"', source))
    written |= set(re.findall(r'\brule = "([a-z-]+)"', source))
    assert written and written <= RULE_IDS, written - RULE_IDS


FORGED = "promote\n-----BEGIN SSH SIGNATURE-----\nforged\n-----END SSH SIGNATURE-----\n"


def test_a_clone_says_a_signature_is_not_checkable_there(world: World) -> None:
    """A clone holds no signers: the pre-push hook reports the signature of a signed
    stage as not checkable here, never as good; the server, which holds them, declines."""
    world.tag("churn@v1.0.0")
    assert world.push_tags("churn@v1.0.0").ok
    world.set_policy("stages:\n  prod: {signed: true}\n")
    assert gtoguard("install", "--repo", str(world.clone), cwd=world.clone).returncode == 0
    world.tag("churn#prod#1", V1, message=FORGED)
    pushed = world.push("refs/tags/churn#prod#1", no_verify=False)
    before_server = pushed.output.split("remote:")[0]
    assert "[signature-invalid] not checkable here" in before_server, pushed.output
    assert "known only to the server" in before_server
    assert not pushed.ok and "remote: gtoguard: refs/tags/churn#prod#1: [signature-invalid]" in (
        pushed.output
    )


def test_an_audit_says_freeze_windows_are_not_checkable_there(world: World) -> None:
    world.set_policy(
        "stages:\n  prod:\n    freeze:\n      - {start: '0 0 * * *', "
        "end: '0 1 * * *', timezone: UTC, reason: nightly}\n"
    )
    done = gtoguard("check", "--all", cwd=world.clone)
    assert done.returncode == 0, done.stderr
    assert "freeze windows are not checkable here" in done.stdout + done.stderr


# a path out of the checkout, or a citation of the design or format notes by a bare name
# (written in pieces, so that this file does not match itself)
OUTSIDE = re.compile("[.][.]/" + "shared" + "|(?<![\\w/.])(?:DESIGN|gto-format)" + " §")


def test_every_reference_resolves_inside_the_repository() -> None:
    """Whoever clones the project finds every document the code cites: no path outside
    it, and every "docs/design.md §N" / "docs/gto-format.md §N.M" names a section there."""
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    sections = {
        doc: set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", (root / doc).read_text(), re.M))
        for doc in ("docs/design.md", "docs/gto-format.md")
    }
    outside, missing = [], []
    for name in tracked:
        path = root / name
        if path.suffix not in (".py", ".md", ".json", ".toml", ".sh", ".yml", ".yaml", ""):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        if OUTSIDE.search(text):
            outside.append(name)
        for doc, number in re.findall(
            r"(docs/design\.md|docs/gto-format\.md) §(\d+(?:\.\d+)?)", text
        ):
            if number not in sections[doc]:
                missing.append(f"{name}: {doc} §{number}")
    assert not outside, f"these files cite documents outside the repository: {outside}"
    assert not missing, f"these sections do not exist: {missing}"


def test_the_schemas_defaults_are_the_codes_defaults() -> None:
    """A policy that writes out every default policy.schema.json declares means what the
    same policy says by leaving them out: one source for each default (the schema's
    ``default`` is what docs and editors show; policy/settings.py is what applies)."""
    import json

    from gtoguard.policy.settings import policy_from_data

    root = Path(__file__).resolve().parents[1]
    schema = json.loads((root / "schemas" / "policy.schema.json").read_text(encoding="utf-8"))

    def defaults(node: dict[str, Any]) -> dict[str, Any]:
        found = {}
        for key, sub in node.get("properties", {}).items():
            if "default" in sub:
                found[key] = sub["default"]
            elif sub.get("properties"):
                found[key] = defaults(sub)
        return found

    written = defaults(schema)
    stage = schema["properties"]["stages"]["additionalProperties"]
    written["stages"] = {
        "prod": {k: v["default"] for k, v in stage["properties"].items() if "default" in v}
    }
    assert set(written) >= {"mode", "tags", "versions", "signers", "fail", "budget"}, written
    assert written["stages"]["prod"], "the stage defaults were not found"
    spelled = policy_from_data(written, "policy")
    left_out = policy_from_data({"stages": {"prod": {}}}, "policy")
    assert spelled == left_out, (spelled, left_out)
