"""Tag histories written with plain ``git tag`` (no hook), with tagger dates drawn from a
few seconds so that gto's same-second tie rules, unregistered commits, deprecation and
reactivation all occur: what test_views.py and test_history.py hold gtoguard's views to
gto's on. A support module: test modules import from here, never from each other."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hypothesis import strategies as st

from conftest import git

ARTIFACTS = ("churn", "cv:seg")
COMMITS = 3
# one version name per commit (gto itself breaks on two names on one commit)
VERSIONS = ("v0.1.0", "v1.0.0-rc.1", "v1.0.0")

op = st.tuples(
    st.sampled_from(("register", "deregister", "assign", "unassign", "deprecate")),
    st.sampled_from(ARTIFACTS),
    st.integers(0, COMMITS - 1),
    st.sampled_from(("dev", "prod")),
    st.integers(0, 6),  # seconds: small on purpose, for ties
)


def build_history(
    root: Path,
    ops: Sequence[tuple[str, str, int, str, int] | tuple[str, str, int, str, int, str]],
    stages: str | None,
    index: list[str] | None = None,
    zones: bool = False,
) -> Path:
    """``index``: the artifacts an ``artifacts.yaml`` in the last commit (HEAD) declares
    (quoted: a name like ``1e3`` stays a name); an op's sixth field, where it has one, is
    the tagger's name."""
    repo = root / "repo"
    git("init", "-q", str(repo), cwd=root)
    commits = []
    base = 1_700_000_000
    for number in range(COMMITS):
        if number == 0 and stages is not None:
            (repo / ".gto").write_text(stages, encoding="utf-8")
        if number == COMMITS - 1 and index is not None:
            text = "".join(f"'{name}':\n  type: model\n" for name in index)
            (repo / "artifacts.yaml").write_text(text or "{}\n", encoding="utf-8")
        (repo / "f").write_text(str(number), encoding="utf-8")
        git("add", "-A", cwd=repo)
        when = {"GIT_COMMITTER_DATE": f"@{base + number * 2} +0000"}
        git("commit", "-q", "-m", f"c{number}", cwd=repo, env=when)
        commits.append(git("rev-parse", "HEAD", cwd=repo).stdout.strip())
    for counter, (action, artifact, commit, stage, second, *tagger) in enumerate(ops, start=1):
        name = (
            artifact.replace(":", "=")
            + {
                "register": f"@{VERSIONS[commit]}",
                "deregister": f"@{VERSIONS[commit]}!",
                "assign": f"#{stage}",
                "unassign": f"#{stage}!",
                "deprecate": "@deprecated",
            }[action]
            + f"#{counter}"
        )
        zone = "-0230" if zones and second % 2 else "+0000"
        when = {"GIT_COMMITTER_DATE": f"@{base + second} {zone}"}
        if tagger:
            when["GIT_COMMITTER_NAME"] = tagger[0]
        git("tag", "-a", name, commits[commit], "-m", action, cwd=repo, env=when)
    return repo
