"""Reading the registry: ``show``, gto's forms and options, and gtoguard's tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from gtoguard.commands.base import error, exits, main, say
from gtoguard.model.printable import printable

if TYPE_CHECKING:
    from gtoguard.git.repo import Repo
    from gtoguard.model.gtoshow import Options

FORMS = """\b
NAME may ask one question, as in gto show:
  NAME            the artifact's versions
  NAME#STAGE      the version last assigned to STAGE (--vs N: N of them)
  NAME@VERSION    that version (vX.Y.Z)
  NAME@latest     the highest version by semver (NAME@greatest: the same)
Without NAME: the registry, one row per artifact.

\b
Answers, byte for byte what gto 1.10.1 prints (and its exit code):
  --json          gto's document
  --plain         gto's table, in columns grep and cut can read
  --version, --stage, --ref
                  one column of gto's table, one line per version
  --name          without NAME: the artifacts, one line each
With none of them, gtoguard's own table: full commit ids, authors, and
which version holds each stage.

\b
Examples (a deploy script):
  gtoguard show 'churn#prod' --version     # what to deploy to prod
  gtoguard show churn@latest --ref         # the tag of the highest version
  gtoguard show 'churn#prod' --vs -1 --plain"""

# each answer gto prints, by the parameter its flag sets
_FORMAT_FLAGS = {"json": "as_json", "plain": "plain", "name": "show_name",
                 "version": "show_version", "stage": "show_stage", "ref": "show_ref"}  # fmt: skip
_NOTHING = "Nothing found in the current workspace"  # what gto prints for an empty table


@main.command(epilog=FORMS)
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="gto's document (gto show [NAME] --json).")
@click.option("--plain", is_flag=True, help="gto's table, without its box (grep-able).")
@click.option("--name", "show_name", is_flag=True, help="Without NAME: the artifacts' names.")
@click.option("--version", "show_version", is_flag=True, help="The version(s) NAME asks for.")
@click.option("--stage", "show_stage", is_flag=True, help="The stages of each version asked for.")
@click.option("--ref", "show_ref", is_flag=True, help="The tag of each version asked for.")
@click.option(
    "--ro", "--registered-only", "registered_only", is_flag=True,
    help="Stages of registered versions only (not of commits with stage tags alone).",
)  # fmt: skip
@click.option(
    "-d",
    "--deprecated",
    is_flag=True,
    help="Include deprecated artifacts (with NAME: deregistered versions).",
)
@click.option(
    "--av", "--assignments-per-version", "per_version", type=int, default=-1, show_default=True,
    help="Stages kept per version: the N assigned earliest; -1 all.",
)  # fmt: skip
@click.option(
    "--vs", "--versions-per-stage", "per_stage", type=int, default=1, show_default=True,
    help="Versions shown per stage, after --av; -1 all.",
)  # fmt: skip
@click.option(
    "--sort", type=click.Choice(["timestamp", "semver"]), default="timestamp", show_default=True,
    help="Which versions of a stage come first: the latest assigned, or the highest.",
)  # fmt: skip
@click.option(
    "--rows",
    "as_rows",
    is_flag=True,
    help="With NAME and --json: gtoguard's one row per version (version, "
    "stages, commit, ref) instead of gto's document.",
)
@click.option("--branch", metavar="BRANCH", help="Read .gto from BRANCH.")
@click.option("-r", "--repo", default=".", show_default=True, help="Repository to read.")
@exits
def show(name: str | None, **opts: Any) -> int:
    """Show the registry, or what artifact NAME holds, as gto show does.

    The registry lists each artifact's latest version and the version in each stage,
    artifacts by name as in gto show's table.
    """
    from gtoguard.errors import Refused, UsageError
    from gtoguard.git.repo import open_repo
    from gtoguard.model.gtoshow import Options

    chosen = [flag for flag, key in _FORMAT_FLAGS.items() if opts[key]]
    if len(chosen) > 1:  # gto: "Unexpected error: Only one output format allowed", exit 1
        raise Refused(
            f"{' and '.join('--' + f for f in chosen)} are two answers; show prints one",
            "keep one of --json, --plain, --name, --version, --stage, --ref",
        )
    if opts["as_rows"] and not opts["as_json"]:
        raise UsageError("--rows goes with --json", "gtoguard show NAME --json --rows")
    options = Options(
        opts["registered_only"], opts["per_version"], opts["per_stage"], opts["sort"] == "semver"
    )
    handle = open_repo(opts["repo"])
    answer = chosen[0] if chosen else None
    if not name:  # gto: an empty NAME asks for the registry too
        return _registry(handle, answer, options, opts)
    return _artifact(handle, name, answer, options, opts)


def _registry(handle: Repo, answer: str | None, options: Options, opts: dict[str, Any]) -> int:
    from gtoguard.model import gtoquery
    from gtoguard.registry import planning, reading

    branch = planning.config_branch(handle, opts["branch"])
    document = reading.registry_document(handle, branch, opts["deprecated"], options)
    if answer is not None:
        return _gto_answer(document, gtoquery.registry_table, answer, "the registry")
    if not document and not opts["deprecated"] and reading.registry_document(handle, branch, True):
        say(
            "no active artifacts here (gto hides deprecated ones)\n"
            "  hint: list them too: gtoguard show -d"
        )
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
    _table(["artifact", "latest", *(f"#{s}" for s in stages)], rows)
    return 0


def _artifact(
    handle: Repo, name: str, answer: str | None, options: Options, opts: dict[str, Any]
) -> int:
    import json

    from gtoguard.errors import UsageError
    from gtoguard.model import gtoquery
    from gtoguard.registry import planning, reading

    query = gtoquery.parse_query(name)
    if opts["as_rows"]:
        if query != gtoquery.Query(name):
            raise UsageError("--rows lists every version", f"ask for it by name: {query.artifact}")
        versions = reading.artifact_document(handle, name, opts["deprecated"])
        click.echo(json.dumps(versions, indent=4, ensure_ascii=False))
        return 0
    if answer is not None:
        documents, registered = reading.gto_artifact_answer(
            handle, query.artifact, opts["deprecated"], options
        )
        selected = gtoquery.select(documents, query)
        return _gto_answer(
            selected, lambda d: gtoquery.version_table(d, registered), answer, query.artifact
        )
    documents, _ = reading.gto_artifact_answer(handle, query.artifact, True, options)
    shown = gtoquery.select([d for d in documents if d["is_active"] or opts["deprecated"]], query)
    gone = reading.deprecation(handle, query.artifact)
    if gone is not None:
        import time

        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(gone.time))
        say(
            f"{printable(query.artifact)} is deprecated ({printable(gone.tag)}, {when}): gto "
            "lists it only with -d"
        )
    if not shown and query != gtoquery.Query(name):
        say(f"nothing answers {printable(name)} here (gto prints nothing for it)")
        return 0
    config = reading.reader_gto_config(handle, planning.config_branch(handle, opts["branch"]))
    _versions_view(shown, opts["deprecated"], config.stages)
    gtos = shown if gone is None or opts["deprecated"] else []  # what gto's table would show
    twice = [d["version"] for d in gtos if len(d["registrations"]) > 1]
    if twice:  # gto's table fails on it: exit as gto does, having shown it
        error(
            f"{printable(twice[0])} has two registration tags; gto show cannot list it "
            f"({gtoquery.MultipleRegistrations.MESSAGE})",
            "gto show --json still reads it; the hooks decline a second registration "
            "(version-exists)",
        )
        return 1
    return 0


def _gto_answer(document: Any, table: Any, answer: str, what: str) -> int:
    """What gto prints for ``--json``, ``--plain`` or one column, byte for byte."""
    import json

    from gtoguard.errors import Refused
    from gtoguard.model import gtoquery
    from gtoguard.model.gtotable import tabulate

    if answer == "json":
        click.echo(json.dumps(document, indent=4))  # gto's: ASCII, \u escapes
        return 0
    try:
        headers, rows = table(document)
    except gtoquery.MultipleRegistrations as exc:
        raise Refused(
            f"{what}: a version has two registration tags, and gto's table cannot show it ({exc})",
            "--json still answers; a second registration of a version is declined by the "
            "hooks (version-exists)",
        ) from None
    if answer == "plain":
        click.echo(tabulate(headers, rows, box=False) if rows else _NOTHING)
        return 0
    if not rows:
        return 0
    lines = gtoquery.column(headers, rows, answer)
    if lines is None:
        hint = (
            "--name lists the registry's artifacts (gtoguard show --name); with NAME ask "
            "--version, --stage or --ref"
            if answer == "name"
            else f"ask about one artifact: gtoguard show NAME --{answer}"
        )
        raise Refused(
            f"--{answer} has no answer for {what}: gto's table there has no {answer} column "
            "(gto: Cannot apply)",
            hint,
        )
    for line in lines:
        click.echo(line)
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
