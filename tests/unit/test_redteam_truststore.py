"""Red-team rules for truststores (reproducers 05, 01, 02 and 03 of the red team):

1. a signature is checked only with a key whose check costs a bounded time
   (certificates.checkable): counted, never timed;
2. every alias obreg writes is encoded as Java writes it (modified UTF-8), a base alias
   over budgets.ALIAS_CHARACTERS is refused by its entry number, and a base keystore's
   aliases are made unique without losing a certificate;
3. a base PKCS12 gives exactly the certificates Java trusts (truststore._trusted_bags).
"""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from obreg import budgets
from obreg.errors import InvalidInput, Label, Where
from obreg.render import certificates, truststore
from obreg.render.certificates import Certificate
from obreg.render.inputs import Inputs
from tests.pki import DAY, NOW, issue, keytool_fingerprint
from tests.unit.test_truststore import NS, anchor, keytool_list

WHERE = Where(Label("OBTrustAnchor", NS, "ob-cas"), "spec.baseKeystore")
SIGNER = rsa.generate_private_key(65537, 2048)
N = SIGNER.public_key().public_numbers().n
BASE_REF, B_REF = {"name": "base", "key": "ks"}, {"name": "b", "key": "k"}


def ca(subject: str, issuer: str, public_key: object, signer: object) -> x509.Certificate:
    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    return (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    )


def entry(cert: x509.Certificate) -> Certificate:
    der = cert.public_bytes(serialization.Encoding.DER)
    return Certificate(certificates.derived_alias(cert), der, cert)


ROOT_KEY = ec.generate_private_key(ec.SECP256R1())


def rsa_ca(e: int, n: int = N) -> x509.Certificate:
    """A CA named X whose RSA key is (e, n), itself signed by an EC root."""
    return ca("X", "root", rsa.RSAPublicNumbers(e, n).public_key(), ROOT_KEY)


# --- 1. signature checks only with keys of bounded cost ---------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=2**40).map(lambda e: 2 * e + 1))
def test_an_rsa_key_is_checked_only_with_an_exponent_up_to_2_to_the_32(e: int) -> None:
    reason = certificates.checkable(rsa_ca(e))
    assert (reason is None) == (e <= certificates.RSA_EXPONENT_MAX)
    assert reason is None or "public exponent is over 2^32" in reason


def test_an_rsa_modulus_over_the_budget_is_not_checked() -> None:
    bits = budgets.SIGNATURE_KEY_BITS
    big = (1 << bits) | 1 | (N << 8)  # odd, bits + 1 bits: never factored, never used
    assert big.bit_length() > bits
    assert certificates.checkable(rsa_ca(65537, big)) == f"its RSA key has more than {bits} bits"
    assert certificates.checkable(rsa_ca(65537)) is None
    assert certificates.checkable(ca("e", "e", ROOT_KEY.public_key(), ROOT_KEY)) is None


def test_huge_exponent_issuers_are_never_checked_and_the_warning_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    verify = certificates._verify

    def counted(cert: x509.Certificate, issuer: x509.Certificate) -> None:
        calls.append(1)
        verify(cert, issuer)

    monkeypatch.setattr(certificates, "_verify", counted)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaves = [ca(f"l{i}", "X", leaf_key.public_key(), SIGNER) for i in range(20)]
    huge = [rsa_ca(2**2000 + 2 * i + 1) for i in range(budgets.ISSUER_CANDIDATES)]
    issuers = certificates.Issuers(entry(c) for c in huge + leaves)
    for leaf in leaves:
        found = certificates.warnings(entry(leaf), issuers, NOW, 30)
        assert (
            "its issuer is not among the trust anchors (a certificate named as its issuer was "
            "not checked: its RSA key's public exponent is over 2^32 (65537 is standard))"
        ) in found
    assert calls == []
    # The same CAs with the standard exponent: checked, and the leaves link.
    normal = [rsa_ca(65537)]
    issuers = certificates.Issuers(entry(c) for c in normal + leaves)
    for leaf in leaves:
        assert not any("issuer" in w for w in certificates.warnings(entry(leaf), issuers, NOW, 30))
    assert len(calls) == len(leaves)


