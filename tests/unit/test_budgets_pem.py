"""Rule 1: a PEM source is scanned in one pass, and its certificates are counted before
any is parsed. Work is counted (bytes searched, patterns tried, certificates loaded),
never timed."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obreg import budgets
from obreg.errors import InvalidInput, Label, Where
from obreg.render import certificates, truststore
from obreg.render.inputs import Inputs
from tests.pki import NOW, issue
from tests.unit.test_truststore import anchor

WHERE = Where(Label("OBTrustAnchor", "bank", "cas"), "spec.certificates[0].inline")
CERT = issue("Scan CA").pem
JUNK = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


class Counting(bytes):
    """Bytes that count how many of themselves find() looked at."""

    searched = 0

    def find(self, sub: Any, start: Any = 0, end: Any = None) -> int:
        stop = len(self) if end is None else end
        found = super().find(sub, start, stop)
        Counting.searched += (stop if found == -1 else found + len(sub)) - start
        return found


class CountingPattern:
    """A compiled pattern that counts its matches."""

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern, self.tried = pattern, 0

    def match(self, data: bytes, pos: int) -> re.Match[bytes] | None:
        self.tried += 1
        return self.pattern.match(data, pos)


def scan_work(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(bytes find() looked at, patterns tried) to scan ``data``, refused or not."""
    header = CountingPattern(certificates._HEADER)
    footer = CountingPattern(certificates._FOOTER)
    monkeypatch.setattr(certificates, "_HEADER", header)
    monkeypatch.setattr(certificates, "_FOOTER", footer)
    Counting.searched = 0
    with contextlib.suppress(InvalidInput):
        certificates._pem_blocks(Counting(data), WHERE, certificates.source_limit(WHERE))
    return Counting.searched, header.tried + footer.tried


HOSTILE = {
    "BEGIN lines without END": b"-----BEGIN CERTIFICATE-----\n",
    "END lines that are no END line": b"-----END x-----\n",
    "blocks nested in one": b"-----BEGIN CERTIFICATE-----\nAA\n",
    "a long label": b"-----BEGIN " + b"A" * 64,
    "whole blocks": JUNK,
}


@pytest.mark.parametrize("unit", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_scan_looks_at_each_byte_a_bounded_number_of_times(
    unit: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budgets, "CERTIFICATES_PER_SOURCE", 10**6)
    for copies in (500, 1000, 2000):
        data = unit * copies + b"-----END CERTIFICATE-----\n"
        searched, tried = scan_work(data, monkeypatch)
        assert searched <= 3 * len(data)
        assert tried <= data.count(b"-----BEGIN") + data.count(b"-----END") + 1


def _reference(data: bytes) -> list[tuple[str, str, bytes]] | None:
    """What the old quadratic pattern found: the blocks, or None for malformed."""
    pattern = re.compile(
        rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END ([A-Z0-9 ]+)-----", re.DOTALL
    )
    blocks = list(pattern.finditer(data))
    if not blocks or data.count(b"-----BEGIN") != len(blocks):
        return None
    return [(b.group(1).decode(), b.group(3).decode(), b.group(0)) for b in blocks]


PIECES = [
    b"-----BEGIN CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\r\n",
    b"-----BEGIN KEY-----\n",
    b"-----BEGIN x-----\n",
    b"-----BEGIN",
    b"-----END CERTIFICATE-----",
    b"-----END KEY-----",
    b"-----END x-----",
    b"-----END",
    b"-----",
    b"AAAA\n",
    b"subject=CN=x\n",
    b"-",
    b"\n",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12))
def test_the_scan_finds_what_the_old_pattern_found(pieces: list[bytes]) -> None:
    data = b"-----BEGIN" + b"".join(pieces)
    expected = _reference(data)
    try:
        found = certificates._pem_blocks(data, WHERE, certificates.source_limit(WHERE))
    except InvalidInput as refused:
        assert expected is None, data
        assert "a BEGIN line has no matching END line" in str(refused)
        return
    assert [(b.label, b.end_label, b.text) for b in found] == expected


def test_a_source_over_its_budget_is_refused_before_any_certificate_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = 0
    original = certificates.x509.load_pem_x509_certificate

    def counting(data: bytes) -> Any:
        nonlocal loaded
        loaded += 1
        return original(data)

    monkeypatch.setattr(certificates.x509, "load_pem_x509_certificate", counting)
    monkeypatch.setattr(budgets, "CERTIFICATES_PER_SOURCE", 3)
    assert len(certificates.parse(CERT * 3, WHERE)) == 3
    loaded = 0
    with pytest.raises(InvalidInput) as refused:
        certificates.parse(CERT * 3 + JUNK, WHERE)
    assert str(refused.value).startswith(
        "OBTrustAnchor bank/cas: spec.certificates[0].inline: holds more than 3 certificates"
    )
    assert loaded == 0


def test_a_truststore_over_its_budget_is_refused_at_the_anchor_that_takes_it_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budgets, "CERTIFICATES_PER_TRUSTSTORE", 5)
    three = "".join(issue(f"Budget CA {n}").pem.decode() for n in range(3))
    first, second = (
        anchor({"certificates": [{"inline": three}]}, name) for name in ("a-first", "b-second")
    )
    assert len(truststore.render([first], Inputs(), NOW).summaries["a-first"]) == 3
    with pytest.raises(InvalidInput) as refused:
        truststore.render([first, second], Inputs(), NOW)
    assert str(refused.value).startswith(
        "OBTrustAnchor bank/b-second: spec.certificates: holds more than the 2 certificates "
        "that the 3 of the anchors before it leave of this truststore's 5"
    )
    # One anchor alone over the budget reads as it always has.
    monkeypatch.setattr(budgets, "CERTIFICATES_PER_TRUSTSTORE", 2)
    with pytest.raises(InvalidInput) as alone:
        truststore.render([first], Inputs(), NOW)
    assert "spec.certificates: holds more than 2 certificates (" in str(alone.value)


def test_a_der_source_counts_against_a_spent_truststore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budgets, "CERTIFICATES_PER_TRUSTSTORE", 1)
    spec = {
        "certificates": [
            {"inline": CERT.decode()},
            {"secretKeyRef": {"name": "ca", "key": "der"}},
        ]
    }
    inputs = Inputs(secrets={("bank", "ca"): {"der": issue("DER CA").der}})
    with pytest.raises(InvalidInput, match="spec.certificates: holds more than 1 certificates"):
        truststore.render([anchor(spec)], inputs, NOW)
