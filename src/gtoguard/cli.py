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

    A FILE named .gto is GTO's config; any other FILE is a gtoguard policy. Without
    FILEs: the repository's .gto and .gtoguard.yaml in the working tree (or, in a bare
    repository, on the default branch) and the server policy, where present.
    """
    from . import config as cfg

    targets: list[tuple[str, bytes]] = []
    if files:
        for name in files:
            try:
                targets.append((name, Path(name).read_bytes()))
            except OSError as exc:
                raise CannotRun(f"cannot read {name}: {exc.strerror}") from None
    else:
        targets = _repo_config_files(repo)
    if not targets:
        click.echo("gtoguard: no .gto or .gtoguard.yaml found; the embedded default applies")
        return 0
    invalid = 0
    for name, data in targets:
        problems = cfg.validate_file(data, name)
        if not problems:
            click.echo(f"{name}: valid")
        for problem in problems:
            invalid += 1
            click.echo(f"{problem}")
            if problem.hint:
                click.echo(f"  hint: {problem.hint}")
    return 1 if invalid else 0


def _repo_config_files(repo: str) -> list[tuple[str, bytes]]:
    from .gitrepo import open_repo
    from .policy import GTO_FILE, POLICY_FILE

    found: list[tuple[str, bytes]] = []
    handle = open_repo(repo)
    branch = handle.default_branch()
    for name in (GTO_FILE, POLICY_FILE):
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
    return found


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
@click.option("--force", is_flag=True, help="Rewrite the shim even if it is up to date.")
@_exits
def install(repo: str, kind: str | None, force: bool) -> int:
    """Install gtoguard's hook into a repository.

    A bare repository gets pre-receive, a clone pre-push. An existing hook that is not
    gtoguard's is kept as <hook>.legacy and run first, with the same input.
    """
    from . import install as inst

    done = inst.install(repo, kind, force=force)
    if not done.changed:
        click.echo(f"gtoguard: {done.path.name} hook already installed at {done.path}")
    else:
        click.echo(f"gtoguard: installed {done.path.name} hook at {done.path}")
    if done.legacy:
        click.echo(f"gtoguard: the previous hook runs first: {done.legacy}")
    return 0


@main.command()
@click.option("--repo", default=".", show_default=True, help="Repository to uninstall from.")
@_exits
def uninstall(repo: str) -> int:
    """Remove gtoguard's hooks and restore the hooks they replaced."""
    from . import install as inst

    done = inst.uninstall(repo)
    for line in done or ["no gtoguard hook installed"]:
        click.echo(f"gtoguard: {line}")
    return 0


# --- demo --------------------------------------------------------------------------------


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@_exits
def demo(directory: str | None) -> int:
    """Show gtoguard at work on a throwaway server and clone.

    Builds a bare "server" repository with the pre-receive hook, a clone whose .gto
    allows dev, staging and prod, then pushes a promotion to the misspelt stage 'prd'
    (declined) and one to 'prod' (accepted). Nothing outside DIRECTORY is touched.
    """
    from .demo import run_demo

    return run_demo(directory, click.echo)


if __name__ == "__main__":
    main()