# --- 2. aliases as Java writes them; bounded; unique ------------------------------------


def java_write_utf(text: str) -> bytes:
    """DataOutputStream.writeUTF's body, transcribed from the JDK: per UTF-16 unit."""
    units = text.encode("utf-16-be", "surrogatepass")
    out = bytearray()
    for i in range(0, len(units), 2):
        c = int.from_bytes(units[i : i + 2], "big")
        if 0x0001 <= c <= 0x007F:
            out.append(c)
        elif c <= 0x07FF:
            out += bytes([0xC0 | (c >> 6) & 0x1F, 0x80 | c & 0x3F])
        else:
            out += bytes([0xE0 | (c >> 12) & 0x0F, 0x80 | (c >> 6) & 0x3F, 0x80 | c & 0x3F])
    return bytes(out)


@settings(max_examples=300)
@given(st.text())
def test_aliases_are_written_and_read_as_java_does(text: str) -> None:
    encoded = truststore.java_utf(text)
    assert encoded == java_write_utf(text)
    assert not any(byte >= 0xF0 for byte in encoded)
    framed = struct.pack(">H", len(encoded)) + encoded
    assert truststore._JavaKeyStore._read_utf(framed, 0) == (text, len(framed))


def test_a_standard_utf8_four_byte_alias_is_refused_as_java_refuses_it() -> None:
    raw = "stock-\U0001f600".encode()
    with pytest.raises(Exception, match="not modified UTF-8"):
        truststore._JavaKeyStore._read_utf(struct.pack(">H", len(raw)) + raw, 0)


def test_keytool_reads_a_base_alias_outside_the_bmp(tmp_path: Path) -> None:
    base = issue("Base CA")
    root = issue("Anchor Root")
    (tmp_path / "base.pem").write_bytes(base.pem)
    alias = "stock-\U0001f600-ca"
    subprocess.run(
        ["keytool", "-importcert", "-noprompt", "-alias", alias,
         "-file", str(tmp_path / "base.pem"), "-keystore", str(tmp_path / "base.jks"),
         "-storetype", "JKS", "-storepass", "wso2carbon"],
        check=True, capture_output=True,
    )  # fmt: skip
    inputs = Inputs(config_maps={(NS, "base"): {"ks": (tmp_path / "base.jks").read_bytes()}})
    for store_format in ("JKS", "PKCS12"):
        spec = {
            "certificates": [{"alias": "tpproot", "inline": root.pem.decode()}],
            "baseKeystore": {"type": "JKS", "source": {"configMapKeyRef": BASE_REF}},
            "output": {"format": store_format},
        }  # fmt: skip
        store = truststore.render([anchor(spec)], inputs, NOW)
        path = tmp_path / f"out-{store_format}"
        path.write_bytes(store.content)
        assert keytool_list(path, "wso2carbon", store_format) == {
            alias: keytool_fingerprint(base.sha256),
            "tpproot": keytool_fingerprint(root.sha256),
        }


def raw_jks(entries: list[tuple[str, bytes]], password: str = "wso2carbon") -> bytes:
    """A JKS as the JDK writes it, aliases as given (modified UTF-8)."""
    import hashlib

    parts = [b"\xfe\xed\xfe\xed", struct.pack(">II", 2, len(entries))]
    for alias, der in entries:
        name = truststore.java_utf(alias)
        parts += [struct.pack(">IH", 2, len(name)), name, struct.pack(">qH", 0, 5), b"X.509"]
        parts += [struct.pack(">I", len(der)), der]
    body = b"".join(parts)
    return body + hashlib.sha1(password.encode("utf-16-be") + b"Mighty Aphrodite" + body).digest()


ONE, TWO = issue("Base One"), issue("Base Two")


