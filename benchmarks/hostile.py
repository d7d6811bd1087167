"""What a hostile push costs the server: the budget cases 13-17 of issue 16, 18-20 of
the third adversarial review (issue 17).

    python benchmarks/hostile.py [--runs 3] [--blob-mb 1536] [--message-mb 600]
                                 [--commits 200000] [--only 13,14,15,16,17,18,19,20]

Each case builds its repository, then times the installed pre-receive hook of a bare
repository fed the push's ref updates on stdin (the objects already in the repository, as
git's quarantine has them), as a fresh process: median and minimum wall time of --runs
runs after a warm-up, peak RSS of the hook's processes, and the hook's verdict. Nothing
here is asserted by the test suite; docs/reliability.md has the figures.

13. ``branches: [main]`` with a main of --commits commits; 100 promotions of one commit
    that is not on main (one history walk per (commit, branch tip), not per tag).
14. A stage with ``signed: true`` on a server that trusts only SSH keys; the tag carries a
    "PGP SIGNATURE" block that is a compressed stream of 1 GB of zeros.
15. 1,000 new tags for 1,000 artifacts on a 100,000-tag server (one pass over the refs);
    also the same push through ``git push`` with and without the hook.
16. A GTO tag pointing at a --blob-mb MB blob (its header is read, never the blob).
17. A registration whose message is --message-mb MB (read only in part: tag-too-large).
18. 60 plain tag names (not GTO's) on tag objects with 16 MiB messages.
19. A promotion judged under a policy of 8,000 chained groups (config-invalid).
20. One bad GTO tag plus 20,000 branch names of 200 bytes, with the decision log on.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import build

from gtoguard.server.install import install_into

PY = sys.executable
ZERO = "0" * 40


def git(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=True)
    return done.stdout.decode().strip()


def bare(
    path: Path, gto: str = "stages: [dev, staging, prod]\n", policy: str | None = None
) -> Path:
    """A bare repository with .gto (and a policy) on main and gtoguard's hook."""
    git("init", "-q", "--bare", "-b", "main", str(path), cwd=path.parent)
    files = {".gto": gto, **({".gtoguard.yaml": policy} if policy else {})}
    stream = "commit refs/heads/main\ncommitter B <b@example.com> 1700000000 +0000\ndata 4\ninit\n"
    stream += "".join(
        f"M 100644 inline {name}\ndata {len(text)}\n{text}\n" for name, text in files.items()
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        input=stream.encode(),
        cwd=path,
        check=True,
        capture_output=True,
    )
    install_into(path / "hooks" / "pre-receive", "pre-receive", PY)
    return path


def mktag(
    repo: Path,
    name: str,
    target: str,
    kind: str = "commit",
    message: bytes = b"m\n",
    when: int | None = None,
) -> str:
    head = (
        f"object {target}\ntype {kind}\ntag {name}\n"
        f"tagger Bench <bench@example.com> {when or int(time.time())} +0000\n\n"
    )
    return git("hash-object", "-t", "tag", "-w", "--stdin", cwd=repo, stdin=head.encode() + message)


def time_hook(
    repo: Path, lines: list[str], runs: int, env: dict[str, str] | None = None
) -> dict[str, object]:
    """Median and minimum seconds, peak RSS (MB) and the verdict of the hook."""
    hook = [str(repo / "hooks" / "pre-receive")]
    stdin = "".join(lines).encode()
    times, peak, verdict = [], 0, ""
    for number in range(-1, runs):
        began = time.perf_counter()
        done = subprocess.run(
            [PY, "-c", _RSS_PROBE, *hook],
            input=stdin,
            capture_output=True,
            check=False,
            env={**os.environ, "GIT_DIR": str(repo), **(env or {})},
        )
        took = time.perf_counter() - began
        rss = done.stdout.decode().rpartition("rss=")[2]
        peak = max(peak, int(rss.strip() or 0))
        verdict = _verdict(done.returncode, done.stderr.decode(errors="replace"))
        if number >= 0:
            times.append(took)
    return {
        "median": statistics.median(times),
        "min": min(times),
        "rss_mb": peak // 1024,
        "verdict": verdict,
    }


