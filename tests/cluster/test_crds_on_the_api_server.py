"""The generated CRDs on a real kube-apiserver: accepted, defaulting like pydantic, and
refusing with CEL and schema rules what ``obreg render`` refuses."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.bad_inputs import CASES, SCHEMA_CASES, Docs, sample_documents
from tests.kubetools import Kubectl, poll

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def crds(kubectl: Kubectl) -> Iterator[None]:
    kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "obreg.dev.yaml"))
    for document in yaml.safe_load_all((ROOT / "crds" / "obreg.dev.yaml").read_text()):
        kubectl(
            "wait",
            "--for=condition=Established",
            f"crd/{document['metadata']['name']}",
            "--timeout=60s",
        )
        # Established is about serving; the schema reaches the OpenAPI document that
        # `kubectl explain` reads a little later (the API server republishes it
        # asynchronously, slower on a cold, busy plane).
        kind = document["spec"]["names"]["kind"].lower()
        poll(
            lambda kind=kind: kubectl("explain", f"{kind}.spec", check=False).returncode == 0,
            60,
            f"the {kind} schema in the API server's OpenAPI document",
        )
    yield


def in_namespace(docs: Docs, namespace: str) -> Docs:
    kept = [d for d in docs if d["kind"] != "Namespace"]
    for doc in kept:
        doc["metadata"]["namespace"] = namespace
    return kept


def test_samples_are_accepted_and_defaulted(crds: None, kubectl: Kubectl, namespace: str) -> None:
    docs = in_namespace(sample_documents(), namespace)
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(docs))
    listed = kubectl("get", "ob", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(listed) == [
        "obidentityprovider.obreg.dev/ob-directory",
        "observiceprovider.obreg.dev/apim-store",
        "obtrustanchor.obreg.dev/ob-directory-cas",
    ]
    sp = json.loads(kubectl("get", "obsp", "apim-store", "-n", namespace, "-o", "json").stdout)
    assert sp["spec"]["scope"] == "phone email address openid profile api_store"
    assert sp["spec"]["role"] == "Internal/subscriber"
    assert len(sp["spec"]["applicationAttributes"]) == 8
    assert sp["spec"]["keyManager"] == {"kind": "Deployment", "name": "wso2-km"}
    idp = json.loads(kubectl("get", "obidp", "ob-directory", "-n", namespace, "-o", "json").stdout)
    assert idp["spec"]["claims"]["mappings"][0] == {
        "remote": "tpp_associated",
        "local": "http://wso2.org/claims/active",
    }
    assert idp["spec"]["provisioning"] == {
        "enabled": True,
        "userStoreDomain": "PRIMARY",
        "silent": True,
    }
    explained = kubectl("explain", "obtrustanchor.spec.certificates.alias").stdout
    assert "keytool's -alias" in explained


@pytest.mark.parametrize(
    "mutate",
    [c[1] for c in CASES if c[0] in SCHEMA_CASES],
    ids=[c[0] for c in CASES if c[0] in SCHEMA_CASES],
)
def test_the_api_server_refuses_what_render_refuses(
    crds: None, kubectl: Kubectl, namespace: str, mutate: Callable[[Docs], None]
) -> None:
    docs = sample_documents()
    mutate(docs)
    ours = [d for d in in_namespace(docs, namespace) if "obreg.dev" in d["apiVersion"]]
    results = [
        kubectl(
            "apply",
            "--server-side",
            "--validate=strict",
            "-f",
            "-",
            input=yaml.safe_dump(doc),
            check=False,
        )
        for doc in ours
    ]
    refused = [r for r in results if r.returncode != 0]
    assert len(refused) == 1, [r.stderr for r in results]
