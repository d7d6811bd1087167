"""The command line: a thin click layer. Commands return exit codes (DESIGN §5):
0 accepted, 1 violations, 2 usage error, 3 cannot run."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .errors import CannotRun, UsageError

F = TypeVar("F", bound=Callable[..., int])


def _exits(func: F) -> F:
    """Run a command body, turn its return value into the exit code; CannotRun → 3."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = func(*args, **kwargs)
        except UsageError as exc:
            _error(exc.message, exc.hint)
            code = 2
        except CannotRun as exc:
            if getattr(exc, "problems", None):
                from .report import failure_violations, write_text

                write_text(sys.stderr, failure_violations(exc, func.__name__), None)
            else:
                _error(exc.message, exc.hint)
            code = 3
        sys.exit(code)

    return wrapper  # type: ignore[return-value]


def _error(message: str, hint: str | None) -> None:
    click.echo(f"gtoguard: error: {message}", err=True)
    if hint:
        click.echo(f"  hint: {hint}", err=True)


class _Group(click.Group):
    """Turns anything unexpected into one line and exit 3: never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("gtoguard: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            _error(f"internal error: {reason}", "please report this line")
            sys.exit(3)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gtoguard")
def main() -> None:
    """Enforce GTO model-registry tag policy in git hooks and CI.

    GTO tags (churn@v1.2.0, churn#prod#7, ...) register, promote and deprecate model
    versions. gtoguard decodes every pushed GTO tag, checks it against the stages in
    .gto and the team's .gtoguard.yaml, and declines what would break the registry.

    \b
    Exit codes: 0 accepted, 1 violations, 2 usage error, 3 cannot run.
    """


# --- parse -------------------------------------------------------------------------------


@main.command()
@click.argument("tags", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tag, one per line.")
@_exits
def parse(tags: tuple[str, ...], as_json: bool) -> int:
    """Decode GTO tag names (without refs/tags/). Exit 1 if any is invalid.

    \b
    Example:
      gtoguard parse 'churn@v1.2.0' 'cv:seg#prod#7' 'churn#prd!'
    """
    from .report import dumps
    from .tagname import TagNameError, parse_tag

    invalid = 0
    for name in tags:
        try:
            tag = parse_tag(name)
        except TagNameError as err:
            invalid += 1
            if as_json:
                click.echo(dumps({"tag": name, "valid": False, "artifact": None, "action": None,
                                  "version": None, "stage": None, "counter": None,
                                  "error": err.reason, "rule": err.rule,
                                  "suggestion": err.suggestion}))  # fmt: skip
            else:
                hint = f" (did you mean '{err.suggestion}'?)" if err.suggestion else ""
                click.echo(f"{name}: invalid [{err.rule}]: {err.reason}{hint}")
            continue
        if as_json:
            click.echo(dumps({"tag": name, "valid": True, **tag.as_event(), "error": None}))
        else:
            click.echo(f"{name}: {_describe(tag)}")
    return 1 if invalid else 0


def _describe(tag: Any) -> str:
    counter = f" (counter {tag.counter})" if tag.counter is not None else ""
    what = {
        "register": f"registers version {tag.version}",
        "deregister": f"deregisters version {tag.version}",
        "assign": f"assigns stage {tag.stage}",
        "unassign": f"unassigns stage {tag.stage}",
        "deprecate": "deprecates the artifact",
    }[tag.action.value]
    return f"{what} of artifact {tag.artifact}{counter}"


# --- config ------------------------------------------------------------------------------


@main.group()
def config() -> None:
    """Check .gto and gtoguard policy files against their schemas."""


@config.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--repo", default=".", show_default=True, help="Repository whose files to check.")
@_exits
def config_validate(files: tuple[str, ...], repo: str) -> int:
    """Validate config files; exit 0 if valid, 1 if not.

    A FILE named .gto is GTO's config, one named .gtoguard.yaml a repository policy, any
    other FILE a server policy (which may set signers, identity and fail). Without
    FILEs: the repository's .gto and .gtoguard.yaml in the working tree (or, in a bare
    repository, on the default branch) and the server policy, where present.
    """
    from . import config as cfg

    targets: list[tuple[str, bytes]] = []
    problems_first: list[cfg.Problem] = []
    if files:
        for name in files:
            try:
                targets.append((name, Path(name).read_bytes()))
            except OSError as exc:
                raise CannotRun(f"cannot read {name}: {exc.strerror}") from None
    else:
        targets, problems_first = _repo_config_files(repo)
    if not targets and not problems_first:
        click.echo("gtoguard: no .gto or .gtoguard.yaml found; the embedded default applies")
        return 0
    invalid = 0
    checked = [(str(p.file), [p]) for p in problems_first]
    checked += [(name, cfg.validate_file(data, name)) for name, data in targets]
    for name, problems in checked:
        if not problems:
            click.echo(f"{name}: valid")
        for problem in problems:
            invalid += 1
            click.echo(f"{problem}")
            if problem.hint:
                click.echo(f"  hint: {problem.hint}")
    if not files and not invalid:
        for severity, problem in _stage_notes(repo, targets):
            invalid += severity == "error"
            click.echo(f"{problem}" if severity == "error" else f"warning: {problem}")
            if problem.hint:
                click.echo(f"  hint: {problem.hint}")
    return 1 if invalid else 0


def _stage_notes(repo: str, targets: list[tuple[str, bytes]]) -> list[tuple[str, Any]]:
    """What a valid policy still gets wrong against this repository: stage rules no tag
    can match (``Prod`` where tags use ``prod``), and branches that do not exist."""
    from fnmatch import fnmatchcase

    from . import config as cfg
    from .gitrepo import open_repo
    from .policy import GTO_FILE, POLICY_FILE
    from .tagname import TagNameError, is_gto_shaped, parse_tag

    files = {Path(name.rsplit(":", 1)[-1]).name: data for name, data in targets}
    if POLICY_FILE not in files:
        return []
    gto = cfg.parse_gto_config(files.get(GTO_FILE))
    policy = cfg.parse_policy(files[POLICY_FILE])
    handle = open_repo(repo)
    used = set()
    for tag in handle.tag_names():
        try:
            stage = parse_tag(tag).stage if is_gto_shaped(tag) else None
        except TagNameError:
            continue
        if stage is not None:
            used.add(stage)
    notes: list[tuple[str, Any]] = []
    where = POLICY_FILE
    known = gto.stages if gto.stages is not None else tuple(used)
    branches = handle.branch_tips()
    for rules in policy.stages:
        path = f"/stages/{rules.stage}"
        twins = [s for s in known if s.lower() == rules.stage.lower() and s != rules.stage]
        if twins and rules.stage not in known:
            notes.append(("error", cfg.Problem(
                where, path, f"stage {rules.stage!r} differs only in case from {twins[0]!r}; "
                "gto stages are case-sensitive, so these rules would guard nothing",
                f"rename it to {twins[0]!r}",
            )))  # fmt: skip
        elif gto.stages is None and rules.stage not in used:
            notes.append(("warning", cfg.Problem(
                where, path, f"no tag uses stage {rules.stage!r} yet (tags use: "
                f"{', '.join(sorted(used)) or 'no stage'}); its rules apply once one does",
                "list the stages in .gto (stages: [...]) so that a misspelt one is refused",
            )))  # fmt: skip
        for pattern in rules.branches or ():
            if not any(fnmatchcase(name, pattern) for name in branches):
                notes.append(("warning", cfg.Problem(
                    where, f"{path}/branches", f"no branch matches {pattern!r} here "
                    f"(branches: {', '.join(sorted(branches)) or 'none'})",
                    "fetch the branches, or fix the name",
                )))  # fmt: skip
    return notes


def _repo_config_files(repo: str) -> tuple[list[tuple[str, bytes]], list[Any]]:
    """The files to validate, and the problems found before reading any: a config file
    committed as a symlink, submodule or directory (the hook reads the committed blob)."""
    from .gitrepo import open_repo
    from .policy import GTO_FILE, POLICY_FILE
    from .repostate import not_a_file

    found: list[tuple[str, bytes]] = []
    problems = []
    handle = open_repo(repo)
    branch = handle.default_branch()
    head = handle.ref_target("HEAD") if handle.workdir else branch.commit
    for name in (GTO_FILE, POLICY_FILE):
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
                found.append((f"{branch.short}:{name}", data))
    server = os.environ.get("GTOGUARD_POLICY") or handle.config_value("gtoguard.policy")
    if server:
        try:
            found.append((server, Path(server).read_bytes()))
        except OSError as exc:
            raise CannotRun(f"cannot read the server policy {server}: {exc.strerror}") from None
    return found, problems


# --- creating tags -----------------------------------------------------------------------


def _creating(func: Callable[..., int]) -> Callable[..., None]:
    """The options every creating command shares (DESIGN §5)."""
    options = [
        click.option("-m", "--message", help="Tag message (default: gto's message)."),
        click.option("--simple/--counter", "simple", default=None,
                     help="Leave out / add the #N counter (default: as gto does for this "
                          "command; a counter everywhere when the policy requires one)."),
        click.option("--sign", is_flag=True,
                     help="Sign the tag with your GPG or SSH key, as git tag -s does."),
        click.option("--push", "push", is_flag=False, flag_value="origin", default=None,
                     metavar="[REMOTE]", help="Push the new tag(s) to REMOTE (origin) and "
                     "report the server's verdict."),
        click.option("--dry-run", is_flag=True,
                     help="Print the tag(s) and the policy verdict; write nothing."),
        click.option("--branch", metavar="BRANCH",
                     help="Read .gto and the policy from BRANCH (default: the remote's "
                          "default branch)."),
        click.option("--repo", default=".", show_default=True, help="Repository to tag."),
    ]  # fmt: skip

    @wraps(func)
    def early(*args: Any, **kwargs: Any) -> int:
        from .prefetch import Early

        # the remote's tags of the artifact: asked for now, while Python loads the rest
        kwargs["early"] = Early(kwargs["repo"], kwargs["push"] or "origin", kwargs["name"])
        try:
            return func(*args, **kwargs)
        finally:
            kwargs["early"].close()

    decorated: Callable[..., Any] = _exits(early)
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _create(request: Any, repo: str, branch: str | None, push: str | None, sign: bool,
            dry_run: bool, early: Any = None) -> int:  # fmt: skip
    import shlex

    from . import helper
    from .gitrepo import open_repo
    from .report import write_text

    handle = open_repo(repo)
    found = helper.plan(handle, request, helper.config_branch(handle, branch, push), push, sign,
                        early)  # fmt: skip
    outcome = found.outcome
    refused = sorted(outcome.rejected_refs)
    summary = None
    if refused:
        noun = "tag" if len(found.tags) == 1 else "tags"
        summary = (f"{len(refused)} of {len(found.tags)} new {noun} would be declined; "
                   "nothing was written")  # fmt: skip
    write_text(sys.stderr, outcome.violations, summary, found.notes)
    if dry_run:
        for new in found.tags:
            ref = f"refs/tags/{new.name}"
            verdict = "declined" if ref in outcome.rejected_refs else "accepted"
            click.echo(f"{new.name}\n  target:  {new.commit}\n  message: {new.message}\n"
                       f"  verdict: {verdict}")  # fmt: skip
        return 1 if refused else 0
    if refused:
        return 1
    written = helper.write(handle, found.tags, sign)
    for new, _ in written:
        click.echo(f"Created git tag '{new.name}' that {new.describe()}")
    names = " ".join(shlex.quote(new.name) for new, _ in written)
    if push is None:
        click.echo(f"To push it upstream, run:\n    git push origin {names}")
        return 0
    carried = helper.relied_on(handle, [new for new, _ in written], push)
    result = helper.push(handle, push, written, carried)
    for line in result.remote_lines:
        click.echo(line, err=True)
    if result.accepted:
        click.echo(f"Pushed to {push}: the server accepted {names}")
        if carried:
            click.echo(f"  with {', '.join(carried)}, which {push} did not have and "
                       f"{'it relies' if len(written) == 1 else 'they rely'} on")  # fmt: skip
        return 0
    if result.declined:
        _error(f"{push} declined the push ({result.reason}); the new tags were removed "
               "locally too", "fix what the lines above say and run the command again")  # fmt: skip
        return 1
    _error(f"could not push to {push}: {result.reason}",
           f"the tags stay local; push them later with: git push {push} {names}")  # fmt: skip
    return 3


@main.command()
@click.argument("name")
@click.argument("ref", required=False)
@click.option("--version", "version", metavar="V", help="Version to register (vX.Y.Z...).")
@click.option("--bump-major", "bump", flag_value="major", help="Next major version.")
@click.option("--bump-minor", "bump", flag_value="minor", help="Next minor version.")
@click.option("--bump-patch", "bump", flag_value="patch", help="Next patch version (default).")
@_creating
def register(name: str, ref: str | None, version: str | None, bump: str | None,
             **common: Any) -> int:  # fmt: skip
    """Register a version of artifact NAME at REF (default HEAD): NAME@vX.Y.Z.

    Without --version the latest version is bumped (patch unless told), skipping names
    used before; the first version is v0.0.1. NAME is 'name' or 'dir:name'.

    \b
    Example:
      gtoguard register churn --bump-minor --push
    """
    from .helper import Request
    from .tagname import Action

    if version and bump:
        raise UsageError("give --version or one --bump-* flag, not both")
    request = Request(Action.REGISTER, name, ref, version=version, bump=bump,
                      message=common.pop("message"), simple=common.pop("simple"))  # fmt: skip
    return _create(request, **common)


@main.command()
@click.argument("name")
@click.argument("ref", required=False)
@click.option("--stage", required=True, help="Stage to assign (must be allowed by .gto).")
@click.option("--version", "version", metavar="V",
              help="Without REF: the registered version to promote. With REF: the name of "
                   "the version registered there first, if the commit has none.")  # fmt: skip
@click.option("--bump-major", "bump", flag_value="major", help="Name a new version: next major.")
@click.option("--bump-minor", "bump", flag_value="minor", help="Name a new version: next minor.")
@click.option("--bump-patch", "bump", flag_value="patch", help="Name a new version: next patch.")
@click.option("--force", is_flag=True, help="Assign even if the version holds the stage.")
@_creating
def assign(name: str, ref: str | None, stage: str, version: str | None, bump: str | None,
           force: bool, **common: Any) -> int:  # fmt: skip
    """Assign (promote) a version of NAME to a stage: NAME#STAGE#N.

    Give the version (--version v1.2.3) or the commit (REF, default HEAD). A commit with no
    version is registered first (next version, or --version), and both tags are written
    together or not at all.

    \b
    Example:
      gtoguard assign churn --version v1.2.0 --stage prod --push
    """
    from .helper import Request
    from .tagname import Action

    if version and bump:
        raise UsageError("give --version or one --bump-* flag, not both")
    request = Request(Action.ASSIGN, name, ref, version=version, stage=stage, bump=bump,
                      message=common.pop("message"), simple=common.pop("simple"),
                      force=force)  # fmt: skip
    return _create(request, **common)


main.add_command(assign, "promote")


@main.command()
@click.argument("name")
@click.argument("ref", required=False)
@click.option("--stage", required=True, help="Stage to take away.")
@click.option("--version", "version", metavar="V", help="The version that holds the stage.")
@_creating
def unassign(name: str, ref: str | None, stage: str, version: str | None,
             **common: Any) -> int:  # fmt: skip
    """Take a stage away from a version of NAME: NAME#STAGE!#N.

    Name the version with --version or its commit with REF.

    \b
    Example:
      gtoguard unassign churn --version v1.1.0 --stage prod
    """
    from .helper import Request
    from .tagname import Action

    request = Request(Action.UNASSIGN, name, ref, version=version, stage=stage,
                      message=common.pop("message"), simple=common.pop("simple"))  # fmt: skip
    return _create(request, **common)


@main.command()
@click.argument("name")
@click.option("--version", "version", metavar="V", required=True, help="Version to deregister.")
@_creating
def deregister(name: str, version: str, **common: Any) -> int:
    """Deregister a version of NAME: NAME@vX.Y.Z! on the version's commit.

    A deregistered version and its stages disappear from the registry; its name is never
    used again.
    """
    from .helper import Request
    from .tagname import Action

    request = Request(Action.DEREGISTER, name, None, version=version,
                      message=common.pop("message"), simple=common.pop("simple"))  # fmt: skip
    return _create(request, **common)


@main.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Deprecate again (a new tag with a counter).")
@_creating
def deprecate(name: str, force: bool, **common: Any) -> int:
    """Deprecate artifact NAME: NAME@deprecated.

    Any later registration or assignment makes it active again.
    """
    from .helper import Request
    from .tagname import Action

    request = Request(Action.DEPRECATE, name, None, message=common.pop("message"),
                      simple=common.pop("simple"), force=force)  # fmt: skip
    return _create(request, **common)


# --- reading and auditing ----------------------------------------------------------------


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True,
              help="The document gto show [NAME] --json prints.")  # fmt: skip
@click.option("--rows", "as_rows", is_flag=True,
              help="With NAME and --json: gtoguard's one row per version (version, "
                   "stages, commit, ref) instead of gto's document.")  # fmt: skip
@click.option(
    "-d",
    "--deprecated",
    is_flag=True,
    help="Include deprecated artifacts (with NAME: deregistered versions).",
)
@click.option("--branch", metavar="BRANCH", help="Read .gto from BRANCH.")
@click.option("--repo", default=".", show_default=True, help="Repository to read.")
@_exits
def show(name: str | None, as_json: bool, as_rows: bool, deprecated: bool, branch: str | None,
         repo: str) -> int:  # fmt: skip
    """Show the registry, or the versions of artifact NAME.

    The registry lists each artifact's latest version and the version in each stage;
    --json prints exactly the document gto show --json prints.
    """
    import json

    from . import helper
    from .gitrepo import open_repo

    handle = open_repo(repo)
    if name is None:
        document = helper.registry_document(
            handle, helper.config_branch(handle, branch), deprecated
        )
        if as_json:
            click.echo(json.dumps(document, indent=4, ensure_ascii=False))
            return 0
        stages = list(next(iter(document.values()))["stage"]) if document else []
        rows = [[artifact if entry["registered"] else f"*{artifact}", entry["version"] or "-",
                 *(entry["stage"][s] or "-" for s in stages)]
                for artifact, entry in document.items()]  # fmt: skip
        _table(["artifact", "latest", *(f"#{s}" for s in stages)], rows)
        return 0
    if as_json and not as_rows:
        gto_document = helper.gto_artifact_document(handle, name, deprecated)
        click.echo(json.dumps(gto_document, indent=4, ensure_ascii=False))
        return 0
    versions = helper.artifact_document(handle, name, deprecated)
    if as_json:
        click.echo(json.dumps(versions, indent=4, ensure_ascii=False))
        return 0
    gone = helper.deprecation(handle, name)
    if gone is not None:
        import time

        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(gone.time))
        click.echo(f"{name} is deprecated ({gone.tag}, {when}): gto lists it only with -d")
    rows = [[v["version"], ", ".join(v["stages"]) or "-", v["commit"][:12],
             "yes" if v["registered"] else "no",
             "yes" if v["active"] else ("deregistered" if v["registered"] else "no"),
             v["ref"] or "-"] for v in versions]  # fmt: skip
    _table(["version", "stages", "commit", "registered", "active", "ref"], rows)
    return 0


def _table(header: list[str], rows: list[list[str]]) -> None:
    if not rows:
        click.echo("no GTO tags here")
        return
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        )


@main.command()
@click.argument("tags", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Replay and check every GTO tag.")
@click.option(
    "--unpushed",
    metavar="REMOTE",
    help="Check the local GTO tags REMOTE does not have (what a push would send).",
)
@click.option("--json", "as_json", is_flag=True, help='{"ok", "checked", "violations"} on stdout.')
@click.option(
    "--branch", metavar="BRANCH", help="Read .gto and the policy from BRANCH (in CI: origin/main)."
)
@click.option(
    "--pushed-at", "pushed_at", metavar="TIME",
    help="When TAG was pushed (ISO 8601 or seconds since the epoch; in CI from the push "
    "event): judge it as it arrived, against every other tag, with tagger-time against TIME.",
)  # fmt: skip
@click.option("--repo", default=".", show_default=True, help="Repository to check.")
@_exits
def check(tags: tuple[str, ...], everything: bool, unpushed: str | None, as_json: bool,
          branch: str | None, pushed_at: str | None, repo: str) -> int:  # fmt: skip
    """Check existing tags as if they were pushed now; exit 1 on any violation.

    TAG...: each tag against the tags before it (tagger-date order) -- in CI, the tag
    that triggered the job. --all: replay the whole history and report every violation
    (an audit).

    \b
    Example (CI, on a clone with all tags and branches):
      gtoguard check "$GITHUB_REF_NAME" --branch origin/main
    """
    from . import helper
    from .gitrepo import open_repo
    from .report import dumps, summary_line, violation_json, write_text

    if sum((bool(tags), everything, unpushed is not None)) != 1:
        raise UsageError("give TAG..., --all or --unpushed REMOTE", "gtoguard check 'churn#prod#3'")
    arrival = None if pushed_at is None else _epoch(pushed_at)
    if arrival is not None and not tags:
        raise UsageError("--pushed-at goes with TAG...", "gtoguard check TAG --pushed-at TIME")
    handle = open_repo(repo)
    if unpushed is not None:
        tags = tuple(helper.unpushed_tags(handle, unpushed))
    result = helper.audit(handle, helper.config_branch(handle, branch, unpushed),
                          None if everything else list(tags), arrival)  # fmt: skip
    outcome = result.outcome
    if as_json:
        click.echo(dumps({"ok": outcome.ok, "checked": outcome.checked,
                          "violations": [violation_json(v) for v in outcome.violations]}))  # fmt: skip
    else:
        summary = summary_line(outcome.violations, outcome.checked,
                               sorted(outcome.rejected_refs), "check")  # fmt: skip
        write_text(sys.stdout, outcome.violations, summary, result.notes)
    return 0 if outcome.ok else 1


@main.command()
@click.option(
    "--made-after",
    "made_after",
    metavar="TIME",
    required=True,
    help="Only tags whose tagger date is after TIME (ISO 8601 or epoch seconds).",
)
@click.option("--remote", default="origin", show_default=True, help="Where to delete them.")
@click.option("--branch", metavar="BRANCH", help="Read .gto and the policy from BRANCH.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--repo", default=".", show_default=True, help="Repository to audit.")
@_exits
def prune(made_after: str, remote: str, branch: str | None, dry_run: bool, repo: str) -> int:
    """Delete the GTO tags an audit finds violating, made after TIME.

    The backstop for hosts without hooks: a tag that went past CI (GitHub starts no
    workflow for a push of more than three tags) is removed from REMOTE and here. Tags
    made before TIME, tags that pass, and lightweight tags (no date) are never touched.
    Exit 0 when nothing violating is left, 1 when some is (named), 3 if deleting fails.

    \b
    Example (a scheduled CI job):
      gtoguard prune --made-after 2026-12-01T00:00:00Z --branch origin/main
    """
    from . import helper
    from .gitrepo import open_repo
    from .report import summary_line, write_text

    cutoff = _epoch(made_after, "--made-after")
    handle = open_repo(repo)
    config = helper.config_branch(handle, branch, remote)
    result = helper.audit(handle, config, None)
    doomed, kept = helper.prunable(handle, result.outcome, cutoff)
    for name, why in kept:
        click.echo(f"kept {name}: {why}")
    if not doomed:
        write_text(sys.stdout, result.outcome.violations,
                   summary_line(result.outcome.violations, result.outcome.checked,
                                sorted(result.outcome.rejected_refs), "check"), result.notes)  # fmt: skip
        return 0 if result.outcome.ok else 1
    for name in doomed:
        click.echo(f"{'would delete' if dry_run else 'deleting'} {name}")
    if dry_run:
        return 1
    done = handle.git("push", "--atomic", "--porcelain", "--", remote,
                      *[f":refs/tags/{name}" for name in doomed])  # fmt: skip
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["git push failed"]
        _error(f"could not delete them from {remote}: {said[-1]}",
               "check the job's push access (contents: write / a project token)")  # fmt: skip
        return 3
    for name in doomed:
        oid = handle.ref_target(f"refs/tags/{name}")
        if oid is not None:
            handle.delete_tag(name, oid)
    click.echo(f"deleted {len(doomed)} tag(s) from {remote} and here")
    return 1 if kept else 0


def _epoch(text: str, option: str = "--pushed-at") -> int:
    """Seconds since the epoch from ``1796104937`` or ISO 8601 (``2026-12-01T06:00:00Z``,
    GitHub's pushed_at; ``2026-12-01T06:00:00.123+00:00``, GitLab's CI_PIPELINE_CREATED_AT)."""
    from datetime import datetime

    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a time",
                         "give ISO 8601 with a zone (2026-12-01T06:00:00Z) or epoch seconds") from None  # fmt: skip
    if moment.tzinfo is None:
        raise UsageError(f"{option} {text!r} has no time zone",
                         "add one: 2026-12-01T06:00:00Z") from None  # fmt: skip
    return int(moment.timestamp())


# --- hooks -------------------------------------------------------------------------------


@main.group()
def hook() -> None:
    """Run a hook by hand (git runs the installed shims; they skip click for speed)."""


@hook.command("pre-receive")
def hook_pre_receive() -> None:
    """Server hook: read '<old> <new> <ref>' lines on stdin, decline a bad push."""
    from .hooks import pre_receive

    sys.exit(pre_receive([], sys.stdin.buffer.read()))


@hook.command("pre-push")
@click.argument("remote")
@click.argument("url")
def hook_pre_push(remote: str, url: str) -> None:
    """Client hook: read git's pre-push lines on stdin, stop a push the server would decline."""
    from .hooks import pre_push

    sys.exit(pre_push([remote, url], sys.stdin.buffer.read()))


