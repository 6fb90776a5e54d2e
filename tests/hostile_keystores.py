"""Keystores written element by element, as no library would write them: PKCS12 files
whose key-derivation counts sit anywhere one can be, and JCEKS files with secret keys.
Shared by the budget tests and the bad-input table."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import jks

from obreg.render import der


def tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True))


def octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def oid(dotted: str) -> bytes:
    return tlv(0x06, der.oid(dotted))


def explicit(content: bytes) -> bytes:
    return tlv(0xA0, content)


SALT = octets(b"s" * 8)
SHA256 = seq(oid("2.16.840.1.101.3.4.2.1"), tlv(0x05, b""))
HMAC_SHA256 = seq(oid("1.2.840.113549.2.9"), tlv(0x05, b""))
AES_256_CBC = seq(oid("2.16.840.1.101.3.4.1.42"), octets(b"i" * 16))


def pkcs12_pbe(iterations: int) -> bytes:  # pbeWithSHAAnd40BitRC2-CBC
    return seq(oid("1.2.840.113549.1.12.1.6"), seq(SALT, integer(iterations)))


def pbkdf2(iterations: int) -> bytes:
    return seq(oid("1.2.840.113549.1.5.12"), seq(SALT, integer(iterations), HMAC_SHA256))


def pbes2(iterations: int) -> bytes:
    return seq(oid("1.2.840.113549.1.5.13"), seq(pbkdf2(iterations), AES_256_CBC))


def data_info(*bags: bytes) -> bytes:
    return seq(oid("1.2.840.113549.1.7.1"), explicit(octets(seq(*bags))))


def encrypted_info(algorithm: bytes) -> bytes:
    content = seq(oid("1.2.840.113549.1.7.1"), algorithm, tlv(0x80, b"x" * 32))
    return seq(oid("1.2.840.113549.1.7.6"), explicit(seq(integer(0), content)))


def shrouded_key_bag(algorithm: bytes) -> bytes:
    return seq(oid("1.2.840.113549.1.12.10.1.2"), explicit(seq(algorithm, octets(b"k" * 32))))


def safe_contents_bag(*bags: bytes) -> bytes:
    return seq(oid("1.2.840.113549.1.12.10.1.6"), explicit(seq(*bags)))


def pfx(*safes: bytes, mac_iterations: int = 2048, mac_algorithm: bytes = SHA256) -> bytes:
    mac = seq(seq(mac_algorithm, octets(b"m" * 32)), SALT, integer(mac_iterations))
    return seq(integer(3), data_info_of(seq(*safes)), mac)


def data_info_of(authenticated_safe: bytes) -> bytes:
    return seq(oid("1.2.840.113549.1.7.1"), explicit(octets(authenticated_safe)))


def pbmac1(iterations: int) -> bytes:
    return seq(oid("1.2.840.113549.1.5.14"), seq(pbkdf2(iterations), HMAC_SHA256))


def nested(depth: int, bag: bytes) -> bytes:
    for _ in range(depth):
        bag = safe_contents_bag(bag)
    return bag


def utf(text: str) -> bytes:
    return struct.pack(">H", len(text)) + text.encode()


def secret_key_entry(alias: str) -> bytes:
    """A JCEKS secret key: tag 3, alias, timestamp, then a Java object stream (a sealed
    object whose PBE asks for 2^31 iterations, were it ever read)."""
    return (
        struct.pack(">I", 3) + utf(alias) + struct.pack(">Q", 0) + b"\xac\xed\x00\x05" + b"j" * 64
    )


def jceks(entries: list[Any], secret_keys: int = 0) -> bytes:
    """A JCEKS of ``entries`` then ``secret_keys`` secret keys. pyjks writes only JKS,
    whose framing JCEKS shares: its magic changed and its integrity hash made again."""
    store = bytes(jks.KeyStore.new("jks", entries).saves("wso2carbon"))
    body = (
        b"\xce\xce\xce\xce"
        + store[4:8]
        + struct.pack(">I", len(entries) + secret_keys)
        + store[12:-20]
        + b"".join(secret_key_entry(f"s{n}") for n in range(secret_keys))
    )
    whitening = "wso2carbon".encode("utf-16be") + b"Mighty Aphrodite"
    return body + hashlib.sha1(whitening + body).digest()
