"""printable: pushed text as people may safely see it (pure)."""

from __future__ import annotations

import pytest

from gtoguard.model.printable import printable
from gtoguard.model.refupdate import printable_ref

CASES = [
    ("churn@v1.0.0", "churn@v1.0.0", "churn@v1.0.0"),
    ("a\x1b]0;pwned\x07b", "a\\x1b]0;pwned\\x07b", "a\\x1b]0;pwned\\x07b"),  # OSC title
    ("\x1b[2J", "\\x1b[2J", "\\x1b[2J"),  # clear the screen
    ("\x9b31m", "\\x9b31m", "\\x9b31m"),  # C1 CSI on its own
    ("\x7f\x00", "\\x7f\\x00", "\\x7f\\x00"),
    ("abc\u202edef", "abc\\u202edef", "abc\\u202edef"),  # right-to-left override
    ("\u2066\u2069\u200e\u200f\u061c\u202a", "\\u2066\\u2069\\u200e\\u200f\\u061c\\u202a", None),
    ("one\ntwo\tthree\r", "one\\ntwo\\tthree\\r", "one\ntwo\tthree\\r"),  # lines: \r still
    ("a\u2028b\x85c", "a\\u2028b\\x85c", None),  # line separators a browser may break at
    ("Jean\xa0Dupont \u3000", "Jean\xa0Dupont \u3000", None),  # spaces of other scripts stay
    ("café 模型 😀", "café 模型 😀", None),
    ("\U000e0001", "\\U000e0001", None),
    ("x\udcffy", "x\\xffy", None),  # a byte that was not UTF-8 (surrogateescape)
    ("\ud800", "\\ud800", None),  # a lone surrogate standing for no byte
    ("\\x1b", "\\x1b", None),  # already escaped: unchanged
]


@pytest.mark.parametrize(("text", "one_line", "lines"), CASES)
def test_printable(text: str, one_line: str, lines: str | None) -> None:
    assert printable(text) == one_line
    assert printable(text, lines=True) == (one_line if lines is None else lines)
    assert printable(printable(text)) == printable(text)  # idempotent


def test_ref_names_are_escaped_by_the_same_function() -> None:
    assert printable_ref("refs/tags/a\x1b[2J\u202e") == "refs/tags/a\\x1b[2J\\u202e"
