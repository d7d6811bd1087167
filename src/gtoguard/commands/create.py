"""The creating commands: register, assign (promote), unassign, deregister, deprecate."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Any

import click

from gtoguard.commands.base import error, exits, main, push_option, say
from gtoguard.errors import UsageError
from gtoguard.model.printable import printable


def _creating(func: Callable[..., int]) -> Callable[..., None]:
    """The options every creating command shares (docs/design.md §5)."""
    options = [
        click.option("-m", "--message", help="Tag message (default: gto's message)."),
        click.option(
            "--simple/--counter",
            "simple",
            default=None,
            help="Leave out / add the #N counter (default: as gto does for this "
            "command; a counter everywhere when the policy requires one).",
        ),
        click.option(
            "--sign",
            is_flag=True,
            help="Sign the tag with your GPG or SSH key, as git tag -s does.",
        ),
        push_option("Push the new tag(s) to REMOTE (origin) and report the server's verdict."),
        click.option(
            "--dry-run",
            is_flag=True,
            help="Print the tag(s) and the policy verdict; write nothing.",
        ),
        click.option(
            "--branch",
            metavar="BRANCH",
            help="Read .gto and the policy from BRANCH (default: the remote's default branch).",
        ),
        click.option("--repo", default=".", show_default=True, help="Repository to tag."),
    ]

    @wraps(func)
    def early(*args: Any, **kwargs: Any) -> int:
        from gtoguard.git.prefetch import Early

        # the remote's tags of the artifact: asked for now, while Python loads the rest
        kwargs["early"] = Early(kwargs["repo"], kwargs["push"] or "origin", kwargs["name"])
        try:
            return func(*args, **kwargs)
        finally:
            kwargs["early"].close()

    decorated: Callable[..., Any] = exits(early)
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _bumps(**helps: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--bump-major/--bump-minor/--bump-patch; ``_the_bump`` takes the one given."""

    def add(func: Callable[..., Any]) -> Callable[..., Any]:
        for part in ("patch", "minor", "major"):
            func = click.option(f"--bump-{part}", f"bump_{part}", is_flag=True, help=helps[part])(
                func
            )
        return func

    return add


def _the_bump(version: str | None, common: dict[str, Any]) -> str | None:
    given = [part for part in ("major", "minor", "patch") if common.pop(f"bump_{part}")]
    if len(given) > 1:
        raise UsageError(
            f"give one --bump-* flag, not {' and '.join(f'--bump-{g}' for g in given)}"
        )
    if version and given:
        raise UsageError("give --version or one --bump-* flag, not both")
    return given[0] if given else None


def _utf8(message: str) -> str:
    """The message as UTF-8 text. Under a C locale Python hands over the bytes of an
    argument as surrogates: valid UTF-8 bytes are taken back; others cannot be a tag
    message gto reads."""
    try:
        message.encode("utf-8")
        return message
    except UnicodeEncodeError:
        pass
    try:
        return message.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        raise UsageError(
            "--message is not UTF-8 text, and gto cannot read such a tag",
            "write the message in UTF-8 (check your terminal's encoding)",
        ) from None


def _create(
    request: Any,
    repo: str,
    branch: str | None,
    push: str | None,
    sign: bool,
    dry_run: bool,
    early: Any = None,
) -> int:
    import shlex

    from gtoguard.git.repo import open_repo
    from gtoguard.policy.report import write_text
    from gtoguard.registry import planning, publishing

    if request.message is not None:
        request = replace(request, message=_utf8(request.message))
    handle = open_repo(repo)
    found = planning.plan(
        handle, request, planning.config_branch(handle, branch, push), push, sign, early
    )
    outcome = found.outcome
    if request.action.value == "assign" and any(
        v.rule == "approvals-missing" and v.severity == "error" for v in outcome.violations
    ):  # a stage with approvals: the requested object goes, once approved, never a new one
        from gtoguard.commands.approving import promote_requested

        code = promote_requested(handle, found, push or "origin", dry_run)
        if code is not None:
            return code
    declined = sorted(outcome.declined_refs)
    summary = None
    if declined:
        noun = "tag" if len(found.tags) == 1 else "tags"
        summary = f"{len(declined)} of {len(found.tags)} new {noun} would be declined; nothing was written"
    write_text(sys.stderr, outcome.violations, summary, found.notes)
    if dry_run:
        for new in found.tags:
            ref = f"refs/tags/{new.name}"
            verdict = "declined" if ref in outcome.declined_refs else "accepted"
            say(
                f"{printable(new.name)}\n  target:  {new.commit}\n  message: {new.message}\n"
                f"  verdict: {verdict}"
            )
        return 1 if declined else 0
    if declined:
        return 1
    written = publishing.write(handle, found.tags, sign)
    for new, _ in written:
        say(printable(f"Created git tag '{new.name}' that {new.tag.describe()}"))
    names = " ".join(shlex.quote(new.name) for new, _ in written)
    if push is None:
        say(f"To push it upstream, run:\n    git push origin {printable(names)}")
        return 0
    carried = publishing.relied_on(handle, [new for new, _ in written], push)
    result = publishing.push(handle, push, written, carried)
    for line in result.remote_lines:
        say(printable(line), err=True)
    if result.accepted:
        say(printable(f"Pushed to {push}: the server accepted {names}"))
        if carried:
            say(
                printable(
                    f"  with {', '.join(carried)}, which {push} did not have and "
                    f"{'it relies' if len(written) == 1 else 'they rely'} on"
                )
            )
        return 0
    if result.declined:
        error(
            f"{push} declined the push ({result.reason}); the new tags were removed locally too",
            "fix what the lines above say and run the command again",
        )
        return 1
    error(
        f"could not push to {push}: {result.reason}",
        f"the tags stay local; push them later with: git push {push} {names}",
    )
    return 3


