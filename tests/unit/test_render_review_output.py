"""What a reviewer reads from ``obreg render``: placeholders for Secrets kept out of the
repository (SealedSecret, ExternalSecret, SOPS, absent), a text listing beside every
truststore, and a JSON summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg.cli import EXIT_REFUSED, main
from tests.bad_inputs import SAMPLES, Docs, anchor, find, sample_documents

IDP_FILE = "obreg-demo/wso2-km/repository/conf/identity/identity-providers/OBDirectory.xml"
STORE = "repository/resources/security/client-truststore.jks"
PLACEHOLDER = "placeholder-not-real-obreg-demo-ob-directory-client-client-secret"


def sealed(docs: Docs) -> None:
    secret = find(docs, "Secret", "ob-directory-client")
    docs.remove(secret)
    docs.append(
        {
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": secret["metadata"],
            "spec": {"encryptedData": {"client-secret": "AgBy3i4OJSWK+PiTySYZZA=="}},
        }
    )


def external(docs: Docs) -> None:
    secret = find(docs, "Secret", "ob-directory-client")
    docs.remove(secret)
    docs.append(
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "directory", "namespace": "obreg-demo"},
            "spec": {
                "target": {"name": "ob-directory-client"},
                "data": [{"secretKey": "client-secret", "remoteRef": {"key": "ob/dir"}}],
            },
        }
    )


def sops(docs: Docs) -> None:
    secret = find(docs, "Secret", "ob-directory-client")
    secret["stringData"] = {"client-secret": "ENC[AES256_GCM,data:3q2+7w==,iv:AA==,type:str]"}
    secret["sops"] = {"age": [{"recipient": "age1example"}], "version": "3.9.0"}


def absent(docs: Docs) -> None:
    docs.remove(find(docs, "Secret", "ob-directory-client"))


SHAPES: dict[str, Callable[[Docs], None]] = {
    "SealedSecret": sealed,
    "ExternalSecret": external,
    "SOPS": sops,
    "absent": absent,
}


def render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], docs: Docs, *flags: str
) -> tuple[int, str, str]:
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    code = main(["render", "-f", str(manifest), "-o", str(tmp_path / "out"), *flags])
    captured = capsys.readouterr()
    assert "internal error" not in captured.err
    return code, captured.out, captured.err


@pytest.mark.parametrize("shape", SHAPES)
def test_a_secret_kept_out_of_the_repository_is_refused_without_placeholders(
    shape: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    SHAPES[shape](docs)
    code, _, err = render(tmp_path, capsys, docs)
    assert code == EXIT_REFUSED
    if shape == "absent":
        assert "Secret obreg-demo/ob-directory-client not found" in err
    else:
        label = {"SOPS": "a SOPS-encrypted Secret", "ExternalSecret": "an ExternalSecret"}
        assert (
            f"Secret obreg-demo/ob-directory-client is only {label.get(shape, 'a ' + shape)} ("
            in err
        )
        assert "--placeholder-secrets" in err
    assert "ENC[" not in err


@pytest.mark.parametrize("shape", SHAPES)
def test_placeholders_stand_in_for_text_values_and_say_which_files_use_them(
    shape: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    SHAPES[shape](docs)
    summary = tmp_path / "summary.json"
    code, _, err = render(
        tmp_path, capsys, docs, "--placeholder-secrets", "--summary-json", str(summary)
    )
    assert code == 0, err
    idp_file = (tmp_path / "out" / IDP_FILE).read_text()
    assert f"<Value>{PLACEHOLDER}</Value>" in idp_file
    assert "ENC[" not in idp_file
    assert (
        "warning: Secret obreg-demo/ob-directory-client is not in the manifests" in err
        and f"placeholders stand in for its values in {IDP_FILE}" in err
    )
    written = json.loads(summary.read_text())
    assert written["placeholderSecrets"] == {"obreg-demo/ob-directory-client": [IDP_FILE]}
    km = next(w for w in written["workloads"] if w["name"] == "wso2-km")
    idp = next(f for f in km["files"] if IDP_FILE.endswith(f["path"]))
    assert idp == {
        "path": IDP_FILE.split("wso2-km/")[1],
        "in": "Secret",
        "placeholders": ["obreg-demo/ob-directory-client"],
    }


def test_a_known_value_is_never_replaced_by_a_placeholder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = render(tmp_path, capsys, sample_documents(), "--placeholder-secrets")
    assert code == 0 and "placeholder-not-real" not in err
    assert "sample-directory-client-secret-not-real" in (tmp_path / "out" / IDP_FILE).read_text()
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert b"placeholder-not-real" not in path.read_bytes(), path


def certificate_from(docs: Docs) -> None:
    sealed(docs)
    anchor(docs)["certificates"][0] = {
        "alias": "tpproot",
        "secretKeyRef": {"name": "ob-directory-client", "key": "ca.pem"},
    }


def base_keystore_password_from(docs: Docs) -> None:
    sealed(docs)
    anchor(docs)["baseKeystore"]["passwordSecretRef"] = {
        "name": "ob-directory-client",
        "key": "store-password",
    }


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (certificate_from, "spec.certificates[0].secretKeyRef"),
        (base_keystore_password_from, "spec.baseKeystore.passwordSecretRef"),
    ],
)
def test_no_placeholder_stands_in_for_a_certificate_or_a_keystore(
    mutate: Callable[[Docs], None], path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    mutate(docs)
    code, _, err = render(tmp_path, capsys, docs, "--placeholder-secrets")
    assert code == EXIT_REFUSED
    assert (
        f"OBTrustAnchor obreg-demo/ob-directory-cas: {path}: Secret "
        "obreg-demo/ob-directory-client is only a SealedSecret ("
    ) in err
    assert "a placeholder cannot stand in for a certificate, keystore or file" in err


def listing(out: Path, workload: str = "wso2-km") -> str:
    return (out / "obreg-demo" / workload / (STORE + ".txt")).read_text()


def test_every_truststore_has_a_listing_beside_it_sorted_by_alias(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = render(tmp_path, capsys, sample_documents())
    assert code == 0, err
    text = listing(tmp_path / "out")
    assert text.startswith("# 3 entries\n")
    blocks = text.split("\nalias: ")
    assert [b.split("\n")[0] for b in blocks[1:]] == ["samplestockca", "tppissuer", "tpproot"]
    root = "alias: tpproot\n" + blocks[3]
    for field in ("subject: CN=obreg Sample Root CA", "issuer: CN=obreg Sample Root CA"):
        assert field in root
    for field in ("serial: ", "sha256: ", "not-before: 2026-01-01T00:00:00+00:00", "not-after: "):
        assert f"\n  {field}" in root
    # The same for the API Manager's truststore, and the same again on another run.
    assert listing(tmp_path / "out", "wso2-apim") == text
    again = tmp_path / "again"
    again.mkdir()
    assert render(again, capsys, sample_documents())[0] == 0
    assert listing(again / "out") == text
    # Never in the objects obreg writes.
    objects = (tmp_path / "out/obreg-demo/wso2-km/obreg-objects.yaml").read_text()
    assert "jks.txt" not in objects


def test_the_summary_names_each_workloads_files_rollout_and_key_manager_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = render(tmp_path, capsys, sample_documents(), "--summary-json", "-")
    assert code == 0
    summary: dict[str, Any] = json.loads(out)  # stdout holds the JSON alone
    assert summary["apiVersion"] == "obreg.dev/render-summary/v1"
    assert summary["keyed"] is False
    km, apim = sorted(summary["workloads"], key=lambda w: w["name"] != "wso2-km")
    assert (km["namespace"], km["kind"], km["name"], km["rollout"]) == (
        "obreg-demo",
        "Deployment",
        "wso2-km",
        "rendered",
    )
    assert {f["path"] for f in km["files"]} >= {STORE}
    assert km["keyManagerSteps"] == [
        "OBServiceProvider apim-store: OAuth app apim_store_ob, OIDC claim tpp_associated, "
        "openid scope"
    ]
    assert apim["keyManagerSteps"] == []
    assert SAMPLES.is_dir()
