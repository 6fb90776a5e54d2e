"""Base files within the nesting budget (obreg/render/json_text.py, xml_patch.py): JSON5
and XML nested past budgets.NESTING_DEPTH are refused at their field before a recursive
parser or walk can hit Python's limit, whatever the caller's own depth; every JSON5
escape is read, surrogate pairs joined and a lone half refused; through ``obreg render``
each is a refusal, never an internal error."""

from __future__ import annotations

import sys
from pathlib import Path
from unittest.mock import patch

import pytest
import yaml

from obreg import budgets
from obreg.cli import EXIT_REFUSED, main
from obreg.errors import InvalidInput, Label, Where
from obreg.render import json_text, xml_patch
from tests.bad_inputs import base_file, sample_documents

WHERE = Where(Label("OBServiceProvider", "ns", "sp"), "spec.baseFiles.siteJson")
DEPTH = budgets.NESTING_DEPTH


def objects(levels: int) -> str:
    """JSON5 objects nested ``levels`` deep, the deepest kind for json5's parser."""
    return '{"a": ' * levels + "1" + "}" * levels


def refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as refused:
        json_text.load_object(text, WHERE)
    return str(refused.value)


def at_depth(frames: int, call: object) -> object:
    """``call()`` from ``frames`` Python frames further down the stack."""
    if frames:
        return at_depth(frames - 1, call)
    return call()  # type: ignore[operator]


def test_json5_nested_to_the_budget_parses_even_called_from_deep_in_a_stack() -> None:
    assert json_text.nesting(objects(DEPTH)) == DEPTH
    # The operator's handlers run deep in kopf's and asyncio's frames: leave it 100.
    headroom = sys.getrecursionlimit() - 100
    deep = at_depth(headroom - 50, lambda: json_text.load_object(objects(DEPTH), WHERE))
    assert isinstance(deep, dict)
    assert sys.getrecursionlimit() == headroom + 100  # put back as it was


@pytest.mark.parametrize(
    "text",
    [
        objects(DEPTH + 1),
        "[" * (DEPTH + 1) + "]" * (DEPTH + 1),
        "{a: " + "[" * 100_000,  # not JSON5 either: refused by the scan, not by recursion
        '{"a": 1, // ]]\n b: "[{", c: \'[{\', d: ' + objects(DEPTH) + "}",
    ],
)
def test_json5_nested_past_the_budget_is_refused(text: str) -> None:
    message = refusal(text) if json_text.nesting(text) > DEPTH else ""
    if not message:  # brackets in strings and comments do not count
        assert json_text.load_object(text, WHERE)
        return
    assert message == (
        f"OBServiceProvider ns/sp: spec.baseFiles.siteJson: nested more than {DEPTH} deep "
        "(site.json nests about 4 deep)"
    )


def test_the_nesting_scan_skips_strings_and_comments_and_stays_linear() -> None:
    assert json_text.nesting('{"[": "{{", \'a\': [/* [[ */ 1], // {{\n "\\"[": 0}') == 2
    assert json_text.nesting('"unclosed [[[ \\') == 0
    assert json_text.nesting("/* unclosed [[[") == 0
    assert json_text.nesting("/*" * 200_000) == 0  # one unclosed comment, one pass


@pytest.mark.parametrize(
    ("escaped", "character"),
    [
        ("\\ud83d\\ude00", "😀"),
        ("\\uD83D\\uDE00", "😀"),
        ("x\\ud800\\udc00y", "x\U00010000y"),
        ("\\u00e9\\x41\\0\\b\\f\\n\\r\\t\\v\\'\\\"\\\\\\/", "éA\x00\b\f\n\r\t\v'\"\\/"),
        ("a\\\nb", "ab"),  # a line continuation
    ],
)
def test_every_json5_escape_is_read_and_surrogate_pairs_are_joined(
    escaped: str, character: str
) -> None:
    assert json_text.load_object(f'{{"k": "{escaped}", "{escaped}": 1}}', WHERE) == {
        "k": character,
        character: 1,
    }