@main.command()
@click.argument("name")
@click.argument("ref", required=False)
@click.option("--version", "version", metavar="V", help="Version to register (vX.Y.Z...).")
@_bumps(
    major="Next major version.", minor="Next minor version.", patch="Next patch version (default)."
)
@_creating
def register(name: str, ref: str | None, version: str | None, **common: Any) -> int:
    """Register a version of artifact NAME at REF (default HEAD): NAME@vX.Y.Z.

    Without --version the latest version is bumped (patch unless told), skipping names
    used before; the first version is v0.0.1. NAME is 'name' or 'dir:name'.

    \b
    Example:
      gtoguard register churn --bump-minor --push
    """
    from gtoguard.model.tagname import Action
    from gtoguard.registry.planning import Request

    bump = _the_bump(version, common)
    request = Request(
        Action.REGISTER,
        name,
        ref,
        version=version,
        bump=bump,
        message=common.pop("message"),
        simple=common.pop("simple"),
    )
    return _create(request, **common)


@main.command()
@click.argument("name")
@click.argument("ref", required=False)
@click.option("--stage", required=True, help="Stage to assign (must be allowed by .gto).")
@click.option(
    "--version",
    "version",
    metavar="V",
    help="Without REF: the registered version to promote. With REF: the name of "
    "the version registered there first, if the commit has none.",
)
@_bumps(
    major="Name a new version: next major.",
    minor="Name a new version: next minor.",
    patch="Name a new version: next patch.",
)
@click.option("--force", is_flag=True, help="Assign even if the version holds the stage.")
@_creating
def assign(
    name: str, ref: str | None, stage: str, version: str | None, force: bool, **common: Any
) -> int:
    """Assign (promote) a version of NAME to a stage: NAME#STAGE#N.

    Give the version (--version v1.2.3) or the commit (REF, default HEAD). A commit with no
    version is registered first (next version, or --version), and both tags are written
    together or not at all.

    \b
    Example:
      gtoguard assign churn --version v1.2.0 --stage prod --push
    """
    from gtoguard.model.tagname import Action
    from gtoguard.registry.planning import Request

    bump = _the_bump(version, common)
    request = Request(
        Action.ASSIGN,
        name,
        ref,
        version=version,
        stage=stage,
        bump=bump,
        message=common.pop("message"),
        simple=common.pop("simple"),
        force=force,
    )
    return _create(request, **common)


main.add_command(assign, "promote")


@main.command()
@click.argument("name")
@click.argument("ref", required=False)
@click.option("--stage", required=True, help="Stage to take away.")
@click.option("--version", "version", metavar="V", help="The version that holds the stage.")
@_creating
def unassign(name: str, ref: str | None, stage: str, version: str | None, **common: Any) -> int:
    """Take a stage away from a version of NAME: NAME#STAGE!#N.

    Name the version with --version or its commit with REF.

    \b
    Example:
      gtoguard unassign churn --version v1.1.0 --stage prod
    """
    from gtoguard.model.tagname import Action
    from gtoguard.registry.planning import Request

    request = Request(
        Action.UNASSIGN,
        name,
        ref,
        version=version,
        stage=stage,
        message=common.pop("message"),
        simple=common.pop("simple"),
    )
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
    from gtoguard.model.tagname import Action
    from gtoguard.registry.planning import Request

    request = Request(
        Action.DEREGISTER,
        name,
        None,
        version=version,
        message=common.pop("message"),
        simple=common.pop("simple"),
    )
    return _create(request, **common)


@main.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Deprecate again (a new tag with a counter).")
@_creating
def deprecate(name: str, force: bool, **common: Any) -> int:
    """Deprecate artifact NAME: NAME@deprecated.

    Any later registration or assignment makes it active again.
    """
    from gtoguard.model.tagname import Action
    from gtoguard.registry.planning import Request

    request = Request(
        Action.DEPRECATE,
        name,
        None,
        message=common.pop("message"),
        simple=common.pop("simple"),
        force=force,
    )
    return _create(request, **common)
