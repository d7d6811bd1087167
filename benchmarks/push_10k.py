"""Time one push of N new GTO tags (a mirror or migration) into a bare repository with
gtoguard's pre-receive hook and into one without, on this machine.

    python benchmarks/push_10k.py [N] [RUNS]

Prints the median and minimum of RUNS pushes each, and the hook's share. GitHub
Enterprise Server kills a pre-receive hook after 5 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gtoguard.server.install import install_into


def git(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=True)
    return done.stdout.decode()


def make_clone(root: Path, count: int) -> Path:
    clone = root / "clone"
    git("init", "-q", "-b", "main", str(clone), cwd=root)
    (clone / ".gto").write_text("stages: [dev, staging, prod]\n")
    git("add", ".gto", cwd=clone)
    git("-c", "user.name=b", "-c", "user.email=b@e", "commit", "-q", "-m", "init", cwd=clone)
    head = git("rev-parse", "HEAD", cwd=clone).strip()
    start = int(time.time()) - count - 100
    names = [f"m{a}@v1.0.0" for a in range(100)]
    names += [f"m{i % 100}#dev#{i // 100 + 1}" for i in range(count - len(names))]
    stream = "".join(
        f"tag {n}\nfrom {head}\ntagger M <m@e> {start + i} +0000\ndata {len(n)}\n{n}\n"
        for i, n in enumerate(names)
    )
    git("fast-import", "--quiet", cwd=clone, stdin=stream.encode())
    return clone


MIRROR = "tags: {max_age: off}\nbudget: off\n"  # the admin's switch for importing history


def mirror_policy(root: Path, server: Path) -> None:
    """A 10,000-tag push is a mirror: old tagger dates, more than a push's budget."""
    path = root / "mirror-policy.yaml"
    path.write_text(MIRROR)
    git("config", "gtoguard.policy", str(path), cwd=server)


def time_push(root: Path, clone: Path, hook: bool, runs: int) -> list[float]:
    times = []
    for run in range(runs):
        server = root / f"server-{hook}-{run}.git"
        git("init", "-q", "--bare", "-b", "main", str(server), cwd=root)
        if hook:
            install_into(server / "hooks" / "pre-receive", "pre-receive", sys.executable)
            mirror_policy(root, server)
        git("push", "-q", str(server), "main", cwd=clone)
        began = time.perf_counter()
        git("push", "-q", str(server), "--tags", cwd=clone)
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clone = make_clone(root, count)
        bare = time_push(root, clone, False, runs)
        hooked = time_push(root, clone, True, runs)
    print(f"one push of {count} new tags, {runs} runs each")
    for label, values in (("without hook", bare), ("with gtoguard", hooked)):
        print(f"  {label:14} median {statistics.median(values):6.2f} s   min {min(values):6.2f} s")
    print(f"  hook's share   median {statistics.median(hooked) - statistics.median(bare):6.2f} s")


if __name__ == "__main__":
    main()