@pytest.mark.parametrize("escaped", ["\\ud83d", "\\ude00", "\\ude00\\ud83d", "\\ud83dx"])
def test_a_lone_escaped_surrogate_is_refused(escaped: str) -> None:
    for text in (f'{{"k": ["{escaped}"]}}', f'{{"{escaped}": 1}}'):
        assert refusal(text) == (
            "OBServiceProvider ns/sp: spec.baseFiles.siteJson: a string escapes half of a "
            "surrogate pair (\\ud800-\\udfff) without the other (escape a character outside "
            "the BMP as its two halves, high then low)"
        )


def xml(levels: int) -> bytes:
    return b"<Server>\n" + b"<a>" * (levels - 1) + b"</a>" * (levels - 1) + b"\n</Server>"


def test_xml_nested_to_the_budget_parses_and_past_it_is_refused_at_its_line() -> None:
    xml_patch.parse(xml(DEPTH), WHERE, "Server")
    comment = b"<Server>" + b"<a>" * (DEPTH - 1) + b"<!-- c --><?p?>" + b"</a>" * (DEPTH - 1)
    xml_patch.parse(comment + b"</Server>", WHERE, "Server")  # only elements count
    for levels, message in [
        (DEPTH + 1, f"nested more than {DEPTH} deep: line 2"),
        # Past libxml2's own limit (256) the parser stops first; the budget is named still.
        (100_000, f"nested more than {DEPTH} deep, or over another of the XML parser's"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            xml_patch.parse(xml(levels), WHERE, "Server")
        assert f"spec.baseFiles.siteJson: {message}" in str(refused.value)
        assert "WSO2's files nest about 8 deep" in str(refused.value)


@pytest.mark.parametrize(
    ("key", "content", "message"),
    [
        ("site.json", objects(5000), f"nested more than {DEPTH} deep"),
        ("site.json", "{" + '"x": "\\ud83d\\ude00", ' * 3 + "}", None),
        ("site.json", '{"oidcConfiguration": {"k": "\\ud83d"}}', "half of a surrogate pair"),
        ("locale_en.json", "[" * 60 + "]" * 60, "not a JSON object"),
        ("identity.xml", xml(3000).decode(), f"nested more than {DEPTH} deep"),
        ("api-manager.xml", "<APIManager>" + "<a>" * 100 + "</a>" * 100 + "</APIManager>", "deep"),
    ],
)
def test_through_render_a_deep_or_escaped_base_file_is_refused_at_its_field(
    key: str, content: str, message: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    base_file(docs, key, content)
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    code = main(["render", "-f", str(manifest), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0, err
        return
    assert code == EXIT_REFUSED, err
    assert "spec.baseFiles." in err and message in err


def test_json5_past_its_byte_budget_is_refused_before_json5_parses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budgets, "JSON5_BYTES", 20)
    # Text that needs JSON5 (a trailing comma): 20 bytes are read, 21 refused.
    assert json_text.load_object('{"a": "é01234567",}', WHERE) == {"a": "é01234567"}
    assert refusal('{"a": "é012345678",}') == (
        "OBServiceProvider ns/sp: spec.baseFiles.siteJson: larger than 20 bytes of JSON5 "
        "(comments or trailing commas) (write it as plain JSON, or trim it: site.json and "
        "the locale files are smaller)"
    )
    # Plain JSON is read by the standard library's parser in C: no JSON5 budget.
    assert json_text.load_object('{"a": "é0123456789"}', WHERE) == {"a": "é0123456789"}
    with patch.object(json_text.json5, "loads", side_effect=AssertionError("json5 ran")):
        assert json_text.load_object('{"a": ["x", 1, {"b": null}]}', WHERE)


def test_site_json_is_parsed_by_json5_once_per_render() -> None:
    """json5's parse is a render's costliest step: site.json needing JSON5 is read once,
    not again by the in-place edit."""
    from obreg.render import site_json
    from tests.unit.test_product_files import sp_spec

    text = '{\n  // the store\'s settings\n  "a": 1,\n}\n'
    with patch.object(json_text.json5, "loads", wraps=json_text.json5.loads) as loads:
        site_json.patch(text.encode(), sp_spec(), "client-id", "client-secret", WHERE)
    # The whole document once; the scanner reads each top-level key's own few bytes.
    assert [c.args[0] for c in loads.call_args_list].count(text) == 1
