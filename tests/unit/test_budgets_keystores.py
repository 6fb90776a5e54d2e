"""Rule 2: a base keystore's key-derivation iteration counts are read before any key is
derived, and counts over budgets.KDF_ITERATIONS together are refused naming the field
that went over; a JCEKS
secret key is refused before pyjks deserializes it. The hostile keystores are written
here, element by element; what the libraries do is counted, never timed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jks
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from hypothesis import given, settings
from hypothesis import strategies as st

from obreg import budgets
from obreg.errors import InvalidInput, Label, Where
from obreg.render import keystore_work, truststore
from obreg.render.inputs import Inputs
from tests.hostile_keystores import (
    AES_256_CBC,
    SALT,
    data_info,
    encrypted_info,
    integer,
    jceks,
    nested,
    octets,
    oid,
    pbes2,
    pbmac1,
    pfx,
    pkcs12_pbe,
    seq,
    shrouded_key_bag,
)
from tests.pki import NOW, issue
from tests.unit.test_truststore import NS, anchor

WHERE = Where(Label("OBTrustAnchor", NS, "cas"), "spec.baseKeystore")
HUGE = 2**31 - 1
CA = issue("Keystore CA")


# Each place a count can be, as a keystore asking for ``n`` there, and the field named.
PLACES = {
    "MAC": (lambda n: pfx(encrypted_info(pbes2(2048)), mac_iterations=n), "macData.iterations"),
    "PBMAC1": (
        lambda n: pfx(encrypted_info(pbes2(2048)), mac_algorithm=pbmac1(n)),
        "macData.mac.digestAlgorithm.parameters.keyDerivationFunc.parameters.iterationCount",
    ),
    "encryptedData, PKCS#12 PBE": (
        lambda n: pfx(data_info(), encrypted_info(pkcs12_pbe(n))),
        "authSafe[1].encryptedData.contentEncryptionAlgorithm.parameters.iterations",
    ),
    "encryptedData, PBES2": (
        lambda n: pfx(encrypted_info(pbes2(n))),
        "authSafe[0].encryptedData.contentEncryptionAlgorithm.parameters.keyDerivationFunc"
        ".parameters.iterationCount",
    ),
    "shrouded key bag": (
        lambda n: pfx(data_info(shrouded_key_bag(pkcs12_pbe(2048)), shrouded_key_bag(pbes2(n)))),
        "authSafe[0].data.bags[1].encryptionAlgorithm.parameters.keyDerivationFunc"
        ".parameters.iterationCount",
    ),
    "shrouded key bag in safeContentsBags": (
        lambda n: pfx(data_info(nested(3, shrouded_key_bag(pkcs12_pbe(n))))),
        "authSafe[0].data.bags[0].safeContents.bags[0].safeContents.bags[0].safeContents"
        ".bags[0].encryptionAlgorithm.parameters.iterations",
    ),
}


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every keystore handed to cryptography or pyjks: where keys would be derived."""
    handed: list[bytes] = []
    load_pkcs12, load_jks = pkcs12.load_pkcs12, jks.KeyStore.loads

    def counting_pkcs12(data: bytes, password: bytes | None) -> Any:
        handed.append(data)
        return load_pkcs12(data, password)

    def counting_jks(data: bytes, password: str, **options: Any) -> Any:
        handed.append(data)
        return load_jks(data, password, **options)

    monkeypatch.setattr(truststore.pkcs12, "load_pkcs12", counting_pkcs12)
    monkeypatch.setattr(truststore.jks.KeyStore, "loads", counting_jks)
    yield handed


def render_with_base(data: bytes, kind: str = "PKCS12") -> truststore.Truststore:
    spec = {
        "certificates": [{"alias": "tpproot", "inline": CA.pem.decode()}],
        "baseKeystore": {
            "source": {"secretKeyRef": {"name": "base", "key": "store"}},
            "type": kind,
        },
    }
    return truststore.render([anchor(spec)], Inputs(secrets={(NS, "base"): {"store": data}}), NOW)


