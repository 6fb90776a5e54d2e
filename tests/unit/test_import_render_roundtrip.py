"""import(render(x)) gives x's resources back: the samples, and variations of them drawn
by Hypothesis, rendered by obreg's own renderer into product-home-shaped folders (what
``obreg render`` writes per workload is laid out as the product home), then imported.

Resources are compared spec-equal after the normalisation docs/importing.md states:
references are resolved to what they hold (a certificate to its fingerprint, a Secret
key to its value), the object names the import chooses are ignored, and the fields no
product file holds (keyManagerAdmin, freshDatabase, grantTypes, oidcClaim) and baseFiles
(compared by what they render to, in test_import_handmade.py) are left out.
"""

from __future__ import annotations

import base64
import copy
import io
import tempfile
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obreg.cli import PLACEHOLDER_CREDENTIALS, main
from obreg.manifests import Manifests, load

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NS = "obreg-demo"
_SP_FILE_ONLY = ("key_manager_admin", "fresh_database", "grant_types", "oidc_claim", "base_files")


def _value(manifests: Manifests, name: str, key: str, secret: bool) -> bytes:
    store = manifests.secrets if secret else manifests.config_maps
    return store[(NS, name)][key]


def _fingerprints(data: bytes) -> list[str]:
    return [c.fingerprint(hashes.SHA256()).hex() for c in x509.load_pem_x509_certificates(data)]


def normalised(manifests: Manifests) -> dict[str, Any]:
    """Each kind's spec with references resolved and file-less fields dropped."""
    namespace = manifests.namespaces[NS]
    out: dict[str, Any] = {}
    for anchor in namespace.trust_anchors:
        spec = anchor.spec
        certs = {}
        for source in spec.certificates:
            ref = source.config_map_key_ref or source.secret_key_ref
            data = (
                source.inline.encode()
                if source.inline is not None
                else _value(manifests, ref.name, ref.key, source.secret_key_ref is not None)
            )
            certs[source.alias] = _fingerprints(data)
        base = spec.base_keystore
        assert base is not None and base.source.config_map_key_ref is not None
        ref = base.source.config_map_key_ref
        out["OBTrustAnchor"] = {
            "targets": sorted(t.name for t in spec.targets),
            "certificates": certs,
            "base": _value(manifests, ref.name, ref.key, False),
            "output": spec.output.model_dump(),
        }
    for idp in namespace.identity_providers:
        dumped = idp.spec.model_dump(exclude={"client_secret_ref"})
        ref = idp.spec.client_secret_ref
        dumped["client_secret"] = _value(manifests, ref.name, ref.key, True)
        out["OBIdentityProvider"] = dumped
    for sp in namespace.service_providers:
        dumped = sp.spec.model_dump(
            exclude={*_SP_FILE_ONLY, "client_credentials", "identity_provider_ref"}
        )
        creds = sp.spec.client_credentials
        if creds.client_id_ref is None:  # generated: the render shows its placeholders
            dumped["credentials"] = sorted(PLACEHOLDER_CREDENTIALS.values())
        else:
            assert creds.client_secret_ref is not None
            dumped["credentials"] = sorted(
                _value(manifests, r.name, r.key, True)
                for r in (creds.client_id_ref, creds.client_secret_ref)
            )
        out["OBServiceProvider"] = dumped
    return out


def stock_truststore(manifests: Manifests) -> bytes:
    anchor = manifests.namespaces[NS].trust_anchors[0]
    assert anchor.spec.base_keystore is not None
    ref = anchor.spec.base_keystore.source.config_map_key_ref
    assert ref is not None
    return _value(manifests, ref.name, ref.key, False)


def render_then_import(manifests_dir: Path, work: Path, *extra: str) -> tuple[int, str, Path]:
    """Render ``manifests_dir``, import the two workloads' folders; (status, stderr, -o)."""
    rendered, adopted, stock = work / "rendered", work / "adopted", work / "stock.jks"
    work.mkdir(parents=True, exist_ok=True)
    stock.write_bytes(stock_truststore(load([manifests_dir])))
    with redirect_stderr(io.StringIO()):
        assert main(["render", "-f", str(manifests_dir), "-o", str(rendered)]) == 0
    status, err = import_rendered(
        rendered, adopted, "--stock-truststore", str(stock), "-n", NS, *extra
    )
    return status, err, adopted


def import_rendered(rendered: Path, adopted: Path, *extra: str) -> tuple[int, str]:
    """``obreg import`` of the two workloads' folders of a render; (status, stderr)."""
    homes = rendered / NS
    argv = ["--km-home", str(homes / "wso2-km"), "--apim-home", str(homes / "wso2-apim")]
    err = io.StringIO()
    with redirect_stderr(err):
        status = main(["import", *argv, "-o", str(adopted), *extra])
    return status, err.getvalue()


def test_samples_come_back(tmp_path: Path) -> None:
    status, err, adopted = render_then_import(SAMPLES, tmp_path)
    assert (status, err.count("unrepresentable")) == (0, 0), err
    assert normalised(load([adopted])) == normalised(load([SAMPLES]))


