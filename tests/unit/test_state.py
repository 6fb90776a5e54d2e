"""What the operator knows of a namespace (obreg/rules/state.py): which Secrets and
ConfigMaps its resources read, which workloads a change reaches, and the targets of a
resource that did not validate."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from obreg.api.common import WorkloadRef
from obreg.render.inputs import Inputs
from obreg.rules import state
from tests.bad_inputs import sample_documents

NS = "ns"
KM = WorkloadRef(kind="Deployment", name="wso2-km")
APIM = WorkloadRef(kind="Deployment", name="wso2-apim")


def samples() -> list[dict[str, Any]]:
    docs = [copy.deepcopy(d) for d in sample_documents() if d["kind"].startswith("OB")]
    for doc in docs:
        doc["metadata"]["namespace"] = NS
    return docs


def find(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind)


def every_reference() -> list[dict[str, Any]]:
    """The samples with every kind of reference a spec can hold set once, each to an
    object of its own name."""
    docs = samples()
    anchor = find(docs, "OBTrustAnchor")["spec"]
    anchor["certificates"].append(
        {"alias": "from-secret", "secretKeyRef": {"name": "cert-secret", "key": "ca.pem"}}
    )
    anchor["baseKeystore"]["passwordSecretRef"] = {"name": "base-password", "key": "p"}
    anchor["output"] = {"passwordSecretRef": {"name": "out-password", "key": "p"}}
    sp = find(docs, "OBServiceProvider")["spec"]
    sp["clientCredentials"] = {
        "clientIdRef": {"name": "sp-id", "key": "id"},
        "clientSecretRef": {"name": "sp-secret", "key": "secret"},
    }
    return docs


def test_every_object_the_resources_read_is_known() -> None:
    snap = state.snapshot(NS, every_reference())
    assert not snap.invalid
    assert state.reads(snap, []) == {
        ("ConfigMap", NS, "ob-directory-cas"),
        ("ConfigMap", NS, "wso2-base-files"),
        ("ConfigMap", NS, "km-tls-ca"),
        ("Secret", NS, "cert-secret"),
        ("Secret", NS, "base-password"),
        ("Secret", NS, "out-password"),
        ("Secret", NS, "ob-directory-client"),
        ("Secret", NS, "sp-id"),
        ("Secret", NS, "sp-secret"),
        ("Secret", NS, "km-admin"),  # the KM admin's credentials
    }
    # And obreg's own objects for the workloads asked about.
    assert state.reads(snap, [KM]) - state.reads(snap, []) == {
        ("Secret", NS, "obreg-wso2-km"),
        ("ConfigMap", NS, "obreg-wso2-km"),
    }


def test_generated_credentials_are_read_from_obregs_secret() -> None:
    snap = state.snapshot(NS, samples())
    assert ("Secret", NS, "obreg-apim-store-client") in state.reads(snap, [])


@pytest.mark.parametrize(
    ("kind", "name", "reached"),
    [
        ("ConfigMap", "ob-directory-cas", {KM, APIM}),  # the anchor targets both
        ("Secret", "ob-directory-client", {KM}),  # the identity provider's target
        ("ConfigMap", "wso2-base-files", {KM, APIM}),  # the service provider's two
        ("Secret", "km-admin", {KM, APIM}),
        ("Secret", "cert-secret", {KM, APIM}),
        ("Secret", "unrelated", set()),
        ("ConfigMap", "km-admin", set()),  # same name, other kind
    ],
)
def test_a_change_reaches_the_workloads_whose_files_read_it(
    kind: str, name: str, reached: set[WorkloadRef]
) -> None:
    snap = state.snapshot(NS, every_reference())
    assert state.workloads_reading(snap.namespace, kind, name) == reached


def test_a_render_reads_a_copy_of_only_what_the_namespace_references() -> None:
    snap = state.snapshot(NS, every_reference())
    live = Inputs(
        secrets={
            (NS, "km-admin"): {"password": b"x"},
            (NS, "unrelated"): {"k": b"v"},
            ("other", "km-admin"): {"password": b"y"},
        },
        config_maps={(NS, "wso2-base-files"): {"site.json": "{}"}, (NS, "stray"): {}},
    )
    copied = state.copy_inputs(snap, live)
    assert dict(copied.secrets) == {(NS, "km-admin"): {"password": b"x"}}
    assert dict(copied.config_maps) == {(NS, "wso2-base-files"): {"site.json": "{}"}}


@pytest.mark.parametrize(
    ("kind", "spec", "targets"),
    [
        ("OBTrustAnchor", {"targets": [{"name": "a"}, {"kind": "StatefulSet", "name": "b"}]},
         {WorkloadRef(kind="Deployment", name="a"), WorkloadRef(kind="StatefulSet", name="b")}),
        ("OBTrustAnchor", {"targets": None}, set()),
        ("OBTrustAnchor", {"target": {"name": "a"}}, set()),  # not an anchor's field
        ("OBIdentityProvider", {"target": {"name": "wso2-km"}}, {KM}),
        ("OBIdentityProvider", {"targets": [{"name": "km"}]}, set()),
        ("OBServiceProvider", {"keyManager": {"name": "km"}, "apiManager": {"name": "apim"}},
         {WorkloadRef(kind="Deployment", name="km"), WorkloadRef(kind="Deployment", name="apim")}),
        ("OBServiceProvider", {"apiManager": {"name": "apim"}},
         {WorkloadRef(kind="Deployment", name="apim")}),
        # What cannot name a workload is skipped, not an error.
        ("OBTrustAnchor", {"targets": ["a", {"name": 3}, {"kind": "Pod", "name": "p"}, {}]}, set()),
        ("OBTrustAnchor", {"targets": [{"name": "ok"}, {"kind": "Job", "name": "no"}]},
         {WorkloadRef(kind="Deployment", name="ok")}),
    ],
)  # fmt: skip
def test_an_invalid_resource_still_names_the_workloads_it_blocks(
    kind: str, spec: dict[str, Any], targets: set[WorkloadRef]
) -> None:
    assert state.raw_targets(kind, spec) == targets


def test_an_invalid_resource_is_kept_apart_with_its_targets_and_problems() -> None:
    docs = samples()
    find(docs, "OBIdentityProvider")["spec"]["tokenEndpoint"] = "not a url"
    snap = state.snapshot(NS, docs)
    assert [(i.kind, i.namespace, i.name) for i in snap.invalid] == [
        ("OBIdentityProvider", NS, "ob-directory")
    ]
    assert snap.invalid[0].targets == {KM}
    assert snap.invalid[0].problems
    assert [r.kind for r in snap.namespace.resources()] == ["OBTrustAnchor", "OBServiceProvider"]
    assert set(snap.raw) == {(d["kind"], d["metadata"]["name"]) for d in docs}


def test_the_targets_of_an_invalid_spec_are_read_past_entries_that_are_not_targets() -> None:
    spec = {"targets": [5, {"name": 7}, {"name": "Bad Name"}, {"name": "wso2-km"}]}
    assert state.raw_targets("OBTrustAnchor", spec) == {KM}
    assert state.raw_targets("OBTrustAnchor", {}) == frozenset()
    assert state.raw_targets("OBIdentityProvider", {"target": {"name": "wso2-km"}}) == {KM}
    sp = {"keyManager": {"name": "wso2-km"}, "apiManager": {"name": "wso2-apim"}}
    assert state.raw_targets("OBServiceProvider", sp) == {KM, APIM}
