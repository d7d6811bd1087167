"""Config files: the schemas themselves, safe YAML, errors with JSON paths, the derived tag
schema, and a differential test against gto's own ``.gto`` loader."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtoguard.config import files as cfg
from gtoguard.config.problems import MAX_CONFIG_BYTES
from gtoguard.config.schemas import load_schema, schema_problems
from gtoguard.config.verdictcache import VerdictCache
from gtoguard.policy.settings import GtoConfig, Policy

SCHEMAS = ["gto-config", "policy", "tag-event"]


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_valid_against_the_metaschema(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schemas_live_in_the_top_level_folder() -> None:
    top = Path(__file__).resolve().parents[1] / "schemas"
    for name in SCHEMAS:
        assert json.loads((top / f"{name}.schema.json").read_text()) == load_schema(name)


def gto(text: str) -> GtoConfig:
    return cfg.parse_gto_config(text.encode(), ".gto")


def problems(text: str, file: str = ".gto") -> list[str]:
    return [str(p) for p in cfg.validate_file(text.encode(), file)]


@pytest.mark.parametrize(
    ("text", "stages"),
    [
        ("", None),
        ("stages:\n", None),
        ("stages: []\n", ()),
        ("stages: [dev, prod]\n", ("dev", "prod")),
        ("STAGES: [dev]\n", ("dev",)),
        ("Stages: [a, '1', a/b]\n", ("a", "1", "a/b")),
        ("stages: [yes, no, on]\n", ("yes", "no", "on")),  # YAML 1.2: strings, as in gto
        ("stages: [dev]\nSTAGES: [prod]\n", ("dev",)),  # gto: the first spelling wins
        ("\ufeffstages: [dev]\n", ("dev",)),
    ],
)
def test_gto_config_accepted(text: str, stages: tuple[str, ...] | None) -> None:
    assert gto(text).stages == stages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stages: dev\n", ".gto: /stages: expected array or null, got string ('dev')"),
        ("stages: [dev, 'bad name']\n", ".gto: /stages/1: 'bad name' is not a valid name"),
        ("stages: [1e3]\n", ".gto: /stages/0: expected string, got number (1000.0)"),
        ("stages: [0o17]\n", ".gto: /stages/0: expected string, got integer (15)"),
        ("stages: [true]\n", ".gto: /stages/0: expected string, got boolean (True)"),
        ("foo: 1\n", ".gto: /: unknown key 'foo'"),
        ("- dev\n", ".gto: /: expected object or null, got array (['dev'])"),
        ("stages: [dev\n", ".gto: /: YAML error at line 2, column 1: expected ',' or ']'"),
        (
            "stages: [a]\nstages: [b]\n",
            ".gto: /: YAML error at line 2, column 1: found duplicate key 'stages'",
        ),
        ("autoload_enrichments: false\n", ".gto: /autoload_enrichments:"),
        ("enrichments: [{config: {}}]\n", ".gto: /enrichments/0: 'type' is a required property"),
    ],
)
def test_gto_config_refused_with_path(text: str, expected: str) -> None:
    found = problems(text)
    assert found and found[0].startswith(expected), found


def test_unknown_key_hint_points_to_the_policy_file() -> None:
    (problem,) = cfg.validate_file(b"prod_pushers: [alice]\n", ".gto")
    assert problem.hint and ".gtoguard.yaml" in problem.hint and "stages" in problem.hint


def test_not_utf8_and_too_large() -> None:
    assert any("UTF-8" in p for p in map(str, cfg.validate_file(b"stages: [\xff]\n", ".gto")))
    big = b"# " + b"x" * (MAX_CONFIG_BYTES + 1)
    assert any("larger" in str(p) for p in cfg.validate_file(big, ".gto"))


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(
            f"{'abcdefghij'[i]}: &{'abcdefghij'[i]} ["
            + ", ".join([f"*{'abcdefghij'[i - 1]}"] * 10)
            + "]"
        )
    lines.append("stages: *i")
    found = problems("\n".join(lines) + "\n")
    assert any("expands to more than" in p for p in found)


def test_recursive_alias_is_refused() -> None:
    assert any("expands" in p or "YAML" in p for p in problems("stages: &a [*a]\n"))


def test_policy_schema() -> None:
    assert cfg.parse_policy(b"mode: warn\ntags: {counter: required, clock_skew: 10}\n").warn_only
    assert problems("mode: loud\n", ".gtoguard.yaml")[0].startswith(
        ".gtoguard.yaml: /mode: 'loud' is not one of: enforce, warn"
    )
    assert problems("tags: {clock_skew: -1}\n", ".gtoguard.yaml")[0].startswith(
        ".gtoguard.yaml: /tags/clock_skew:"
    )
    assert "unknown key 'delet'" in problems("tags: {delet: allow}\n", ".gtoguard.yaml")[0]


@pytest.mark.parametrize(
    ("span", "seconds"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600)],
)
def test_a_soak_span_is_seconds_or_digits_and_a_unit(span: str, seconds: int) -> None:
    rules = cfg.parse_policy(f"stages:\n  prod: {{soak: {{staging: {span}}}}}\n".encode()).stages
    assert rules[0].soak == (("staging", seconds),)


@pytest.mark.parametrize("span", ["24 h", "1.5h", "24H", "-1", "1y", "''"])
def test_a_soak_span_in_other_words_is_config_invalid(span: str) -> None:
    said = problems(f"stages:\n  prod: {{soak: {{staging: {span}}}}}\n", ".gtoguard.yaml")
    assert said and said[0].startswith(".gtoguard.yaml: /stages/prod/soak/staging:"), said


def test_stage_check_runs_through_jsonschema() -> None:
    schema = cfg.tag_schema(GtoConfig(stages=("dev", "prod")), Policy())
    jsonschema.Draft202012Validator.check_schema(schema)
    check = cfg.tag_checker(GtoConfig(stages=("dev", "prod")), Policy())
    event = {"artifact": "m", "action": "assign", "version": None, "stage": "prd", "counter": 1}
    assert [(p, k) for p, k, _ in check(event)] == [("/stage", "enum")]
    assert list(check({**event, "stage": "prod"})) == []
    assert list(check({**event, "action": "register", "version": "v1.0.0", "stage": None})) == []
    none_allowed = cfg.tag_checker(GtoConfig(stages=()), Policy())
    assert [(p, k) for p, k, _ in none_allowed({**event, "stage": "dev"})] == [("/stage", "enum")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_yaml_loader_never_crashes(data: bytes) -> None:
    for file in (".gto", ".gtoguard.yaml"):
        for problem in cfg.validate_file(data, file):
            assert problem.file == file and problem.path.startswith("/")


# --- differential: gto 1.10.1's loader -------------------------------------------------

# Deliberate: gto loads these but then fails on every command (autoload_enrichments off),
# or can never use the name (a stage or type ending in a newline; gto's regex uses "$").
STRICTER_THAN_GTO = [
    "autoload_enrichments: false\n",
    "autoload_enrichments: 'off'\n",
    "autoload_enrichments: 0\n",
    *[f'{key}: ["dev\\n"]\n' for key in ("stages", "STAGES", "Stages", "types", "TYPES")],
    # gto loads these, then every registry reader fails on them (or on a file gtoguard
    # cannot check): an enrichment no plug-in provides, an index other than artifacts.yaml
    "enrichments: [{type: x}]\n",
    *[
        f"{key}: {value}\n"
        for key in ("INDEX", "index")
        for value in ("dev", "'yes'", "'off'", "x.yaml", "'TRUE'", "''")
    ],
]


def gto_documents() -> list[str]:
    keys = [
        "stages",
        "STAGES",
        "Stages",
        "types",
        "TYPES",
        "enrichments",
        "autoload_enrichments",
        "INDEX",
        "index",
        "LOG_LEVEL",
        "DEBUG",
        "debug",
        "EMOJIS",
        "CONFIG_FILE_NAME",
        "foo",
        "stage",
    ]
    values = [
        "",
        "null",
        "[]",
        "[dev, prod]",
        "dev",
        "[1, 2]",
        "[yes, no]",
        "[1e3]",
        "[0o17]",
        "[1_000]",
        "['bad name']",
        "[a/b, '1']",
        "[[a]]",
        "{a: 1}",
        "true",
        "false",
        "'yes'",
        "'off'",
        "1",
        "2",
        "1.0",
        "0.5",
        "x.yaml",
        "[{type: x}]",
        "[{type: x, config: null}]",
        "[{config: {}}]",
        "[x]",
        "2001-12-14",
        "'TRUE'",
        "''",
        '["dev\\n"]',
        "[prød]",
        "[null]",
        "~",
        "0",
    ]
    docs = [f"{k}: {v}\n" for k, v in itertools.product(keys, values)]
    docs += [
        "",
        "null\n",
        "- a\n",
        "hello\n",
        "true\n",
        "stages: [a]\n---\nstages: [b]\n",
        "stages: [dev\n",
        "stages: [a]\nstages: [b]\n",
        "<<: {stages: [a]}\n",
        "stages: &s [a]\ntypes: *s\n",
        "\tstages: [a]\n",
    ]
    return docs


def test_differential_against_gto_config_loader(tmp_path: Path) -> None:
    from gto.config import read_registry_config

    disagreements = []
    docs = gto_documents()
    assert len(docs) > 500
    for number, text in enumerate(docs):
        path = tmp_path / f"{number}" / ".gto"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        try:
            read_registry_config(str(path))
            theirs = True
        except Exception:
            theirs = False
        ours = not cfg.validate_file(text.encode(), ".gto")
        if ours != theirs:
            disagreements.append(text)
    assert sorted(disagreements) == sorted(STRICTER_THAN_GTO)


@settings(max_examples=200, deadline=None)
@given(
    artifact=st.sampled_from(["m", "cv:seg", "a/b:c-d"]),
    action=st.sampled_from(["register", "deregister", "assign", "unassign", "deprecate"]),
    stage=st.sampled_from(["dev", "prod", "prd", "Prod"]),
    counter=st.none() | st.integers(0, 10**6),
    version=st.sampled_from(["v1.0.0", "v2.1.0-rc.1+b.7"]),
    stages=st.none() | st.just(("dev", "prod")) | st.just(()),
    required=st.booleans(),
)
def test_the_tag_checker_memo_gives_what_a_fresh_validation_gives(
    artifact: str,
    action: str,
    stage: str,
    counter: int | None,
    version: str,
    stages: tuple[str, ...] | None,
    required: bool,
) -> None:
    """tag_checker validates one event per (action, stage, version?, counter?) shape and
    reuses the verdict; a checker that has seen other events must agree with a new one."""
    from gtoguard.model.tagname import Action, TagName
    from gtoguard.policy.settings import TagRules

    kind = Action(action)
    tag = TagName(
        artifact,
        kind,
        version=version if kind in (Action.REGISTER, Action.DEREGISTER) else None,
        stage=stage if kind in (Action.ASSIGN, Action.UNASSIGN) else None,
        counter=counter,
    )
    config = GtoConfig(stages=stages)
    policy = Policy(tags=TagRules(counter_required=required))
    warm = cfg.tag_checker(config, policy)
    import tempfile

    from gtoguard.model.tagname import parse_tag

    with tempfile.TemporaryDirectory() as kept:
        # verdicts kept on disk by an earlier push, under this schema and others
        earlier = VerdictCache(Path(kept))
        for other_policy in (policy, Policy()):
            checker = cfg.tag_checker(config, other_policy, earlier)
            for other in ("m#dev#1", "m#prd", "m@v9.9.9#3", "x@deprecated", tag.tag):
                list(checker(parse_tag(other)))
        earlier.save()
        from_disk = cfg.tag_checker(config, policy, VerdictCache(Path(kept)))
        for other in ("m#dev#1", "m#prd", "m@v9.9.9#3", "x@deprecated"):
            list(warm(parse_tag(other).as_event()))
        event = tag.as_event()
        fresh = list(cfg.tag_checker(config, policy)(event))
        assert list(warm(event)) == fresh
        assert list(from_disk(tag)) == fresh  # the verdict read back from the cache file


def test_config_blobs_are_validated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook validates a .gto or policy blob once; later pushes read the verdict (and
    the document) from <git dir>/gtoguard-cache/verdicts.json. A new blob is validated again;
    a damaged cache file only means validating again."""
    import subprocess

    from gtoguard.git.branches import default_branch
    from gtoguard.git.repo import open_repo
    from gtoguard.registry import rulefiles

    repo_dir = tmp_path / "r"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo_dir)], check=True)
    (repo_dir / ".gto").write_text("stages: [dev, prod]\n")
    (repo_dir / ".gtoguard.yaml").write_text("tags: {counter: required}\n")
    subprocess.run(["git", "add", "-A"], cwd=repo_dir, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "c"], cwd=repo_dir, check=True)
    calls: list[str] = []
    real = schema_problems
    monkeypatch.setattr(
        cfg,
        "schema_problems",
        lambda doc, schema, file: calls.append(schema) or real(doc, schema, file),
    )

    def settings() -> rulefiles.Settings:
        repo = open_repo(str(repo_dir))
        return rulefiles.load_settings(repo, default_branch(repo))

    first = settings()
    assert sorted(calls) == ["gto-config", "policy"]
    assert (repo_dir / ".git" / "gtoguard-cache" / "verdicts.json").is_file()
    calls.clear()
    again = settings()
    assert calls == [] and again.config == first.config
    assert again.policy.tags.counter_required and again.config.stages == ("dev", "prod")
    (repo_dir / ".gto").write_text("stages: [dev, staging, prod]\n")
    subprocess.run(["git", "commit", "-q", "-am", "c2"], cwd=repo_dir, check=True)
    assert settings().config.stages == ("dev", "staging", "prod") and calls == ["gto-config"]
    (repo_dir / ".git" / "gtoguard-cache" / "verdicts.json").write_text("{not json")
    calls.clear()
    assert settings().config.stages == ("dev", "staging", "prod") and len(calls) == 2
