"""``gtoguard config validate``: schema-check .gto and the policies."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from gtoguard.commands.base import exits, main, say
from gtoguard.errors import CannotRun
from gtoguard.model.printable import printable


@main.group()
def config() -> None:
    """Check .gto, artifacts.yaml and gtoguard policy files against their schemas."""


@config.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--repo", default=".", show_default=True, help="Repository whose files to check.")
@exits
def config_validate(files: tuple[str, ...], repo: str) -> int:
    """Validate config files; exit 0 if valid, 1 if not.

    A FILE named .gto is GTO's config, one named .gtoguard.yaml a repository policy, one
    named artifacts.yaml gto's artifact index, any other FILE a server policy (which may
    set signers, identity, fail, budget, log and refs). Without FILEs: the repository's .gto,
    .gtoguard.yaml and artifacts.yaml in the working tree (or, in a bare repository, on
    the default branch) and the server policy, where present.
    """
    from gtoguard.config import files as cfg
    from gtoguard.config.problems import Problem

    targets: list[tuple[str, bytes]] = []
    problems_first: list[Problem] = []
    if files:
        for name in files:
            try:
                targets.append((name, Path(name).read_bytes()))
            except OSError as exc:
                raise CannotRun(f"cannot read {name}: {exc.strerror}") from None
    else:
        targets, problems_first = _repo_config_files(repo)
    if not targets and not problems_first:
        say("gtoguard: no .gto or .gtoguard.yaml found; the embedded default applies")
        return 0
    invalid = 0
    checked = [(str(p.file), [p]) for p in problems_first]
    checked += [
        (name, cfg.validate_file(data, name) or _against_gto(name, data, targets))
        for name, data in targets
    ]
    for name, problems in checked:
        if not problems:
            say(f"{printable(name)}: valid")
        for problem in problems:
            invalid += 1
            say(printable(f"{problem}"))
            if problem.hint:
                say(f"  hint: {printable(problem.hint)}")
    if not files and not invalid:
        for severity, problem in _stage_notes(repo, targets):
            invalid += severity == "error"
            say(printable(f"{problem}" if severity == "error" else f"warning: {problem}"))
            if problem.hint:
                say(f"  hint: {printable(problem.hint)}")
    return 1 if invalid else 0


def _against_gto(name: str, data: bytes, targets: list[tuple[str, bytes]]) -> list[Any]:
    """What the hook says of a valid repository policy beside its ``.gto``: stages (and
    ``from`` stages) the ``.gto`` does not allow are config-invalid (a misspelt stage
    would guard nothing). The ``.gto`` is the one checked with it, else the one in the
    same directory (the working tree's, or the same commit's)."""
    from gtoguard.config import files as cfg
    from gtoguard.config.problems import ConfigInvalid
    from gtoguard.policy.settings import GTO_FILE

    if cfg.config_file_kind(name) != "repository-policy":
        return []
    gto = next((d for n, d in targets if cfg.config_file_kind(n) == "gto"), None)
    if gto is None:
        beside = Path(name.rsplit(":", 1)[-1]).parent / GTO_FILE
        try:
            gto = beside.read_bytes() if ":" not in name else None
        except OSError:
            gto = None
    if gto is None:
        return []
    try:
        return cfg.stage_problems(cfg.parse_gto_config(gto), cfg.parse_policy(data, name), name)
    except ConfigInvalid:
        return []  # the .gto is invalid: said where it is checked


def _stage_notes(repo: str, targets: list[tuple[str, bytes]]) -> list[tuple[str, Any]]:
    """What a valid policy still gets wrong against this repository: stage rules no tag
    can match (``Prod`` where tags use ``prod``), and branches that do not exist."""
    from fnmatch import fnmatchcase

    from gtoguard.config import files as cfg
    from gtoguard.config.problems import Problem
    from gtoguard.git.branches import branch_tips
    from gtoguard.git.repo import open_repo
    from gtoguard.git.tagrefs import tag_names
    from gtoguard.model.tagname import TagNameError, is_gto_shaped, parse_tag
    from gtoguard.policy.settings import GTO_FILE, POLICY_FILE

    files = {Path(name.rsplit(":", 1)[-1]).name: data for name, data in targets}
    if POLICY_FILE not in files:
        return []
    gto = cfg.parse_gto_config(files.get(GTO_FILE))
    policy = cfg.parse_policy(files[POLICY_FILE])
    handle = open_repo(repo)
    used = set()
    for tag in tag_names(handle):
        try:
            stage = parse_tag(tag).stage if is_gto_shaped(tag) else None
        except TagNameError:
            continue
        if stage is not None:
            used.add(stage)
    notes: list[tuple[str, Any]] = []
    where = POLICY_FILE
    known = gto.stages if gto.stages is not None else tuple(used)
    branches = branch_tips(handle)
    for rules in policy.stages:
        path = f"/stages/{rules.stage}"
        twins = [s for s in known if s.lower() == rules.stage.lower() and s != rules.stage]
        if twins and rules.stage not in known:
            notes.append(
                (
                    "error",
                    Problem(
                        where,
                        path,
                        f"stage {rules.stage!r} differs only in case from {twins[0]!r}; "
                        "gto stages are case-sensitive, so these rules would guard nothing",
                        f"rename it to {twins[0]!r}",
                    ),
                )
            )
        elif gto.stages is None and rules.stage not in used:
            notes.append(
                (
                    "warning",
                    Problem(
                        where,
                        path,
                        f"no tag uses stage {rules.stage!r} yet (tags use: "
                        f"{', '.join(sorted(used)) or 'no stage'}); its rules apply once one does",
                        "list the stages in .gto (stages: [...]) so that a misspelt one is refused",
                    ),
                )
            )
        for pattern in rules.branches or ():
            if not any(fnmatchcase(name, pattern) for name in branches):
                notes.append(
                    (
                        "warning",
                        Problem(
                            where,
                            f"{path}/branches",
                            f"no branch matches {pattern!r} here "
                            f"(branches: {', '.join(sorted(branches)) or 'none'})",
                            "fetch the branches, or fix the name",
                        ),
                    )
                )
    return notes


def _repo_config_files(repo: str) -> tuple[list[tuple[str, bytes]], list[Any]]:
    """The files to validate, and the problems found before reading any: a config file
    committed as a symlink, submodule or directory (the hook reads the committed blob)."""
    from gtoguard.git.branches import default_branch
    from gtoguard.git.repo import open_repo
    from gtoguard.policy.settings import CONFIG_FILES
    from gtoguard.registry.rulefiles import not_a_file

    found: list[tuple[str, bytes]] = []
    problems = []
    handle = open_repo(repo)
    branch = default_branch(handle)
    head = handle.ref_target("HEAD") if handle.workdir else branch.commit
    for name in CONFIG_FILES:
        entry = handle.entry_at(head, name)
        problem = not_a_file(entry[1], f"HEAD:{name}") if entry is not None else None
        if problem is not None:
            problems.append(problem)
            continue
        if handle.workdir:
            path = Path(handle.workdir) / name
            if path.is_file():
                found.append((str(path), path.read_bytes()))
        else:
            data = handle.file_at(branch.commit, name)
            if data is not None:
                found.append((f"{branch.label}:{name}", data))
    server = os.environ.get("GTOGUARD_POLICY") or handle.config_value("gtoguard.policy")
    if server:
        try:
            found.append((server, Path(server).read_bytes()))
        except OSError as exc:
            raise CannotRun(f"cannot read the server policy {server}: {exc.strerror}") from None
    return found, problems
