"""The certificates a base PKCS12 gives Java as trusted entries, and nothing else.

Java's PKCS12 KeyStore makes a certificate bag a trusted entry only when the bag carries
Oracle's trusted-key-usage attribute (2.16.840.1.113894.746875.1.1), which keytool writes
and ``openssl pkcs12 -export -nokeys`` does not (without ``-jdktrust``): keytool lists
such a file as empty, so the product trusts none of its certificates, and neither may
obreg. ``cryptography``'s ``load_pkcs12`` gives no bag attributes (cryptography 46), so
the bags are read here, with der.py, after ``load_pkcs12`` has checked the MAC (so the
password) and ``keystore_work.check_pkcs12`` every iteration count.

Which bags: as Java reads them, the certificate bags (X.509) directly in each SafeContents
of the authenticated safe, never inside a safeContentsBag (Java skips those). A
SafeContents in a ``data`` ContentInfo is read as it is; one in ``encryptedData`` is
decrypted first. keytool (JDK 12 and later) and OpenSSL 3 encrypt certificates with
PBES2: PBKDF2 (HMAC-SHA1/224/256/384/512) and AES-CBC, which is decrypted here with
``cryptography``'s primitives: a few lines, the key derivation bounded by the checked
count, nothing parsed before the MAC is verified. Any other encryption of certificates
(the legacy PKCS#12 PBE with RC2 or 3DES of older keytools and OpenSSL 1.1) is refused,
with the conversion that writes PBES2: obreg cannot tell which of those certificates Java
trusts, and guessing would trust what the product does not, or drop what it does.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ..errors import Where
from .der import (
    DATA,
    ENCRYPTED_DATA,
    OCTET_STRING,
    PBES2,
    PBKDF2,
    SEQUENCE,
    SET,
    DerError,
    Element,
    oid,
    whole,
)

_CERT_BAG = oid("1.2.840.113549.1.12.10.1.3")
_X509_CERTIFICATE = oid("1.2.840.113549.1.9.22.1")
_FRIENDLY_NAME = oid("1.2.840.113549.1.9.20")
_TRUSTED_KEY_USAGE = oid("2.16.840.1.113894.746875.1.1")
_PRFS: dict[bytes, type[hashes.HashAlgorithm]] = {
    oid("1.2.840.113549.2.7"): hashes.SHA1,
    oid("1.2.840.113549.2.8"): hashes.SHA224,
    oid("1.2.840.113549.2.9"): hashes.SHA256,
    oid("1.2.840.113549.2.10"): hashes.SHA384,
    oid("1.2.840.113549.2.11"): hashes.SHA512,
}
_AES_CBC = {oid(f"2.16.840.1.101.3.4.1.{n}"): size for n, size in ((2, 16), (22, 24), (42, 32))}
_BMP_STRING = 0x1E


@dataclass(frozen=True)
class Bag:
    friendly_name: str | None
    der: bytes


def trusted(data: bytes, password: str, where: Where) -> list[Bag]:
    """The trusted certificate bags of a PKCS12 whose MAC ``load_pkcs12`` verified and
    whose counts ``check_pkcs12`` checked, in file order."""
    try:
        return _trusted(data, password, where)
    except (DerError, ValueError):
        raise where.refuse(
            "not a PKCS12 keystore, or a damaged one", "convert it with keytool -importkeystore"
        ) from None


def _trusted(data: bytes, password: str, where: Where) -> list[Bag]:
    pfx = whole(data).expect(SEQUENCE).children()
    kind, content = _content_info(pfx[1])
    if kind != DATA:
        raise DerError("authSafe is not data")
    safes = whole(content.expect(OCTET_STRING).content).expect(SEQUENCE).children()
    found: list[Bag] = []
    for index, safe in enumerate(safes):
        kind, content = _content_info(safe)
        if kind == DATA:
            found += _bags(whole(content.expect(OCTET_STRING).content))
        elif kind == ENCRYPTED_DATA:
            field = f"authSafe[{index}].encryptedData.contentEncryptionAlgorithm"
            found += _bags(whole(decrypt(content, password, field, where)))
    return found


def _content_info(element: Element) -> tuple[bytes, Element]:
    parts = element.expect(SEQUENCE).children()
    if len(parts) != 2:
        raise DerError("a ContentInfo without content")
    return parts[0].expect(0x06).content, parts[1].explicit(0)


def _bags(safe_contents: Element) -> list[Bag]:
    found = []
    for bag in safe_contents.expect(SEQUENCE).children():
        parts = bag.expect(SEQUENCE).children()
        if len(parts) not in (2, 3) or parts[0].expect(0x06).content != _CERT_BAG:
            continue  # keys are refused elsewhere; Java skips other bags
        cert_bag = parts[1].explicit(0).expect(SEQUENCE).children()
        if len(cert_bag) != 2 or cert_bag[0].expect(0x06).content != _X509_CERTIFICATE:
            continue  # an SDSI certificate: Java skips it
        attributes = _attributes(parts[2]) if len(parts) == 3 else {}
        if _TRUSTED_KEY_USAGE not in attributes:
            continue
        name = attributes.get(_FRIENDLY_NAME)
        friendly = None
        if name is not None and name.tag == _BMP_STRING and len(name.content) % 2 == 0:
            friendly = name.content.decode("utf-16-be", "replace")
        found.append(Bag(friendly, cert_bag[1].explicit(0).expect(OCTET_STRING).content))
    return found


def _attributes(element: Element) -> dict[bytes, Element | None]:
    """Each attribute's type and its first value (None when it has none)."""
    found: dict[bytes, Element | None] = {}
    for attribute in element.expect(SET).children():
        parts = attribute.expect(SEQUENCE).children()
        if len(parts) != 2:
            raise DerError("not an Attribute")
        values = parts[1].expect(SET).children()
        found[parts[0].expect(0x06).content] = values[0] if values else None
    return found