@pytest.mark.parametrize(("make", "field"), PLACES.values(), ids=PLACES.keys())
def test_a_count_over_the_budget_is_refused_before_any_key_is_derived(
    make: Any, field: str, derivations: list[bytes]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        render_with_base(make(HUGE))
    assert str(refused.value) == (
        f"OBTrustAnchor {NS}/ob-cas: spec.baseKeystore: the PKCS12 keystore's {field} asks for "
        f"more than {budgets.KDF_ITERATIONS} key-derivation iterations, counted with the "
        "keystore's counts before it (re-create it with keytool, which writes 10,000)"
    )
    assert str(HUGE) not in str(refused.value)
    assert derivations == []
    # Within the budget with the keystore's other counts (2,048 each) is fine.
    keystore_work.check_pkcs12(make(budgets.KDF_ITERATIONS - 2 * 2048), WHERE)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=2**40), min_size=6, max_size=6))
def test_refused_exactly_when_the_counts_together_are_over_the_budget(counts: list[int]) -> None:
    mac, pbmac, pbe, kdf, bag, deep = counts
    data = pfx(
        data_info(shrouded_key_bag(pbes2(bag)), nested(2, shrouded_key_bag(pkcs12_pbe(deep)))),
        encrypted_info(pkcs12_pbe(pbe)),
        encrypted_info(pbes2(kdf)),
        mac_iterations=mac,
        mac_algorithm=pbmac1(pbmac),
    )
    try:
        keystore_work.check_pkcs12(data, WHERE)
    except InvalidInput as refused:
        assert sum(counts) > budgets.KDF_ITERATIONS
        assert "key-derivation iterations" in str(refused)
    else:
        assert sum(counts) <= budgets.KDF_ITERATIONS


@pytest.mark.parametrize(
    "encryption",
    [
        serialization.BestAvailableEncryption(b"changeit"),
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(b"changeit"),
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(b"changeit"),
    ],
    ids=["best available", "PKCS#12 PBE 3DES", "PBES2 AES"],
)
def test_the_files_cryptography_writes_pass_and_their_counts_are_read(
    encryption: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = pkcs12.serialize_java_truststore([pkcs12.PKCS12Certificate(CA.cert, b"ca")], encryption)
    with_key = pkcs12.serialize_key_and_certificates(b"k", CA.key, CA.cert, None, encryption)
    for data in (store, with_key):
        keystore_work.check_pkcs12(data, WHERE)
    monkeypatch.setattr(budgets, "KDF_ITERATIONS", 1)
    for data in (store, with_key):
        with pytest.raises(InvalidInput, match="key-derivation iterations"):
            keystore_work.check_pkcs12(data, WHERE)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            pfx(encrypted_info(seq(oid("2.16.840.1.101.3.4.1.42"), octets(b"i" * 16)))),
            "authSafe[0].encryptedData.contentEncryptionAlgorithm is an encryption obreg does "
            "not read",
        ),
        (
            pfx(
                encrypted_info(
                    seq(
                        oid("1.2.840.113549.1.5.13"),
                        seq(
                            seq(oid("1.3.6.1.4.1.11591.4.11"), seq(SALT, integer(2**20))),
                            AES_256_CBC,
                        ),
                    )
                )
            ),
            "keyDerivationFunc is a key derivation obreg does not read",
        ),
        (b"\x30\x80" + pfx(data_info())[2:] + b"\x00\x00", "BER indefinite-length encoding"),
        (b"not a keystore", "not a PKCS12 keystore, or its password is wrong"),
        (pfx(data_info()) + b"\x00", "not a PKCS12 keystore, or its password is wrong"),
        (b"\x30\x84\x00\x00\x00\x05" + b"\x02\x01\x03\x30\x00", "not a PKCS12 keystore"),
        (b"\x30\x82\xff\xff\x02\x01\x03", "not a PKCS12 keystore"),
    ],
    ids=[
        "unknown encryption",
        "scrypt",
        "BER",
        "not DER",
        "trailing bytes",
        "long length",
        "short",
    ],
)
def test_what_the_walk_cannot_count_is_refused(
    data: bytes, message: str, derivations: list[bytes]
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        render_with_base(data)
    assert derivations == []


def test_bags_nested_past_the_budget_are_refused_without_recursion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budgets, "NESTING_DEPTH", 4)
    keystore_work.check_pkcs12(pfx(data_info(nested(3, shrouded_key_bag(pbes2(1))))), WHERE)
    with pytest.raises(InvalidInput, match="bags nest more than 4 deep"):
        keystore_work.check_pkcs12(pfx(data_info(nested(4, shrouded_key_bag(pbes2(1))))), WHERE)


