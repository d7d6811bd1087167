"""A tag's signature block, found in its message, and a verifier's verdict. Pure.

git appends the signature to the tag message (pygit2 has no signature API); the rules
need only to find it and strip it, while running a verifier is ``signature.py``'s job,
imported only where a signature is really checked.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_BLOCK = re.compile(
    r"\n?-----BEGIN (?:PGP SIGNATURE|SSH SIGNATURE|SIGNED MESSAGE)-----\n.*\Z", re.S
)
MAX_BLOCK = 16 * 1024  # a real SSH or PGP signature is well under 2 KiB


def split_signature(message: str) -> tuple[str, str | None]:
    """(message without its signature block, the block or None)."""
    match = _BLOCK.search(message)
    if match is None:
        return message, None
    return message[: match.start()], match.group(0).lstrip("\n")


class Verdict(NamedTuple):
    ok: bool
    detail: str  # who signed, or why it does not verify