# runs the hook as a child and prints the largest RSS among the processes it waited for
_RSS_PROBE = (
    "import resource,subprocess,sys;"
    "c=subprocess.run(sys.argv[1:]);"
    "print('rss=%d'%resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
    "sys.exit(c.returncode)"
)


def _verdict(code: int, stderr: str) -> str:
    rules = sorted(set(part.split("]")[0] for part in stderr.split("[")[1:] if "]" in part))
    shown = ", ".join(r for r in rules if r.replace("-", "").isalpha())
    return f"exit {code}" + (f" ({shown})" if shown else "")


def case_13(root: Path, runs: int, commits: int) -> dict[str, object]:
    repo = bare(root / "c13.git", policy="stages:\n  prod: {branches: [main]}\n")
    stream = "".join(
        f"commit refs/heads/main\ncommitter B <b@example.com> {1700000001 + n} +0000\n"
        f"data 2\nc\n" + ("from refs/heads/main^0\n" if n == 0 else "")
        for n in range(commits)
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        input=stream.encode(),
        cwd=repo,
        check=True,
        capture_output=True,
    )
    git("commit-graph", "write", "--reachable", cwd=repo)
    tree = git("rev-parse", "main^{tree}", cwd=repo)
    side = git("commit-tree", tree, "-m", "off main", cwd=repo)  # on no branch
    when = int(time.time())
    lines = [f"{ZERO} {mktag(repo, 'churn@v1.0.0', side, when=when)} refs/tags/churn@v1.0.0\n"]
    lines += [
        f"{ZERO} {mktag(repo, f'churn#prod#{n}', side, when=when)} refs/tags/churn#prod#{n}\n"
        for n in range(1, 101)
    ]
    return time_hook(repo, lines, runs, {"REMOTE_USER": "alice"})


def case_14(root: Path, runs: int) -> dict[str, object]:
    keys = root / "allowed_signers"
    keys.write_text("")
    server_policy = root / "server14.yaml"
    server_policy.write_text(f"signers:\n  ssh: {keys}\n")
    repo = bare(root / "c14.git", policy="stages:\n  prod: {signed: true}\n")
    git("config", "gtoguard.policy", str(server_policy), cwd=repo)
    head = git("rev-parse", "main", cwd=repo)
    bomb = gzip.compress(b"\0" * (1 << 30), compresslevel=9)
    block = (
        b"-----BEGIN PGP SIGNATURE-----\n\n"
        + base64.encodebytes(bomb)
        + b"-----END PGP SIGNATURE-----\n"
    )
    when = int(time.time())
    reg = mktag(repo, "churn@v1.0.0", head, when=when)
    tag = mktag(repo, "churn#prod#1", head, message=b"promote\n" + block, when=when)
    lines = [f"{ZERO} {reg} refs/tags/churn@v1.0.0\n", f"{ZERO} {tag} refs/tags/churn#prod#1\n"]
    result = time_hook(repo, lines, runs)
    result["block_kb"] = len(block) // 1024
    return result


def case_15(root: Path, runs: int) -> dict[str, object]:
    repo = build(root / "c15.git", 100_000)
    install_into(repo / "hooks" / "pre-receive", "pre-receive", PY)
    head = git("rev-parse", "main", cwd=repo)
    when = int(time.time())
    names = [f"model{a}#dev#{900_000 + a}" for a in range(1000)]  # 1,000 artifacts
    # each on its artifact's newest registered commit would need a lookup; a fresh
    # commit per artifact is what a bulk promotion of new builds looks like
    lines = []
    stream = "".join(
        f"tag {n}\nfrom {head}\ntagger B <b@example.com> {when} +0000\ndata 2\nm\n" for n in names
    )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        input=stream.encode(),
        cwd=repo,
        check=True,
        capture_output=True,
    )
    for name in names:
        oid = git("rev-parse", f"refs/tags/{name}", cwd=repo)
        lines.append(f"{ZERO} {oid} refs/tags/{name}\n")
    source = root / "c15-src.git"  # the pusher's side: it has the new tags
    git("clone", "-q", "--bare", str(repo), str(source), cwd=root)
    deletions = "".join(f"delete refs/tags/{name}\n" for name in names)
    git("update-ref", "--stdin", cwd=repo, stdin=deletions.encode())  # the server has not
    result = time_hook(repo, lines, runs)
    result.update(_real_push(root, repo, source, names, runs))
    return result


