"""``gtoguard history`` against ``gto history`` on generated tag histories, and the
command as users run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtoguard.git.repo import open_repo
from gtoguard.registry.reading import history_document
from histories import ARTIFACTS, build_history, op

from conftest import git, gtoguard, run_gto


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=14), name=st.sampled_from(ARTIFACTS))
def test_history_json_equals_gto(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, str, int, str, int]], name: str
) -> None:
    """Every event of every artifact, and of one NAME: same events, fields, zones and
    order, same-second ties included (the tags' seconds are drawn from a handful)."""
    repo = build_history(
        tmp_path_factory.mktemp("history"), ops, "stages: [dev, prod]\n", zones=True
    )
    handle = open_repo(str(repo))
    expected = json.loads(run_gto("history", "--json", cwd=repo).stdout)
    assert json.dumps(history_document(handle, None)) == json.dumps(expected), ops
    one = json.loads(run_gto("history", name, "--json", cwd=repo).stdout)
    assert json.dumps(history_document(handle, name)) == json.dumps(one), (ops, name)


def test_history_command(tmp_path: Path) -> None:
    ops = [
        ("register", "churn", 0, "dev", 1),
        ("assign", "churn", 0, "prod", 2),
        ("assign", "cv:seg", 1, "dev", 3),
        ("deprecate", "cv:seg", 1, "dev", 4),
    ]
    repo = build_history(tmp_path, ops, "stages: [dev, prod]\n")
    done = gtoguard("history", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(run_gto("history", "--json", cwd=repo).stdout)
    table = gtoguard("history", cwd=repo).stdout.splitlines()
    assert table[0].split() == [
        "timestamp",
        "artifact",
        "event",
        "version",
        "stage",
        "commit",
        "ref",
    ]
    # newest first; a stage on an unregistered commit shows the commit as its version
    assert [line.split()[3] for line in table[1:]] == [
        "deprecation",
        "assignment",
        "assignment",
        "registration",
    ]
    assert (
        "cv=seg#dev#3" in table[2]
        and table[2].split()[4]
        == git("rev-parse", "--short=7", "cv=seg#dev#3^{commit}", cwd=repo).stdout.strip()
    )
    churn = gtoguard("history", "churn", cwd=repo).stdout
    assert "churn#prod#2" in churn and "cv=seg" not in churn
    typo = gtoguard("history", "chrn", cwd=repo)
    assert typo.returncode == 0 and "did you mean 'churn'" in typo.stdout
    assert gtoguard("history", "chrn", "--json", cwd=repo).stdout.strip() == "[]"


def test_history_refuses_an_invalid_gto_as_gto_does(tmp_path: Path) -> None:
    repo = build_history(tmp_path, [("register", "churn", 0, "dev", 1)], "stages: dev\n")
    done = gtoguard("history", cwd=repo)
    assert done.returncode == 3 and "config-invalid" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    outside = gtoguard("history", cwd=tmp_path)
    assert outside.returncode == 3 and "Traceback" not in outside.stderr, outside.stderr
