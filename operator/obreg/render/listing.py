"""A truststore as text a reviewer can read and diff: one block per entry, sorted by
alias, with its subject, issuer, serial, SHA-256 and validity. The same for the same
certificates, whatever the keystore's format or salt, so a change of one CA is a change
of one block. Written by ``obreg render`` beside the truststore (never into obreg's
objects) and compared by ``obreg diff``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import Where, printable
from . import keystore_work

SUFFIX = ".txt"


def of(entries: Iterable[tuple[str, x509.Certificate, bytes]]) -> str:
    """The listing of ``entries`` (alias, certificate, its DER)."""
    blocks = []
    for alias, cert, der in sorted(entries, key=lambda e: e[0]):
        blocks.append(
            "\n".join(
                [
                    f"alias: {printable(alias)}",
                    f"  subject: {printable(cert.subject.rfc4514_string())}",
                    f"  issuer: {printable(cert.issuer.rfc4514_string())}",
                    f"  serial: {cert.serial_number:x}",
                    f"  sha256: {hashlib.sha256(der).hexdigest()}",
                    f"  not-before: {cert.not_valid_before_utc.isoformat()}",
                    f"  not-after: {cert.not_valid_after_utc.isoformat()}",
                ]
            )
        )
    count = len(blocks)
    return f"# {count} {'entry' if count == 1 else 'entries'}\n" + "".join(
        f"{block}\n" for block in blocks
    )


def of_keystore(content: bytes, password: str | None) -> str | None:
    """The listing of a truststore's bytes (JKS needs no password to list; PKCS12 does),
    or None when they cannot be read as one, or not within the keystore budgets: they
    come from the cluster as it is (``obreg diff``), whoever last wrote them."""
    where = Where("the live truststore", "content")
    try:
        if content[:4] == b"\xfe\xed\xfe\xed":
            store = keystore_work.load_jks(content, None, where)
            return of(
                (alias, x509.load_der_x509_certificate(entry.cert), entry.cert)
                for alias, entry in store.certs.items()
            )
        if password is None:
            return None
        loaded = keystore_work.load_pkcs12(content, password, where)
        return of(
            (
                (c.friendly_name or b"").decode("utf-8", "replace"),
                c.certificate,
                c.certificate.public_bytes(Encoding.DER),
            )
            for c in loaded.additional_certs
        )
    except Exception:  # noqa: BLE001 (whatever a damaged store raises: not listable)
        return None
