"""Reading the registry: ``show``, gto's forms and options, and gtoguard's tables."""

from __future__ import annotations

from typing import Any

import click

from gtoguard.commands.base import exits, main, say
from gtoguard.model.printable import printable


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="The document gto show [NAME] --json prints.")
@click.option(
    "--rows",
    "as_rows",
    is_flag=True,
    help="With NAME and --json: gtoguard's one row per version (version, "
    "stages, commit, ref) instead of gto's document.",
)
@click.option(
    "-d",
    "--deprecated",
    is_flag=True,
    help="Include deprecated artifacts (with NAME: deregistered versions).",
)
@click.option("--branch", metavar="BRANCH", help="Read .gto from BRANCH.")
@click.option("--repo", default=".", show_default=True, help="Repository to read.")
@exits
def show(
    name: str | None, as_json: bool, as_rows: bool, deprecated: bool, branch: str | None, repo: str
) -> int:
    """Show the registry, or the versions of artifact NAME.

    The registry lists each artifact's latest version and the version in each stage,
    artifacts by name as in gto show's table; --json prints exactly the document gto
    show --json prints (in its order).
    """
    import json

    from gtoguard.git.repo import open_repo
    from gtoguard.registry import planning, reading

    handle = open_repo(repo)
    if name is None:
        # with the deprecated artifacts, once: gto's document without them is the same
        # rows less the inactive ones (the stage columns do not depend on the choice)
        every = reading.registry_document(handle, planning.config_branch(handle, branch), True)
        document = every if deprecated else {k: v for k, v in every.items() if v["active"]}
        if as_json:
            click.echo(json.dumps(document, indent=4, ensure_ascii=False))
            return 0
        stages = list(next(iter(document.values()))["stage"]) if document else []
        # gto's table lists the artifacts by name (its --json, in the order met)
        rows = [
            [
                artifact if entry["registered"] else f"*{artifact}",
                entry["version"] or "-",
                *(entry["stage"][s] or "-" for s in stages),
            ]
            for artifact, entry in sorted(document.items(), key=lambda item: item[0])
        ]
        if not rows and every:
            say(
                "no active artifacts here (gto hides deprecated ones)\n"
                "  hint: list them too: gtoguard show -d"
            )
            return 0
        _table(["artifact", "latest", *(f"#{s}" for s in stages)], rows)
        return 0
    if as_json and not as_rows:
        gto_document = reading.gto_artifact_document(handle, name, deprecated)
        click.echo(json.dumps(gto_document, indent=4, ensure_ascii=False))
        return 0
    if as_json:
        versions = reading.artifact_document(handle, name, deprecated)
        click.echo(json.dumps(versions, indent=4, ensure_ascii=False))
        return 0
    shown = reading.gto_artifact_document(handle, name, True)
    gone = reading.deprecation(handle, name)
    if gone is not None:
        import time

        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(gone.time))
        say(
            f"{printable(name)} is deprecated ({printable(gone.tag)}, {when}): gto lists it "
            "only with -d"
        )
    config = reading.reader_gto_config(handle, planning.config_branch(handle, branch))
    _versions_view(shown, deprecated, config.stages)
    return 0


def _versions_view(
    document: list[dict[str, Any]], deregistered: bool, configured: tuple[str, ...] | None
) -> None:
    """``gto show NAME`` as a reader wants it: each version with its stages, when and by
    whom it was made, then each stage with the version in it, when and by whom it was
    assigned (gto's choice: the most recent assignment). A stage-only commit is one row
    (gto lists it twice)."""
    rows, stages, seen = [], [], set()
    for version in document:
        key = (version["version"], version["commit_hexsha"])
        if key in seen or not (version["is_active"] or deregistered):
            continue
        seen.add(key)
        state = (
            "yes"
            if version["is_active"]
            else ("deregistered" if version["registrations"] else "no")
        )
        rows.append([_short(version["version"]),
                     ", ".join(s["stage"] for s in version["stages"]) or "-",
                     _gto_table_time(version["created_at"]), version["author"],
                     version["commit_hexsha"][:7], state, _short(version["ref"])])  # fmt: skip
        stages += version["stages"]
    _table(["version", "stage", "created_at", "author", "commit", "active", "ref"], rows)
    if not stages:
        return
    order = list(configured or ())
    stages.sort(
        key=lambda s: (order.index(s["stage"]) if s["stage"] in order else len(order), s["stage"])
    )
    say("")
    _table(["stage", "version", "assigned_at", "author", "ref"],
           [[s["stage"], _short(s["version"]), _gto_table_time(s["created_at"]), s["author"], s["ref"]]
            for s in stages])  # fmt: skip


def _short(name: str) -> str:
    """A version or tag name; a commit that stands for one cut to 7 characters (gto's)."""
    return (
        name[:7] if len(name) in (40, 64) and all(c in "0123456789abcdef" for c in name) else name
    )


def _gto_table_time(iso: str) -> str:
    """gto's tables print a time as Python does: ``2026-12-03 08:12:31+00:00``."""
    return iso.replace("T", " ", 1)


def _table(header: list[str], rows: list[list[str]]) -> None:
    """Columns of one-line cells: pushed text in a cell is escaped, tabs and newlines too."""
    if not rows:
        say("no GTO tags here")
        return
    cells = [[printable(str(cell)) for cell in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        say("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
