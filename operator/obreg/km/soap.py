"""SOAP 1.1 envelopes for the Key Manager's admin services, built and read with lxml.

The services are Axis2 POJO services (IS-KM 5.7): the operation element and its plain
parameters live in Axis2's schema namespace, a DTO's fields in the DTO package's
namespace, and a void operation answers HTTP 202 with no body. Carbon hides these
services' WSDLs by default, so a WSDL-driven SOAP library would need a local copy of
WSO2's WSDL, which we cannot ship; the nine operations obreg calls are small enough to
write by hand, and doing so keeps every byte sent under our control (nothing is sent
that we did not decide to send).

Pure: bytes in, bytes or values out. Parsing refuses DTDs and entities like every other
XML obreg reads, and is bounded in nodes as well as bytes (parse): an answer within
budgets.KM_ANSWER_BYTES made of tiny elements or attributes (4 MiB of ``<a/>`` is a
million of them, 4 KB gzip'd) would otherwise build a tree thirty times its size. Each
answer is parsed once (parse), its fault and response read from that one tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from ..budgets import KM_ANSWER_NODES
from ..render import xml_patch

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
AXIS2 = "http://org.apache.axis2/xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAUTH_DTO = "http://dto.oauth.identity.carbon.wso2.org/xsd"
CLAIM_DTO = "http://dto.mgt.metadata.claim.identity.carbon.wso2.org/xsd"
CONTENT_TYPE = "text/xml; charset=UTF-8"


@dataclass(frozen=True)
class Dto:
    """A DTO parameter: its namespace and fields. A tuple value is a repeated element
    (a Java array); fields are written in name order, as Axis2 lists bean properties."""

    namespace: str
    fields: tuple[tuple[str, str | tuple[str, ...]], ...]


Value = str | tuple[str, ...] | Dto


class MalformedResponse(ValueError):
    """The KM answered something that is not the SOAP we expect."""


class TooManyNodes(ValueError):
    """An answer of more elements and attributes than the budget; its text names it."""


@dataclass(frozen=True)
class Fault:
    """A SOAP fault: the service refused or failed the call."""

    code: str
    reason: str


def _add(parent: etree._Element, namespace: str, name: str, value: str | tuple[str, ...]) -> None:
    for item in (value,) if isinstance(value, str) else value:
        etree.SubElement(parent, f"{{{namespace}}}{name}").text = item


def request(operation: str, parameters: Sequence[tuple[str, Value]]) -> bytes:
    """The envelope calling ``operation`` with ``parameters`` in order. An empty tuple
    sends no element, as Axis2's own stubs do for an empty array."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11, "xsd": AXIS2})
    etree.SubElement(envelope, f"{{{SOAP11}}}Header")
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    call = etree.SubElement(body, f"{{{AXIS2}}}{operation}")
    for name, value in parameters:
        if isinstance(value, Dto):
            holder = etree.SubElement(call, f"{{{AXIS2}}}{name}", nsmap={"dto": value.namespace})
            for field_name, field_value in sorted(value.fields):
                _add(holder, value.namespace, field_name, field_value)
        else:
            _add(call, AXIS2, name, value)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def action(operation: str) -> str:
    """The SOAPAction header Axis2 dispatches on."""
    return f'"urn:{operation}"'


# What parse feeds libxml2 at a time: the tree grows by at most one piece past the
# budget before the count sees it (16 KiB of ``<a/>`` is 4,096 elements).
_PIECE = 16 * 1024


@dataclass(frozen=True)
class Envelope:
    """One parsed answer's SOAP Body: its fault and its response, from the one tree."""

    body: etree._Element

    def fault(self) -> Fault | None:
        """The fault in the answer, if it is one."""
        found = self.body.find(f"{{{SOAP11}}}Fault")
        if found is None:
            return None
        return Fault(
            code=(found.findtext("faultcode") or "").strip(),
            reason=found.findtext("faultstring") or "",  # as sent: the caller masks, then tidies
        )

    def response(self, operation: str) -> list[etree._Element]:
        """The ``return`` elements of ``operation``'s response (none for an empty array)."""
        wrapper = self.body.find(f"{{{AXIS2}}}{operation}Response")
        if wrapper is None:
            raise MalformedResponse(f"no {operation}Response in the answer")
        return [e for e in wrapper if e.tag == f"{{{AXIS2}}}return"]


def parse(data: bytes, budget: int = KM_ANSWER_NODES) -> Envelope:
    """The answer's envelope, parsed with obreg's one set of parser options (no entities,
    no network, no DTD) and at most ``budget`` elements and attributes, else TooManyNodes.

    Elements and attributes are counted as libxml2 reports each start tag, piece by
    piece, so the tree stops growing within one piece of the budget. libxml2 builds one
    start tag whole before reporting it, so a single tag with a million attributes would
    be built before it is counted: each attribute is written with one ``=``, and the
    ``=`` in what has been fed are counted before it is fed, bounding that tag too (an
    ``=`` in text counts as well: a real answer has a few, in URLs)."""
    too_many = TooManyNodes(f"an answer of more than {budget:,} elements and attributes")
    parser = etree.XMLPullParser(events=("start",), **xml_patch.OPTIONS)
    nodes = marks = 0
    try:
        for at in range(0, len(data), _PIECE):
            piece = data[at : at + _PIECE]
            marks += piece.count(b"=")
            if marks > budget:
                raise too_many
            parser.feed(piece)
            for _event, element in parser.read_events():
                assert isinstance(element, etree._Element)  # events=("start",) gives these
                nodes += 1 + len(element.attrib)
            if nodes > budget:
                raise too_many
        root = parser.close()
    except etree.XMLSyntaxError as err:
        raise MalformedResponse(f"not well-formed XML (line {err.lineno or 1})") from None
    except ValueError as err:
        if err is too_many:
            raise
        raise MalformedResponse("not XML") from None
    if xml_patch.declares_dtd(root.getroottree()):
        raise MalformedResponse("the answer declares a DTD or entities")
    if root.tag != f"{{{SOAP11}}}Envelope":
        raise MalformedResponse(f"not a SOAP 1.1 envelope: <{etree.QName(root).localname}>")
    body = root.find(f"{{{SOAP11}}}Body")
    if body is None:
        raise MalformedResponse("the envelope has no Body")
    return Envelope(body)


def fault(data: bytes) -> Fault | None:
    """The fault in an answer, if it is one (parse(data).fault())."""
    return parse(data).fault()


def response(data: bytes, operation: str) -> list[etree._Element]:
    """The ``return`` elements of ``operation``'s response (parse(data).response())."""
    return parse(data).response(operation)


def fields(element: etree._Element, namespace: str) -> dict[str, list[str]]:
    """A returned DTO's fields, each a list (arrays repeat); nil elements are left out."""
    found: dict[str, list[str]] = {}
    for child in element:
        if not isinstance(child.tag, str) or etree.QName(child).namespace != namespace:
            continue
        if child.get(f"{{{XSI}}}nil") == "true":
            continue
        found.setdefault(etree.QName(child).localname, []).append(child.text or "")
    return found