def _real_push(
    root: Path, repo: Path, source: Path, names: list[str], runs: int
) -> dict[str, object]:
    """The 1,000 tags through ``git push``, into copies of the server with and without
    the hook."""
    found: dict[str, object] = {}
    for kind in ("hook", "no-hook"):
        times = []
        for number in range(-1, runs):
            server = root / f"c15-{kind}-{number}.git"
            git("clone", "-q", "--bare", str(repo), str(server), cwd=root)
            hook = server / "hooks" / "pre-receive"
            if kind == "hook":
                install_into(hook, "pre-receive", PY)
                # the runs take minutes and the tags were made once: let them be older
                # than the default max_age (300 s); the push is timed whole, so the 5 s
                # budget (which it sits near: docs/reliability.md) is off
                policy = root / "c15-policy.yaml"
                policy.write_text("tags: {max_age: 3600}\nbudget: off\n")
                git("config", "gtoguard.policy", str(policy), cwd=server)
            else:
                hook.unlink(missing_ok=True)
            began = time.perf_counter()
            done = subprocess.run(
                ["git", "push", "-q", str(server), *[f"refs/tags/{n}" for n in names]],
                cwd=source,
                capture_output=True,
                check=False,
            )
            took = time.perf_counter() - began
            if done.returncode != 0:
                said = [
                    line
                    for line in done.stderr.decode(errors="replace").splitlines()
                    if "gtoguard" in line
                ]
                raise SystemExit(f"push ({kind}) failed:\n" + "\n".join(said[:5] + said[-2:]))
            if number >= 0:
                times.append(took)
            subprocess.run(["rm", "-rf", str(server)], check=True)
        found[f"push_{kind}"] = statistics.median(times)
    return found


