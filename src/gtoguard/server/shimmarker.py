"""How gtoguard knows its own hook shims: a marker line near the top of the file. Apart
from ``install`` so that the hook can ask without importing the installer."""

from __future__ import annotations

import os

MARKER = "# gtoguard-shim:"


def is_ours(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(200)
    except OSError:
        return False
    return MARKER.encode() in head