# --- JKS and JCEKS -----------------------------------------------------------------------


def test_a_jceks_secret_key_is_refused_before_pyjks_reads_it(
    derivations: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    monkeypatch.setattr(
        jks.KeyStore, "_read_java_obj", classmethod(lambda cls, *a, **k: read.append(1))
    )
    key = CA.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    entries = [
        jks.TrustedCertEntry.new("ca", CA.der),
        jks.PrivateKeyEntry.new("key", [CA.der, CA.der], key, "pkcs8"),
    ]
    for data in (jceks(entries, 1), jceks(entries, 2000)):
        with pytest.raises(InvalidInput, match="the base keystore holds key entries"):
            render_with_base(data, "JKS")
    assert derivations == [] and read == []


def test_a_jceks_without_secret_keys_is_read_as_before(derivations: list[bytes]) -> None:
    store = render_with_base(jceks([jks.TrustedCertEntry.new("stock", issue("S").der)]), "JKS")
    assert len(derivations) == 1 and store.content


@pytest.mark.parametrize(
    "data",
    [b"\xce\xce\xce\xce", b"\xfe\xed\xfe\xed"],
    ids=["truncated", "JKS magic only"],
)
def test_a_damaged_jceks_is_left_to_pyjks(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="not a JKS keystore, or a damaged one"):
        render_with_base(data, "JKS")


@pytest.mark.parametrize("magic", [b"\xce\xce\xce\xce", b"\xfe\xed\xfe\xed"], ids=["JCEKS", "JKS"])
def test_an_endless_entry_count_is_refused_by_the_budget(magic: bytes) -> None:
    """A header claiming 2^32 - 1 entries is over the truststore's budget, whatever
    follows: refused before pyjks would try to read them."""
    with pytest.raises(InvalidInput, match="holds 4294967295 entries, more than the"):
        render_with_base(magic + b"\x00\x00\x00\x02\xff\xff\xff\xff", "JKS")


def test_the_jks_written_is_what_pyjks_writes_and_keytool_reads() -> None:
    """The truststore's JKS is joined once (pyjks's own writer is quadratic in entries):
    byte for byte what pyjks writes, notBefore stamps included."""
    cas = [issue(f"JKS CA {n}") for n in range(5)]
    spec = {"certificates": [{"inline": "".join(c.pem.decode() for c in cas)}]}
    store = truststore.render([anchor(spec)], Inputs(), NOW)
    read = jks.KeyStore.loads(store.content, "wso2carbon")
    entries = []
    for alias in read.certs:
        entry = jks.TrustedCertEntry.new(alias, read.certs[alias].cert)
        entry.timestamp = read.certs[alias].timestamp
        entries.append(entry)
    assert bytes(jks.KeyStore.new("jks", entries).saves("wso2carbon")) == store.content
    stamps = {c.sha256: int(c.cert.not_valid_before_utc.timestamp() * 1000) for c in cas}
    assert sorted(e.timestamp for e in read.certs.values()) == sorted(stamps.values())
