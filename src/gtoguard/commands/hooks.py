"""Hooks: run one by hand, install and uninstall them."""

from __future__ import annotations

import sys

import click

from gtoguard.commands.base import exits, main, say
from gtoguard.errors import UsageError
from gtoguard.model.printable import printable


@main.group()
def hook() -> None:
    """Run a hook by hand (git runs the installed shims; they skip click for speed)."""


@hook.command("pre-receive")
def hook_pre_receive() -> None:
    """Server hook: read '<old> <new> <ref>' lines on stdin, decline a bad push."""
    import os

    from gtoguard.server.clientstream import take_std_streams
    from gtoguard.server.hooks import pre_receive

    stdin = sys.stdin.buffer.read()
    sys.exit(pre_receive([], stdin, take_std_streams(os.environ)))


@hook.command("pre-push")
@click.argument("remote")
@click.argument("url")
def hook_pre_push(remote: str, url: str) -> None:
    """Client hook: read git's pre-push lines on stdin, stop a push the server would decline."""
    from gtoguard.server.hooks import pre_push

    sys.exit(pre_push([remote, url], sys.stdin.buffer.read()))


# --- install -----------------------------------------------------------------------------


@main.command()
@click.option("--repo", default=".", show_default=True, help="Repository to install into.")
@click.option("--pre-push", "kind", flag_value="pre-push", help="Client hook (default in a clone).")
@click.option(
    "--pre-receive",
    "kind",
    flag_value="pre-receive",
    help="Server hook (default in a bare repository).",
)
@click.option(
    "--hooks-dir",
    metavar="DIR",
    help="Install into a pre-receive.d directory the server runs hooks from "
    "(GitLab custom_hooks/pre-receive.d, Gitea hooks/pre-receive.d) "
    "instead of one repository.",
)
@click.option("--force", is_flag=True, help="Rewrite the shim even if it is up to date.")
@exits
def install(repo: str, kind: str | None, hooks_dir: str | None, force: bool) -> int:
    """Install gtoguard's hook into a repository, or into a server's hooks directory.

    A bare repository gets pre-receive and its landing guard (reference-transaction),
    a clone pre-push. An existing hook that is not
    gtoguard's is kept as <hook>.legacy and run first, with the same input. With
    --hooks-dir the shim is written as DIR/gtoguard and nothing else there is touched.
    """
    from gtoguard.server import install as inst

    if hooks_dir is not None:
        if kind == "pre-push":
            raise UsageError("--hooks-dir is for the server hook", "drop --pre-push")
        done = inst.install_hooks_dir(hooks_dir, force=force)
    else:
        done = inst.install(repo, kind, force=force)
    for each in (done, *done.also):
        if not each.changed:
            say(f"gtoguard: hook already installed at {each.path}")
        else:
            say(f"gtoguard: installed {each.path.name} hook at {each.path}")
        if each.legacy:
            say(f"gtoguard: the previous hook runs first: {each.legacy}")
    for note in done.notes:
        say(printable(f"gtoguard: note: {note}"))
    return 0


@main.command()
@click.option("--repo", default=".", show_default=True, help="Repository to uninstall from.")
@click.option("--hooks-dir", metavar="DIR", help="Uninstall from a pre-receive.d directory.")
@exits
def uninstall(repo: str, hooks_dir: str | None) -> int:
    """Remove gtoguard's hooks and restore the hooks they replaced."""
    from gtoguard.server import install as inst

    done = inst.uninstall_hooks_dir(hooks_dir) if hooks_dir else inst.uninstall(repo)
    for line in done or ["no gtoguard hook installed"]:
        say(printable(f"gtoguard: {line}"))
    return 0
