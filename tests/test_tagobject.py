"""The fast reading of a tag object (one match of its decoded text) says exactly what the
careful, field-by-field reading says, for every object it takes; the rest it leaves."""

from __future__ import annotations

from hypothesis import given, settings

from gtoguard.model.tagobject import _careful, _fast, parse_tag_object
from tagobjects import OID, objects


@settings(max_examples=400, deadline=None)
@given(data=objects())
def test_the_fast_reading_agrees_with_the_careful_one(data: bytes) -> None:
    fast = _fast(data)
    careful = _careful(data)
    if fast is not None:
        assert careful.unreadable is None  # only what gto reads takes the fast path
        assert fast == careful
    assert parse_tag_object(data) == (fast if fast is not None else careful)


def test_what_git_writes_takes_the_fast_path() -> None:
    data = (
        b"object " + OID + b"\ntype commit\ntag churn#prod#3\n"
        b"tagger J\xc3\xa9r\xc3\xb4me <j@x.io> 1700000000 -0130\n\nPromote.\n"
    )
    fast = _fast(data)
    assert fast is not None and fast == _careful(data)
    assert fast.tagger is not None and fast.tagger.offset == -90
    assert (fast.name, fast.message, fast.tagger.name) == ("churn#prod#3", "Promote.\n", "Jérôme")
