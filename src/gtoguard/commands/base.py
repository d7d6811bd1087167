"""What every command shares: the ``gtoguard`` group, exit codes (docs/design.md §5: 0
accepted, 1 violations, 2 usage error, 3 cannot run) and error lines, never a
traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from gtoguard import __version__
from gtoguard.errors import CannotRun, UsageError, failure_reason
from gtoguard.model.printable import printable

F = TypeVar("F", bound=Callable[..., int])


def exits(func: F) -> F:
    """Run a command body, turn its return value into the exit code; CannotRun → 3."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = func(*args, **kwargs)
        except UsageError as exc:
            error(exc.message, exc.hint)
            code = exc.exit_code
        except CannotRun as exc:
            if getattr(exc, "problems", None):
                from gtoguard.policy.report import failure_violations, write_text

                write_text(sys.stderr, failure_violations(exc, func.__name__), None)
            else:
                error(exc.message, exc.hint)
            code = 3
        sys.exit(code)

    return wrapper  # type: ignore[return-value]


def error(message: str, hint: str | None) -> None:
    click.echo(f"gtoguard: error: {printable(message)}", err=True)
    if hint:
        click.echo(f"  hint: {printable(hint)}", err=True)


def say(text: str, err: bool = False) -> None:
    """Print text for people. What was pushed (names, messages, identities) reaches the
    terminal only escaped (``printable``), whether it is a terminal or not; the newlines
    and tabs of ``text`` stay, so a field that must keep to one line (a table cell, a
    name) is escaped by itself first. JSON is printed with click.echo, as it is."""
    click.echo(printable(text, lines=True), err=err)


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
        except BrokenPipeError:  # the reader went away (gtoguard show | head): as git does,
            _quiet_stdout()  # stop without a word, with the status of a SIGPIPE
            sys.exit(141)
        except Exception as exc:
            reason = failure_reason(exc)
            error(f"internal error: {reason}", "please report this line")
            sys.exit(3)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


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


def push_option(what: str) -> Callable[[F], F]:
    """``--push [REMOTE]``: a flag that may name the remote (origin when it does not);
    ``what``: its help, which says what goes."""
    return click.option(
        "--push",
        "push",
        is_flag=False,
        flag_value="origin",
        default=None,
        metavar="[REMOTE]",
        help=what,
    )
