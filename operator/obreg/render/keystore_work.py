"""What a base keystore can make obreg compute, checked before any of it is done.

A keystore names how many hash iterations its password's key derivation takes, and the
libraries that read it do them all: a PKCS12 whose MAC asks for 2^31 took minutes.
So before ``cryptography`` sees a PKCS12, ``check_pkcs12`` walks its DER (der.py) and
refuses it when its visible counts together ask for more than ``budgets.KDF_ITERATIONS``,
naming the field that went over:

- ``macData.iterations``, and a PBMAC1 MAC's PBKDF2 ``iterationCount`` (RFC 9579);
- each ``encryptedData`` ContentInfo's ``contentEncryptionAlgorithm``;
- each ``pkcs8ShroudedKeyBag``'s ``encryptionAlgorithm`` in an unencrypted ContentInfo,
  through ``safeContentsBag`` nesting (at most ``budgets.NESTING_DEPTH`` deep);

where an algorithm is PKCS#12 PBE (1.2.840.113549.1.12.1.*) or PKCS#5 PBES1 with
(salt, iterations), or PBES2 (1.2.840.113549.1.5.13) with PBKDF2 (1.2.840.113549.1.5.12).
Any other encryption algorithm, and PBES2 with another key derivation (scrypt's cost
would escape this count), is refused: neither keytool nor OpenSSL writes one.

Inside encrypted content: a key bag sealed inside an ``encryptedData`` names a count of
its own, seen only after decryption, which ``cryptography`` does in the same call that
uses it (a hand-made file's 2^31 there took minutes). So ``load_pkcs12``, the one way
obreg reads a PKCS12, first decrypts each ``encryptedData`` itself (PBES2 with AES only,
as pkcs12_trust.py reads certificates; its count is already spent) and walks the bags
inside as it walks the others, spending from the same budget.

JKS and JCEKS (``check_jks``): pyjks is called without decrypting keys, so a JCEKS
private key's PBE count is never used. A JCEKS secret key entry is a serialized Java
object that pyjks deserializes (copying the rest of the file for each one: quadratic in
entries) before anyone asks for its count; obreg refuses key entries anyway, so the walk
over the entries' framing refuses at the first secret key, before pyjks reads it.
"""

from __future__ import annotations

import struct
from typing import Any

import jks
from cryptography.hazmat.primitives.serialization import pkcs12

from .. import budgets
from ..errors import InvalidInput, Where
from . import pkcs12_trust
from .der import (
    DATA,
    ENCRYPTED_DATA,
    OCTET_STRING,
    PBES2,
    PBKDF2,
    SEQUENCE,
    DerError,
    Element,
    oid,
    whole,
)

_SHROUDED_KEY_BAG = oid("1.2.840.113549.1.12.10.1.2")
_SAFE_CONTENTS_BAG = oid("1.2.840.113549.1.12.10.1.6")
_PBMAC1 = oid("1.2.840.113549.1.5.14")
# PKCS#12 PBE (pbeWithSHAAnd128BitRC4 ... pbeWithSHAAnd40BitRC2-CBC) and PKCS#5 PBES1
# (pbeWithMD2AndDES-CBC ... pbeWithSHA1AndRC2-CBC): parameters (salt, iterations).
_SALT_AND_COUNT = {oid(f"1.2.840.113549.1.12.1.{n}") for n in range(1, 7)} | {
    oid(f"1.2.840.113549.1.5.{n}") for n in (1, 3, 4, 6, 10, 11)
}


def load_pkcs12(data: bytes, password: str, where: Where) -> pkcs12.PKCS12KeyAndCertificates:
    """``cryptography``'s read of a PKCS12 once ``check_pkcs12`` has passed it: the one
    way obreg reads one, whoever wrote it (a base keystore, the live truststore ``obreg
    diff`` lists), so no reader hands the library a count nobody checked. Raises
    InvalidInput from the check, ValueError as ``cryptography`` does."""
    spent = _check(data, where)
    try:
        _walk_sealed(data, password, spent)
    except (ValueError, IndexError):  # not DER as expected, or not this password's
        raise where.refuse(
            "not a PKCS12 keystore, or its password is wrong", "check type and passwordSecretRef"
        ) from None
    return pkcs12.load_pkcs12(data, password.encode())


def _walk_sealed(data: bytes, password: str, spent: _Spent) -> None:
    """Each ``encryptedData``'s bags, decrypted (pkcs12_trust.decrypt: PBES2 with AES
    only, its count already spent), walked as the unencrypted ones are: a key bag sealed
    in one names a count of its own that the library would use (the MAC is not checked
    first: a wrong password fails the padding instead)."""
    pfx = whole(data).expect(SEQUENCE).children()
    _, content = _content_info(pfx[1])
    safes = whole(content.expect(OCTET_STRING).content).expect(SEQUENCE).children()
    for index, safe in enumerate(safes):
        kind, content = _content_info(safe)
        if kind == ENCRYPTED_DATA:
            field = f"authSafe[{index}].encryptedData"
            plain = pkcs12_trust.decrypt(
                content, password, f"{field}.contentEncryptionAlgorithm", spent.where
            )
            _bags(whole(plain), f"{field}.content", spent)


