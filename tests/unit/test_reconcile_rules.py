"""What one workload's reconcile decides (obreg/rules/reconcile.py), by tables: whether it
renders at all, all or none across a resource's workloads, drift of obreg's objects,
ownership of the objects under its name, and what each resource learns."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest

from obreg.api.common import WorkloadRef
from obreg.errors import InvalidInput, Label, Problem
from obreg.manifests import load
from obreg.render import bundle as bundles
from obreg.render import objects
from obreg.render.bundle import Bundle, File
from obreg.render.credentials import CLIENT_ID_KEY, CLIENT_SECRET_KEY
from obreg.render.inputs import Inputs
from obreg.rules import reconcile as decide
from obreg.rules import state
from obreg.rules.holdings import Held, summary
from obreg.rules.workload import summarize
from tests.bad_inputs import SAMPLES, find, sample_documents

NS = "obreg-demo"
KM = WorkloadRef(kind="Deployment", name="wso2-km")
APIM = WorkloadRef(kind="Deployment", name="wso2-apim")
NOW = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
TARGET = summarize(
    {"kind": "Deployment", "metadata": {"name": "wso2-km", "namespace": NS, "uid": "km-uid"}}
)
KM_KEYS = [
    ("OBIdentityProvider", "ob-directory"),
    ("OBServiceProvider", "apim-store"),
    ("OBTrustAnchor", "ob-directory-cas"),
]
OURS = {
    "app.kubernetes.io/managed-by": "obreg",
    "obreg.dev/workload": "wso2-km",
    "obreg.dev/workload-kind": "Deployment",
}


def samples() -> list[dict[str, Any]]:
    return [d for d in sample_documents() if d["kind"].startswith("OB")]


def snapshot(docs: list[dict[str, Any]] | None = None) -> state.Snapshot:
    return state.snapshot(NS, samples() if docs is None else docs)


def states(outcome: decide.Outcome | None) -> dict[tuple[str, str], tuple[str, str]] | None:
    if outcome is None:
        return None
    return {k: (r.state, r.message) for k, r in outcome.results.items()}


def test_the_key_managers_contributors_are_the_samples_three() -> None:
    assert sorted((r.kind, r.name) for r in state.contributors(snapshot(), KM)) == KM_KEYS


def test_an_absent_workload_makes_its_resources_wait_whatever_else_is_wrong() -> None:
    docs = samples()
    find(docs, "OBIdentityProvider")["spec"]["clientId"] = 7  # invalid, targets the KM
    found = decide.before_render(KM, snapshot(docs), None, {}, [f"ConfigMap {NS}/obreg-wso2-km"])
    assert found is not None and not found.writes and found.rolled is None
    assert set(states(found).values()) == {("WaitingForWorkload", "")}  # type: ignore[union-attr]


def test_an_invalid_resource_blocks_every_resource_of_the_workloads_it_names() -> None:
    docs = samples()
    find(docs, "OBIdentityProvider")["spec"]["clientId"] = 7
    snap = snapshot(docs)
    message = (
        f"OBIdentityProvider {NS}/ob-directory is invalid; the workload keeps its last good files"
    )
    blocked = decide.before_render(KM, snap, TARGET, {}, [f"Secret {NS}/obreg-wso2-km"])
    # The invalid one has no valid contributor's key: the other two are told.
    assert states(blocked) == {
        ("OBServiceProvider", "apim-store"): ("Blocked", message),
        ("OBTrustAnchor", "ob-directory-cas"): ("Blocked", message),
    }
    # The API Manager is not among its targets: it renders.
    assert decide.before_render(APIM, snap, TARGET, {}, []) is None


def test_objects_someone_else_holds_under_obregs_name_fail_every_resource() -> None:
    held = [f"ConfigMap {NS}/obreg-wso2-km", f"Secret {NS}/obreg-wso2-km"]
    failed = decide.before_render(KM, snapshot(), TARGET, {}, held)
    message = (
        f"ConfigMap {NS}/obreg-wso2-km and Secret {NS}/obreg-wso2-km exists and is not managed "
        "by obreg; rename or remove it"
    )
    assert states(failed) == dict.fromkeys(KM_KEYS, ("Failed", message))


@pytest.mark.parametrize(
    ("current", "renders"),
    [
        ({}, False),  # never obreg's: nothing to write, nothing to tell
        ({"ConfigMap": Held({}, OURS, {}, ())}, True),  # obreg's files to empty
        ({"Secret": Held({}, OURS, {}, ())}, True),
    ],
)
def test_a_workload_no_resource_targets_renders_only_to_empty_what_obreg_wrote(
    current: dict[str, Any], renders: bool
) -> None:
    nobody = WorkloadRef(kind="StatefulSet", name="other")
    found = decide.before_render(nobody, snapshot(), TARGET, current, [])
    assert (found is None) == renders
    if found is not None:
        assert found == decide.Outcome()


def test_a_healthy_targeted_workload_renders() -> None:
    assert decide.before_render(KM, snapshot(), TARGET, {}, []) is None


def test_a_refusal_fails_the_resources_it_names_and_blocks_the_others() -> None:
    problem = Problem(Label("OBTrustAnchor", NS, "ob-directory-cas"), "spec", "bad")
    found = decide.refused(KM, KM_KEYS, [problem])
    blocked = (
        "Blocked",
        "another resource of this workload failed to render; the workload keeps its last "
        "good files",
    )
    assert states(found) == {
        ("OBIdentityProvider", "ob-directory"): blocked,
        ("OBServiceProvider", "apim-store"): blocked,
        ("OBTrustAnchor", "ob-directory-cas"): ("Failed", str(problem)),
    }


def test_a_problem_that_names_no_resource_blocks_them_all() -> None:
    found = decide.refused(KM, KM_KEYS, [Problem("some/file.yaml", "-", "bad")])
    assert {r.state for r in found.results.values()} == {"Blocked"}


def test_a_crash_is_reported_as_an_internal_error_on_every_resource() -> None:
    found = decide.crashed(KM, KM_KEYS)
    assert states(found) == dict.fromkeys(KM_KEYS, ("Failed", decide.INTERNAL_ERROR))


def test_a_change_failing_on_another_workload_of_its_resource_lands_on_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trust anchor targets both workloads: its problem on the API Manager refuses
    the Key Manager's render too; a problem of a resource the KM does not have does not."""
    real = bundles.render
    anchor = Problem(Label("OBTrustAnchor", NS, "ob-directory-cas"), "spec", "bad on APIM")
    stranger = Problem(Label("OBTrustAnchor", NS, "apim-only"), "spec", "not the KM's")

    def render_failing_on_apim(problems: list[Problem]) -> Any:
        def render(namespace: Any, ref: WorkloadRef, inputs: Any, now: Any) -> Bundle:
            if ref == APIM:
                raise InvalidInput(problems)
            return real(namespace, ref, inputs, now)

        return render

    snap = snapshot()
    inputs = bundles_inputs()
    monkeypatch.setattr(bundles, "render", render_failing_on_apim([stranger, anchor]))
    with pytest.raises(InvalidInput) as refused:
        decide.render_all(snap, KM, inputs, NOW)
    assert refused.value.problems == [anchor]
    monkeypatch.setattr(bundles, "render", render_failing_on_apim([stranger]))
    assert decide.render_all(snap, KM, inputs, NOW).files


