"""gtoguard's speed, side by side with gto, on synthetic registries of 1k, 10k, 100k and
(on request) 1,000,000 tags.

    python benchmarks/run.py [--sizes 1000,10000,100000] [--runs 5] [--hook-runs 15]
                             [--gto-runs 3] [--gto-budget 60] [--out table.md]
    python benchmarks/run.py --sizes 1000,10000,100000,1000000   # the million: ~50 min

Everything is measured in one run on this machine: median and minimum wall time of each
command as a fresh process (what a user or git runs), after one warm-up. What a ratio
compares is run in turns, one of each per round, at each size: the hook rows with the
Python floors (--hook-runs rounds), the three pushes with each other. gto is skipped
at a size where one call would exceed --gto-budget seconds (estimated from the size
before it), and the table says so. The peak memory of each gtoguard command is taken
in one more run, untimed: the largest sum, over the command's whole process tree (its
workers and the git processes it runs), of each process's proportional set size
(``treemem.py``). No number here is asserted by the test suite, and CI runs none of it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import build
from treemem import measure

from gtoguard.server.install import install_into

PY = sys.executable
BIN = Path(PY).parent
ZERO = "0" * 40


def git(*args: str, cwd: Path, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


class Timer:
    def __init__(self, runs: int) -> None:
        self.runs = runs

    def __call__(
        self,
        command: Sequence[str],
        cwd: Path,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        after: Callable[[], object] | None = None,
        runs: int | None = None,
        warm: bool = True,
        expect: tuple[int, ...] = (0,),
    ) -> tuple[float, float]:
        """(median, min) seconds; ``after`` undoes what one run changed. A run that fails
        stops the benchmark: a fast failure is not a fast command."""
        times = []
        for number in range(-1 if warm else 0, runs or self.runs):  # -1: warm-up, not counted
            began = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True,
                                  check=False, env={**os.environ, **(env or {})})  # fmt: skip
            took = time.perf_counter() - began
            if done.returncode not in expect:
                raise SystemExit(
                    f"{' '.join(map(str, command))} failed ({done.returncode}) in "
                    f"{cwd}:\n{done.stderr.decode(errors='replace')[-2000:]}"
                )
            if after:
                after()
            if number >= 0:
                times.append(took)
        return statistics.median(times), min(times)


def paired(
    timer: Timer, entries: dict[str, dict[str, Any]], runs: int
) -> dict[str, tuple[float, float]]:
    """(median, min) of each entry (``Timer`` arguments), run in turns: one of each per
    round, after a warm-up round. A command and what it is compared with then see the same
    machine, which on a shared two-core VM drifts by tens of milliseconds between minutes."""
    times: dict[str, list[float]] = {label: [] for label in entries}
    for number in range(-1, runs):
        for label, how in entries.items():
            took = timer(runs=1, warm=False, **how)[0]
            if number >= 0:
                times[label].append(took)
    return {label: (statistics.median(t), min(t)) for label, t in times.items()}


class TagCleaner:
    """Deletes the tags a timed command created, so every run starts alike."""

    def __init__(self, clone: Path) -> None:
        self.clone = clone
        self.before = set(git("tag", cwd=clone).split())

    def __call__(self) -> None:
        for tag in set(git("tag", cwd=self.clone).split()) - self.before:
            git("tag", "-d", tag, cwd=self.clone)


def newest(repo: Path, artifact: str) -> tuple[str, str, int]:
    """(latest version, its commit, the artifact's highest counter)."""
    names = git("tag", "--list", f"{artifact}@v*", f"{artifact}#*", cwd=repo).split()
    counter = max(
        int(n.rsplit("#", 1)[1])
        for n in names
        if n.count("#") >= 1 and n.rsplit("#", 1)[1].isdigit()
    )
    versions = [n.split("@", 1)[1].split("#", 1)[0] for n in names if "@v" in n and "!" not in n]
    version = max(versions, key=lambda v: tuple(int(x) for x in v[1:].split(".")))
    commit = git(
        "rev-parse",
        f"{artifact}@{version}#{_counter_of(names, artifact, version)}^{{commit}}",
        cwd=repo,
    )
    return version, commit, counter


def _counter_of(names: list[str], artifact: str, version: str) -> str:
    return next(n.rsplit("#", 1)[1] for n in names if n.startswith(f"{artifact}@{version}#"))


def tag_object(repo: Path, name: str, commit: str) -> str:
    body = (
        f"object {commit}\ntype commit\ntag {name}\n"
        f"tagger Bench <bench@example.com> {int(time.time())} +0000\n\nbench\n"
    )
    return git("mktag", cwd=repo, stdin=body)


def listing_cost(repo: Path, runs: int) -> float:
    code = (
        f"import pygit2,time;r=pygit2.Repository({str(repo)!r});t=time.perf_counter();"
        "r.raw_listall_references();print(time.perf_counter()-t)"
    )
    values = [
        float(subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="registry sizes in tags, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        help="timed runs of each gtoguard command (default: %(default)s)",
    )
    parser.add_argument(
        "--hook-runs",
        type=int,
        default=15,
        help="rounds of the hook rows and their floors (default: %(default)s)",
    )
    parser.add_argument(
        "--gto-runs",
        type=int,
        default=3,
        help="timed runs of each gto command (default: %(default)s)",
    )
    parser.add_argument(
        "--gto-budget",
        type=float,
        default=60.0,
        help="skip gto where one call is expected to take longer, in seconds "
        "(default: %(default)s)",
    )
    parser.add_argument("--out", help="also write the tables to this file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    timer = Timer(args.runs)
    gto = shutil.which("gto", path=str(BIN)) or shutil.which("gto")
    notes: list[str] = []
    results: dict[tuple[str, int], tuple[float, float]] = {}
    memory: dict[tuple[str, int], int] = {}  # KiB

    def peak(
        label: str,
        size: int,
        command: Sequence[str],
        cwd: Path,
        after: Callable[[], object] | None = None,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        _, kib, code = measure(command, cwd, {**os.environ, **(env or {})}, stdin)
        if code not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed ({code}) while measuring memory")
        memory[(label, size)] = kib
        if after:
            after()

    def record(label: str, size: int, value: tuple[float, float] | None) -> None:
        if value is not None:
            results[(label, size)] = value

    with tempfile.TemporaryDirectory(prefix="gtoguard-bench-") as tmp:
        root = Path(tmp)
        gto_estimate: dict[str, float] = {}
        for size in sizes:
            print(f"building {size} tags ...", file=sys.stderr, flush=True)
            repo = build(root / f"r{size}.git", size)
            policy_repo = build(root / f"p{size}.git", size, policy=True)
            for target in (repo, policy_repo):
                install_into(target / "hooks" / "pre-receive", "pre-receive", PY)
            artifact = "model7"
            version, commit, counter = newest(repo, artifact)
            name = f"{artifact}#dev#{counter + 1}"
            line = f"{ZERO} {tag_object(repo, name, commit)} refs/tags/{name}\n".encode()
            hook = [str(repo / "hooks" / "pre-receive")]
            _, pc, pcounter = newest(policy_repo, artifact)
            pname = f"{artifact}#prod#{pcounter + 1}"
            pline = f"{ZERO} {tag_object(policy_repo, pname, pc)} refs/tags/{pname}\n".encode()
            head, parent = git("rev-parse", "main", cwd=repo), git("rev-parse", "main~1", cwd=repo)
            branch = f"{parent} {head} refs/heads/main\n".encode()
            at = {"GIT_DIR": str(repo)}
            # the policy push is accepted (0) or declined by stage-order (1), as the synthetic
            # history left staging on the newest version: either way after every rule ran,
            # the cost of judging a promotion under a full policy; a crash (3) stops the run
            for label, value in paired(
                timer,
                {
                    "hook": dict(command=hook, cwd=repo, stdin=line, env=at),
                    "hook-policy": dict(
                        command=[str(policy_repo / "hooks" / "pre-receive")],
                        cwd=policy_repo,
                        stdin=pline,
                        expect=(0, 1),
                        env={"GIT_DIR": str(policy_repo), "REMOTE_USER": "alice"},
                    ),
                    "branch-push": dict(command=hook, cwd=repo, stdin=branch, env=at),
                    "floor": dict(command=[PY, "-c", "import pygit2, jsonschema, yaml"], cwd=root),
                    "pygit2": dict(command=[PY, "-c", "import pygit2"], cwd=root),
                    "pass": dict(command=[PY, "-c", "pass"], cwd=root),
                },
                args.hook_runs,
            ).items():
                record(label, size, value)
            peak("hook", size, hook, repo, stdin=line, env=at)
            results[("listing", size)] = (listing_cost(repo, args.runs), 0.0)

            # a real push of one tag: with the pre-receive hook, with it and its landing
            # guard (reference-transaction, as gtoguard install puts both), and with none
            servers = {}
            for kind in ("with", "guarded", "without"):
                server = root / f"s{size}-{kind}.git"
                git("clone", "-q", "--bare", str(repo), str(server), cwd=root)
                if kind == "with":
                    install_into(server / "hooks" / "pre-receive", "pre-receive", PY)
                elif kind == "guarded":
                    subprocess.run(
                        [str(BIN / "gtoguard"), "install", "--repo", str(server)],
                        check=True,
                        capture_output=True,
                    )
                else:
                    (server / "hooks" / "pre-receive").unlink(missing_ok=True)
                servers[kind] = server
            git("tag", "-a", name, commit, "-m", "bench", cwd=repo)
            pushes = {}
            for kind, server in servers.items():
                undo = ["git", "-C", str(server), "update-ref", "-d", f"refs/tags/{name}"]
                # and a fresh tag for the next push: at 1M tags the rounds take longer than
                # the default policy's tags.max_age (300 s), which the hook holds them to
                retag = ["git", "-C", str(repo), "tag", "-f", "-a", name, commit, "-m", "bench"]
                pushes[f"push-{kind}"] = dict(
                    command=["git", "push", "-q", str(server), f"refs/tags/{name}"],
                    cwd=repo,
                    after=lambda u=undo, r=retag: (
                        subprocess.run(u, check=True),
                        subprocess.run(r, check=True, capture_output=True),
                    ),
                )
            for label, value in paired(timer, pushes, args.runs).items():
                record(label, size, value)
            git("tag", "-d", name, cwd=repo)

            # the CLI, on a clone with a working tree (gto reads .gto from there)
            clone = root / f"c{size}"
            git("clone", "-q", str(repo), str(clone), cwd=root)
            git("config", "user.name", "Bench", cwd=clone)
            git("config", "user.email", "bench@example.com", cwd=clone)

            drop_new_tags = TagCleaner(clone)

            guard = str(BIN / "gtoguard")
            assign = [guard, "assign", artifact, "--version", version, "--stage", "dev", "--force"]
            record("assign", size, timer(assign, clone, after=drop_new_tags))
            peak("assign", size, assign, clone, after=drop_new_tags)
            for label, command in (
                ("check-all", [guard, "check", "--all"]),
                ("show", [guard, "show", "--json"]),
            ):
                record(label, size, timer(command, clone))
                peak(label, size, command, clone)
            existing = git("tag", "--list", f"{artifact}#*", cwd=clone).split()[0]
            if gto:
                for label, command, after in (
                    ("gto-check-ref", [gto, "check-ref", existing], None),
                    (
                        "gto-assign",
                        [
                            gto,
                            "assign",
                            artifact,
                            "--version",
                            version,
                            "--stage",
                            "dev",
                            "--force",
                        ],
                        drop_new_tags,
                    ),
                    ("gto-show", [gto, "show", "--json"], None),
                ):
                    estimate = gto_estimate.get(label, 0.0)
                    if estimate > args.gto_budget:
                        notes.append(
                            f"{label} skipped at {size} tags: ~{estimate:.0f} s a "
                            f"call expected (budget {args.gto_budget:.0f} s)"
                        )
                        continue
                    value = timer(command, clone, after=after, runs=args.gto_runs, warm=False)
                    record(label, size, value)
                    later = [s for s in sizes if s > size]
                    if later:  # gto grows linearly with the tags (docs/gto-format.md §5.1)
                        gto_estimate[label] = value[0] * later[0] / size
            shutil.rmtree(clone)
            for server in servers.values():
                shutil.rmtree(server)

    def cell(label: str, size: int) -> str:
        value = results.get((label, size))
        return "skipped" if value is None else f"{value[0] * 1000:.0f} ({value[1] * 1000:.0f})"

    labels = [
        ("floor", "floor: `python -c 'import pygit2, jsonschema, yaml'`"),
        ("pygit2", "`python -c 'import pygit2'`"),
        ("pass", "`python -c pass`"),
        ("hook", "installed pre-receive hook alone, one-tag push, default policy"),
        ("hook-policy", "the same with a from/branches/pushers policy"),
        ("branch-push", "installed hook, branch-only push (sh fast path)"),
        ("push-with", "git push of one tag, with the hook"),
        ("push-guarded", "the same with the landing guard too (gtoguard install)"),
        ("push-without", "git push of one tag, no hook"),
        ("assign", "gtoguard assign (next counter + tag)"),
        ("check-all", "gtoguard check --all"),
        ("show", "gtoguard show --json"),
        ("gto-check-ref", "gto check-ref"),
        ("gto-assign", "gto assign"),
        ("gto-show", "gto show --json"),
    ]
    lines = [
        "| ms: median (min) | " + " | ".join(f"{s:,} tags" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for label, text in labels:
        lines.append(f"| {text} | " + " | ".join(cell(label, s) for s in sizes) + " |")

    def ratio(a: str, b: str, size: int) -> str:
        top, bottom = results.get((a, size)), results.get((b, size))
        if top is None or bottom is None:
            return "-"
        return f"{top[0] / bottom[0]:.2f}x"

    lines.append("")
    lines.append("| ratio (medians) | " + " | ".join(f"{s:,}" for s in sizes) + " |")
    lines.append("|---|" + "---|" * len(sizes))
    ratios = [
        ("hook / floor", lambda s: ratio("hook", "floor", s)),
        ("hook / `import pygit2`", lambda s: ratio("hook", "pygit2", s)),
        ("hook with policy / floor", lambda s: ratio("hook-policy", "floor", s)),
        ("branch-only push / `python -c pass`", lambda s: ratio("branch-push", "pass", s)),
        ("git push with hook / without", lambda s: ratio("push-with", "push-without", s)),
        (
            "git push with hook and guard / with hook",
            lambda s: ratio("push-guarded", "push-with", s),
        ),
        ("gto check-ref / gtoguard hook", lambda s: ratio("gto-check-ref", "hook", s)),
        ("gto assign / gtoguard assign", lambda s: ratio("gto-assign", "assign", s)),
        ("gto show --json / gtoguard show --json", lambda s: ratio("gto-show", "show", s)),
    ]
    for text, compute in ratios:
        lines.append(f"| {text} | " + " | ".join(compute(s) for s in sizes) + " |")
    if len(sizes) >= 2:
        small, big = sizes[-2], sizes[-1]
        growth = results[("hook", big)][0] - results[("hook", small)][0]
        listing = results[("listing", big)][0] - results[("listing", small)][0]
        lines.append("")
        lines.append(
            f"Hook at {big:,} minus hook at {small:,} tags: {growth * 1000:.0f} ms; "
            f"listing the extra tag names (pygit2 `raw_listall_references`): "
            f"{listing * 1000:.0f} ms."
        )
    lines.append("")
    lines.append("| peak MiB (process tree, PSS) | " + " | ".join(f"{s:,}" for s in sizes) + " |")
    lines.append("|---|" + "---|" * len(sizes))
    for label, text in (
        ("hook", "pre-receive hook alone"),
        ("assign", "gtoguard assign"),
        ("check-all", "gtoguard check --all"),
        ("show", "gtoguard show --json"),
    ):
        cells = [f"{memory[(label, s)] / 1024:.0f}" if (label, s) in memory else "-" for s in sizes]
        lines.append(f"| {text} | " + " | ".join(cells) + " |")
    lines.extend(f"- {note}" for note in notes)
    machine = (
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, "
        f"{subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}"
    )
    lines.append("")
    lines.append(
        f"Machine: {machine}. Command: `python benchmarks/run.py --sizes {args.sizes} "
        f"--runs {args.runs} --hook-runs {args.hook_runs} --gto-runs {args.gto_runs} --gto-budget {args.gto_budget:.0f}`."
    )
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
