"""gtoguard's own refs (``refs/gtoguard/``: requests and approvals) in a repository or
on a remote, and a push of them."""

from __future__ import annotations

import os
from collections.abc import Sequence

from gtoguard.errors import CannotRun
from gtoguard.git import invoke
from gtoguard.git.refstore import RefStore
from gtoguard.git.repo import Repo
from gtoguard.model.refupdate import decode_ref


def refs_under(repo: Repo, prefix: str) -> dict[str, str]:
    """Ref name (inside the namespace) -> object id of every ref starting with
    ``prefix``, read from the ref files, else from ``git for-each-ref``."""
    full = repo.full(prefix)
    found = RefStore(repo.path).under([full.encode("utf-8", "surrogateescape")])
    if found is None:
        done = repo.git("for-each-ref", "--format=%(objectname) %(refname)", "--", full)
        if done.returncode != 0:
            raise CannotRun(
                f"git for-each-ref {full} failed: {done.stderr.decode(errors='replace')}"
            )
        found = {}
        for line in done.stdout.splitlines():
            oid, _, name = line.partition(b" ")
            found[name] = oid
    return {repo.inside(decode_ref(name)): oid.decode() for name, oid in found.items()}


def remote_refs_under(
    repo: Repo, remote: str, prefixes: Sequence[str], exact: Sequence[str] = ()
) -> dict[str, str]:
    """The same, of a remote (``git ls-remote``), and the refs named in ``exact``;
    ``CannotRun`` if it cannot be asked."""
    patterns = [p + "*" for p in prefixes] + list(exact)
    done = invoke.run(["ls-remote", "--", remote, *patterns], repo.workdir or repo.path, timeout=60)
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CannotRun(
            f"cannot list the requests and approvals of {remote}: {why[-1] if why else ''}",
            "check the remote name and your access (git ls-remote REMOTE)",
        )
    found = {}
    for line in done.stdout.splitlines():
        oid, _, name = line.partition(b"\t")
        ref = decode_ref(name)
        wanted = ref in exact or any(ref.startswith(p) for p in prefixes)
        if not ref.endswith("^{}") and wanted:
            found[ref] = oid.decode()
    return found


def push_refs(repo: Repo, remote: str, refspecs: Sequence[str]) -> tuple[bool, str]:
    """``git push`` of these refspecs, atomic: (whether it landed, git's and the hook's words)."""
    done = invoke.run(
        ["push", "--atomic", "--porcelain", "--", remote, *refspecs],
        repo.workdir or repo.path,
        env={**os.environ, invoke.HELPER_PUSH: "1"},
    )
    said = (done.stderr + done.stdout).decode("utf-8", "replace")
    return done.returncode == 0, said
