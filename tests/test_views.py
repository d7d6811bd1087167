"""``gtoguard show --json`` against ``gto show --json`` on generated tag histories.

Tags are written with plain ``git tag`` (no hook), with tagger dates drawn from a few
seconds so that gto's same-second tie rules, unregistered commits, deprecation and
re-activation all occur. gto is the reference: whatever it prints, we must print.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtoguard.git.branches import default_branch
from gtoguard.git.repo import open_repo
from gtoguard.model.gtoshow import semver_key
from gtoguard.registry.reading import gto_artifact_document, registry_document
from histories import build_history, op

from conftest import git, gtoguard, run_gto


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=14), configured=st.booleans())
def test_show_json_equals_gto(
    tmp_path_factory: pytest.TempPathFactory,
    ops: list[tuple[str, str, int, str, int]],
    configured: bool,
) -> None:
    root = tmp_path_factory.mktemp("views")
    repo = build_history(root, ops, "stages: [dev, staging, prod]\n" if configured else None)
    expected = json.loads(run_gto("show", "--json", cwd=repo).stdout)
    handle = open_repo(str(repo))
    ours = registry_document(handle, default_branch(handle))
    assert json.dumps(ours) == json.dumps(expected), ops  # the same order too
    with_deprecated = json.loads(run_gto("show", "--json", "-d", cwd=repo).stdout)
    ours = registry_document(handle, default_branch(handle), True)
    assert json.dumps(ours) == json.dumps(with_deprecated), ops


# gto's legacy index: artifacts.yaml at HEAD adds artifacts with no tags, and gives those
# with tags a version at HEAD (whose commit date can wake a deprecated artifact up)
INDEXED = st.lists(st.sampled_from(("churn", "fraud", "zeta")), unique=True, max_size=3)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, max_size=10), index=INDEXED)
def test_show_json_with_artifacts_yaml_equals_gto(
    tmp_path_factory: pytest.TempPathFactory,
    ops: list[tuple[str, str, int, str, int]],
    index: list[str],
) -> None:
    repo = build_history(tmp_path_factory.mktemp("index"), ops, "stages: [dev, prod]\n", index)
    handle = open_repo(str(repo))
    for flags, deprecated in (((), False), (("-d",), True)):
        expected = json.loads(run_gto("show", "--json", *flags, cwd=repo).stdout)
        ours = registry_document(handle, default_branch(handle), deprecated)
        assert json.dumps(ours) == json.dumps(expected), (ops, index, flags)


def test_an_index_only_artifact_is_listed_as_gto_lists_it(tmp_path: Path) -> None:
    repo = build_history(tmp_path, [("register", "churn", 0, "dev", 1)], None, ["fraud", "churn"])
    expected = json.loads(run_gto("show", "--json", cwd=repo).stdout)
    handle = open_repo(str(repo))
    ours = registry_document(handle, default_branch(handle))
    assert list(ours) == ["churn", "fraud"] and ours["fraud"]["registered"] is False
    assert json.dumps(ours) == json.dumps(expected)
    # the command as users run it: gto's document for one artifact, ours behind --rows
    for name in ("churn", "fraud"):
        theirs = json.loads(run_gto("show", name, "--json", cwd=repo).stdout)
        shown = gtoguard("show", name, "--json", cwd=repo)
        assert shown.returncode == 0 and json.loads(shown.stdout) == theirs, shown.stderr
    rows = json.loads(gtoguard("show", "churn", "--json", "--rows", cwd=repo).stdout)
    assert [row["version"] for row in rows] == ["v0.1.0"]
    assert "*fraud" in gtoguard("show", cwd=repo).stdout


def _first_column(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines()[1:] if line.strip()]


def test_show_table_lists_the_artifacts_in_gtos_order(tmp_path: Path) -> None:
    """The text table of ``show`` (and ``show -d``) has gto's rows in gto's order: gto
    sorts its table by name, while its --json keeps the order the registry met them in.
    Rows only: the cells are gtoguard's own (full commit ids, plain columns)."""
    ops = [
        ("register", "cv:seg", 0, "dev", 1),
        ("assign", "cv:seg", 0, "prod", 2),
        ("register", "churn", 1, "dev", 3),
        ("assign", "Alpha", 2, "dev", 4),
        ("deprecate", "cv:seg", 0, "dev", 6),
    ]
    repo = build_history(tmp_path, ops, "stages: [dev, prod]\n", ["zeta", "fraud"])
    for flags in ((), ("-d",)):
        theirs = _first_column(run_gto("show", "--plain", *flags, cwd=repo).stdout)
        shown = gtoguard("show", *flags, cwd=repo)
        assert shown.returncode == 0, shown.stderr
        assert _first_column(shown.stdout) == theirs, (flags, shown.stdout)
    assert theirs == ["Alpha", "churn", "cv:seg", "*fraud", "*zeta"]  # -d: cv:seg too
    for name in ("churn", "cv:seg"):  # one artifact's versions: gto's version column
        listed = run_gto("show", name, "-d", "--plain", cwd=repo).stdout.splitlines()[1:]
        shown = gtoguard("show", name, "-d", cwd=repo)
        lines = shown.stdout.split("\n\n")[0].splitlines()  # then the stage table
        table = "\n".join(lines[[line.split()[0] for line in lines].index("version") :])
        assert _first_column(table) == [line.split()[1] for line in listed], shown.stdout