# --- install -----------------------------------------------------------------------------


@main.command()
@click.option("--repo", default=".", show_default=True, help="Repository to install into.")
@click.option("--pre-push", "kind", flag_value="pre-push", help="Client hook (default in a clone).")
@click.option("--pre-receive", "kind", flag_value="pre-receive",
              help="Server hook (default in a bare repository).")  # fmt: skip
@click.option("--hooks-dir", metavar="DIR",
              help="Install into a pre-receive.d directory the server runs hooks from "
                   "(GitLab custom_hooks/pre-receive.d, Gitea hooks/pre-receive.d) "
                   "instead of one repository.")  # fmt: skip
@click.option("--force", is_flag=True, help="Rewrite the shim even if it is up to date.")
@_exits
def install(repo: str, kind: str | None, hooks_dir: str | None, force: bool) -> int:
    """Install gtoguard's hook into a repository, or into a server's hooks directory.

    A bare repository gets pre-receive and its landing guard (reference-transaction),
    a clone pre-push. An existing hook that is not
    gtoguard's is kept as <hook>.legacy and run first, with the same input. With
    --hooks-dir the shim is written as DIR/gtoguard and nothing else there is touched.
    """
    from . import install as inst

    if hooks_dir is not None:
        if kind == "pre-push":
            raise UsageError("--hooks-dir is for the server hook", "drop --pre-push")
        done = inst.install_hooks_dir(hooks_dir, force=force)
    else:
        done = inst.install(repo, kind, force=force)
    for each in (done, *done.also):
        if not each.changed:
            click.echo(f"gtoguard: hook already installed at {each.path}")
        else:
            click.echo(f"gtoguard: installed {each.path.name} hook at {each.path}")
        if each.legacy:
            click.echo(f"gtoguard: the previous hook runs first: {each.legacy}")
    for note in done.notes:
        click.echo(f"gtoguard: note: {note}")
    return 0