@pytest.mark.parametrize(
    ("store_type", "data", "number"),
    [
        pytest.param(
            "PKCS12",
            pkcs12.serialize_java_truststore(
                [pkcs12.PKCS12Certificate(ONE.cert, b"x" * 70_000)],
                serialization.BestAvailableEncryption(b"wso2carbon"),
            ),
            1,
            id="pkcs12-friendly-name-70000",
        ),
        pytest.param("JKS", raw_jks([("\u0130" * 32_767, ONE.der)]), 1, id="jks-lower-grows"),
        pytest.param(
            "JKS", raw_jks([("A" * 10, TWO.der), ("a" * 65_535, ONE.der)]), 2, id="jks-65535"
        ),
        pytest.param(
            "JKS", raw_jks([("b" * (budgets.ALIAS_CHARACTERS + 1), ONE.der)]), 1, id="jks-256"
        ),
    ],
)
def test_a_base_alias_over_the_budget_is_refused_by_its_entry_number(
    store_type: str, data: bytes, number: int
) -> None:
    spec = {
        "certificates": [{"alias": "tpproot", "inline": issue("Root").pem.decode()}],
        "baseKeystore": {"type": store_type, "source": {"configMapKeyRef": B_REF}},
    }  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        truststore.render([anchor(spec)], Inputs(config_maps={(NS, "b"): {"k": data}}), NOW)
    message = str(refused.value)
    where = f"OBTrustAnchor {NS}/ob-cas: spec.baseKeystore"
    assert message.startswith(f"{where}: entry {number}'s alias")
    assert f"is longer than {budgets.ALIAS_CHARACTERS} characters" in message
    assert len(message) < 300


def test_a_base_alias_at_the_budget_is_kept() -> None:
    alias = "\U0001f600" * budgets.ALIAS_CHARACTERS
    entries = truststore._base_aliases([(alias, ONE.cert)], WHERE)
    assert list(entries) == [alias]
    assert len(truststore.java_utf(alias)) == 6 * budgets.ALIAS_CHARACTERS


POOL = [issue(f"Pool {i}").cert for i in range(4)]
SHAS = [entry(c).sha256 for c in POOL]
NAMES = ["a", "A", "b", *(f"a-{s[:8]}" for s in SHAS), *(f"a-{s[:16]}" for s in SHAS)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(NAMES), st.integers(0, len(POOL) - 1)), min_size=1, max_size=10
    )
)
def test_base_aliases_lose_no_certificate(found: list[tuple[str, int]]) -> None:
    entries = truststore._base_aliases([(name, POOL[i]) for name, i in found], WHERE)
    kept = [e.sha256 for e in entries.values()]
    assert sorted(kept) == sorted({SHAS[i] for _, i in found})  # each once, none lost
    assert all(alias == e.alias for alias, e in entries.items())
    first = {}
    for name, i in found:
        first.setdefault(SHAS[i], name.lower())
    for e in entries.values():
        assert e.alias == first[e.sha256] or e.alias.startswith(first[e.sha256] + "-")


# --- 3. a base PKCS12 gives exactly what Java trusts ------------------------------------


def _openssl_nokeys(tmp_path: Path, pem: bytes, *options: str) -> bytes:
    (tmp_path / "in.pem").write_bytes(pem)
    out = tmp_path / "openssl.p12"
    subprocess.run(
        ["openssl", "pkcs12", "-export", "-nokeys", "-in", str(tmp_path / "in.pem"),
         "-passout", "pass:wso2carbon", "-out", str(out), *options],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


def _keytool_made(tmp_path: Path, pem: bytes) -> bytes:
    (tmp_path / "in.pem").write_bytes(pem)
    out = tmp_path / "keytool.p12"
    subprocess.run(
        ["keytool", "-importcert", "-noprompt", "-alias", "stock", "-file",
         str(tmp_path / "in.pem"), "-keystore", str(out), "-storetype", "PKCS12",
         "-storepass", "wso2carbon"],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


def _java_truststore(encryption: serialization.KeySerializationEncryption) -> bytes:
    return pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(ONE.cert, b"one"), pkcs12.PKCS12Certificate(TWO.cert, None)],
        encryption,
    )


