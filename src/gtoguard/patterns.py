"""Tag-message patterns (``stages.<name>.message``), matched in linear time. Pure.

A policy's pattern runs against text any pusher writes, so it must not backtrack:
``^([A-Za-z0-9-]+ ?)+$`` takes Python's ``re`` minutes on a 35-character message. RE2
guarantees time linear in the text; it refuses what it cannot do that way
(backreferences, lookaround), and such a pattern is a config error, not a slow push.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would write its errors to stderr, behind `remote:`


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the text says why."""


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


def search(pattern: str, text: str) -> bool:
    """Whether ``text`` contains a match of ``pattern`` (which compiled before)."""
    return compile_pattern(pattern).search(text) is not None
