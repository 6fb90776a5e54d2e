"""A secret value never reaches a ConfigMap, an error message, a log line or stdout."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg.cli import main
from obreg.render.credentials import ClientCredentials

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
            "metadata": {"name": "store-client", "namespace": "obreg-demo"},
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


def test_credentials_repr_hides_the_secret() -> None:
    assert SP_SECRET not in repr(ClientCredentials("id", SP_SECRET))
