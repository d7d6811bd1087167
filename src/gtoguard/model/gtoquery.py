"""``gto show``'s questions and answers: the forms ``NAME``, ``NAME#STAGE``,
``NAME@VERSION``, ``NAME@latest`` and ``NAME@greatest``; the versions a form selects; the
rows of gto's tables; and the one column ``--name``, ``--version``, ``--stage`` or
``--ref`` prints. Pure. gto 1.10.1's ``api._show_versions``, ``api._show_registry`` and
``cli.show`` (docs/gto-format.md §5.4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from gtoguard.model.gtotable import Cell, Text
from gtoguard.model.tagname import ARTIFACT, GTO_SEMVER, NAME

# gto's shortcut: its version part reads digits as Python's \d does (any decimal digit),
# so a question gto takes as a version (and answers with nothing) is taken as one here
_FORM = re.compile(
    rf"(?P<artifact>{ARTIFACT})(?:#(?P<stage>{NAME})|@(?P<version>latest|greatest|v{GTO_SEMVER}))"
)
_HEXSHA = re.compile(r"[0-9a-fA-F]{40}")

# the flags that print one column of gto's table, and the flag for each key
COLUMN_FLAGS = {"name": "--name", "version": "--version", "stage": "--stage", "ref": "--ref"}


class Query(NamedTuple):
    """What ``gto show NAME...`` asks: the artifact, and at most one of a stage, a version
    or the latest version (``@latest`` and ``@greatest`` are the same question)."""

    artifact: str
    stage: str | None = None
    version: str | None = None
    latest: bool = False


def parse_query(text: str) -> Query:
    """The form gto reads in ``text``; anything else is a bare artifact name (which gto
    then looks up as it is). gto's pattern also takes a form followed by one newline
    (Python's ``$``); gtoguard reads the whole string."""
    found = _FORM.fullmatch(text)
    if found is None:
        return Query(text)
    version = found["version"]
    latest = version in ("latest", "greatest")
    return Query(found["artifact"], found["stage"], None if latest else version, latest)


def select(documents: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    """The versions of gto's document that ``query`` asks for, in its order: the first
    (highest semver) for ``@latest``; each version with the stage, once for each time the
    stage is listed on it, for ``#STAGE``."""
    if query.latest:
        return documents[:1]
    if query.version is not None:
        return [d for d in documents if d["version"] == query.version]
    if query.stage is not None:
        return [d for d in documents for s in d["stages"] if s["stage"] == query.stage]
    return documents


class MultipleRegistrations(Exception):
    """gto's tables cannot show a version with two registration tags."""

    MESSAGE = "Multiple registrations are not supported currently. How you got in here?"


def _short(name: str) -> str:
    """gto's table cuts a commit id (and only that) to 7 characters in a version's rows."""
    return name[:7] if _HEXSHA.fullmatch(name) else name


def version_table(
    documents: Sequence[Mapping[str, Any]], registered: bool
) -> tuple[list[str], list[list[Cell]]]:
    """gto's table of one artifact's versions: artifact (``*name`` when no tag names it),
    version, its stages, when it was made, its ref."""
    rows: list[list[Cell]] = []
    for document in documents:
        if len(document["registrations"]) > 1:
            raise MultipleRegistrations(MultipleRegistrations.MESSAGE)
        stages = dict.fromkeys(s["stage"] for s in document["stages"])
        rows.append([
            document["artifact"] if registered else f"*{document['artifact']}",
            _short(document["version"]), ", ".join(stages),
            Text(document["created_at"].replace("T", " ", 1)), _short(document["ref"]),
        ])  # fmt: skip
    return ["artifact", "version", "stage", "created_at", "ref"], rows


def registry_table(
    document: Mapping[str, Mapping[str, Any]],
) -> tuple[list[str], list[list[Cell]]]:
    """gto's table of the registry: the artifacts by name, each version cut to 7
    characters (gto cuts semver names too: ``v1.0.0-rc.1`` shows as ``v1.0.0-``)."""
    stages = list(next(iter(document.values()))["stage"]) if document else []
    rows: list[list[Cell]] = []
    for name, entry in sorted(document.items(), key=lambda item: item[0]):
        held = [entry["stage"][s] for s in stages]
        rows.append(
            [name if entry["registered"] else f"*{name}",
             None if entry["version"] is None else entry["version"][:7],
             *(None if h is None else ", ".join(v[:7] for v in h.split(", ")) for h in held)]
        )  # fmt: skip
    return ["name", "latest", *(f"#{s}" for s in stages)], rows


def column(headers: list[str], rows: list[list[Cell]], key: str) -> list[str] | None:
    """The lines ``--name``/``--version``/``--stage``/``--ref`` print: the column
    ``key`` of gto's table, as text (None: the table has no such column, which gto
    refuses; an empty table prints nothing either way)."""
    if key not in headers:
        return None
    at = headers.index(key)
    return [str(row[at]).rstrip("\r\n") for row in rows]
