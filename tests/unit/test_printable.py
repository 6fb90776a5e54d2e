"""errors.printable: whatever a message quotes from input comes out as one line of
visible characters, by one rule over Unicode categories (not a list that misses the next
separator: U+2028 and U+2029 were missed once)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from obreg.errors import bounded, printable


@given(st.text())
def test_every_character_comes_out_visible_and_on_one_line(text: str) -> None:
    shown = printable(text)
    assert shown.isprintable()
    assert len(shown.splitlines()) <= 1


@given(st.text(st.characters(codec="utf-8")))
def test_printable_text_is_left_as_it_is(text: str) -> None:
    if text.isprintable():
        assert printable(text) == text


def test_separators_and_overrides_are_escaped() -> None:
    shown = printable("a\u2028b\u2029c\x85d\u202ee\u200bf\x1b\U000f0000")
    assert shown == "a\\u2028b\\u2029c\\u0085d\\u202ee\\u200bf\\u001b\\U000f0000"


@given(st.text(), st.integers(min_value=20, max_value=2000))
def test_bounded_is_printable_and_bounded(text: str, limit: int) -> None:
    shown = bounded(text, limit)
    assert shown.isprintable() and len(shown) <= limit
