"""Tag-message patterns (``stages.<name>.message``), matched in linear time. Pure.

A policy's pattern runs against text any pusher writes, so it must not backtrack:
``^([A-Za-z0-9-]+ ?)+$`` takes Python's ``re`` minutes on a 35-character message. RE2
guarantees time linear in the text; it refuses what it cannot do that way
(backreferences, lookaround), and such a pattern is a config error, not a slow push.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would write its errors to stderr, behind `remote:`


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the text says why."""


MAX_REPEAT = 1000  # RE2's largest repetition count


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None
    problem = literal_braces(pattern)
    if problem is not None:
        raise PatternError(problem)
    return compiled


_BRACES = re.compile(r"\{(\d*)(,(\d*))?\}")


def literal_braces(pattern: str) -> str | None:
    """A repetition RE2 does not take as one, and so reads as text: a count it cannot hold
    (``a{4294967296}`` compiles, and then matches only the text "a{4294967296}") or the
    ``{,n}`` form. The pattern would not mean what it says: refused."""
    i, in_class, quoted = 0, False, False
    while i < len(pattern):
        char = pattern[i]
        if quoted:  # \Q...\E: literal text
            if pattern.startswith("\\E", i):
                quoted, i = False, i + 2
                continue
        elif char == "\\":
            quoted = pattern.startswith("\\Q", i)
            i += 2
            continue
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class, i = True, i + 1
            i += pattern.startswith("^", i)
            i += pattern.startswith("]", i)  # a leading ] is text
            continue
        elif char == "{":
            found = _BRACES.match(pattern, i)
            if found is not None:
                low, comma, high = found.group(1), found.group(2), found.group(3)
                if not low and comma:
                    return (
                        f"RE2 reads {found.group()!r} as text, not a repetition; write {{0,{high}}}"
                    )
                if any(n and (len(n) > 4 or int(n) > MAX_REPEAT) for n in (low, high)):
                    return (
                        f"the repetition {found.group()!r} is over {MAX_REPEAT}, the most "
                        "RE2 allows (it would read the braces as text)"
                    )
        i += 1
    return None


def search(pattern: str, text: str) -> bool:
    """Whether ``text`` contains a match of ``pattern`` (which compiled before)."""
    return compile_pattern(pattern).search(text) is not None
