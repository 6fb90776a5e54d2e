"""The client truststore renderer, checked with the JDK's own keytool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import jks
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from obreg.api.parse import parse
from obreg.api.resource import Resource
from obreg.api.trust_anchor import OBTrustAnchorSpec
from obreg.errors import InvalidInput
from obreg.render import certificates, truststore
from obreg.render.inputs import Inputs
from tests.pki import DAY, NOW, Issued, issue, keytool_fingerprint

NS = "bank"


@pytest.fixture(scope="module")
def root() -> Issued:
    return issue("OB Test Root CA")


@pytest.fixture(scope="module")
def issuing(root: Issued) -> Issued:
    return issue("OB Test Issuing CA", issuer=root)


def anchor(spec: dict[str, Any], name: str = "ob-cas") -> Resource[OBTrustAnchorSpec]:
    spec = {"targets": [{"name": "km"}], **spec}
    obj = {
        "apiVersion": "obreg.dev/v1alpha1",
        "kind": "OBTrustAnchor",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }
    return parse(obj)


def runbook_pair(root: Issued, issuing: Issued) -> list[dict[str, Any]]:
    return [
        {"alias": "tpproot", "inline": root.pem.decode()},
        {"alias": "tppissuer", "inline": issuing.pem.decode()},
    ]


def keytool_list(path: Path, password: str, store_type: str) -> dict[str, str]:
    """alias -> SHA-256 fingerprint, as keytool itself reads the file."""
    out = subprocess.run(
        [
            "keytool",
            "-list",
            "-v",
            "-keystore",
            str(path),
            "-storepass",
            password,
            "-storetype",
            store_type,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    aliases = re.findall(r"^Alias name: (.+)$", out, re.M)
    fingerprints = re.findall(r"^\s+SHA256: ([0-9A-F:]+)$", out, re.M)
    assert "trustedCertEntry" in out
    return dict(zip(aliases, fingerprints, strict=True))


def write(tmp_path: Path, store: truststore.Truststore) -> Path:
    path = tmp_path / Path(store.path).name
    path.write_bytes(store.content)
    return path


@pytest.mark.parametrize("store_format", ["JKS", "PKCS12"])
def test_keytool_reads_the_runbook_aliases(
    tmp_path: Path, root: Issued, issuing: Issued, store_format: str
) -> None:
    store = truststore.render(
        [anchor({"certificates": runbook_pair(root, issuing), "output": {"format": store_format}})],
        Inputs(),
        NOW,
    )
    assert keytool_list(write(tmp_path, store), "wso2carbon", store_format) == {
        "tpproot": keytool_fingerprint(root.sha256),
        "tppissuer": keytool_fingerprint(issuing.sha256),
    }
    suffix = ".jks" if store_format == "JKS" else ".p12"
    assert store.path == f"repository/resources/security/client-truststore{suffix}"


def test_jks_is_byte_for_byte_deterministic(root: Issued, issuing: Issued) -> None:
    spec = {"certificates": runbook_pair(root, issuing)}
    first = truststore.render([anchor(spec)], Inputs(), NOW)
    again = truststore.render([anchor(spec)], Inputs(), NOW + DAY)
    assert first.content == again.content
    assert first.fingerprint == again.fingerprint


def test_pkcs12_fingerprint_is_stable_though_bytes_are_salted(
    root: Issued, issuing: Issued
) -> None:
    spec = {"certificates": runbook_pair(root, issuing), "output": {"format": "PKCS12"}}
    first = truststore.render([anchor(spec)], Inputs(), NOW)
    again = truststore.render([anchor(spec)], Inputs(), NOW)
    assert first.content != again.content  # the reason fingerprints exist
    assert first.fingerprint == again.fingerprint
    changed = truststore.render(
        [anchor({**spec, "certificates": spec["certificates"][:1]})], Inputs(), NOW
    )
    assert changed.fingerprint != first.fingerprint


def test_output_password_from_secret(tmp_path: Path, root: Issued) -> None:
    inputs = Inputs(secrets={(NS, "ts"): {"password": b"s3cret-pw"}})
    spec = {
        "certificates": [{"alias": "tpproot", "inline": root.pem.decode()}],
        "output": {"passwordSecretRef": {"name": "ts", "key": "password"}},
    }
    store = truststore.render([anchor(spec)], inputs, NOW)
    assert keytool_list(write(tmp_path, store), "s3cret-pw", "JKS") == {
        "tpproot": keytool_fingerprint(root.sha256)
    }
    assert store.warnings["ob-cas"] == []
    default = truststore.render([anchor({"certificates": spec["certificates"]})], Inputs(), NOW)
    assert default.warnings["ob-cas"] == ["the truststore uses the default password wso2carbon"]
    assert default.fingerprint != store.fingerprint  # a password change rolls the workload


def test_bundle_der_and_derived_aliases(root: Issued, issuing: Issued) -> None:
    inputs = Inputs(
        secrets={(NS, "cas"): {"root.der": root.der}},
        config_maps={(NS, "bundle"): {"cas.pem": issuing.pem + b"\n" + issue("Other CA").pem}},
    )
    store = truststore.render(
        [
            anchor(
                {
                    "certificates": [
                        {"alias": "tpproot", "secretKeyRef": {"name": "cas", "key": "root.der"}},
                        {"configMapKeyRef": {"name": "bundle", "key": "cas.pem"}},
                    ]
                }
            )
        ],
        inputs,
        NOW,
    )
    aliases = [s.alias for s in store.summaries["ob-cas"]]
    assert aliases[0] == "tpproot"
    assert aliases[1] == f"ob-test-issuing-ca-{issuing.sha256[:8]}"
    assert aliases[2].startswith("other-ca-")


def test_duplicates_are_stored_once(tmp_path: Path, root: Issued) -> None:
    spec = {
        "certificates": [
            {"alias": "tpproot", "inline": root.pem.decode()},
            {"inline": (root.pem + root.pem).decode()},
        ]
    }
    store = truststore.render([anchor(spec)], Inputs(), NOW)
    assert keytool_list(write(tmp_path, store), "wso2carbon", "JKS") == {
        "tpproot": keytool_fingerprint(root.sha256)
    }


def _base_jks(entries: dict[str, Issued], password: str = "wso2carbon") -> bytes:
    return bytes(
        jks.KeyStore.new(
            "jks", [jks.TrustedCertEntry.new(a, c.der) for a, c in entries.items()]
        ).saves(password)
    )


def test_base_keystore_is_kept_underneath(tmp_path: Path, root: Issued, issuing: Issued) -> None:
    stock_a, stock_b = issue("Stock CA A"), issue("Stock CA B")
    inputs = Inputs(
        config_maps={
            (NS, "stock"): {
                "jks": _base_jks({"stocka": stock_a, "stockb": stock_b, "oldroot": root})
            }
        }
    )
    spec = {
        "certificates": runbook_pair(root, issuing),
        "baseKeystore": {"source": {"configMapKeyRef": {"name": "stock", "key": "jks"}}},
    }
    store = truststore.render([anchor(spec)], inputs, NOW)
    # The stock entries stay; the root, already there as "oldroot", is kept once as tpproot.
    assert keytool_list(write(tmp_path, store), "wso2carbon", "JKS") == {
        "stocka": keytool_fingerprint(stock_a.sha256),
        "stockb": keytool_fingerprint(stock_b.sha256),
        "tpproot": keytool_fingerprint(root.sha256),
        "tppissuer": keytool_fingerprint(issuing.sha256),
    }


def pkcs12_base(
    root: Issued, entries: list[tuple[bytes | None, Issued]]
) -> tuple[Inputs, dict[str, Any]]:
    """A base PKCS12 truststore of (friendly name, certificate) in a Secret, and the
    anchor spec that merges it under the root."""
    base = pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(c.cert, name) for name, c in entries],
        serialization.BestAvailableEncryption(b"changeit"),
    )
    inputs = Inputs(secrets={(NS, "stock"): {"p12": base, "pw": b"changeit"}})
    spec = {
        "certificates": [{"alias": "tpproot", "inline": root.pem.decode()}],
        "baseKeystore": {
            "source": {"secretKeyRef": {"name": "stock", "key": "p12"}},
            "type": "PKCS12",
            "passwordSecretRef": {"name": "stock", "key": "pw"},
        },
    }
    return inputs, spec


def test_base_pkcs12_keystore(tmp_path: Path, root: Issued) -> None:
    inputs, spec = pkcs12_base(root, [(b"stock", issue("Stock CA"))])
    store = truststore.render([anchor(spec)], inputs, NOW)
    assert set(keytool_list(write(tmp_path, store), "wso2carbon", "JKS")) == {"stock", "tpproot"}


def test_base_pkcs12_entries_without_a_name_are_numbered_from_one(
    tmp_path: Path, root: Issued
) -> None:
    """A PKCS12 certificate need not carry a friendly name (openssl writes none unless
    asked); such an entry gets the alias entry-<its position>."""
    entries = [(None, issue("First")), (b"named", issue("Second")), (None, issue("Third"))]
    inputs, spec = pkcs12_base(root, entries)
    store = truststore.render([anchor(spec)], inputs, NOW)
    assert set(keytool_list(write(tmp_path, store), "wso2carbon", "JKS")) == {
        "entry-1",
        "named",
        "entry-3",
        "tpproot",
    }


def test_alias_collision_with_base(root: Issued) -> None:
    other = issue("Someone Else")
    inputs = Inputs(config_maps={(NS, "stock"): {"jks": _base_jks({"tpproot": other})}})
    spec: dict[str, Any] = {
        "certificates": [{"alias": "tpproot", "inline": root.pem.decode()}],
        "baseKeystore": {"source": {"configMapKeyRef": {"name": "stock", "key": "jks"}}},
    }
    with pytest.raises(InvalidInput, match="already holds a different certificate"):
        truststore.render([anchor(spec)], inputs, NOW)
    replaced = truststore.render([anchor({**spec, "replaceExistingAliases": True})], inputs, NOW)
    assert [s.sha256 for s in replaced.summaries["ob-cas"]] == [root.sha256]


def test_anchors_of_one_workload_merge(tmp_path: Path, root: Issued, issuing: Issued) -> None:
    first = anchor({"certificates": runbook_pair(root, issuing)[:1]}, name="a-root")
    second = anchor({"certificates": runbook_pair(root, issuing)[1:]}, name="b-issuing")
    store = truststore.render([second, first], Inputs(), NOW)
    assert set(keytool_list(write(tmp_path, store), "wso2carbon", "JKS")) == {
        "tpproot",
        "tppissuer",
    }
    assert (
        "its issuer is not among the trust anchors" not in store.summaries["b-issuing"][0].warnings
    )


def test_warnings(root: Issued, issuing: Issued) -> None:
    leaf = issue("tpp.example", issuer=issuing, ca=False)
    soon = issue("Soon CA", not_after=NOW + 10 * DAY)
    later = issue("Future CA", not_before=NOW + 5 * DAY)
    spec = {
        "expiryWarningDays": 30,
        "certificates": [
            {"alias": "tppissuer", "inline": issuing.pem.decode()},
            {"alias": "leaf", "inline": leaf.pem.decode()},
            {"alias": "soon", "inline": soon.pem.decode()},
            {"alias": "later", "inline": later.pem.decode()},
        ],
    }
    store = truststore.render([anchor(spec)], Inputs(), NOW)
    warnings = {s.alias: s.warnings for s in store.summaries["ob-cas"]}
    assert warnings["tppissuer"] == ["its issuer is not among the trust anchors"]
    assert warnings["leaf"] == ["not a CA certificate (no basicConstraints CA:TRUE)"]
    assert warnings["soon"][0].startswith("expires in 10 days")
    assert warnings["later"][0].startswith("not valid before")
    summary = store.summaries["ob-cas"][0]
    assert summary.subject == "CN=OB Test Issuing CA"
    assert summary.issuer == "CN=OB Test Root CA"
    assert summary.sha256 == issuing.sha256
    assert summary.not_after.endswith("Z")


def test_repeated_pkcs12_names_keep_every_certificate(tmp_path: Path, root: Issued) -> None:
    stock = [issue(f"Stock CA {n}") for n in range(3)]
    inputs, spec = pkcs12_base(root, [(b"Stock", c) for c in [*stock, stock[0]]])
    listed = keytool_list(
        write(tmp_path, truststore.render([anchor(spec)], inputs, NOW)), "wso2carbon", "JKS"
    )
    # Three distinct CAs under three aliases (the exact repeat once), plus the anchor.
    assert sorted(listed.values()) == sorted(keytool_fingerprint(c.sha256) for c in [*stock, root])
    assert "stock" in listed and len(listed) == 4


def test_issuers_are_looked_up_by_name_not_tried_one_by_one(
    root: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linear, not quadratic: each certificate is verified only against certificates
    whose subject is its issuer name."""
    cas = [issue(f"Issuing CA {n}", issuer=root) for n in range(40)]
    tried = 0
    original = truststore.certificates._issued_by

    def counting(cert: Any, issuer: Any) -> bool:
        nonlocal tried
        tried += 1
        return original(cert, issuer)

    monkeypatch.setattr(truststore.certificates, "_issued_by", counting)
    spec = {"certificates": [{"inline": "".join(c.pem.decode() for c in [root, *cas])}]}
    store = truststore.render([anchor(spec)], Inputs(), NOW)
    assert tried == len(cas)  # one look at the root each, never at the 39 siblings
    assert all(not s.warnings for s in store.summaries["ob-cas"])


