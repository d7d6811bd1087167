"""Time one push of N new GTO tags into bare repositories: without hooks, with gtoguard's
pre-receive, with pre-receive and a reference-transaction hook that only exits (git's own
cost of running one: twice per ref in a push that is not atomic), and with pre-receive
and gtoguard's landing guard; each as a plain and as an atomic push.

    python benchmarks/push_landing.py [N] [RUNS]

Prints the median and minimum of RUNS pushes each. The setups run interleaved, run by
run, so that a machine whose load changes treats them alike.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from push_10k import git, make_clone, mirror_policy

from gtoguard.server.install import GUARD, install_into

Setup = Callable[[Path], None]


def pre_receive(server: Path) -> None:
    install_into(server / "hooks" / "pre-receive", "pre-receive", sys.executable)
    mirror_policy(server.parent, server)


def floor(server: Path) -> None:
    pre_receive(server)
    hook = server / "hooks" / GUARD
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)


def guard(server: Path) -> None:
    pre_receive(server)
    install_into(server / "hooks" / GUARD, GUARD, sys.executable)


SETUPS: list[tuple[str, Setup | None, bool]] = [
    ("without hooks", None, False),
    ("pre-receive", pre_receive, False),
    ("pre-receive + `exit 0` ref-tx hook", floor, False),
    ("pre-receive + landing guard", guard, False),
    ("pre-receive, --atomic", pre_receive, True),
    ("pre-receive + landing guard, --atomic", guard, True),
]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    times: dict[str, list[float]] = {label: [] for label, _, _ in SETUPS}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clone = make_clone(root, count)
        for run in range(runs):
            for number, (label, setup, atomic) in enumerate(SETUPS):
                server = root / f"server-{run}-{number}.git"
                git("init", "-q", "--bare", "-b", "main", str(server), cwd=root)
                if setup is not None:
                    setup(server)
                git("push", "-q", str(server), "main", cwd=clone)
                began = time.perf_counter()
                git(
                    "push",
                    "-q",
                    *(["--atomic"] if atomic else []),
                    str(server),
                    "--tags",
                    cwd=clone,
                )
                times[label].append(time.perf_counter() - began)
    print(f"one push of {count} new tags, {runs} runs each")
    for label, values in times.items():
        print(f"  {label:40} median {statistics.median(values):6.2f} s   min {min(values):6.2f} s")


if __name__ == "__main__":
    main()
