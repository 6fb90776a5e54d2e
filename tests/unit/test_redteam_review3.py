"""Third review pass: classes of attack the earlier fixes closed for the cases named,
checked here for the cases they did not name. Each test is one rule for a whole class:

1. an OIDC claim obreg makes or remaps on the Key Manager is one of its own, never a
   claim OpenID Connect or WSO2's stock OIDC dialect defines: obreg maps its claim to a
   local claim on the KM (updateExternalClaim) and in a fresh database's
   claim-config.xml, and a claim every application's tokens carry (sub, email) remapped
   to http://wso2.org/claims/active would change every login of the Key Manager;
2. every keystore obreg reads, wherever it comes from, passes the keystore budgets
   (render/keystore_work.py) before a library derives a key from it or decodes it;
3. the key-derivation budget bounds a keystore's counts together, not each count: a
   reader derives a key for each of them;
4. masking secrets in a Key Manager's text takes time linear in the text, whatever the
   secret;
5. a count sealed inside a PKCS12's encrypted content is spent from the same budget,
   before the library that would use it sees the keystore;
6. a truststore alias an anchor names is never one the products look up by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jks
import pytest
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import pkcs12
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from obreg import budgets, diff
from obreg.api import crd, names
from obreg.api.common import WorkloadRef
from obreg.api.kinds import SERVICE_PROVIDER, TRUST_ANCHOR
from obreg.api.service_provider import OidcClaim
from obreg.api.trust_anchor import DEFAULT_PASSWORD, OBTrustAnchorSpec
from obreg.errors import InvalidInput, Label, Where
from obreg.redaction import MASK, redact
from obreg.render import bundle, keystore_work, listing
from tests.hostile_keystores import (
    encrypted_info,
    explicit,
    integer,
    jceks,
    oid,
    pbes2,
    pfx,
    seq,
    shrouded_key_bag,
    tlv,
)
from tests.unit import test_import_handmade as handmade
from tests.unit.test_import_handmade import STOREPASS, TRUSTSTORE, Homes, keytool, run_import

# -- 1. OIDC claims the product defines -------------------------------------------------

# A sample of the claims every OIDC client of the KM reads: the ID token's subject, the
# profile claims and the ones WSO2's own dialect adds.
PRODUCT_CLAIMS = ["sub", "email", "email_verified", "given_name", "groups", "address", "upn"]


@given(st.sampled_from(PRODUCT_CLAIMS), st.data())
def test_a_product_claim_is_refused_in_any_case(claim: str, data: st.DataObject) -> None:
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in claim)
    with pytest.raises(ValidationError, match="reserves"):
        OidcClaim.model_validate({"claimUri": cased})


@pytest.mark.parametrize("claim", ["tpp_associated", "subject_id", "email2", "ob_role"])
def test_a_claim_of_its_own_is_accepted(claim: str) -> None:
    assert OidcClaim.model_validate({"claimUri": claim}).claim_uri == claim


def test_every_reserved_claim_is_refused_and_the_crd_says_so() -> None:
    for claim in names.PRODUCT_OIDC_CLAIMS:
        with pytest.raises(ValidationError):
            OidcClaim.model_validate({"claimUri": claim})
    schema = crd.definition(SERVICE_PROVIDER)["spec"]["versions"][0]["schema"]
    field = schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["oidcClaim"]
    rules = field["properties"]["claimUri"]["x-kubernetes-validations"]
    assert any("'sub'" in r["rule"] for r in rules)


# -- 2. every keystore obreg reads is held to the key-derivation budget -----------------

# `obreg diff` lists the live truststore of obreg-<workload>, as the cluster returns it:
# whoever may edit that ConfigMap (or answers for the API server) chooses its bytes, and
# a PKCS12 of a few hundred bytes may ask for 2^31 MAC iterations.
pristine = handmade.pristine  # the homes as the runbook leaves them, built once
WHERE = Where(Label("OBTrustAnchor", "ns", "cas"), "spec.baseKeystore")
TRUSTSTORE_PATH = "repository/resources/security/client-truststore.p12"


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every keystore handed to cryptography or pyjks, which then derive keys or decode
    it: recorded and refused, never read, so a test of a hostile one stays quick."""
    seen: list[bytes] = []

    def refuse(data: bytes, *_: Any, **__: Any) -> Any:
        seen.append(data)
        raise ValueError("handed over")

    monkeypatch.setattr(pkcs12, "load_pkcs12", refuse)
    monkeypatch.setattr(jks.KeyStore, "loads", refuse)
    yield seen