def load_jks(
    data: bytes, password: str | None, where: Where, kind: type[Any] = jks.KeyStore
) -> Any:
    """pyjks's read of a JKS or JCEKS (as ``kind``, a KeyStore class), keys left
    encrypted, once ``check_jks`` has passed it: as ``load_pkcs12``, the one way."""
    check_jks(data, where)
    return kind.loads(data, password, try_decrypt_keys=False)


def check_pkcs12(data: bytes, where: Where) -> None:
    """Refuse a PKCS12 that is not DER, or that asks for more key-derivation iterations
    anywhere obreg can see than the budget allows (see the module's docstring)."""
    _check(data, where)


def _check(data: bytes, where: Where) -> _Spent:
    """``check_pkcs12``, and the iterations its counts spend together."""
    spent = _Spent(where)
    try:
        _walk_pfx(data, spent)
    except DerError as err:
        if err.indefinite:
            raise where.refuse(
                "a PKCS12 keystore in BER indefinite-length encoding, which obreg does not read",
                "convert it with keytool -importkeystore, which writes DER",
            ) from None
        raise where.refuse(
            "not a PKCS12 keystore, or its password is wrong", "check type and passwordSecretRef"
        ) from None
    return spent


def _walk_pfx(data: bytes, where: _Spent) -> None:
    pfx = whole(data).expect(SEQUENCE).children()
    if len(pfx) not in (2, 3) or pfx[0].integer() != 3:
        raise DerError("not a version 3 PFX")
    if len(pfx) == 3:
        mac_data = pfx[2].expect(SEQUENCE).children()
        if len(mac_data) not in (2, 3):
            raise DerError("not a MacData")
        digest_algorithm = mac_data[0].expect(SEQUENCE).children()[0]
        _mac_algorithm(digest_algorithm, "macData.mac.digestAlgorithm", where)
        if len(mac_data) == 3:
            _count(mac_data[2], "macData.iterations", where)
    kind, content = _content_info(pfx[1])
    if kind != DATA:
        raise DerError("authSafe is not data")
    safes = whole(content.expect(OCTET_STRING).content).expect(SEQUENCE).children()
    for index, safe in enumerate(safes):
        field = f"authSafe[{index}]"
        kind, content = _content_info(safe)
        if kind == DATA:
            _bags(whole(content.expect(OCTET_STRING).content), f"{field}.data", where)
        elif kind == ENCRYPTED_DATA:
            encrypted = content.expect(SEQUENCE).children()
            if len(encrypted) < 2:
                raise DerError("not an EncryptedData")
            info = encrypted[1].expect(SEQUENCE).children()
            if len(info) < 2:
                raise DerError("not an EncryptedContentInfo")
            _encryption(info[1], f"{field}.encryptedData.contentEncryptionAlgorithm", where)
        # Any other kind (envelopedData) derives no key from the password.


def _content_info(element: Element) -> tuple[bytes, Element]:
    parts = element.expect(SEQUENCE).children()
    if len(parts) != 2:
        raise DerError("a ContentInfo without content")
    return parts[0].expect(0x06).content, parts[1].explicit(0)


def _bags(safe_contents: Element, field: str, where: _Spent) -> None:
    """Every shrouded key bag's algorithm, through nested safeContentsBags: a stack,
    not recursion, with the nesting capped."""
    pending = [(safe_contents, field, 1)]
    while pending:
        contents, path, depth = pending.pop()
        if depth > budgets.NESTING_DEPTH:
            raise where.refuse(
                f"the PKCS12 keystore's bags nest more than {budgets.NESTING_DEPTH} deep",
                "convert it with keytool -importkeystore",
            )
        for index, bag in enumerate(contents.expect(SEQUENCE).children()):
            parts = bag.expect(SEQUENCE).children()
            if len(parts) < 2:
                raise DerError("not a SafeBag")
            kind, value = parts[0].expect(0x06).content, parts[1].explicit(0)
            bag_path = f"{path}.bags[{index}]"
            if kind == _SHROUDED_KEY_BAG:
                algorithm = value.expect(SEQUENCE).children()[0]
                _encryption(algorithm, f"{bag_path}.encryptionAlgorithm", where)
            elif kind == _SAFE_CONTENTS_BAG:
                pending.append((value, f"{bag_path}.safeContents", depth + 1))


def _encryption(algorithm: Element, field: str, where: _Spent) -> None:
    """A password-based encryption's iteration count, refused over the budget; any
    encryption it cannot count is refused too."""
    kind, parameters = _algorithm(algorithm)
    if kind in _SALT_AND_COUNT and parameters is not None:
        values = parameters.expect(SEQUENCE).children()
        if len(values) != 2:
            raise DerError("not PBE parameters")
        _count(values[1], f"{field}.parameters.iterations", where)
    elif kind == PBES2 and parameters is not None:
        scheme = parameters.expect(SEQUENCE).children()
        if len(scheme) != 2:
            raise DerError("not PBES2 parameters")
        _pbkdf2(scheme[0], f"{field}.parameters.keyDerivationFunc", where)
    else:
        raise where.refuse(
            f"the PKCS12 keystore's {field} is an encryption obreg does not read",
            "convert it with keytool -importkeystore (PBES2 with PBKDF2, or PKCS#12 PBE)",
        )


