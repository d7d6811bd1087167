"""``gtoguard ui``: the registry page (the optional extra ``gtoguard[ui]``)."""

from __future__ import annotations

import html
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gtoguard.commands.base import exits, main, say
from gtoguard.errors import CannotRun, UsageError
from gtoguard.model.printable import printable

if TYPE_CHECKING:
    from gtoguard.ui.access import Access

EXTRA = ("starlette", "uvicorn", "jinja2")


def install_hint() -> str:
    """The command that installs the ui extra into the Python this gtoguard runs on.
    gtoguard is on no package index, so the hint names the extra's own requirements
    (from the installed metadata, i.e. pyproject.toml), which every index serves."""
    import shlex
    from importlib import metadata

    wanted = []
    try:
        for requirement in metadata.requires("gtoguard") or []:
            spec, _, marker = requirement.partition(";")
            if marker.replace(" ", "").replace("'", '"') == 'extra=="ui"':
                wanted.append(spec.strip())
    except metadata.PackageNotFoundError:  # run from a source tree, not installed
        pass
    words = [sys.executable, "-m", "pip", "install", *(wanted or EXTRA)]
    return " ".join(shlex.quote(word) for word in words)


@main.command()
@click.option(
    "--repo",
    default=".",
    show_default=True,
    help="The repository to serve: a clone (a bare repository is served read-only).",
)
@click.option(
    "--remote",
    metavar="NAME",
    help="Where new tags are pushed (default: origin, when the clone has it; "
    "without a remote the tags stay local).",
)
@click.option(
    "--host",
    default=None,
    metavar="HOST",
    help="Address to listen on (default 127.0.0.1). Whoever holds the page's "
    "token creates and pushes tags with your git credentials, and plain HTTP "
    "shows the token to anyone on the way.",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--allow-host",
    "allow_host",
    multiple=True,
    metavar="NAME",
    help="Also answer requests for this host name (the name others reach it by, "
    "with --host); repeatable. Other names are refused, against DNS rebinding.",
)
@click.option(
    "--open",
    "open_browser",
    is_flag=True,
    help="Open the page in a web browser (through a file only you can read: a "
    "browser's command line is visible to every user).",
)
@exits
def ui(
    repo: str,
    remote: str | None,
    host: str | None,
    port: int,
    allow_host: tuple[str, ...],
    open_browser: bool,
) -> int:
    """Serve the registry page: models, stages, history, the audit, and Promote.

    A local web page over the repository at --repo: the models dashboard (each
    artifact's latest version and the version in each stage, the audit badge), a page
    per model (Stages, Versions, History, each violation next to its tag) and the
    Promote, Register and Unassign dialogs. Each asks the engine the hooks run before
    anything is written; an accepted tag is created and pushed to the remote, and the
    server's answer is shown. Stop it with Ctrl-C.

    The page serves only you: it prints its address with a token made for this run
    (http://127.0.0.1:8765/?token=...) and writes it to a file only you can read
    ($XDG_RUNTIME_DIR/gtoguard/ui-PORT.url, else ~/.cache/gtoguard/ui-PORT.url). A
    browser that opens the address once gets a cookie; scripts send the header
    'Authorization: Bearer TOKEN'. Any other request, another user's too, gets 403.

    \b
    Example:
      gtoguard ui --repo ~/src/models --open
    """
    missing = [name for name in EXTRA if not _importable(name)]
    if missing:
        raise CannotRun(
            f"the registry page needs the ui extra ({', '.join(missing)} not installed)",
            install_hint(),
        )
    from gtoguard.git.repo import open_repo
    from gtoguard.registry import pagedata
    from gtoguard.ui.access import remove_private
    from gtoguard.ui.serve import is_loopback, serve

    handle = open_repo(repo)
    read_only = handle.bare
    remotes = pagedata.remote_names(handle)
    if remote is not None and remote not in remotes:
        raise UsageError(
            f"no remote {remote!r} in {handle.path}",
            f"remotes here: {', '.join(remotes) or 'none'}",
        )
    chosen = None if read_only else remote or ("origin" if "origin" in remotes else None)
    listen = host or "127.0.0.1"
    if host is not None and not is_loopback(host):
        say(
            f"gtoguard: warning: listening on {host}, not loopback: the token travels "
            "in clear over HTTP, and whoever holds it can create and push tags with "
            "your git credentials",
            err=True,
        )
    where = (handle.workdir or handle.path).rstrip("/") or "/"

    opener: list[tuple[Path, str]] = []

    def ready(url: str, access: Access) -> None:
        if read_only:
            mode = "read-only (a bare repository)"
        elif chosen is None:
            mode = "new tags stay in this clone (no remote)"
        else:
            mode = f"new tags are pushed to {chosen}"
        say(
            printable(
                f"gtoguard: the registry page of {where} is at {url} ({mode}); Ctrl-C stops it"
            )
        )
        say(
            printable(
                f"gtoguard: only this address opens it (its token is also in "
                f"{access.file}, readable by you alone)"
            )
        )
        sys.stdout.flush()
        if open_browser:
            opener.append(_open(url, access))

    try:
        serve(where, chosen, read_only, listen, port, ready, allow_host)
    finally:
        for path, text in opener:
            remove_private(path, text)
    return 0


def _open(url: str, access: Access) -> tuple[Path, str]:
    """Open the page in a browser through a file of this user's that leads to ``url``:
    a browser's command line (``webbrowser.open(url)``) is visible to every user of the
    machine, and so would the token be. Returns the file and what it holds."""
    import webbrowser

    from gtoguard.ui.access import write_private

    address = html.escape(url)
    text = (
        f'<!doctype html>\n<meta charset="utf-8"><meta http-equiv="refresh" content="0;url='
        f'{address}">\n<title>gtoguard registry</title><p><a href="{address}">Open the '
        "registry page</a></p>\n"
    )
    path = write_private(access.file.parent, access.file.stem + "-open.html", text)
    webbrowser.open(path.as_uri())
    return path, text


def _importable(name: str) -> bool:
    import importlib

    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
