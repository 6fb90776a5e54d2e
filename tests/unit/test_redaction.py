"""Masking secrets in text from elsewhere (obreg/redaction.py): every form a server may
echo a secret in, and a secret inside another masked whole."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obreg.redaction import MASK, redact


@pytest.mark.parametrize(
    ("text", "secrets", "masked"),
    [
        ("as sent: s3cret!", ["s3cret!"], "as sent: ***"),
        # XML-escaped as an attribute value is: both quote kinds.
        ("attr: pa&quot;ss&apos;word", ["pa\"ss'word"], "attr: ***"),
        # XML-escaped as text is: quotes left as they are.
        ("text: pa\"ss'word &amp; &lt;x&gt;", ["pa\"ss'word & <x>"], "text: ***"),
        ("spaces: a  b\tc", ["a b c"], "spaces: ***"),
        # A secret inside a longer one: the longer masked whole, whatever their order
        # (by length, not alphabetically: "zz" sorts after "azzb").
        ("both: azzb", ["zz", "azzb"], "both: ***"),
        ("both: azzb", ["azzb", "zz"], "both: ***"),
        # Blank secrets mask nothing (they would match everywhere).
        ("nothing to hide", ["", "  "], "nothing to hide"),
        ("two: one, two", ["one", "two"], "***: ***, ***"),
    ],
)
def test_every_form_of_a_secret_is_masked(text: str, secrets: list[str], masked: str) -> None:
    assert redact(text, secrets) == masked


@given(
    secret=st.text(min_size=1).filter(str.strip),
    before=st.text(alphabet="xyz "),
    after=st.text(alphabet="xyz "),
)
def test_no_secret_survives_in_the_text(secret: str, before: str, after: str) -> None:
    """Whatever the secret holds (regex syntax, markup, whitespace), the text keeps
    no trace of it as sent."""
    text = redact(f"{before}{secret}{after}", [secret])
    assert MASK in text
    assert secret.strip() not in text.replace(MASK, "\0")