def test_secrets_are_labelled_private_and_never_in_a_config_map(tmp_path: Path) -> None:
    _, _, adopted = render_then_import(SAMPLES, tmp_path)
    assert (adopted / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    secrets = list(yaml.safe_load_all((adopted / "secrets.yaml").read_text()))
    assert {s["kind"] for s in secrets} == {"Secret"}
    assert all(s["metadata"]["labels"] == {"obreg.dev/input": "true"} for s in secrets)
    values = [v for s in secrets for v in s["stringData"].values()]
    others = "".join(p.read_text() for p in adopted.glob("*.yaml") if p.name != "secrets.yaml")
    assert values and not [v for v in values if v in others]


def test_placeholders_keep_names_and_keys_but_no_value(tmp_path: Path) -> None:
    _, _, real = render_then_import(SAMPLES, tmp_path / "a")
    _, _, held = render_then_import(SAMPLES, tmp_path / "b", "--secrets=placeholders")
    real_secrets = list(yaml.safe_load_all((real / "secrets.yaml").read_text()))
    held_secrets = list(yaml.safe_load_all((held / "secrets.yaml").read_text()))
    assert [(s["metadata"], sorted(s["stringData"])) for s in held_secrets] == [
        (s["metadata"], sorted(s["stringData"])) for s in real_secrets
    ]
    text = (held / "secrets.yaml").read_text()
    assert not [v for s in real_secrets for v in s["stringData"].values() if v in text]


def _objects() -> list[dict[str, Any]]:
    return [
        d for p in sorted(SAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]


_HOST = st.from_regex(r"[a-z]{1,8}\.example", fullmatch=True)
_WORD = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)


@st.composite
def variations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """The samples with the fields a bank sets by hand drawn anew."""
    objects = copy.deepcopy(_objects())
    by_kind = {o["kind"]: o for o in objects if o["kind"].startswith("OB")}
    anchor, idp, sp = (
        by_kind[k]["spec"] for k in ("OBTrustAnchor", "OBIdentityProvider", "OBServiceProvider")
    )
    aliases = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True),
            min_size=2,
            max_size=2,
            unique=True,
        )
    )
    for source, alias in zip(anchor["certificates"], aliases, strict=True):
        source["alias"] = alias
    directory = draw(_HOST)
    idp.update(
        identityProviderName=draw(_WORD.filter(lambda w: w not in ("default", "LOCAL"))),
        displayName=draw(st.sampled_from(["OB Directory", "Open Banking"])),
        authorizationEndpoint=f"https://{directory}/authorize",
        tokenEndpoint=f"https://{directory}/token",
        queryParameters=draw(st.sampled_from(["scope=openid", "scope=openid&prompt=login"])),
        userIdInClaims=draw(st.booleans()),
        basicAuth=draw(st.booleans()),
        provisioning={
            "enabled": draw(st.booleans()),
            "silent": draw(st.booleans()),
            "userStoreDomain": draw(st.sampled_from(["PRIMARY", "BANK"])),
        },
    )
    if draw(st.booleans()):
        idp.pop("userInfoEndpoint")
    if draw(st.booleans()):
        idp["logoutEndpoint"] = f"https://{directory}/logout"
    if draw(st.booleans()):
        idp["claims"] = {
            "userIdClaim": "sub",
            "mappings": [{"remote": "sub", "local": "http://wso2.org/claims/username"}],
        }
    sp.update(
        applicationName=draw(_WORD.filter(lambda w: w not in ("default", "Console"))),
        saasApp=draw(st.booleans()),
        keyManagerUrl=f"https://{draw(_HOST)}:9446",
        storeUrl=f"https://{draw(_HOST)}:9443",
        signatureAlgorithm=draw(st.sampled_from(["PS256", "ES256"])),
        scope=draw(st.sampled_from(["openid", "openid api_store"])),
        obDirectoryIntegrated=draw(st.booleans()),
        useSoftwareIdAsApplicationName=draw(st.booleans()),
        idColumn=draw(st.booleans()),
        requestedClaims=draw(
            st.lists(
                st.sampled_from(
                    [
                        "http://wso2.org/claims/emailaddress",
                        "http://wso2.org/claims/active",
                        "http://wso2.org/claims/username",
                    ]
                ),
                min_size=1,
                unique=True,
            )
        ),
        applicationAttributes=[
            {"name": f"attr_{i}", "description": f"Attribute {i}", "required": draw(st.booleans())}
            for i in range(draw(st.integers(0, 3)))
        ],
    )
    if draw(st.booleans()):
        sp["clientCredentials"] = {
            "clientIdRef": {"name": "drawn", "key": "id"},
            "clientSecretRef": {"name": "drawn", "key": "secret"},
        }
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "drawn",
                    "namespace": NS,
                    "labels": {"obreg.dev/input": "true"},
                },
                "data": {
                    "id": base64.b64encode(b"drawn-id").decode(),
                    "secret": base64.b64encode(draw(_WORD).encode()).decode(),
                },
            }
        )
    return objects


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objects=variations())
def test_variations_come_back(objects: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as work:
        manifests = Path(work, "manifests")
        manifests.mkdir()
        (manifests / "all.yaml").write_text(yaml.safe_dump_all(objects))
        status, err, adopted = render_then_import(manifests, Path(work))
        assert (status, err.count("unrepresentable")) == (0, 0), err
        assert normalised(load([adopted])) == normalised(load([manifests]))


@pytest.mark.parametrize("missing", ["--stock-truststore"])
def test_the_stock_rule_needs_the_stock_truststore(tmp_path: Path, missing: str) -> None:
    rendered = tmp_path / "rendered"
    with redirect_stderr(io.StringIO()):
        assert main(["render", "-f", str(SAMPLES), "-o", str(rendered)]) == 0
    status, err = import_rendered(rendered, tmp_path / "a")
    assert status == 1 and missing in err
    assert not (tmp_path / "a").exists()
