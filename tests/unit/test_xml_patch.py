"""Appending to a base XML file in its own layout (obreg/render/xml_patch.py), byte for
byte: the indentation unit read from the file (tabs, two or four spaces), nested
elements indented to their depth, the closing tags where they were."""

from __future__ import annotations

import pytest
from lxml import etree

from obreg.errors import Label, Where
from obreg.render import xml_patch

WHERE = Where(Label("OBServiceProvider", "ns", "sp"), "spec.baseFiles.identityXml")


def appended(base: str, path: str) -> str:
    """``base`` with <New><Inner>x</Inner></New> appended to the element at ``path``."""
    tree = xml_patch.parse(base.encode(), WHERE, "Server")
    parent = tree.getroot() if path == "." else tree.getroot().find(path)
    assert parent is not None
    xml_patch.append(parent, xml_patch.element("New", xml_patch.element("Inner", "x")))
    return xml_patch.serialize(tree).decode().removeprefix(xml_patch.DECLARATION.decode() + "\n")


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        (
            "<Server>\n  <A/>\n</Server>",
            ".",
            "<Server>\n  <A/>\n  <New>\n    <Inner>x</Inner>\n  </New>\n</Server>\n",
        ),
        (
            "<Server>\n\t<A>\n\t\t<B/>\n\t</A>\n</Server>",
            "A",
            "<Server>\n\t<A>\n\t\t<B/>\n\t\t<New>\n\t\t\t<Inner>x</Inner>\n\t\t</New>\n\t</A>\n"
            "</Server>\n",
        ),
        (  # the unit is the last line before the first child, after a blank one
            "<Server>\n\n  <A/>\n</Server>",
            ".",
            "<Server>\n\n  <A/>\n  <New>\n    <Inner>x</Inner>\n  </New>\n</Server>\n",
        ),
        (  # an empty parent gets its first child on a line of its own
            "<Server>\n    <A></A>\n</Server>",
            "A",
            "<Server>\n    <A>\n        <New>\n            <Inner>x</Inner>\n        </New>\n"
            "    </A>\n</Server>\n",
        ),
        (  # a file on one line: four spaces, and the last sibling's missing tail
            "<Server><A/></Server>",
            ".",
            "<Server><A/>\n    <New>\n        <Inner>x</Inner>\n    </New>\n</Server>\n",
        ),
        (  # a first line that is not whitespace does not make the unit
            "<Server>text\n<A/></Server>",
            ".",
            "<Server>text\n<A/>\n    <New>\n        <Inner>x</Inner>\n    </New>\n</Server>\n",
        ),
    ],
)
def test_an_appended_element_sits_like_its_siblings(base: str, path: str, expected: str) -> None:
    assert appended(base, path) == expected


def test_a_created_child_takes_its_parents_namespace_without_declaring_one() -> None:
    base = '<Server xmlns="urn:x">\n  <A/>\n</Server>'
    tree = xml_patch.parse(base.encode(), WHERE, "Server")
    created = xml_patch.ensure_child(tree.getroot(), "B")
    assert created.tag == "{urn:x}B"
    assert xml_patch.ensure_child(tree.getroot(), "B") is created
    text = etree.tostring(tree.getroot()).decode()
    assert text == '<Server xmlns="urn:x">\n  <A/>\n  <B/>\n</Server>'
