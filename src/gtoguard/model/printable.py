"""Pushed text as people may safely see it. Pure.

Tag names, tagger names and emails, messages, pusher identities and artifact names come
from whoever pushed, and a terminal obeys what they hold: ESC starts sequences that set
the window title, clear the screen or colour what follows (click strips only CSI
sequences, and only when output is not a terminal); a C1 control (U+009B is CSI on its
own) does the same on some terminals; the bidi controls (U+202E, ...) reorder what is
shown around them, in a terminal and on a web page alike. Every human-facing output
passes such text through ``printable``: what is not printable is shown as a visible
escape (``\\x1b``, ``\\u202e``), as Python's repr writes it. JSON stays data: it is not
passed through here.
"""

from __future__ import annotations

import contextlib
import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
SHORT_OID = 12  # hex digits of an object id in messages: unique in any real repository


def short(oid: str) -> str:
    """An object id as messages show it (``SHORT_OID`` digits)."""
    return oid[:SHORT_OID]


def printable(text: str, lines: bool = False) -> str:
    """``text`` with every character that is not printable escaped: C0 controls, DEL,
    C1 controls, the bidi and other format characters (``str.isprintable`` refuses
    categories Cc, Cf, Cs, Co, Cn, Zl and Zp), and the bytes of text that was not UTF-8
    (kept as surrogates by ``surrogateescape``). Spaces of other scripts (Zs) stay. With
    ``lines``, a text meant to span lines keeps its newlines and tabs; a one-line field (a
    table cell, a name, a hook line) escapes them too, so it cannot forge a line."""
    if text.isprintable():
        return text
    # undecodable bytes as \xff; a lone surrogate that stands for no byte stays, escaped below
    with contextlib.suppress(UnicodeEncodeError):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(_shown(ch, lines) for ch in text)


def _shown(ch: str, lines: bool) -> str:
    if ch.isprintable() or (lines and ch in "\n\t") or unicodedata.category(ch) == "Zs":
        return ch
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
