"""Tag objects as hypothesis draws them: mostly as git writes them, sometimes with the odd
bytes gto's readers fail on (a zone past ±2359, a name that is not UTF-8, a missing
blank line). A support module for test_tagobject.py and test_gitbatch.py."""

from __future__ import annotations

from hypothesis import strategies as st

OID = b"0123456789abcdef0123456789abcdef01234567"


def _mostly(usual: bytes, *odd: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.just(usual), st.just(usual), st.sampled_from(odd))


NAMES = _mostly(
    b"A U Thor", b"J\xc3\xa9r\xc3\xb4me", b"J\xe9r\xf4me", b"", b" ", b"a<b", b"\xed\xa0\x80"
)
EMAILS = _mostly(b"a@b.c", b"", b" ", b"\xff@b", b"x y@z", b"a>b")
TIMES = st.one_of(
    st.integers(0, 1 << 41).map(lambda t: str(t).encode()),
    st.sampled_from([b"253402214400", b"253402214401", b"999999999999", b"1" * 13, b"-5", b""]),
)
ZONES = _mostly(
    b"+0100",
    b"-2359",
    b"+2359",
    b"+2400",
    b"-0060",
    b"+00a0",
    b"0100",
    b"+01",
    b"+01000",
    b"+\xd9\xa1000",
)
TAGS = _mostly(b"churn@v1.0.0", b"churn#prod#1", b"", b"caf\xc3\xa9@v1.0.0", b"\xffx")
KINDS = _mostly(b"commit", b"tree", b"Commit", b"")
MESSAGES = st.one_of(st.text(max_size=40).map(str.encode), st.binary(max_size=40))


@st.composite
def objects(draw: st.DrawFn) -> bytes:
    tagger = draw(NAMES) + b" <" + draw(EMAILS) + b"> " + draw(TIMES) + b" " + draw(ZONES)
    headers = [b"object " + OID, b"type " + draw(KINDS), b"tag " + draw(TAGS), b"tagger " + tagger]
    if draw(st.integers(0, 5)) == 0:
        headers.insert(draw(st.integers(0, 4)), draw(st.sampled_from([b"encoding x", b"x y", b""])))
    separator = draw(_mostly(b"\n\n", b"\n", b"\n\n\n", b"\r\n\r\n"))
    return b"\n".join(headers) + separator + draw(MESSAGES)
