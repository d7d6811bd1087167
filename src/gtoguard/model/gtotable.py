"""The two table layouts ``gto show`` prints (``--plain``, and its default box), as gto
1.10.1 draws them through tabulate 0.10 with ``missingval="-"``. Pure.

tabulate guesses each column's type from its cells, and gto's cells are names it has
not meant as numbers: a column whose every cell reads as an integer (an artifact ``7``,
a commit cut to ``1234567``) is right-aligned; one whose cells read as numbers with a
fraction or an exponent (``1e5``, ``nan``) is printed as floats (``100000``, ``nan``)
and lined up on the decimal point. gto's tables do that, so these do. The cells are
ASCII (names, versions, tags, dates), so a character is one column wide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_THOUSANDS = re.compile(r"^(([+-]?[0-9]{1,3})(?:,([0-9]{3}))*)?(?(1)\.[0-9]*|\.[0-9]+)?$")
MIN_PADDING = 2  # tabulate widens every column to its header and two more
MISSING = "-"

# the cell kinds tabulate tells apart, least generic first
_NONE, _BOOL, _INT, _FLOAT, _TEXT = range(5)


class Text(str):
    """A cell tabulate takes as text whatever it reads (gto's datetimes)."""

    __slots__ = ()


Cell = str | None


def _converts(kind: type, cell: str) -> bool:
    try:
        kind(cell)
    except (ValueError, TypeError):
        return False
    return True


def _is_number(cell: str) -> bool:
    if not _converts(float, cell):
        return False
    value = float(cell)
    return not (math.isinf(value) or math.isnan(value)) or cell.lower() in ("inf", "-inf", "nan")


def _kind(cell: Cell) -> int:
    if cell is None or cell == "":
        return _NONE
    if isinstance(cell, Text):
        return _TEXT
    if cell in ("True", "False"):
        return _BOOL
    if _converts(int, cell) or (_THOUSANDS.match(cell) and "." not in cell):
        return _INT
    if _is_number(cell) or _THOUSANDS.match(cell):
        return _FLOAT
    return _TEXT


def _show(cell: Cell, kind: int) -> str:
    if cell is None:
        return MISSING
    if cell == "" or kind != _FLOAT:
        return str(cell)
    try:
        return format(float(cell.replace(",", "")), "g")
    except ValueError:
        return str(cell)


def _after_point(text: str) -> int:
    """tabulate's ``_afterpoint``: the characters after the decimal point (or the
    exponent's e), -1 for an integer or what is not a number."""
    if not (_is_number(text) or _THOUSANDS.match(text)) or _converts(int, text):
        return -1
    point = text.rfind(".")
    point = text.lower().rfind("e") if point < 0 else point
    return len(text) - point - 1 if point >= 0 else -1


def _column(header: str, cells: list[Cell]) -> tuple[list[str], str]:
    """The column's cells padded to one width, and its header padded the same way."""
    kind = max((_kind(c) for c in cells), default=_BOOL)
    kind = max(kind, _BOOL)  # tabulate starts its reduction at bool
    shown = [_show(c, kind) for c in cells]
    width = len(header) + MIN_PADDING
    if kind in (_INT, _FLOAT):  # decimal alignment: on the point, flush right
        points = [_after_point(s) for s in shown]
        most = max(points)
        shown = [s + " " * (most - p) for s, p in zip(shown, points, strict=True)]
        width = max([width, *map(len, shown)])
        return [s.rjust(width) for s in shown], header.rjust(width)
    shown = [s.strip() for s in shown]
    width = max([width, *map(len, shown)])
    return [s.ljust(width) for s in shown], header.ljust(width)


def tabulate(headers: Sequence[str], rows: Sequence[Sequence[Cell]], box: bool) -> str:
    """The table as gto prints it: ``box`` its default (tabulate's "fancy_outline"),
    else ``--plain``. ``rows`` is not empty (gto prints a sentence instead)."""
    columns = [_column(h, [row[i] for row in rows]) for i, h in enumerate(headers)]
    head = [header for _, header in columns]
    body = [[cells[n] for cells, _ in columns] for n in range(len(rows))]
    if not box:
        return "\n".join("  ".join(line).rstrip() for line in [head, *body])
    widths = [len(h) + 2 for h in head]

    def rule(left: str, middle: str, right: str) -> str:
        return left + middle.join("═" * w for w in widths) + right

    def line(cells: list[str]) -> str:
        return "│" + "│".join(f" {c} " for c in cells) + "│"

    return "\n".join(
        [rule("╒", "╤", "╕"), line(head), rule("╞", "╪", "╡"), *map(line, body),
         rule("╘", "╧", "╛")]
    )  # fmt: skip