def case_16(root: Path, runs: int, megabytes: int) -> dict[str, object]:
    repo = bare(root / "c16.git")
    with subprocess.Popen(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        chunk = b"\0" * (1 << 20)
        for _ in range(megabytes):
            proc.stdin.write(chunk)
        proc.stdin.close()
        blob = proc.stdout.read().decode().strip()
    tag = mktag(repo, "churn@v1.0.0", blob, kind="blob")
    return time_hook(repo, [f"{ZERO} {tag} refs/tags/churn@v1.0.0\n"], runs)


def case_17(root: Path, runs: int, megabytes: int) -> dict[str, object]:
    repo = bare(root / "c17.git")
    head = git("rev-parse", "main", cwd=repo)
    message = b"x" * (megabytes << 20) + b"\n"
    tag = mktag(repo, "churn@v1.0.0", head, message=message)
    return time_hook(repo, [f"{ZERO} {tag} refs/tags/churn@v1.0.0\n"], runs)


def case_18(root: Path, runs: int, count: int = 60, megabytes: int = 16) -> dict[str, object]:
    """Plain tag names (no '@' or '#': not GTO's) on tag objects with huge messages: gto
    reads the name in the object, so the hook looks at each, by its head only."""
    repo = bare(root / "c18.git")
    head = git("rev-parse", "main", cwd=repo)
    message = b"y" * (megabytes << 20) + b"\n"
    lines = [
        f"{ZERO} {mktag(repo, f'release-{n}', head, message=message + str(n).encode())} "
        f"refs/tags/release-{n}\n"
        for n in range(count)
    ]
    return time_hook(repo, lines, runs)


def case_19(root: Path, runs: int, groups: int = 8000) -> dict[str, object]:
    """A policy of 8,000 chained groups on main, and a promotion judged under it."""
    chain = "".join(f"  g{i}: ['@g{i + 1}', u{i}]\n" for i in range(groups))
    policy = f"stages:\n  prod: {{pushers: ['@g0']}}\ngroups:\n{chain}  g{groups}: [alice]\n"
    repo = bare(root / "c19.git", policy=policy)
    head = git("rev-parse", "main", cwd=repo)
    when = int(time.time())
    lines = [
        f"{ZERO} {mktag(repo, 'churn@v1.0.0', head, when=when)} refs/tags/churn@v1.0.0\n",
        f"{ZERO} {mktag(repo, 'churn#prod#1', head, when=when)} refs/tags/churn#prod#1\n",
    ]
    return time_hook(repo, lines, runs, {"REMOTE_USER": "alice"})


def case_20(root: Path, runs: int, branches: int = 20_000) -> dict[str, object]:
    """One bad GTO tag and 20,000 long branch names in one push, with the decision log
    on: what one declined push costs the hook and appends to the log."""
    repo = bare(root / "c20.git")
    log = root / "c20-decisions.jsonl"
    server_policy = root / "c20-policy.yaml"
    server_policy.write_text(f"log: {log}\n")
    git("config", "gtoguard.policy", str(server_policy), cwd=repo)
    head = git("rev-parse", "main", cwd=repo)
    lines = [f"{ZERO} {mktag(repo, 'churn#prd#1', head)} refs/tags/churn#prd#1\n"]
    lines += [f"{ZERO} {head} refs/heads/{'b' * 200}-{n}\n" for n in range(branches)]
    result = time_hook(repo, lines, runs)
    result["log_kb_per_push"] = log.stat().st_size // 1024 // (runs + 1) if log.exists() else 0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--blob-mb", type=int, default=1536)
    parser.add_argument("--message-mb", type=int, default=600)
    parser.add_argument("--commits", type=int, default=200_000)
    parser.add_argument("--only", default="13,14,15,16,17,18,19,20")
    args = parser.parse_args()
    cases = {int(c) for c in args.only.split(",")}
    with tempfile.TemporaryDirectory(prefix="gtoguard-hostile-") as tmp:
        root = Path(tmp)
        runs: dict[int, tuple[str, object]] = {
            13: (
                f"100 promotions off a {args.commits:,}-commit main, branches: [main]",
                lambda: case_13(root, args.runs, args.commits),
            ),
            14: (
                "a 'PGP SIGNATURE' that inflates to 1 GB, server trusts SSH only",
                lambda: case_14(root, args.runs),
            ),
            15: (
                "1,000 tags for 1,000 artifacts on a 100,000-tag server",
                lambda: case_15(root, args.runs),
            ),
            16: (
                f"a GTO tag on a {args.blob_mb} MB blob",
                lambda: case_16(root, args.runs, args.blob_mb),
            ),
            17: (
                f"a registration with a {args.message_mb} MB message",
                lambda: case_17(root, args.runs, args.message_mb),
            ),
            18: (
                "60 plain tag names on tag objects with 16 MiB messages",
                lambda: case_18(root, args.runs),
            ),
            19: (
                "a promotion under a policy of 8,000 chained groups",
                lambda: case_19(root, args.runs),
            ),
            20: (
                "one bad GTO tag and 20,000 200-byte branch names, decision log on",
                lambda: case_20(root, args.runs),
            ),
        }
        print("| case | what | hook median (min) | peak RSS | verdict | note |")
        print("|---|---|---|---|---|---|")
        for number in sorted(cases):
            label, run = runs[number]
            print(f"case {number} ...", file=sys.stderr, flush=True)
            result = run()  # type: ignore[operator]
            note = ", ".join(
                f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v}"
                for k, v in result.items()
                if k not in ("median", "min", "rss_mb", "verdict")
            )
            print(
                f"| {number} | {label} | {result['median']:.2f} s ({result['min']:.2f} s) "
                f"| {result['rss_mb']} MB | {result['verdict']} | {note} |",
                flush=True,
            )
    print(
        f"\nMachine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, {git('version', cwd=Path('.'))}. Command: "
        f"`python benchmarks/hostile.py {' '.join(sys.argv[1:])}`."
    )


if __name__ == "__main__":
    main()
