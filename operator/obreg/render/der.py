"""A small strict DER reader, to read a few fields of a keystore before any library does
work on it.

Strict: definite lengths in their shortest form, single-octet tags, every length within
the bytes it claims to be in; anything else is a ``DerError``. Bounded: a read looks at
one element's header, never past the end it is given, and never recurses, so the caller
walks nested elements level by level and each byte of the input is read a bounded
number of times. Object identifiers are compared as their encoded bytes (``oid()``),
never decoded into numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
OCTET_STRING = 0x04
OBJECT_IDENTIFIER = 0x06


class DerError(ValueError):
    """Not DER, or not the element expected; ``indefinite`` when the reason is BER's
    indefinite length, which some tools write and this reader refuses."""

    def __init__(self, message: str, indefinite: bool = False) -> None:
        super().__init__(message)
        self.indefinite = indefinite


@dataclass(frozen=True)
class Element:
    """One element of ``data``: its tag and where its content lies."""

    data: bytes
    tag: int
    start: int  # of the content
    end: int

    @property
    def content(self) -> bytes:
        return self.data[self.start : self.end]

    def expect(self, tag: int) -> Element:
        if self.tag != tag:
            raise DerError(f"expected tag {tag:#04x}, found {self.tag:#04x}")
        return self

    def children(self) -> list[Element]:
        """The elements of a constructed element's content, which they fill exactly."""
        if not self.tag & 0x20:
            raise DerError("a primitive element has no elements")
        found, at = [], self.start
        while at < self.end:
            child = read(self.data, at, self.end)
            found.append(child)
            at = child.end
        return found

    def integer(self) -> int:
        self.expect(INTEGER)
        if self.start == self.end:
            raise DerError("an empty INTEGER")
        return int.from_bytes(self.content, "big", signed=True)

    def explicit(self, number: int) -> Element:
        """The one element inside context tag [number] EXPLICIT."""
        self.expect(0xA0 | number)
        inside = self.children()
        if len(inside) != 1:
            raise DerError(f"[{number}] holds {len(inside)} elements, not one")
        return inside[0]


def read(data: bytes, at: int = 0, end: int | None = None) -> Element:
    """The element whose header starts at ``at``, within ``data[:end]``."""
    end = len(data) if end is None else end
    if end - at < 2:
        raise DerError("truncated header")
    tag, first = data[at], data[at + 1]
    if tag & 0x1F == 0x1F:
        raise DerError("a multi-octet tag")
    at += 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("an indefinite length (BER)", indefinite=True)
    else:
        octets = first & 0x7F
        if octets > 4 or end - at < octets:
            raise DerError("a length too long for the input")
        length = int.from_bytes(data[at : at + octets], "big")
        if length < 0x80 or length >> (8 * (octets - 1)) == 0:
            raise DerError("a length not in its shortest form")
        at += octets
    if length > end - at:
        raise DerError("a length past the end of its input")
    return Element(data, tag, at, at + length)


def whole(data: bytes) -> Element:
    """``data`` as exactly one element."""
    element = read(data)
    if element.end != len(data):
        raise DerError("bytes after the element")
    return element


def oid(dotted: str) -> bytes:
    """The encoded content of an object identifier, to compare with ``Element.content``."""
    arcs = [int(arc) for arc in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        septets = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            septets.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(septets))
    return bytes(out)


# The PKCS #7 and PKCS #5 identifiers both readers of a PKCS12 (keystore_work.py,
# pkcs12_trust.py) meet: its content types and its password-based encryption.
DATA = oid("1.2.840.113549.1.7.1")
ENCRYPTED_DATA = oid("1.2.840.113549.1.7.6")
PBES2 = oid("1.2.840.113549.1.5.13")
PBKDF2 = oid("1.2.840.113549.1.5.12")