@main.command()
@click.option("--repo", default=".", show_default=True, help="Repository to uninstall from.")
@click.option("--hooks-dir", metavar="DIR", help="Uninstall from a pre-receive.d directory.")
@_exits
def uninstall(repo: str, hooks_dir: str | None) -> int:
    """Remove gtoguard's hooks and restore the hooks they replaced."""
    from . import install as inst

    done = inst.uninstall_hooks_dir(hooks_dir) if hooks_dir else inst.uninstall(repo)
    for line in done or ["no gtoguard hook installed"]:
        click.echo(f"gtoguard: {line}")
    return 0


# --- demo --------------------------------------------------------------------------------


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--keep", is_flag=True, help="Keep the temporary directory (without DIRECTORY).")
@_exits
def demo(directory: str | None, keep: bool) -> int:
    """Show gtoguard at work on a throwaway server and clone.

    Builds a bare "server" repository with the pre-receive hook, a clone whose .gto
    allows dev, staging and prod, then pushes a promotion to the misspelt stage 'prd'
    (declined) and one to 'prod' (accepted). Nothing outside DIRECTORY is touched;
    without DIRECTORY a temporary directory is used and removed at the end.
    """
    from .demo import run_demo

    return run_demo(directory, click.echo, keep)


if __name__ == "__main__":
    main()