def test_an_artifacts_yaml_gto_cannot_read_is_left_out_with_a_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    repo = build_history(tmp_path, [("register", "churn", 0, "dev", 1)], None)
    (repo / "artifacts.yaml").write_text("- not\n- a mapping\n", encoding="utf-8")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "index", cwd=repo)
    handle = open_repo(str(repo))
    assert list(registry_document(handle, default_branch(handle))) == ["churn"]
    warned = capfd.readouterr().err
    assert "HEAD:artifacts.yaml: /: expected object" in warned and "gto fails" in warned


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("v1.0.0-rc.1", "v1.0.0"),
        ("v1.0.0-alpha", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.beta"),
        ("v1.0.0-beta.2", "v1.0.0-beta.11"),
        ("v1.0.0-rc.1", "v1.0.0-rc.1a"),
        ("v1.9.0", "v1.10.0"),
        ("v0.0.9", "v0.1.0"),
    ],
)
def test_semver_precedence(lower: str, higher: str) -> None:
    low, high = semver_key(lower), semver_key(higher)
    assert low is not None and high is not None and low < high
    assert semver_key("v1.0.0+build.5") == semver_key("v1.0.0")  # build metadata is ignored
    assert semver_key("0f1e2d3c") is None


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=12), index=INDEXED)
def test_show_name_json_equals_gto(
    tmp_path_factory: pytest.TempPathFactory,
    ops: list[tuple[str, str, int, str, int]],
    index: list[str],
) -> None:
    """``gto show NAME --json`` (and ``-d``): gto's own objects, events in their zones."""
    repo = build_history(tmp_path_factory.mktemp("name"), ops, "stages: [dev, prod]\n", index, True)
    handle = open_repo(str(repo))
    for name in sorted({artifact for _, artifact, *_ in ops} | set(index)):
        for flags, inactive in (((), False), (("-d",), True)):
            expected = json.loads(run_gto("show", name, "--json", *flags, cwd=repo).stdout)
            ours = gto_artifact_document(handle, name, inactive)
            assert json.dumps(ours) == json.dumps(expected), (ops, index, name, flags)


def test_show_name_text_has_dates_authors_and_the_stage_table(tmp_path: Path) -> None:
    """As ``gto show NAME``: each version with its stages, date and ref, plus its author
    and commit; then each stage with the version gto shows in it, when and by whom."""
    ops = [
        ("register", "churn", 0, "dev", 1),
        ("register", "churn", 1, "dev", 2),
        ("assign", "churn", 0, "prod", 3),
        ("assign", "churn", 1, "prod", 4),
        ("assign", "churn", 0, "dev", 5),
    ]
    repo = build_history(tmp_path, ops, "stages: [dev, prod]\n")
    done = gtoguard("show", "churn", cwd=repo)
    assert done.returncode == 0, done.stderr
    versions, stages = (part.splitlines() for part in done.stdout.split("\n\n"))
    assert versions[0].split() == [
        "version",
        "stage",
        "created_at",
        "author",
        "commit",
        "active",
        "ref",
    ]
    theirs = run_gto("show", "churn", cwd=repo).stdout
    for row in versions[1:]:  # gto's version, stage, created_at and ref, in gto's order
        version, rest = row.split(None, 1)
        assert version in theirs and "Test User" in rest
    assert [row.split()[0] for row in versions[1:]] == ["v1.0.0-rc.1", "v0.1.0"]
    assert "2023-11-14 22:13:21+00:00" in versions[2]  # v0.1.0's registration (second 1)
    assert stages[0].split() == ["stage", "version", "assigned_at", "author", "ref"]
    assert [row.split()[:2] for row in stages[1:]] == [["dev", "v0.1.0"], ["prod", "v1.0.0-rc.1"]]
    assert "churn#prod#4" in stages[2] and "2023-11-14 22:13:24+00:00" in stages[2]
