"""Reading CA certificates strictly, and describing them.

Strict because a truststore is a security boundary: a private key in a source is refused
(never skipped), so is a PEM block of another type, a malformed block, or bytes that are
neither PEM nor DER. Each certificate is identified by the SHA-256 of its DER encoding.

Bounded because a source is written by someone obreg does not trust: a PEM source is
scanned in one pass that never looks back (a pattern with ``.*?`` across lines tried
every BEGIN line against the rest of the text: minutes for a source of BEGIN lines with
no END), its certificates are counted before any is parsed, and linking a certificate to
its issuer costs at most ``budgets.ISSUER_CANDIDATES`` signature checks, each with a key
whose cost is bounded (``checkable``): a CA key with a huge RSA exponent made one check
90 times dearer, and a few thousand of them half a minute of every workload's render.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from .. import budgets
from ..errors import InvalidInput, Where

_BEGIN, _END = b"-----BEGIN", b"-----END"
# Anchored where find() stopped; a label holds no '-', so neither pattern backtracks.
_HEADER = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n")
_FOOTER = re.compile(rb"-----END ([A-Z0-9 ]+)-----")


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate with its alias in the truststore."""

    alias: str
    der: bytes
    cert: x509.Certificate

    @functools.cached_property
    def sha256(self) -> str:
        """Kept once computed: issuer linking keys its memo by it."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def is_ca(self) -> bool:
        try:
            return bool(
                self.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            )
        except x509.ExtensionNotFound:
            return False


def readable(cert: x509.Certificate) -> bool:
    """Whether every part obreg reads of a certificate decodes. The library parses
    fields only when asked, so a certificate damaged inside (say, its subject) loads and
    would fail later, in a status or a truststore: this asks for each part at once."""
    try:
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        _ = cert.not_valid_before_utc, cert.not_valid_after_utc, list(cert.extensions)
        cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


@dataclass(frozen=True)
class Limit:
    """At most ``count`` certificates in one source, else ``refusal()``: by default the
    per-source budget; a truststore passes what is left of its own."""

    count: int
    refusal: Callable[[], InvalidInput]


def source_limit(where: Where) -> Limit:
    count = budgets.CERTIFICATES_PER_SOURCE
    return Limit(
        count,
        lambda: where.refuse(
            f"holds more than {count} certificates",
            "a client truststore needs the CAs that issue client certificates; "
            "split the bundle or trim it",
        ),
    )


def parse(data: bytes, where: Where, limit: Limit | None = None) -> list[x509.Certificate]:
    """All certificates in a PEM bundle, or the one certificate of a DER file."""
    found = _parse(data, where, limit or source_limit(where))
    for number, cert in enumerate(found, start=1):
        if not readable(cert):
            raise where.refuse(
                f"certificate {number} is damaged: part of it is not valid X.509",
                "check the file was copied whole",
            )
    return found


def _parse(data: bytes, where: Where, limit: Limit) -> list[x509.Certificate]:
    if _BEGIN in data:
        return _parse_pem(data, where, limit)
    if _is_private_key_der(data):
        raise where.refuse(
            "holds a private key, not a certificate",
            "a truststore source must hold CA certificates only; remove the key",
        )
    if limit.count < 1:  # the truststore's budget is spent; a DER file holds one
        raise limit.refusal()
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    if _looks_like_text(data):
        raise where.refuse(
            "no PEM certificate found",
            "expected -----BEGIN CERTIFICATE----- blocks, or a binary DER certificate",
        )
    raise where.refuse("not a DER certificate", "give a DER (.cer/.der) or PEM (.pem/.crt) file")


@dataclass(frozen=True)
class _Block:
    label: str
    end_label: str
    text: bytes  # from the BEGIN line through the END line


def _pem_blocks(data: bytes, where: Where, limit: Limit) -> list[_Block]:
    """The PEM blocks of ``data`` in one pass: every search starts where the last one
    stopped, so each byte is looked at a bounded number of times whatever the text.
    Text around blocks is skipped (openssl writes subject lines there); a BEGIN line
    that starts no block, or a BEGIN inside a block, makes the whole source malformed.
    The count is checked as each block is found, before any is parsed."""
    def malformed() -> InvalidInput:
        return where.refuse(
            "malformed PEM: a BEGIN line has no matching END line",
            "check the file was copied whole",
        )

    blocks: list[_Block] = []
    start = data.find(_BEGIN)
    while start != -1:
        header = _HEADER.match(data, start)
        if header is None:
            raise malformed()
        footer, at = None, header.end()
        while footer is None:  # the first END line that is a whole END line
            at = data.find(_END, at)
            if at == -1:
                raise malformed()
            footer = _FOOTER.match(data, at)
            at += len(_END)
        if data.find(_BEGIN, header.end(), footer.start()) != -1:
            raise malformed()
        if len(blocks) == limit.count:
            raise limit.refusal()
        blocks.append(
            _Block(
                header.group(1).decode(),
                footer.group(1).decode(),
                data[start : footer.end()],
            )
        )
        start = data.find(_BEGIN, footer.end())
    return blocks


def _parse_pem(data: bytes, where: Where, limit: Limit) -> list[x509.Certificate]:
    certificates = []
    for number, block in enumerate(_pem_blocks(data, where, limit), start=1):
        label, end_label = block.label, block.end_label
        if label != end_label:
            raise where.refuse(f"malformed PEM: block {number} begins {label} but ends {end_label}")
        if "PRIVATE KEY" in label:
            raise where.refuse(
                f"PEM block {number} is a private key ({label})",
                "a truststore source must hold CA certificates only; remove the key",
            )
        if label != "CERTIFICATE":
            raise where.refuse(
                f"PEM block {number} is a {label}, not a CERTIFICATE",
                "give only -----BEGIN CERTIFICATE----- blocks",
            )
        try:
            certificates.append(x509.load_pem_x509_certificate(block.text))
        except ValueError:
            raise where.refuse(
                f"PEM block {number} is not a valid X.509 certificate",
                "check the base64 body was copied whole",
            ) from None
    return certificates


def _is_private_key_der(data: bytes) -> bool:
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:  # encrypted: still a private key
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def _looks_like_text(data: bytes) -> bool:
    try:
        data.decode("ascii")
    except UnicodeDecodeError:
        return False
    return True


def derived_alias(cert: x509.Certificate) -> str:
    """A stable alias for a certificate without an explicit one: its common name in
    keytool's lower-case alias style, plus a fingerprint prefix so two CAs of one name
    never collide."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    base = str(names[0].value) if names else "ca"
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:40] or "ca"
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return f"{slug}-{fingerprint[:8]}"