def _live_bundle() -> bundle.Bundle:
    file = bundle.File(
        TRUSTSTORE_PATH, b"rendered", False, "f", Label("OBTrustAnchor", "ns", "cas")
    )
    return bundle.Bundle(
        "ns", WorkloadRef(name="km"), (file,), listings={TRUSTSTORE_PATH: "# 0 entries\n"}
    )


@pytest.mark.parametrize(
    "hostile",
    [
        pfx(encrypted_info(pbes2(2048)), mac_iterations=2**31 - 1),
        pfx(encrypted_info(pbes2(2**31 - 1))),
        jceks([], secret_keys=1),
    ],
    ids=["MAC", "encryptedData", "JCEKS secret key"],
)
def test_diff_lists_a_live_keystore_only_within_the_budgets(
    hostile: bytes, handed: list[bytes]
) -> None:
    assert listing.of_keystore(hostile, DEFAULT_PASSWORD) is None
    lines = diff.compare(_live_bundle(), {TRUSTSTORE_PATH: hostile}, set())
    assert lines[0] == f"  changed {TRUSTSTORE_PATH} (certificates):"
    assert handed == []


# -- 3. the key-derivation budget is the keystore's, not each count's ------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=budgets.KDF_ITERATIONS), max_size=40))
def test_a_keystore_is_refused_exactly_when_its_counts_together_are_over_the_budget(
    counts: list[int],
) -> None:
    """Each count within the budget, as the first review's rule asked; but a reader
    derives a key for each, so many of them were the budget many times over."""
    data = pfx(*(encrypted_info(pbes2(n)) for n in counts), mac_iterations=2048)
    try:
        keystore_work.check_pkcs12(data, WHERE)
    except InvalidInput as refused:
        assert 2048 + sum(counts) > budgets.KDF_ITERATIONS
        assert "key-derivation iterations" in str(refused)
    else:
        assert 2048 + sum(counts) <= budgets.KDF_ITERATIONS


def test_many_encrypted_safes_at_the_budget_each_are_refused_before_any_derivation(
    handed: list[bytes],
) -> None:
    many = pfx(*[encrypted_info(pbes2(budgets.KDF_ITERATIONS))] * 100)
    assert len(many) < 20_000  # a hundred derivations of a second each, in 20 KB
    with pytest.raises(InvalidInput, match=r"authSafe\[0\]\.encryptedData"):
        keystore_work.load_pkcs12(many, DEFAULT_PASSWORD, WHERE)
    assert handed == []


# -- 4. masking a secret takes time linear in the text --------------------------------

# Every Key Manager fault is masked before anything reads it (km/client.py), with the
# client secret (any text of a Secret marked as obreg's input) and the admin password.
# As a pattern with a whitespace run between each of its words, a secret of k words
# was tried at every word of the fault: k times n steps.


def _by_pattern(text: str, secrets: list[str]) -> str:
    """The masking rule as a pattern states it (as the first review implemented it)."""
    import re
    from xml.sax.saxutils import escape

    forms = {
        f
        for s in secrets
        if s.strip()
        for f in (s, escape(s, {'"': "&quot;", "'": "&apos;"}), escape(s))
    }
    words = {tuple(p for p in re.split(r"\s+", f) if p) for f in forms}
    # Longest first, ties by the words (the first review's left ties to a set's order).
    for each in sorted(words, key=lambda w: (-len(" ".join(w)), w)):
        text = re.sub(r"\s+".join(re.escape(w) for w in each), MASK, text)
    return text


_TEXT = st.text(alphabet="ab<&'\" \t\n\u2028x", max_size=60)


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.lists(_TEXT, max_size=3))
def test_masking_is_the_patterns_rule(text: str, secrets: list[str]) -> None:
    assert redact(text, secrets) == _by_pattern(text, secrets)


# -- 5. a count sealed inside encrypted content is spent like any other ---------------


def _sealed(*bags: bytes, password: str = DEFAULT_PASSWORD, count: int = 2048) -> bytes:
    """An encryptedData ContentInfo whose content really is ``bags``, encrypted as keytool
    does (PBES2: PBKDF2 with HMAC-SHA256, AES-256-CBC)."""
    iv = b"i" * 16
    kdf = PBKDF2HMAC(hashes.SHA256(), 32, b"s" * 8, count)
    encryptor = Cipher(algorithms.AES(kdf.derive(password.encode())), modes.CBC(iv)).encryptor()
    padder = padding.PKCS7(128).padder()
    plain = padder.update(seq(*bags)) + padder.finalize()
    content = seq(
        oid("1.2.840.113549.1.7.1"),
        pbes2(count),
        tlv(0x80, encryptor.update(plain) + encryptor.finalize()),
    )
    return seq(oid("1.2.840.113549.1.7.6"), explicit(seq(integer(0), content)))


