"""Synthetic GTO registries for the benchmarks: T annotated tags over A artifacts, with the
mix a real registry has (registrations, assignments, unassignments, deregistrations,
deprecations), written in one go by ``git fast-import`` and packed.

    python benchmarks/synth.py DIR TAGS [ARTIFACTS]
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("dev", "staging", "prod")
GTO = "stages: [dev, staging, prod]\n"
POLICY = (
    "stages:\n"
    "  staging: {from: [dev]}\n"
    "  prod: {from: [staging], branches: [main], pushers: [alice, '@leads']}\n"
    "groups:\n  leads: [carol]\n"
)


def build(
    directory: Path, tags: int, artifacts: int = 0, policy: bool = False, seed: int = 7
) -> Path:
    """A bare repository at DIRECTORY with ``tags`` GTO tags; returns its path."""
    artifacts = artifacts or max(1, tags // 100)
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(directory)], check=True)
    start = int(time.time()) - tags * 3 - 3600
    out: list[str] = []
    files = [(".gto", GTO)] + ([(".gtoguard.yaml", POLICY)] if policy else [])
    for mark, (_, text) in enumerate(files, start=1):
        out.append(f"blob\nmark :{mark}\ndata {len(text.encode())}\n{text}\n")
    commits = max(2, tags // 2 + artifacts)  # a fresh commit for every registration
    clock = start
    for number in range(commits):
        clock += 1
        message = f"train {number}"
        out.append(
            f"commit refs/heads/main\nmark :{100 + number}\n"
            f"committer Bench <bench@example.com> {clock} +0000\n"
            f"data {len(message)}\n{message}\n"
            + (f"from :{99 + number}\n" if number else "")
            + (
                "".join(f"M 100644 :{m} {name}\n" for m, (name, _) in enumerate(files, 1))
                if number == 0
                else ""
            )
        )
    made = 0
    counters = [0] * artifacts
    # per artifact: active versions (number -> commit) and the stages each holds
    active: list[dict[int, int]] = [{} for _ in range(artifacts)]
    stages: list[dict[int, set[str]]] = [{} for _ in range(artifacts)]
    latest = [0] * artifacts
    next_commit = 0
    while made < tags:
        a = rng.randrange(artifacts)
        name = f"model{a}"
        roll = rng.random()
        counters[a] += 1
        clock += 1
        mine, held = active[a], stages[a]
        if not mine or roll < 0.3:  # register the next version on a fresh commit
            latest[a] += 1
            commit = 100 + next_commit
            next_commit += 1
            mine[latest[a]] = commit
            held[latest[a]] = set()
            tag = f"{name}@v{latest[a]}.0.0#{counters[a]}"
        elif roll < 0.85:  # assign a stage the newest version does not hold yet
            version = max(mine)
            free = [s for s in STAGES if s not in held[version]] or list(STAGES)
            stage = free[0]
            held[version].add(stage)
            commit = mine[version]
            tag = f"{name}#{stage}#{counters[a]}"
        elif roll < 0.95 and any(held[v] for v in mine):  # unassign a stage that is held
            version = next(v for v in sorted(mine) if held[v])
            stage = sorted(held[version])[0]
            held[version].discard(stage)
            commit = mine[version]
            tag = f"{name}#{stage}!#{counters[a]}"
        elif roll < 0.98 and len(mine) > 1:  # deregister the oldest active version
            version = min(mine)
            commit = mine.pop(version)
            held.pop(version, None)
            tag = f"{name}@v{version}.0.0!#{counters[a]}"
        else:
            commit = mine[max(mine)]
            tag = f"{name}@deprecated#{counters[a]}"
        out.append(
            f"tag {tag}\nfrom :{commit}\ntagger Bench <bench@example.com> {clock} +0000\n"
            f"data {len(tag)}\n{tag}\n"
        )
        made += 1
    subprocess.run(
        ["git", "fast-import", "--quiet", "--force"],
        input="".join(out).encode(),
        cwd=directory,
        check=True,
    )
    subprocess.run(["git", "pack-refs", "--all"], cwd=directory, check=True)
    return directory


if __name__ == "__main__":
    target = Path(sys.argv[1])
    count = int(sys.argv[2])
    build(target, count, int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(f"{target}: {count} tags")
