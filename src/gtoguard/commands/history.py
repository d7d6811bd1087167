"""``gtoguard history``: the registry's journal, as ``gto history`` keeps it."""

from __future__ import annotations

import click

from gtoguard.commands.base import exits, main, say
from gtoguard.model.printable import printable


@main.command()
@click.argument("name", required=False)
@click.option(
    "--json", "as_json", is_flag=True, help="The document gto history [NAME] --json prints."
)
@click.option(
    "--branch",
    metavar="BRANCH",
    help="Read .gto from BRANCH (gto refuses an invalid one; so does this).",
)
@click.option("--repo", default=".", show_default=True, help="Repository to read.")
@exits
def history(name: str | None, as_json: bool, branch: str | None, repo: str) -> int:
    """Show every registry event, newest first: registrations, deregistrations,
    assignments, unassignments and deprecations, of artifact NAME or of all.

    --json prints exactly the document gto history --json prints.
    """
    import json

    from gtoguard.commands.show import _short, _table
    from gtoguard.config import files as cfg
    from gtoguard.git.repo import open_repo
    from gtoguard.policy.settings import GTO_FILE
    from gtoguard.registry import planning, reading

    handle = open_repo(repo)
    where = planning.config_branch(handle, branch)
    cfg.parse_gto_config(handle.file_at(where.commit, GTO_FILE), f"{where.label}:{GTO_FILE}")
    events = reading.history_document(handle, name)
    if as_json:
        click.echo(json.dumps(events, indent=4, ensure_ascii=False))
        return 0
    if not events and name is not None:
        close = reading.similar_artifacts(handle, name)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        say(printable(f"no GTO events of {name!r} here{hint}"))
        return 0
    rows = [
        [
            e["timestamp"].replace("T", " ", 1),
            e["artifact"],
            e["event"],
            _short(e["version"] or "-"),
            e["stage"] or "-",
            e["commit"][:7],
            e["ref"],
        ]
        for e in events
    ]
    _table(["timestamp", "artifact", "event", "version", "stage", "commit", "ref"], rows)
    return 0
