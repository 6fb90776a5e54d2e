"""The committed CRDs are what the models generate, and describe every field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import chart_crds
from obreg.api import crd

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds" / "obreg.dev.yaml"


def test_committed_crds_are_fresh() -> None:
    assert CRDS.read_text() == crd.render_all(), (
        "crds/ is stale: run `obreg crds > crds/obreg.dev.yaml`"
    )


def test_the_charts_crd_template_is_fresh() -> None:
    """helm renders charts/obreg/templates/crds.yaml; kubectl users apply crds/: one
    definition (tests/e2e/test_chart_values.py compares what helm renders with it)."""
    assert chart_crds.TEMPLATE.read_text() == chart_crds.generate(), (
        "charts/obreg/templates/crds.yaml is stale: run `make crds`"
    )
    assert not (ROOT / "charts" / "obreg" / "crds").exists(), "Helm would install it once"


def test_kubectl_get_ob_lists_every_kind_with_ready_reason_and_workloads() -> None:
    """README (Troubleshooting): ``kubectl get ob -A`` lists all three kinds with Ready,
    the reason and the workloads (tests/e2e runs it on the plane)."""
    for definition in yaml.safe_load_all(CRDS.read_text()):
        assert "ob" in definition["spec"]["names"]["categories"]
        columns = definition["spec"]["versions"][0]["additionalPrinterColumns"]
        paths = {c["name"]: c["jsonPath"] for c in columns}
        ready = '.status.conditions[?(@.type=="Ready")]'
        assert paths["Ready"] == f"{ready}.status"
        assert paths["Reason"] == f"{ready}.reason"
        assert paths["Workloads"] == ".status.workloads"


def _walk(schema: dict[str, Any], path: str) -> list[str]:
    missing = [] if schema.get("description") else [path]
    for name, child in (schema.get("properties") or {}).items():
        if f"{path}.{name}" != f"{path.split('.')[0]}.metadata":  # the API server's schema
            missing += _walk(child, f"{path}.{name}")
    if schema.get("items", {}).get("type") == "object":  # scalar items are not fields
        missing += _walk(schema["items"], f"{path}[]")
    return missing


def test_every_field_has_a_description_and_a_type() -> None:
    for definition in yaml.safe_load_all(CRDS.read_text()):
        version = definition["spec"]["versions"][0]
        schema = version["schema"]["openAPIV3Schema"]
        assert _walk(schema, definition["spec"]["names"]["kind"]) == []
        text = yaml.safe_dump(schema)
        assert "$ref" not in text and "anyOf" not in text and "null" not in text
        assert version["subresources"] == {"status": {}}
        assert definition["spec"]["names"]["categories"] == ["ob", "obreg"]


def test_runbook_defaults_reach_the_schema() -> None:
    documents = {d["spec"]["names"]["kind"]: d for d in yaml.safe_load_all(CRDS.read_text())}
    sp = documents["OBServiceProvider"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = sp["properties"]["spec"]["properties"]
    assert spec["scope"]["default"] == "phone email address openid profile api_store"
    assert spec["signatureAlgorithm"] == {
        **spec["signatureAlgorithm"],
        "default": "PS256",
        "enum": ["PS256", "ES256"],
    }
    assert len(spec["applicationAttributes"]["default"]) == 8
    idp = documents["OBIdentityProvider"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    idp_spec = idp["properties"]["spec"]["properties"]
    assert idp_spec["queryParameters"]["default"] == "scope=openid email profile&prompt=login"
    assert idp_spec["claims"]["default"]["userIdClaim"] == "email"
