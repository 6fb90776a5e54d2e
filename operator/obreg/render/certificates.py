"""Reading CA certificates strictly, and describing them.

Strict because a truststore is a security boundary: a private key in a source is refused
(never skipped), so is a PEM block of another type, a malformed block, or bytes that are
neither PEM nor DER. Each certificate is identified by the SHA-256 of its DER encoding.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ..errors import Where

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END ([A-Z0-9 ]+)-----", re.DOTALL
)


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate with its alias in the truststore."""

    alias: str
    der: bytes
    cert: x509.Certificate

    @property
    def sha256(self) -> str:
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


def parse(data: bytes, where: Where) -> list[x509.Certificate]:
    """All certificates in a PEM bundle, or the one certificate of a DER file."""
    found = _parse(data, where)
    for number, cert in enumerate(found, start=1):
        if not readable(cert):
            raise where.refuse(
                f"certificate {number} is damaged: part of it is not valid X.509",
                "check the file was copied whole",
            )
    return found


def _parse(data: bytes, where: Where) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        return _parse_pem(data, where)
    if _is_private_key_der(data):
        raise where.refuse(
            "holds a private key, not a certificate",
            "a truststore source must hold CA certificates only; remove the key",
        )
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


def _parse_pem(data: bytes, where: Where) -> list[x509.Certificate]:
    blocks = list(_PEM_BLOCK.finditer(data))
    if not blocks or data.count(b"-----BEGIN") != len(blocks):
        raise where.refuse(
            "malformed PEM: a BEGIN line has no matching END line",
            "check the file was copied whole",
        )
    certificates = []
    for number, block in enumerate(blocks, start=1):
        label, end_label = block.group(1).decode(), block.group(3).decode()
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
            certificates.append(x509.load_pem_x509_certificate(block.group(0)))
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


Issuers = Mapping[x509.Name, Sequence[Certificate]]


def by_subject(certificates: Iterable[Certificate]) -> Issuers:
    """Certificates indexed by subject, so finding a certificate's issuer looks only at
    those whose subject is its issuer name: linear in the truststore, not quadratic."""
    index: dict[x509.Name, list[Certificate]] = {}
    for certificate in certificates:
        index.setdefault(certificate.cert.subject, []).append(certificate)
    return index


def warnings(
    certificate: Certificate,
    issuers: Issuers,
    now: datetime.datetime,
    warn_days: int,
) -> list[str]:
    """What a platform team should know about a trusted certificate, but which does not
    by itself make it wrong to trust. ``issuers`` is ``by_subject`` of the truststore."""
    cert = certificate.cert
    found: list[str] = []
    if cert.not_valid_before_utc > now:
        found.append(f"not valid before {cert.not_valid_before_utc.isoformat()}")
    left = cert.not_valid_after_utc - now
    if datetime.timedelta(0) <= left < datetime.timedelta(days=warn_days):
        found.append(f"expires in {left.days} days ({cert.not_valid_after_utc.isoformat()})")
    if not certificate.is_ca:
        found.append("not a CA certificate (no basicConstraints CA:TRUE)")
    if cert.issuer != cert.subject and not any(
        _issued_by(cert, other.cert)
        for other in issuers.get(cert.issuer, ())
        if other is not certificate
    ):
        found.append("its issuer is not among the trust anchors")
    return found


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