def bundles_inputs(newline: bytes = b"") -> Inputs:
    """The samples' Secrets and ConfigMaps, with the client credentials obreg generates
    (each value followed by ``newline``)."""
    manifests = load([SAMPLES])
    generated = {CLIENT_ID_KEY: b"the-id" + newline, CLIENT_SECRET_KEY: b"the-secret" + newline}
    secrets = {**manifests.secrets, (NS, "obreg-apim-store-client"): generated}
    return Inputs(secrets=secrets, config_maps=manifests.config_maps)


def test_the_render_of_a_healthy_workload_is_its_own_bundle_after_the_others_pass() -> None:
    inputs = bundles_inputs()
    assert decide.render_all(snapshot(), KM, inputs, NOW) == decide.render(
        snapshot(), KM, inputs, NOW
    )


def test_the_other_workloads_are_tried_in_one_order_so_the_refusal_is_always_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trust anchor targets a third workload too: when both others refuse it, the
    refusal told is the first workload's by kind and name, whatever the set's order."""
    docs = samples()
    find(docs, "OBTrustAnchor")["spec"]["targets"].append(
        {"name": "a-first", "kind": "StatefulSet"}
    )
    snap = snapshot(docs)
    anchor = Label("OBTrustAnchor", NS, "ob-directory-cas")
    real = bundles.render

    def render(namespace: Any, ref: WorkloadRef, inputs: Any, now: Any) -> Bundle:
        if ref != KM:
            raise InvalidInput([Problem(anchor, "spec", f"bad on {ref.kind}/{ref.name}")])
        return real(namespace, ref, inputs, now)

    monkeypatch.setattr(bundles, "render", render)
    with pytest.raises(InvalidInput) as refused:
        decide.render_all(snap, KM, bundles_inputs(), NOW)
    assert [p.message for p in refused.value.problems] == ["bad on Deployment/wso2-apim"]


def test_a_workload_nothing_targets_renders_empty() -> None:
    rendered = decide.render(snapshot([]), KM, bundles_inputs(), NOW)
    assert rendered == Bundle(NS, KM, ())
    assert decide.render(snapshot(), WorkloadRef(name="nobody"), bundles_inputs(), NOW) == Bundle(
        NS, WorkloadRef(name="nobody"), ()
    )


def data(obj: dict[str, Any]) -> dict[str, str]:
    return obj["data"] if obj["kind"] == "Secret" else obj["binaryData"]


def written(kind: str, data: dict[str, str], **meta: Any) -> dict[str, Any]:
    """An object as obreg applies it."""
    field = "data" if kind == "Secret" else "binaryData"
    return {
        "kind": kind,
        field: {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        "metadata": {
            "labels": dict(OURS),
            "annotations": {"obreg.dev/digest": "d"},
            "ownerReferences": [{"uid": "km-uid"}],
            **meta,
        },
    }


def held(obj: dict[str, Any]) -> Held:
    return summary(obj["kind"], obj)


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
@pytest.mark.parametrize(
    ("edit", "drifted"),
    [
        (lambda o: None, False),
        (lambda o: o["metadata"]["labels"].update(team="x"), False),  # someone's label
        (lambda o: o["metadata"]["annotations"].update({"obreg.dev/other": "x"}), False),
        (lambda o: o["metadata"]["labels"].update({"obreg.dev/workload": "x"}), True),
        (lambda o: o["metadata"]["annotations"].update({"obreg.dev/digest": "e"}), True),
        (lambda o: o["metadata"].update(ownerReferences=[{"uid": "other"}]), True),
        (lambda o: o["metadata"].update(ownerReferences=[]), True),
        (lambda o: data(o).update(f="Zw=="), True),  # f -> g
        (lambda o: data(o).update(x="eA=="), True),  # a key added
        (lambda o: data(o).pop("f"), True),
        (lambda o: o["metadata"].pop("ownerReferences"), True),
    ],
)
def test_drift_is_a_difference_in_what_obreg_owns_of_its_object(
    kind: str, edit: Any, drifted: bool
) -> None:
    desired = written(kind, {"f": "f"})
    current = written(kind, {"f": "f"})
    edit(current)
    assert decide.differs(desired, held(current)) is drifted
    assert decide.differs(desired, None)


def test_a_config_maps_text_and_binary_keys_are_both_its_data() -> None:
    desired = {"kind": "ConfigMap", "data": {"a": "é"}, "binaryData": {"b": "AAE="}}
    assert decide.object_data(desired) == {"a": "é".encode(), "b": b"\x00\x01"}
    secret = {"kind": "Secret", "data": {"a": "w6k="}, "binaryData": {"b": "AAE="}}
    assert decide.object_data(secret) == {"a": "é".encode()}


def test_keys_someone_added_are_named_for_removal_sorted() -> None:
    desired = written("Secret", {"f": "1"})
    current = held(written("Secret", {"z": "1", "f": "1", "a": "2"}))
    assert decide.stray_keys(desired, current) == ["a", "z"]
    assert decide.stray_keys(desired, held(desired)) == []
    assert decide.stray_keys(desired, None) == []


def test_the_object_is_owned_by_its_workload_without_blocking_its_deletion() -> None:
    obj = decide.owned({"metadata": {}}, TARGET)
    assert obj["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "wso2-km",
            "uid": "km-uid",
            "controller": False,
            "blockOwnerDeletion": False,
        }
    ]


@pytest.mark.parametrize(
    ("labels", "mine"),
    [
        (OURS, True),
        ({**OURS, "obreg.dev/workload": "wso2-apim"}, False),
        ({**OURS, "obreg.dev/workload-kind": "StatefulSet"}, False),
        ({k: v for k, v in OURS.items() if k != "obreg.dev/workload-kind"}, False),
        ({**OURS, "app.kubernetes.io/managed-by": "helm"}, False),
        ({}, False),
    ],
)
def test_only_obregs_object_for_this_very_workload_is_ours(
    labels: dict[str, str], mine: bool
) -> None:
    found = Held(data={}, labels=labels, annotations={}, owners=())
    assert (decide.ours(found, KM) is found) is mine
    existing = {"ConfigMap": found, "Secret": None}
    assert decide.foreign(NS, "obreg-wso2-km", KM, existing) == (
        [] if mine else [f"ConfigMap {NS}/obreg-wso2-km"]
    )
    assert decide.ours(None, KM) is None


def test_each_resource_learns_its_own_warnings_and_the_hidden_files() -> None:
    rendered = Bundle(
        NS,
        KM,
        (File("a", b"a", False, "fa", Label("OBTrustAnchor", NS, "ob-directory-cas")),),
        {"ob-directory-cas": []},
        {
            Label("OBTrustAnchor", NS, "ob-directory-cas"): ["anchor's"],
            Label("OBTrustAnchor", "elsewhere", "ob-directory-cas"): ["not this namespace's"],
            Label("OBServiceProvider", NS, "ob-directory-cas"): ["not this kind's"],
        },
    )
    found = decide.applied(KM, KM_KEYS, rendered, ["hidden"])
    assert states(found) == dict.fromkeys(KM_KEYS, ("Applied", ""))
    assert {r.digest for r in found.results.values()} == {rendered.digest}
    assert found.warnings == {
        ("OBIdentityProvider", "ob-directory"): ["hidden"],
        ("OBServiceProvider", "apim-store"): ["hidden"],
        ("OBTrustAnchor", "ob-directory-cas"): ["anchor's", "hidden"],
    }
    assert found.certificates == {"ob-directory-cas": []}
    assert found.rolled is None and found.writes == 0


@pytest.mark.parametrize(
    ("seen", "counted"),
    [
        ([], "Idle"),
        (["Applied", "Applied"], "Applied"),
        (["Applied", "WaitingForWorkload"], "WaitingForWorkload"),
        (["WaitingForWorkload", "Blocked"], "Blocked"),
        (["Blocked", "Failed", "Applied"], "Failed"),
    ],
)
def test_a_reconcile_counts_under_its_worst_state(seen: list[str], counted: str) -> None:
    assert decide.worst(iter(seen)) == counted


def test_the_rendered_objects_compare_equal_to_themselves_as_held() -> None:
    """What obreg applies and what the index then holds of it agree: no write loop."""
    rendered = decide.render(snapshot(), KM, bundles_inputs(), NOW)
    assert rendered.files
    for desired in (objects.config_map(rendered), objects.secret(rendered)):
        desired = decide.owned(desired, TARGET)
        assert not decide.differs(desired, held(desired))


@pytest.mark.parametrize("ref", [KM, APIM])
def test_a_warning_of_a_read_lands_on_the_resource_that_read_it(ref: WorkloadRef) -> None:
    """The service provider's files read its client credentials on both workloads (the
    KM's SP file, the store's site.json): their warnings are the SP's, not another's."""
    rendered = decide.render(snapshot(), ref, bundles_inputs(newline=b"\n"), NOW)
    sp = Label("OBServiceProvider", NS, "apim-store")
    trimmed = [
        f"Secret {NS}/obreg-apim-store-client key '{key}': surrounding whitespace (such as "
        "a trailing newline) was removed from the value"
        for key in (CLIENT_ID_KEY, CLIENT_SECRET_KEY)
    ]
    assert sorted(set(rendered.warnings[sp])) == sorted(trimmed)
    others = [w for owner, found in rendered.warnings.items() if owner != sp for w in found]
    assert not set(trimmed) & set(others)
