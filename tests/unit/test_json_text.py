"""Setting top-level members of a JSON5 text in place (obreg/render/json_text.py): the
result byte for byte, for the layouts stock files and hand edits have (comments of both
kinds, unquoted and single-quoted keys, an empty object, nested values)."""

from __future__ import annotations

import pytest

from obreg.errors import InvalidInput, Label, Where
from obreg.render.json_text import set_members

WHERE = Where(Label("OBServiceProvider", "ns", "sp"), "spec.baseFiles.siteJson")


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("{}", {"a": 1}, '{\n    "a": 1\n}'),
        # What stood between the braces stays after the new members.
        ("{ }", {"a": 1, "b": "x"}, '{\n    "a": 1,\n    "b": "x"\n }'),
        (
            '{\n  "a": 1\n}',
            {"b": {"c": [1, 2]}},
            '{\n  "a": 1,\n  "b": {\n    "c": [\n      1,\n      2\n    ]\n  }\n}',
        ),
        (
            "// header\n{\n  /* one */ /**/ \"a\": 1, // trailing\n  b: 'x',\n}\n",
            {"a": 2, "b": "y"},
            '// header\n{\n  /* one */ /**/ "a": 2, // trailing\n  b: "y",\n}\n',
        ),
        (
            '/* a */ /* b */ {"a": /* c */ 1 /* d */}',
            {"a": 3},
            '/* a */ /* b */ {"a": /* c */ 3 /* d */}',
        ),
        ('{"a": [1, {"b": "}"}], "c": 0}', {"c": 1}, '{"a": [1, {"b": "}"}], "c": 1}'),
        ("{'a\\'b': 1}", {"a'b": 2}, "{'a\\'b': 2}"),
        ("{\\u0061: 1}", {"a": 2}, "{\\u0061: 2}"),
        ('{"a": 1} // end, no newline', {"a": 1}, '{"a": 1} // end, no newline'),
        # Unquoted keys and hex numbers with capitals inside the values skipped.
        ('{"a": {X: [1, {Y: "}"}]}, "b": 0}', {"b": 1}, '{"a": {X: [1, {Y: "}"}]}, "b": 1}'),
        ('{"a": 0XFF, "b": 1}', {"a": 2}, '{"a": 2, "b": 1}'),
        # Compact text, an empty key, escaped quotes, text that is not ASCII.
        ('{"a":12,"b":3}', {"a": 4, "b": 5}, '{"a":4,"b":5}'),
        ('{"": 1, "b": 2}', {"b": 3}, '{"": 1, "b": 3}'),
        ('{"a": "say \\"hi\\"", "b": 1}', {"b": "é"}, '{"a": "say \\"hi\\"", "b": "é"}'),
        # Members at the margin: nested values still indent by four spaces.
        ('{\n"a": 1\n}', {"b": {"c": 1}}, '{\n"a": 1,\n"b": {\n    "c": 1\n}\n}'),
    ],
)
def test_only_the_values_set_change(text: str, values: dict[str, object], expected: str) -> None:
    assert set_members(text, values, WHERE) == expected
    assert set_members(expected, values, WHERE) == expected  # idempotent


def test_a_key_set_twice_at_the_top_level_is_refused_and_one_not_set_is_left() -> None:
    twice = '{"a": 1, "a": 2, "b": 0}'
    with pytest.raises(InvalidInput) as refused:
        set_members(twice, {"a": 3}, WHERE)
    assert str(refused.value) == (
        "OBServiceProvider ns/sp: spec.baseFiles.siteJson: the key 'a' appears more than "
        "once at the top level"
    )
    assert set_members(twice, {"b": 1}, WHERE) == '{"a": 1, "a": 2, "b": 1}'


def test_a_document_that_is_not_json5_is_refused_with_its_line() -> None:
    with pytest.raises(InvalidInput) as refused:
        set_members('{\n"a": 1,\n"b": }', {"a": 1}, WHERE)
    assert str(refused.value) == (
        "OBServiceProvider ns/sp: spec.baseFiles.siteJson: not valid JSON5 near line 3 "
        "(comments and trailing commas are fine; check quotes and braces)"
    )
