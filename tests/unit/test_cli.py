"""``obreg render`` end to end on the samples: layout, placement and determinism."""

from __future__ import annotations

import base64
import filecmp
from pathlib import Path

import pytest
import yaml

from obreg.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
KM = [
    "repository/conf/claim-config.xml",
    "repository/conf/identity/identity-providers/OBDirectory.xml",
    "repository/conf/identity/identity.xml",
    "repository/conf/identity/oidc-scope-config.xml",
    "repository/conf/identity/service-providers/apim_store_ob.xml",
    "repository/resources/security/client-truststore.jks",
]
APIM = [
    "repository/conf/api-manager.xml",
    "repository/conf/finance/open-banking.xml",
    "repository/deployment/server/jaggeryapps/store/site/conf/locales/jaggery/locale_default.json",
    "repository/deployment/server/jaggeryapps/store/site/conf/locales/jaggery/locale_en.json",
    "repository/deployment/server/jaggeryapps/store/site/conf/site.json",
    "repository/resources/security/client-truststore.jks",
]


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert main(["render", "-f", str(SAMPLES), "-o", str(out)]) == 0
    return out


def test_layout(rendered: Path) -> None:
    ns = rendered / "obreg-demo"
    assert files_under(ns / "wso2-km") == sorted([*KM, "obreg-objects.yaml"])
    assert files_under(ns / "wso2-apim") == sorted([*APIM, "obreg-objects.yaml"])
    # Generated credentials are the operator's to make: the render writes no Secret for them.
    assert sorted(p.name for p in ns.iterdir()) == ["wso2-apim", "wso2-km"]


def test_objects_place_secret_files_in_the_secret(rendered: Path) -> None:
    config_map, secret = yaml.safe_load_all(
        (rendered / "obreg-demo" / "wso2-apim" / "obreg-objects.yaml").read_text()
    )
    assert config_map["kind"] == "ConfigMap" and secret["kind"] == "Secret"
    assert config_map["metadata"]["name"] == secret["metadata"]["name"] == "obreg-wso2-apim"
    site_key = APIM[4].replace("/", "__")
    assert list(secret["data"]) == [site_key]
    assert set(config_map["data"]) | set(config_map["binaryData"]) == {
        p.replace("/", "__") for p in APIM if p != APIM[4]
    }
    # The object's content is the file's content.
    site = rendered / "obreg-demo" / "wso2-apim" / APIM[4]
    assert base64.b64decode(secret["data"][site_key]) == site.read_bytes()
    assert oct(site.stat().st_mode & 0o777) == "0o600"
    km_cm, km_secret = yaml.safe_load_all(
        (rendered / "obreg-demo" / "wso2-km" / "obreg-objects.yaml").read_text()
    )
    # The IdP file (client secret) and the SP file (client id, read from a Secret).
    assert list(km_secret["data"]) == [KM[1].replace("/", "__"), KM[4].replace("/", "__")]
    assert (
        km_cm["metadata"]["annotations"]["obreg.dev/digest"]
        == km_secret["metadata"]["annotations"]["obreg.dev/digest"]
    )


def test_same_input_same_bytes(tmp_path: Path, rendered: Path) -> None:
    # Generated credentials are shown as stable placeholders, so every render is the same.
    again = tmp_path / "again"
    assert main(["render", "-f", str(SAMPLES), "-o", str(again)]) == 0
    for workload in ("wso2-km", "wso2-apim"):
        left, right = rendered / "obreg-demo" / workload, again / "obreg-demo" / workload
        names = files_under(left)
        assert names == files_under(right)
        match, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
        assert mismatch == [] and errors == []
