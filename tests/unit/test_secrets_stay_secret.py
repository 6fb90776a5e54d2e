"""A secret value never reaches a ConfigMap, an error message, a log line or stdout."""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg.cli import main
from obreg.render import credentials
from obreg.render.credentials import ClientCredentials
from tests.bad_inputs import INPUT

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
IDP_SECRET = "idp-secret-7c1e0b"
SP_SECRET = "sp-secret-91ad4f"
STORE_PASSWORD = "store-password-5e2a"


def scenario(tmp_path: Path, mutate: Any = None) -> Path:
    docs = [
        d for p in sorted(SAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]
    for doc in docs:
        if doc["kind"] == "Secret" and doc["metadata"]["name"] == "ob-directory-client":
            doc["stringData"]["client-secret"] = IDP_SECRET
        if doc["kind"] == "OBServiceProvider":
            doc["spec"]["clientCredentials"] = {
                "clientIdRef": {"name": "store-client", "key": "id"},
                "clientSecretRef": {"name": "store-client", "key": "secret"},
            }
        if doc["kind"] == "OBTrustAnchor":
            doc["spec"]["output"] = {"passwordSecretRef": {"name": "store-client", "key": "pw"}}
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "store-client", "namespace": "obreg-demo", "labels": dict(INPUT)},
            "stringData": {"id": "store-client-id", "secret": SP_SECRET, "pw": STORE_PASSWORD},
        }
    )
    if mutate:
        mutate(docs)
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def assert_clean(text: str) -> None:
    for value in (IDP_SECRET, SP_SECRET, STORE_PASSWORD):
        assert value not in text


def test_config_maps_stdout_and_logs_hold_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    assert main(["render", "-f", str(scenario(tmp_path)), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert_clean(captured.out + captured.err + caplog.text)
    found_in_secrets = ""
    for objects_file in out.rglob("obreg-objects.yaml"):
        config_map, secret = yaml.safe_load_all(objects_file.read_text())
        assert_clean(yaml.safe_dump(config_map))
        found_in_secrets += "".join(
            base64.b64decode(v).decode(errors="replace") for v in secret["data"].values()
        )
    # ...and they are where they belong.
    assert IDP_SECRET in found_in_secrets and SP_SECRET in found_in_secrets


def _wrong_field(docs: list[dict[str, Any]]) -> None:
    """A secret pasted where a URL belongs, and one in an over-long field."""
    for doc in docs:
        if doc["kind"] == "OBIdentityProvider":
            doc["spec"]["tokenEndpoint"] = f"http://{IDP_SECRET}"
            doc["spec"]["displayName"] = SP_SECRET * 30  # too long


def test_error_messages_hold_no_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["render", "-f", str(scenario(tmp_path, _wrong_field)), "-o", str(tmp_path / "out")])
        == 1
    )
    captured = capsys.readouterr()
    assert "spec.tokenEndpoint" in captured.err and "spec.displayName" in captured.err
    assert_clean(captured.out + captured.err)


def test_generated_credentials_are_fresh_url_safe_and_long() -> None:
    """A generated secret has 256 bits (43 URL-safe characters) and the id 192, so an id
    never collides with another application's; every call makes new ones."""
    first, second = credentials.generate(), credentials.generate()
    assert set(first) == {credentials.CLIENT_ID_KEY, credentials.CLIENT_SECRET_KEY}
    assert len(first[credentials.CLIENT_ID_KEY]) == 32
    assert len(first[credentials.CLIENT_SECRET_KEY]) == 43
    for value in (*first.values(), *second.values()):
        assert re.fullmatch(rb"[A-Za-z0-9_-]+", value)
    assert first[credentials.CLIENT_ID_KEY] != second[credentials.CLIENT_ID_KEY]
    assert first[credentials.CLIENT_SECRET_KEY] != second[credentials.CLIENT_SECRET_KEY]


def test_credentials_repr_hides_the_secret() -> None:
    assert SP_SECRET not in repr(ClientCredentials("id", SP_SECRET))


# -- whatever comes from a Secret stays in a Secret ------------------------------------

TRUSTSTORE = "repository/resources/security/client-truststore.jks"
KM_FILES = {
    "identityXml": "repository/conf/identity/identity.xml",
    "claimConfigXml": "repository/conf/claim-config.xml",
    "oidcScopeConfigXml": "repository/conf/identity/oidc-scope-config.xml",
}
APIM_FILES = {
    "siteJson": "repository/deployment/server/jaggeryapps/store/site/conf/site.json",
    "openBankingXml": "repository/conf/finance/open-banking.xml",
    "apiManagerXml": "repository/conf/api-manager.xml",
    "localeDefault": "repository/deployment/server/jaggeryapps/store/site/conf/locales/"
    "jaggery/locale_default.json",
    "localeEn": "repository/deployment/server/jaggeryapps/store/site/conf/locales/"
    "jaggery/locale_en.json",
}
MARKER = "moved-into-a-secret-3f9c"


def _find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"]))


def _secret(docs: list[dict[str, Any]], key: str, value: bytes) -> dict[str, Any]:
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "moved", "namespace": "obreg-demo", "labels": dict(INPUT)},
            "data": {key: base64.b64encode(value).decode()},
        }
    )
    return {"secretKeyRef": {"name": "moved", "key": key}}