def _mac_algorithm(algorithm: Element, field: str, where: _Spent) -> None:
    """A plain digest derives with macData.iterations; PBMAC1 with its own PBKDF2."""
    kind, parameters = _algorithm(algorithm)
    if kind == _PBMAC1:
        if parameters is None:
            raise DerError("PBMAC1 without parameters")
        scheme = parameters.expect(SEQUENCE).children()
        if len(scheme) != 2:
            raise DerError("not PBMAC1 parameters")
        _pbkdf2(scheme[0], f"{field}.parameters.keyDerivationFunc", where)


def _pbkdf2(algorithm: Element, field: str, where: _Spent) -> None:
    kind, parameters = _algorithm(algorithm)
    if kind != PBKDF2 or parameters is None:
        raise where.refuse(
            f"the PKCS12 keystore's {field} is a key derivation obreg does not read",
            "convert it with keytool -importkeystore (PBKDF2)",
        )
    values = parameters.expect(SEQUENCE).children()
    if len(values) < 2:
        raise DerError("not PBKDF2 parameters")
    _count(values[1], f"{field}.parameters.iterationCount", where)


def _algorithm(element: Element) -> tuple[bytes, Element | None]:
    parts = element.expect(SEQUENCE).children()
    if not 1 <= len(parts) <= 2:
        raise DerError("not an AlgorithmIdentifier")
    return parts[0].expect(0x06).content, parts[1] if len(parts) == 2 else None


def _count(element: Element, field: str, where: _Spent) -> None:
    """The count is never quoted: the keystore may come from a Secret."""
    where.total += element.integer()
    if where.total > budgets.KDF_ITERATIONS:
        raise where.refuse(
            f"the PKCS12 keystore's {field} asks for more than {budgets.KDF_ITERATIONS} "
            "key-derivation iterations, counted with the keystore's counts before it",
            "re-create it with keytool, which writes 10,000",
        )


class _Spent:
    """The iterations the counts walked so far ask for, together. The budget is the
    keystore's, not each count's: a reader derives a key for every count (the MAC, each
    encryptedData, each key bag), and a keystore of 8,000 encryptedData of 1,000,000
    iterations each fits in a Secret."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.total = 0

    def refuse(self, message: str, hint: str = "") -> InvalidInput:
        return self.where.refuse(message, hint)


_JKS = b"\xfe\xed\xfe\xed"
_JCEKS = b"\xce\xce\xce\xce"
_SECRET_KEY_ENTRY = 3


def check_jks(data: bytes, where: Where) -> None:
    """Refuse, before pyjks deserializes anything: a JKS or JCEKS whose header counts
    more entries than a truststore may hold (pyjks would decode every one, and the
    budget was otherwise checked only on the anchors' certificates), and a JCEKS holding
    a secret key entry. Walks the entries' framing (alias, timestamp, length-prefixed
    certificates and keys) up to the first secret key; any other oddity is left to pyjks,
    whose refusal says more."""
    if data[:4] not in (_JKS, _JCEKS) or len(data) < 12:
        return  # not a keystore: pyjks refuses it
    (count,) = struct.unpack_from(">I", data, 8)
    if count > budgets.CERTIFICATES_PER_TRUSTSTORE:
        raise where.refuse(
            f"the base keystore holds {count} entries, more than the "
            f"{budgets.CERTIFICATES_PER_TRUSTSTORE} a truststore may",
            "a client truststore needs the CAs that issue client certificates; trim it",
        )
    if data[:4] != _JCEKS:
        return  # JKS has no secret key entries
    try:
        at = 12
        for _ in range(count):
            (tag,) = struct.unpack_from(">I", data, at)
            if tag == _SECRET_KEY_ENTRY:
                raise key_entries(where)
            at = _skip_utf(data, at + 4) + 8  # alias, timestamp
            if tag == 1:  # private key: its protected key, then its chain
                at = _skip_data(data, at)
                (chain,) = struct.unpack_from(">I", data, at)
                at += 4
                for _ in range(chain):
                    at = _skip_data(data, _skip_utf(data, at))
            elif tag == 2:  # trusted certificate: type, encoding
                at = _skip_data(data, _skip_utf(data, at))
            else:
                return
    except struct.error:
        return


def key_entries(where: Where) -> InvalidInput:
    """The one refusal of a JKS or JCEKS holding a key, here or after pyjks read it."""
    return where.refuse(
        "the base keystore holds key entries",
        "a client truststore holds trusted certificates only; give the stock truststore",
    )


def _skip_utf(data: bytes, at: int) -> int:
    (length,) = struct.unpack_from(">H", data, at)
    return _within(data, at + 2 + length)


def _skip_data(data: bytes, at: int) -> int:
    (length,) = struct.unpack_from(">I", data, at)
    return _within(data, at + 4 + length)


def _within(data: bytes, at: int) -> int:
    if at > len(data):
        raise struct.error("past the end")
    return at
