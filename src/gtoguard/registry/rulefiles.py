"""The rules a check applies, read from the repository: ``.gto`` and ``.gtoguard.yaml``
from the default branch (``artifacts.yaml`` there only checked), and the server admin's
policy. What gtoguard cannot read in such a file is a ``config-invalid`` of that file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from gtoguard.config import files as cfg
from gtoguard.config.problems import ConfigInvalid, Problem
from gtoguard.config.verdictcache import VerdictCache, content_digest
from gtoguard.errors import CannotRun, environmental_failure
from gtoguard.git.branches import Branch
from gtoguard.git.repo import Repo
from gtoguard.model.printable import short
from gtoguard.policy import timebudget
from gtoguard.policy.settings import (
    GTO_FILE,
    INDEX_FILE,
    POLICY_FILE,
    GtoConfig,
    Policy,
    policy_from_data,
)


class Settings(NamedTuple):
    config: GtoConfig
    policy: Policy
    origin: str
    cache: VerdictCache | None = None  # where verdicts reached are kept (save() it)

    def tag_checker(self) -> Callable[[Any], Any]:
        """jsonschema's check of decoded tags, its verdicts kept in the cache."""
        return cfg.tag_checker(self.config, self.policy, self.cache)


def load_settings(
    repo: Repo, branch: Branch, as_of: tuple[str | None, int] | None = None
) -> Settings:
    """``.gto`` and ``.gtoguard.yaml`` from the default branch, plus the server policy;
    ``artifacts.yaml`` there is only checked (gto cannot read a registry without it).
    Blobs validated before come from the verdict cache. A default branch that a bare
    repository's HEAD names but that does not exist while other branches do is an error
    (``config-invalid``), never a silent fall back to the default rules.

    ``as_of``: (commit, its date) of the branch's history whose files to read instead of
    the tip's (an audit by the rules of the time; None as the commit: no files yet);
    messages then name that commit."""
    if branch.missing is not None:
        raise ConfigInvalid([Problem("HEAD", "/", branch.missing, branch.fix)])
    where = f"{branch.label}:" if branch.ref != "HEAD" else "HEAD:"
    commit, origin = branch.commit, branch.label
    if as_of is not None:
        commit = as_of[0]
        where = f"{short(commit)}:" if commit else where
        origin = (
            f"{branch.label} as of {short(commit)} ({_day(as_of[1])})"
            if commit
            else f"{branch.label} before it had one"
        )
    verdicts = VerdictCache(Path(repo.path) / "gtoguard-cache")

    def document(path: str, parse: Callable[[bytes, str], Any]) -> tuple[bool, Any]:
        entry = repo.entry_at(commit, path)
        if entry is None:
            return False, None
        problem = not_a_file(entry[1], where + path)
        if problem is not None:
            raise ConfigInvalid([problem])
        blob = entry[0]
        data = repo.file_at(commit, path)
        if data is None:
            return False, None
        with as_content(where + path):
            return True, verdicts.document(
                path, blob, lambda: data, lambda raw: parse(raw, where + path)
            )

    has_gto, gto_doc = document(GTO_FILE, cfg.gto_document)
    # gto reads the tip's artifacts.yaml for every registry; an era's is history
    if as_of is None and document(INDEX_FILE, cfg.index_document)[0]:
        problems = _undated_index(repo, commit, where + INDEX_FILE)
        if problems:
            raise ConfigInvalid(problems)
    with as_content(where + GTO_FILE):
        config = cfg.gto_config_from(gto_doc) if has_gto else GtoConfig()
    has_policy, policy_doc = document(POLICY_FILE, cfg.policy_document)
    with as_content(where + POLICY_FILE):
        policy = (
            policy_from_data(policy_doc or {}, source=where + POLICY_FILE) if has_policy else None
        )
        problems = [] if policy is None else cfg.stage_problems(config, policy, where + POLICY_FILE)
    if problems:
        raise ConfigInvalid(problems)
    server = server_policy(repo, verdicts=verdicts)
    verdicts.save()
    if policy is None:
        policy = server or Policy()
    elif server is not None:
        policy = policy.strictest(server)
    return Settings(config, policy, origin, verdicts)


@contextmanager
def as_content(file: str) -> Iterator[None]:
    """Whatever goes wrong while gtoguard reads one of the repository's files is a
    ``config-invalid`` of that file: a push may bring such a file, and what a push brings
    must never choose the server's ``fail: open`` (a policy of 1,100 chained groups once
    raised RecursionError, an internal error, and fail: open then accepted every push)."""
    try:
        yield
    except (CannotRun, timebudget.OverBudget):
        raise
    except Exception as exc:
        if environmental_failure(exc):
            raise  # the server's own failure (a library that cannot load): not the file's
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise ConfigInvalid(
            [
                Problem(
                    file,
                    "/",
                    f"gtoguard cannot read what the file holds ({reason})",
                    "simplify the file (gtoguard config validate FILE says more)",
                )
            ]
        ) from None


def _day(seconds: int) -> str:
    try:
        return time.strftime("%Y-%m-%d", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return f"@{seconds}"


_KINDS_OF_MODE = {0o120000: "a symbolic link", 0o160000: "a submodule", 0o040000: "a directory"}


def not_a_file(mode: int, where: str) -> Problem | None:
    """A config file must be a regular file in the commit: gtoguard reads the committed
    blob, while gto and `cat` follow a symlink, so the two would read different rules."""
    if mode in (0o100644, 0o100755):
        return None
    kind = _KINDS_OF_MODE.get(mode, f"an entry of mode {mode:o}")
    return Problem(
        where,
        "/",
        f"{kind}, not a regular file",
        "commit the file itself (git rm --cached, copy it in, git add)",
    )


def server_policy(
    repo: Repo, env: Mapping[str, str] | None = None, verdicts: VerdictCache | None = None
) -> Policy | None:
    """The server admin's policy; with ``verdicts``, a file validated before (by its
    content's digest) is not parsed again."""
    path = (os.environ if env is None else env).get("GTOGUARD_POLICY") or repo.config_value(
        "gtoguard.policy"
    )
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigInvalid(
            [
                Problem(
                    path,
                    "/",
                    f"cannot read the server policy: {exc.strerror}",
                    "fix the path in 'git config gtoguard.policy' or GTOGUARD_POLICY",
                )
            ]
        ) from None
    try:
        if verdicts is None:
            return cfg.parse_policy(data, path, server=True)._replace(server=True)
        digest = content_digest(data)
        doc = verdicts.document(
            "server-policy",
            digest,
            lambda: data,
            lambda raw: cfg.policy_document(raw, path, server=True),
        )
        return policy_from_data(doc or {}, source=path)._replace(server=True)
    except ConfigInvalid as exc:
        exc.environmental = True  # the admin's file: fail: open may apply
        raise


def _undated_index(repo: Repo, commit: str | None, where: str) -> list[Problem]:
    """gto dates the entries of ``artifacts.yaml`` by the commit that holds it."""
    why = repo.undatable(commit) if commit else None
    if why is None:
        return []
    return [
        Problem(
            where,
            "/",
            f"its commit {why}; gto dates the file's artifacts by it",
            "commit again with a real date (git commit --amend --reset-author)",
        )
    ]
