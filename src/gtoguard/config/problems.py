"""What makes a configuration file unusable: ``Problem`` (file, JSON path, message,
hint), ``ConfigInvalid`` (the error that carries them) and the limits a file is read
within. Shared by the YAML reader and the schema checks, which import nothing else of
each other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from gtoguard.errors import CannotRun

MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_NODES = 100_000


class Problem(NamedTuple):
    """One reason a configuration file is unusable."""

    file: str
    path: str  # JSON pointer into the document, "/" for the whole file
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class ConfigInvalid(CannotRun):
    """A configuration file that cannot be used. The repository's files are content, so
    by default this is no environmental failure; the server policy's is (``server_policy``
    marks it)."""

    rule = "config-invalid"
    environmental = False

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(str(first), first.hint)
        self.problems = problems


def json_path(parts: Iterator[Any] | Any) -> str:
    items = [str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "/" + "/".join(items)