class Issuers:
    """The certificates of one truststore, indexed to link each to its issuer.

    Linking a certificate costs at most ``budgets.ISSUER_CANDIDATES`` signature checks:
    its candidates are the certificates whose subject is its issuer name, narrowed by key
    identifier when it has one (a candidate whose subjectKeyIdentifier is not the
    certificate's authorityKeyIdentifier did not issue it), and each (certificate,
    issuer) pair is checked at most once. Without the cap, two groups of CAs, each naming
    the other's subject as issuer, had every member of one checked against every member
    of the other: millions of checks from a few thousand certificates."""

    def __init__(self, certificates: Iterable[Certificate]) -> None:
        self._by_name: dict[x509.Name, list[Certificate]] = {}
        self._by_key: dict[tuple[x509.Name, bytes], list[Certificate]] = {}
        self._without_key: dict[x509.Name, list[Certificate]] = {}
        for certificate in certificates:
            subject, key = certificate.cert.subject, _subject_key(certificate.cert)
            self._by_name.setdefault(subject, []).append(certificate)
            if key is None:
                self._without_key.setdefault(subject, []).append(certificate)
            else:
                self._by_key.setdefault((subject, key), []).append(certificate)
        self._checked: dict[tuple[str, str], bool] = {}

    def candidates(self, certificate: Certificate) -> tuple[list[Certificate], bool]:
        """Who may have issued ``certificate``, those of its key identifier first: at
        most the budget, and whether any were left out. Never the certificate itself."""
        cert, budget = certificate.cert, budgets.ISSUER_CANDIDATES
        key = _authority_key(cert)
        pools = (
            [self._by_name.get(cert.issuer, [])]
            if key is None
            else [self._by_key.get((cert.issuer, key), []), self._without_key.get(cert.issuer, [])]
        )
        others = (c for pool in pools for c in pool if c is not certificate)
        found = list(itertools.islice(others, budget + 1))
        return found[:budget], len(found) > budget

    def issued(self, certificate: Certificate, issuer: Certificate) -> bool:
        """Whether ``issuer`` signed ``certificate``, checked once per pair; never
        checked, so False, when ``issuer``'s key is not ``checkable``."""
        pair = (certificate.sha256, issuer.sha256)
        if pair not in self._checked:
            self._checked[pair] = _issued_by(certificate.cert, issuer.cert)
        return self._checked[pair]