def test_a_key_bag_sealed_in_encrypted_content_is_held_to_the_budget(
    handed: list[bytes],
) -> None:
    """The first review left this out of reach: the library decrypts the content and
    derives the sealed key bag's key (2^31 iterations: minutes) in one call."""
    hostile = pfx(_sealed(shrouded_key_bag(pbes2(2**31 - 1))))
    keystore_work.check_pkcs12(hostile, WHERE)  # nothing over the budget is visible
    with pytest.raises(InvalidInput, match=r"authSafe\[0\]\.encryptedData\.content\.bags\[0\]"):
        keystore_work.load_pkcs12(hostile, DEFAULT_PASSWORD, WHERE)
    assert listing.of_keystore(hostile, DEFAULT_PASSWORD) is None
    assert handed == []


def test_sealed_content_within_the_budget_reaches_the_library(handed: list[bytes]) -> None:
    fine = pfx(_sealed(shrouded_key_bag(pbes2(10_000))))
    with pytest.raises(ValueError, match="handed over"):
        keystore_work.load_pkcs12(fine, DEFAULT_PASSWORD, WHERE)
    assert handed == [fine]
    with pytest.raises(InvalidInput, match="password is wrong"):
        keystore_work.load_pkcs12(fine, "not-the-password", WHERE)


# -- 6. an anchor's alias is never one the products look up by name -------------------

# API Manager's gateway verifies self-contained (JWT) access tokens with the certificate
# under gateway_certificate_alias in client-truststore; wso2carbon is the products' own
# certificate, the alias their token and SSO checks default to. An anchor naming either
# put its author's certificate there, with no base keystore to collide with (or with
# replaceExistingAliases): tokens signed by the author's key would be accepted.
PRODUCT_ALIASES = ["gateway_certificate_alias", "wso2carbon"]


@pytest.mark.parametrize("alias", PRODUCT_ALIASES)
@pytest.mark.parametrize("replace", [False, True])
def test_an_anchor_alias_the_products_look_up_is_refused(alias: str, replace: bool) -> None:
    spec = {
        "targets": [{"name": "apim"}],
        "certificates": [{"alias": alias, "inline": "-----BEGIN CERTIFICATE-----"}],
        "replaceExistingAliases": replace,
    }
    with pytest.raises(ValidationError, match="reserves"):
        OBTrustAnchorSpec.model_validate(spec)
    rules = crd.definition(TRUST_ANCHOR)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    source = rules["properties"]["spec"]["properties"]["certificates"]["items"]
    checks = source["properties"]["alias"]["x-kubernetes-validations"]
    assert any(alias in r["rule"] for r in checks)


@pytest.mark.parametrize("alias", ["tpproot", "wso2carbon2", "gateway-certificate-alias"])
def test_a_neighbouring_alias_is_accepted(alias: str) -> None:
    spec = {"targets": [{"name": "apim"}], "certificates": [{"alias": alias, "inline": "x"}]}
    assert OBTrustAnchorSpec.model_validate(spec).certificates[0].alias == alias


@pytest.fixture
def homes(pristine: dict[str, Homes], tmp_path: Path) -> Homes:
    return handmade.copy(pristine[STOREPASS], tmp_path)


def test_the_import_reports_a_product_alias_and_writes_no_anchor_naming_it(
    homes: Homes, tmp_path: Path
) -> None:
    """A home whose truststore holds a CA under a product's alias: the import's anchors
    must not name it (the model would refuse them), and the report says why."""
    store = homes.km / TRUSTSTORE
    exported = keytool(
        "-exportcert", "-rfc", "-alias", "tpproot", "-keystore", str(store),
        "-storepass", homes.password,
    )  # fmt: skip
    (tmp_path / "ca.pem").write_text(exported)
    keytool(
        "-importcert", "-noprompt", "-alias", "gateway_certificate_alias",
        "-file", str(tmp_path / "ca.pem"), "-keystore", str(store), "-storepass", homes.password,
    )  # fmt: skip
    status, err = run_import(homes, tmp_path / "refused")
    assert status == 1 and "gateway_certificate_alias: an alias the products look up" in err
    status, err = run_import(homes, tmp_path / "adopted", "--allow-unrepresentable")
    assert status == 0, err  # its objects pass the model as written
    anchors = (tmp_path / "adopted" / "trust-anchor.yaml").read_text()
    assert "gateway_certificate_alias" not in anchors
