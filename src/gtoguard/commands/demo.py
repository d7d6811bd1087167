"""``gtoguard demo``: a declined and an accepted promotion on a throwaway server."""

from __future__ import annotations

import click

from gtoguard.commands.base import exits, main, say


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--keep", is_flag=True, help="Keep the temporary directory (without DIRECTORY).")
@exits
def demo(directory: str | None, keep: bool) -> int:
    """Show gtoguard at work on a throwaway server and clone.

    Builds a bare "server" repository with the pre-receive hook, a clone whose .gto
    allows dev, staging and prod, then pushes a promotion to the misspelt stage 'prd'
    (declined) and one to 'prod' (accepted). Nothing outside DIRECTORY is touched;
    without DIRECTORY a temporary directory is used and removed at the end.
    """
    from gtoguard.server.demo import run_demo

    return run_demo(directory, say, keep)