# The largest RSA public exponent obreg verifies with. A verification costs one modular
# squaring per bit of the exponent: 65537 (2^16 + 1), what keytool, OpenSSL and every CA
# generate, takes 17; 2^32 allows any exponent seen in practice (3, 17, 65537, the odd
# 32-bit one) at under twice that, while a 3,070-bit exponent took 90 times a normal check.
RSA_EXPONENT_MAX = 2**32


def checkable(cert: x509.Certificate) -> str | None:
    """None when a signature check with ``cert``'s key has a bounded cost, else why not:
    RSA with a modulus of at most ``budgets.SIGNATURE_KEY_BITS`` and a public exponent of
    at most ``RSA_EXPONENT_MAX``; DSA of at most that size; any EC curve cryptography
    loads (named curves only), Ed25519, Ed448 and ML-DSA, all of fixed size."""
    bits = budgets.SIGNATURE_KEY_BITS
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "its key cannot be read"
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size > bits:
            return f"its RSA key has more than {bits} bits"
        if key.public_numbers().e > RSA_EXPONENT_MAX:
            return "its RSA key's public exponent is over 2^32 (65537 is standard)"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return None
    size = getattr(key, "key_size", None)  # DSA's: cryptography deprecates its module
    if isinstance(size, int) and size > bits:
        return f"its DSA key has more than {bits} bits"
    # DSA within the size, and ML-DSA: of fixed size, so bounded; a key that signs
    # nothing (X25519, ML-KEM) fails its check at once.
    return None


def _subject_key(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _authority_key(cert: x509.Certificate) -> bytes | None:
    try:
        extension = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return extension.value.key_identifier


def warnings(
    certificate: Certificate,
    issuers: Issuers,
    now: datetime.datetime,
    warn_days: int,
) -> list[str]:
    """What a platform team should know about a trusted certificate, but which does not
    by itself make it wrong to trust. ``issuers`` holds the whole truststore."""
    cert = certificate.cert
    found: list[str] = []
    if cert.not_valid_before_utc > now:
        found.append(f"not valid before {cert.not_valid_before_utc.isoformat()}")
    left = cert.not_valid_after_utc - now
    if datetime.timedelta(0) <= left < datetime.timedelta(days=warn_days):
        found.append(f"expires in {left.days} days ({cert.not_valid_after_utc.isoformat()})")
    if not certificate.is_ca:
        found.append("not a CA certificate (no basicConstraints CA:TRUE)")
    if cert.issuer != cert.subject:
        candidates, more = issuers.candidates(certificate)
        if not any(issuers.issued(certificate, other) for other in candidates):
            notes = (
                [f"only the first {len(candidates)} of those named as its issuer were checked"]
                if more
                else []
            )
            reasons = sorted({r for c in candidates if (r := checkable(c.cert)) is not None})
            if reasons:
                notes.append(
                    "a certificate named as its issuer was not checked: " + "; ".join(reasons)
                )
            found.append(
                "its issuer is not among the trust anchors"
                + (f" ({'; '.join(notes)})" if notes else "")
            )
    return found


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if checkable(issuer) is not None:
        return False
    try:
        _verify(cert, issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _verify(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """The one place obreg checks a signature (tests count its calls)."""
    cert.verify_directly_issued_by(issuer)