def _base_file_moved(field_name: str) -> Any:
    """A base file read from a Secret instead of the ConfigMap, with a marker in it."""

    def mutate(docs: list[dict[str, Any]]) -> bytes:
        spec = _find(docs, "OBServiceProvider")["spec"]
        key = spec["baseFiles"][field_name]["configMapKeyRef"]["key"]
        text = _find(docs, "ConfigMap", "wso2-base-files")["data"][key]
        if text.lstrip().startswith("<"):
            head, rest = text.split("?>", 1) if text.startswith("<?xml") else ("", text)
            text = f"{head}?>\n<!-- {MARKER} -->{rest}" if head else f"<!-- {MARKER} -->\n{text}"
        else:
            text = text.replace("{", f'{{\n    "{MARKER}": 1,', 1)
        spec["baseFiles"][field_name] = _secret(docs, key, text.encode())
        return MARKER.encode()

    return mutate


def _anchor_certificate(docs: list[dict[str, Any]]) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    spec = _find(docs, "OBTrustAnchor")["spec"]
    pem = _find(docs, "ConfigMap", "ob-directory-cas")["data"]["root-ca.pem"]
    spec["certificates"][0] = {"alias": "tpproot", **_secret(docs, "ca.pem", pem.encode())}
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)


def _base_keystore(docs: list[dict[str, Any]]) -> bytes:
    import jks

    spec = _find(docs, "OBTrustAnchor")["spec"]
    store = base64.b64decode(
        _find(docs, "ConfigMap", "ob-directory-cas")["binaryData"]["client-truststore.jks"]
    )
    spec["baseKeystore"]["source"] = _secret(docs, "store.jks", store)
    entries = jks.KeyStore.loads(store, "wso2carbon").certs
    return next(iter(entries.values())).cert  # a DER certificate only the base holds


def _password(field: str) -> Any:
    def mutate(docs: list[dict[str, Any]]) -> bytes:
        spec = _find(docs, "OBTrustAnchor")["spec"]
        ref = _secret(docs, "pw", b"wso2carbon")["secretKeyRef"]
        if field == "output":
            spec["output"] = {"passwordSecretRef": ref}
        else:
            spec["baseKeystore"]["passwordSecretRef"] = ref
        return b""

    return mutate


MOVES = [
    ("a CA certificate", _anchor_certificate, {"wso2-km": TRUSTSTORE, "wso2-apim": TRUSTSTORE}),
    ("the base keystore", _base_keystore, {"wso2-km": TRUSTSTORE, "wso2-apim": TRUSTSTORE}),
    ("the base keystore's password", _password("base"), {"wso2-km": TRUSTSTORE}),
    ("the truststore password", _password("output"), {"wso2-apim": TRUSTSTORE}),
    *[(f"baseFiles.{f}", _base_file_moved(f), {"wso2-km": p}) for f, p in KM_FILES.items()],
    *[(f"baseFiles.{f}", _base_file_moved(f), {"wso2-apim": p}) for f, p in APIM_FILES.items()],
]


@pytest.mark.parametrize(("mutate", "placed"), [m[1:] for m in MOVES], ids=[m[0] for m in MOVES])
def test_a_file_made_from_a_secret_goes_to_the_secret(
    tmp_path: Path, mutate: Any, placed: dict[str, str]
) -> None:
    docs = [
        d for p in sorted(SAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]
    marker = mutate(docs)
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    out = tmp_path / "out"
    assert main(["render", "-f", str(manifest), "-o", str(out)]) == 0
    for workload in ("wso2-km", "wso2-apim"):
        config_map, secret = yaml.safe_load_all(
            (out / "obreg-demo" / workload / "obreg-objects.yaml").read_text()
        )
        in_config_map = {k: v.encode() for k, v in (config_map.get("data") or {}).items()}
        in_config_map |= {
            k: base64.b64decode(v) for k, v in (config_map.get("binaryData") or {}).items()
        }
        if marker:
            assert not any(marker in value for value in in_config_map.values())
        if workload in placed:
            key = placed[workload].replace("/", "__")
            assert key in secret["data"] and key not in in_config_map
            written = out / "obreg-demo" / workload / placed[workload]
            assert oct(written.stat().st_mode & 0o777) == "0o600"


def test_a_trailing_newline_is_removed_from_every_secret_value_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def newline(docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            if doc["kind"] == "Secret" and doc["metadata"]["name"] == "ob-directory-client":
                doc["stringData"]["client-secret"] = IDP_SECRET + "\n"
            if doc["kind"] == "Secret" and doc["metadata"]["name"] == "store-client":
                doc["stringData"] = {k: v + "\r\n" for k, v in doc["stringData"].items()}

    out = tmp_path / "out"
    assert main(["render", "-f", str(scenario(tmp_path, newline)), "-o", str(out)]) == 0
    printed = capsys.readouterr().err  # warnings go to stderr
    for secret, key in (("ob-directory-client", "client-secret"), ("store-client", "secret")):
        assert f"Secret obreg-demo/{secret} key '{key}': surrounding whitespace" in printed
    idp_file = (
        out / "obreg-demo/wso2-km/repository/conf/identity/identity-providers/OBDirectory.xml"
    )
    assert f"<Value>{IDP_SECRET}</Value>" in idp_file.read_text()
    site = (out / "obreg-demo/wso2-apim" / APIM_FILES["siteJson"]).read_text()
    assert f'"clientSecret": "{SP_SECRET}"' in site
    assert '"clientId": "store-client-id"' in site


def test_a_refusal_never_lists_a_secrets_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever may name a Secret in a resource may not read it: a wrong key is told, the
    keys the Secret does hold are not (a ConfigMap's are, to help)."""

    def wrong_key(docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            if doc["kind"] == "OBTrustAnchor":
                doc["spec"]["output"] = {"passwordSecretRef": {"name": "store-client", "key": "x"}}

    out = tmp_path / "out"
    assert main(["render", "-f", str(scenario(tmp_path, wrong_key)), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Secret obreg-demo/store-client has no key 'x'" in err
    assert not any(key in err for key in ("'id'", "'secret'", "'pw'", " id,", "pw"))