def _plain_cas(encryption: serialization.KeySerializationEncryption) -> bytes:
    return pkcs12.serialize_key_and_certificates(None, None, None, [ONE.cert, TWO.cert], encryption)


MAKERS = {
    "openssl -export -nokeys": lambda tmp: _openssl_nokeys(tmp, ONE.pem + TWO.pem),
    "keytool -importcert": lambda tmp: _keytool_made(tmp, ONE.pem),
    "java truststore, PBES2": lambda tmp: _java_truststore(
        serialization.BestAvailableEncryption(b"wso2carbon")
    ),
    "openssl -export -nokeys -certpbe NONE": lambda tmp: _openssl_nokeys(
        tmp, ONE.pem + TWO.pem, "-certpbe", "NONE"
    ),
    "CAs without the attribute, PBES2": lambda tmp: _plain_cas(
        serialization.BestAvailableEncryption(b"wso2carbon")
    ),
}


def base_pkcs12(data: bytes) -> dict[str, str]:
    spec = {
        "certificates": [{"alias": "tpproot", "inline": issue("Root").pem.decode()}],
        "baseKeystore": {"type": "PKCS12", "source": {"configMapKeyRef": B_REF}},
    }
    store = truststore.render([anchor(spec)], Inputs(config_maps={(NS, "b"): {"k": data}}), NOW)
    aliases = re.findall(r"^alias: (.+)$", store.listing, re.M)
    shas = re.findall(r"^  sha256: (.+)$", store.listing, re.M)
    return {a: keytool_fingerprint(s) for a, s in zip(aliases, shas, strict=True) if a != "tpproot"}


@pytest.mark.parametrize("maker", list(MAKERS))
def test_a_base_pkcs12_gives_what_keytool_trusts(tmp_path: Path, maker: str) -> None:
    data = MAKERS[maker](tmp_path)
    (tmp_path / "base.p12").write_bytes(data)
    listed = subprocess.run(
        ["keytool", "-list", "-v", "-keystore", str(tmp_path / "base.p12"),
         "-storepass", "wso2carbon", "-storetype", "PKCS12"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    java = set(re.findall(r"^\s+SHA256: ([0-9A-F:]+)$", listed, re.M))
    assert set(base_pkcs12(data).values()) == java
    if maker.startswith(("openssl", "CAs without")):
        assert java == set()  # what the red team found: these trusted nothing in Java


def test_certificates_under_legacy_encryption_are_refused() -> None:
    legacy = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .build(b"wso2carbon")
    )
    with pytest.raises(InvalidInput, match="is not PBES2 with AES, so obreg cannot read"):
        base_pkcs12(_java_truststore(legacy))


@pytest.mark.parametrize("entries", [budgets.CERTIFICATES_PER_TRUSTSTORE + 1])
def test_a_base_keystore_over_the_truststore_budget_is_refused_before_it_is_read(
    entries: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget of certificates per truststore holds for the base too, counted from the
    JKS header before pyjks decodes any entry (the red team of obreg import fed a
    5,001-entry JKS through this path; it was decoded whole)."""
    data = raw_jks([(f"e{i}", ONE.der) for i in range(entries)])
    spec = {
        "certificates": [{"alias": "tpproot", "inline": issue("Root").pem.decode()}],
        "baseKeystore": {"type": "JKS", "source": {"configMapKeyRef": B_REF}},
    }  # fmt: skip

    def never(*_: object, **__: object) -> None:
        raise AssertionError("pyjks was asked to read a keystore over the budget")

    monkeypatch.setattr(truststore._JavaKeyStore, "loads", never)
    with pytest.raises(InvalidInput) as refused:
        truststore.render([anchor(spec)], Inputs(config_maps={(NS, "b"): {"k": data}}), NOW)
    assert f"holds {entries} entries, more than the" in str(refused.value)


def test_a_base_keystore_at_the_truststore_budget_is_read() -> None:
    data = raw_jks([(f"e{i}", ONE.der) for i in range(budgets.CERTIFICATES_PER_TRUSTSTORE)])
    assert len(truststore._read_jks(data, "wso2carbon", WHERE)) == 1  # one certificate