def test_a_subject_is_never_printed_raw(root: Issued) -> None:
    hostile = issue("Evil\x1b[2J\u202eCA", not_after=NOW + 10 * DAY)
    store = truststore.render(
        [anchor({"certificates": [{"inline": hostile.pem.decode()}]})], Inputs(), NOW
    )
    subject = store.summaries["ob-cas"][0].subject
    assert "\x1b" not in subject and "\u202e" not in subject
    assert "\\u001b[2J\\u202e" in subject
    expired = issue("Old\x1b]0;owned\x07CA", not_before=NOW - 9 * DAY, not_after=NOW - DAY)
    with pytest.raises(InvalidInput) as refused:
        truststore.render(
            [anchor({"certificates": [{"inline": expired.pem.decode()}]})], Inputs(), NOW
        )
    assert "\x1b" not in str(refused.value) and "\\u001b]0\\;owned\\u0007" in str(refused.value)


@pytest.mark.parametrize(
    ("common_name", "slug"),
    [
        ("OB Root CA", "ob-root-ca"),
        ("  --Root CA #1--  ", "root-ca-1"),  # runs of other characters: one dash, none at ends
        ("Ä" * 3, "ca"),  # nothing of a-z0-9 left
        ("x" * 60, "x" * 40),  # at most 40 characters
        (None, "ca"),  # no common name at all
    ],
)
def test_a_derived_alias_is_its_common_name_slugged_and_a_fingerprint(
    common_name: str | None, slug: str
) -> None:
    subject = (
        None
        if common_name is not None
        else x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bank")])
    )
    issued = issue(common_name or "unused", subject=subject)
    assert certificates.derived_alias(issued.cert) == f"{slug}-{issued.sha256[:8]}"
