"""Rule 3: linking a certificate to its issuer costs at most budgets.ISSUER_CANDIDATES
signature checks, each (certificate, issuer) pair checked once per render. Checks are
counted, never timed."""

from __future__ import annotations

import collections
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from obreg import budgets
from obreg.render import certificates, truststore
from obreg.render.certificates import Certificate
from obreg.render.inputs import Inputs
from tests.pki import DAY, NOW
from tests.unit.test_truststore import anchor

KEY = ec.generate_private_key(ec.SECP256R1())  # every named() CA's public key
SIGNER = ec.generate_private_key(ec.SECP256R1())  # signs them all: no check succeeds


def named(
    subject: str,
    issuer: str,
    serial: int,
    key_id: bytes | None = None,
    authority_id: bytes | None = None,
) -> x509.Certificate:
    """A CA named ``subject`` that names ``issuer`` as its issuer (signed by a key of
    neither, so no check finds its issuer), with key identifiers when given."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(KEY.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if key_id is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(key_id), critical=False)
    if authority_id is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(authority_id, None, None), critical=False
        )
    return builder.sign(SIGNER, hashes.SHA256())


def entry(cert: x509.Certificate) -> Certificate:
    der = cert.public_bytes(certificates.serialization.Encoding.DER)
    return Certificate(certificates.derived_alias(cert), der, cert)


# Two groups of CAs, each naming the other's subject as issuer.
GROUP_A = [entry(named("Group A", "Group B", n + 1)) for n in range(40)]
GROUP_B = [entry(named("Group B", "Group A", n + 1)) for n in range(40)]


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[tuple[bytes, bytes]]:
    """Every signature check, by (certificate, issuer)."""
    seen: collections.Counter[tuple[bytes, bytes]] = collections.Counter()
    original = certificates._issued_by

    def counting(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        seen[(cert.tbs_certificate_bytes, issuer.tbs_certificate_bytes)] += 1
        return original(cert, issuer)

    monkeypatch.setattr(certificates, "_issued_by", counting)
    return seen


def test_cross_named_groups_cost_the_budget_per_certificate(
    checks: collections.Counter[tuple[bytes, bytes]],
) -> None:
    pems = "".join(
        c.cert.public_bytes(certificates.serialization.Encoding.PEM).decode()
        for c in [*GROUP_A, *GROUP_B]
    )
    store = truststore.render([anchor({"certificates": [{"inline": pems}]})], Inputs(), NOW)
    assert sum(checks.values()) == budgets.ISSUER_CANDIDATES * 80  # not 40 * 40 * 2
    assert max(checks.values()) == 1
    cut = f"(only the first {budgets.ISSUER_CANDIDATES} of those named as its issuer were checked)"
    assert all(
        f"its issuer is not among the trust anchors {cut}" in s.warnings
        for s in store.summaries["ob-cas"]
    )


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=1, max_value=10),
    st.integers(min_value=1, max_value=3),
)
def test_checks_stay_within_the_budget_and_each_pair_is_checked_once(
    a: int, b: int, budget: int, asked: int
) -> None:
    seen: collections.Counter[tuple[int, int]] = collections.Counter()
    original = certificates._issued_by

    def counting(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        seen[(id(cert), id(issuer))] += 1
        return original(cert, issuer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(certificates, "_issued_by", counting)
        patch.setattr(budgets, "ISSUER_CANDIDATES", budget)
        every = [*GROUP_A[:a], *GROUP_B[:b]]
        issuers = certificates.Issuers(every)
        for _ in range(asked):  # the warnings of one certificate asked again: no new check
            for certificate in every:
                certificates.warnings(certificate, issuers, NOW, 30)
    assert sum(seen.values()) == min(a, budget) * b + min(b, budget) * a
    assert set(seen.values()) <= {1}


def test_the_key_identifier_finds_the_issuer_past_the_budget(
    checks: collections.Counter[tuple[bytes, bytes]],
) -> None:
    """Twelve CAs of one name: the child's authorityKeyIdentifier picks the one whose
    subjectKeyIdentifier it names, though it is the last and the budget is eight."""
    key = ec.generate_private_key(ec.SECP256R1())
    roots = [named("Shared Root", "Shared Root", n + 1, key_id=bytes([n]) * 20) for n in range(11)]
    real_root = (
        x509.CertificateBuilder()
        .subject_name(roots[0].subject)
        .issuer_name(roots[0].subject)
        .public_key(key.public_key())
        .serial_number(99)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(b"\x63" * 20), critical=False)
        .sign(key, hashes.SHA256())
    )
    child = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Child CA")]))
        .issuer_name(roots[0].subject)
        .public_key(KEY.public_key())
        .serial_number(100)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier(b"\x63" * 20, None, None), critical=False)
        .sign(key, hashes.SHA256())
    )
    every = [entry(c) for c in [*roots, real_root, child]]
    issuers = certificates.Issuers(every)
    assert certificates.warnings(every[-1], issuers, NOW, 30) == []
    assert sum(checks.values()) == 1


def test_a_candidate_without_a_key_identifier_is_still_tried(
    checks: collections.Counter[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate with an authorityKeyIdentifier and issuers without a
    subjectKeyIdentifier (older CAs): those of the right name are tried, within budget."""
    monkeypatch.setattr(budgets, "ISSUER_CANDIDATES", 2)
    child = entry(named("Child", "Old Root", 1, authority_id=b"\x01" * 20))
    other_key = entry(named("Old Root", "Old Root", 2, key_id=b"\x02" * 20))
    without = [entry(named("Old Root", "Old Root", n + 3)) for n in range(5)]
    issuers = certificates.Issuers([child, other_key, *without])
    warned: Any = certificates.warnings(child, issuers, NOW, 30)
    assert sum(checks.values()) == 2
    assert warned[-1].endswith("(only the first 2 of those named as its issuer were checked)")
