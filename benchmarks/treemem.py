"""Run a command and report its wall time and the peak memory of its whole process tree.

    python benchmarks/treemem.py COMMAND [ARG...]

A command that forks workers (``check --all``, ``show`` from 20,000 tags on) or runs git
beside itself uses the sum of its processes, which ``ru_maxrss`` does not give (for
children it is the largest one alone). This samples every 100 ms the proportional set
size (``Pss`` of ``/proc/PID/smaps_rollup``: shared pages split between the processes
that share them) of the command and all its descendants, and keeps the largest sum.
Linux only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found.setdefault(int(fields[1]), []).append(int(entry.name))
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_pss(root: int) -> int:
    """KiB of PSS of ``root`` and every process below it."""
    children = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss_kib(pid)
        todo.extend(children.get(pid, ()))
    return total


def measure(
    command: Sequence[str],
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> tuple[float, int, int]:
    """(seconds, peak KiB of the tree, exit code)."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.PIPE if stdin is not None else None,
    )
    if stdin is not None and proc.stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_pss(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    took = time.perf_counter() - began
    done.set()
    sampler.join()
    return took, peak, code


if __name__ == "__main__":
    seconds, kib, status = measure(sys.argv[1:])
    print(f"{seconds:.2f} s, peak {kib / 1024:.0f} MiB (process tree, PSS), exit {status}")
    sys.exit(status)