def decrypt(encrypted_data: Element, password: str, field: str, where: Where) -> bytes:
    """An encryptedData's content: PBES2 with PBKDF2 and AES-CBC only."""
    info = encrypted_data.expect(SEQUENCE).children()[1].expect(SEQUENCE).children()
    if len(info) != 3:
        raise DerError("an EncryptedContentInfo without content")
    refusal = where.refuse(
        f"the PKCS12 keystore's {field} is not PBES2 with AES, so obreg cannot read which "
        "of its certificates Java trusts",
        "convert it with a current keytool -importkeystore (JDK 12 or later writes PBES2)",
    )
    algorithm = info[1].expect(SEQUENCE).children()
    if len(algorithm) != 2 or algorithm[0].expect(0x06).content != PBES2:
        raise refusal
    derivation, scheme = algorithm[1].expect(SEQUENCE).children()
    kdf = derivation.expect(SEQUENCE).children()
    cipher = scheme.expect(SEQUENCE).children()
    if kdf[0].expect(0x06).content != PBKDF2 or len(cipher) != 2:
        raise refusal
    size = _AES_CBC.get(cipher[0].expect(0x06).content)
    if size is None:
        raise refusal
    params = kdf[1].expect(SEQUENCE).children()
    salt, count = params[0].expect(OCTET_STRING).content, params[1].integer()
    prf: type[hashes.HashAlgorithm] = hashes.SHA1
    rest = params[2:]
    if rest and rest[0].tag == 0x02:  # keyLength: AES's own
        rest = rest[1:]
    if rest:
        chosen = _PRFS.get(rest[0].expect(SEQUENCE).children()[0].expect(0x06).content)
        if chosen is None:
            raise refusal
        prf = chosen
    key = PBKDF2HMAC(prf(), size, salt, count).derive(password.encode())
    iv = cipher[1].expect(OCTET_STRING).content
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    body = info[2].expect(0x80).content  # [0] IMPLICIT OCTET STRING, as DER writes it
    padded = decryptor.update(body) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()
