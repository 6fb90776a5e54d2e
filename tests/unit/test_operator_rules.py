"""The operator's pure rules: kstatus conditions, what obreg writes on
a workload and which mounts hide its files."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import gc
import threading
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obreg.api import parse
from obreg.api.common import TargetResult, WorkloadRef
from obreg.api.service_provider import KeyManagerResult
from obreg.kube import reconcile
from obreg.kube.controller import Controller
from obreg.kube.indexes import StoreView
from obreg.kube.key_manager import KeyManagerSteps
from obreg.render.bundle import Bundle, File
from obreg.rules import state, status, workload
from tests.bad_inputs import find, sample_documents

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
KM = WorkloadRef(name="km")


def result(state: str, message: str = "") -> TargetResult:
    return TargetResult(kind="Deployment", name="km", state=state, message=message)  # type: ignore[arg-type]


def conditions(built: dict[str, object]) -> dict[str, tuple[str, str]]:
    items = built["conditions"]
    assert isinstance(items, list)
    return {c["type"]: (c["status"], c["reason"]) for c in items}


def test_conditions_follow_kstatus() -> None:
    applied = status.build(3, [result("Applied")], [], None, NOW)
    assert conditions(applied) == {
        "Ready": ("True", "Applied"),
        "Reconciling": ("False", "Idle"),
        "Stalled": ("False", "Idle"),
    }
    assert applied["observedGeneration"] == 3
    waiting = status.build(1, [result("WaitingForWorkload")], [], None, NOW)
    assert conditions(waiting)["Reconciling"] == ("True", "WaitingForWorkload")
    assert conditions(waiting)["Ready"][0] == "False"
    invalid = status.build(1, [], ["spec.x: bad"], None, NOW)
    assert conditions(invalid)["Stalled"] == ("True", "Invalid")
    blocked = status.build(1, [result("Blocked", "other is invalid")], [], None, NOW)
    assert conditions(blocked)["Stalled"] == ("True", "Blocked")


def test_an_unchanged_status_is_identical_so_nothing_is_written() -> None:
    first = status.build(1, [result("Applied")], [], None, NOW)
    later = status.build(1, [result("Applied")], [], first, NOW + datetime.timedelta(hours=1))
    assert later == first and status.same(first, later)
    changed = status.build(1, [result("Failed", "x")], [], first, NOW + datetime.timedelta(hours=1))
    assert not status.same(first, changed)
    ready = next(c for c in changed["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2026-11-26T13:00:00Z"


def bundle(*paths: tuple[str, bool]) -> Bundle:
    files = tuple(File(p, b"x", secret, "f" + p, "r") for p, secret in paths)
    return Bundle("ns", KM, files)


def deployment(**spec: object) -> workload.Workload:
    body: dict[str, object] = {
        "kind": "Deployment",
        "metadata": {"name": "km", "namespace": "ns", "labels": {}, "annotations": {}},
        "spec": {"template": {"metadata": {}, "spec": {"containers": [{"name": "km"}], **spec}}},
    }
    return workload.summarize(body)


def test_workload_gets_the_digest_and_opted_in_mounts() -> None:
    files = bundle(
        ("repository/conf/identity/identity.xml", False),
        ("repository/deployment/server/site.json", True),
    )
    plain = deployment()
    assert workload.needs_apply(plain, files)
    body = workload.apply_body(plain, files)
    assert body["spec"]["template"] == {
        "metadata": {"annotations": {"obreg.dev/digest": files.digest}}
    }
    opted = dataclasses.replace(plain, labels={"obreg.dev/inject": "true"})
    volume = workload.apply_body(opted, files)["spec"]["template"]["spec"]["volumes"][0]
    sources = volume["projected"]["sources"]
    assert sources[0]["configMap"]["items"] == [
        {
            "key": "repository__conf__identity__identity.xml",
            "path": "repository/conf/identity/identity.xml",
        }
    ]
    assert sources[1]["secret"]["name"] == "obreg-km"
    # Once applied as is, nothing more to do.
    applied = deployment(
        volumes=[volume],
        containers=[
            {
                "name": "km",
                "volumeMounts": [
                    {"name": "obreg-files", "mountPath": "/home/wso2carbon/wso2-config-volume"}
                ],
            }
        ],
    )
    applied = dataclasses.replace(applied, labels={"obreg.dev/inject": "true"}, digest=files.digest)
    assert not workload.needs_apply(applied, files)
    unmounted = dataclasses.replace(applied, mounts={"km": {}})
    assert workload.needs_apply(unmounted, files)  # a mount removed by hand comes back


def test_mounted_files_are_readable_by_any_uid_unless_an_fs_group_owns_them() -> None:
    files = bundle(("a.xml", False), ("b.json", True))

    def modes(summary: workload.Workload) -> set[int]:
        opted = dataclasses.replace(summary, labels={"obreg.dev/inject": "true"})
        volume = workload.apply_body(opted, files)["spec"]["template"]["spec"]["volumes"][0]
        found = {volume["projected"]["defaultMode"]}
        for source in volume["projected"]["sources"]:
            found |= {i["mode"] for i in (source.get("secret") or {}).get("items", [])}
        return found

    # WSO2's images run as 802: root-owned files need the "other" read bit.
    assert modes(deployment()) == {0o444}
    assert modes(deployment(securityContext={"runAsUser": 802})) == {0o444}
    # With an fsGroup, kubelet gives the files that group, which every process has.
    assert modes(deployment(securityContext={"fsGroup": 802})) == {0o440}
    assert modes(deployment(securityContext={"fsGroup": 0})) == {0o440}


def test_the_mount_root_annotation_moves_every_containers_mount() -> None:
    """docs/operating.md: ``obreg.dev/mount-root`` replaces WSO2's config volume path (a trailing
    slash is the same root); without it, the WSO2 images' path."""
    files = bundle(("repository/conf/identity/identity.xml", False))
    opted = dataclasses.replace(
        deployment(), labels={"obreg.dev/inject": "true"}, containers=("km", "side")
    )

    def mounts(summary: workload.Workload) -> list[object]:
        spec = workload.apply_body(summary, files)["spec"]["template"]["spec"]
        return [c["volumeMounts"] for c in spec["containers"]]

    default = {"name": "obreg-files", "mountPath": workload.DEFAULT_MOUNT_ROOT, "readOnly": True}
    assert mounts(opted) == [[default], [default]]
    moved = dataclasses.replace(opted, annotations={"obreg.dev/mount-root": "/opt/wso2/config/"})
    mount = {"name": "obreg-files", "mountPath": "/opt/wso2/config", "readOnly": True}
    assert mounts(moved) == [[mount], [mount]]


def test_mounts_that_hide_obreg_files_are_reported() -> None:
    files = bundle(
        ("repository/conf/identity/identity.xml", False), ("repository/conf/api-manager.xml", False)
    )
    root = "/home/wso2carbon/wso2-config-volume"
    summary = deployment(
        volumes=[
            {"name": "mine", "configMap": {"name": "obreg-km"}},
            {"name": "chart", "configMap": {"name": "identity-conf"}},
        ],
        containers=[
            {
                "name": "km",
                "volumeMounts": [
                    {"name": "mine", "mountPath": root},
                    {"name": "chart", "mountPath": f"{root}/repository/conf/identity"},
                ],
            }
        ],
    )
    assert workload.hidden_files(summary, files) == [
        f"container km: volume chart mounted at {root}/repository/conf/identity hides "
        "repository/conf/identity/identity.xml"
    ]


def test_key_manager_outcome_decides_ready_for_a_service_provider() -> None:
    def km(state: str, message: str = "m") -> KeyManagerResult:
        return KeyManagerResult(state=state, message=message)  # type: ignore[arg-type]

    synced = status.build(1, [result("Applied")], [], None, NOW, key_manager=km("Synced"))
    assert conditions(synced)["Ready"] == ("True", "Applied")
    assert conditions(synced)["KeyManagerDatabase"] == ("True", "Synced")
    assert synced["keyManagerDatabase"] == {"state": "Synced", "message": "m"}
    pending = status.build(1, [result("Applied")], [], None, NOW, key_manager=km("Pending"))
    assert conditions(pending)["Ready"] == ("False", "KeyManagerPending")
    assert conditions(pending)["Reconciling"] == ("True", "KeyManagerPending")
    assert conditions(pending)["KeyManagerDatabase"] == ("Unknown", "Pending")
    down = status.build(1, [result("Applied")], [], None, NOW, key_manager=km("Unavailable"))
    assert conditions(down)["Reconciling"] == ("True", "KeyManagerUnavailable")
    assert conditions(down)["Stalled"] == ("False", "Idle")
    refused = status.build(1, [result("Applied")], [], None, NOW, key_manager=km("Failed", "401"))
    assert conditions(refused)["Stalled"] == ("True", "KeyManagerFailed")
    assert refused["conditions"][0]["message"] == "Key Manager database: 401"
    # A file problem comes first: the KM steps wait for the files.
    blocked = status.build(1, [result("Failed", "bad")], [], None, NOW, key_manager=km("Pending"))
    assert conditions(blocked)["Ready"] == ("False", "Failed")
    # Without keyManagerAdmin there is no KM condition, and the field is cleared.
    plain = status.build(1, [result("Applied")], [], None, NOW)
    assert "KeyManagerDatabase" not in conditions(plain)
    assert plain["keyManagerDatabase"] is None


def test_rollout_is_complete_only_when_every_pod_runs_the_current_template() -> None:
    def body(generation: int = 2, **observed: object) -> dict[str, object]:
        return {
            "kind": "Deployment",
            "metadata": {"generation": generation},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                       "availableReplicas": 2, "readyReplicas": 2, **observed},
        }  # fmt: skip

    assert workload.rollout(body()) == workload.Rollout(complete=True, ready=2)
    assert not workload.rollout(body(generation=3)).complete  # not observed yet
    assert not workload.rollout(body(updatedReplicas=1)).complete
    assert not workload.rollout(body(replicas=3)).complete  # an old pod remains
    assert not workload.rollout(body(availableReplicas=1, readyReplicas=1)).complete


def test_a_view_reads_the_extra_mapping_it_was_given_even_when_filled_later() -> None:
    """Credentials created during a reconcile are added to the mapping after the view of
    the Secrets was made; the view must show them (it once kept a copy of an empty one)."""
    generated: dict[tuple[str, str], dict[str, bytes]] = {}
    view = StoreView({}, "data", extra=generated)
    generated[("ns", "obreg-sp-client")] = {"client-id": b"id"}
    assert view[("ns", "obreg-sp-client")] == {"client-id": b"id"}
    assert ("ns", "obreg-sp-client") in view


def test_the_workload_apply_is_conditional_on_the_workloads_uid() -> None:
    """The uid in the apply body is a precondition: the API server refuses (409) to create
    a workload someone deleted, or to touch a new one of the same name."""
    target = dataclasses.replace(deployment(), uid="u-1")
    body = workload.apply_body(target, Bundle("ns", KM, ()))
    assert body["metadata"] == {"name": "km", "namespace": "ns", "uid": "u-1"}


def km_steps(files: Mapping[tuple[Any, ...], TargetResult] | None = None) -> KeyManagerSteps:
    """The Key Manager passes with the files outcomes given, and nothing else of the
    reconciles (no API, no status writes)."""

    async def no_writes(*_: Any) -> None:
        raise AssertionError("not expected to write")

    return KeyManagerSteps(
        api=cast(Any, None),
        settle_seconds=0,
        files=lambda rid, ref: (files or {}).get((rid, ref)),
        written={},
        generated={},
        write_statuses=no_writes,
    )


def test_a_complete_rollout_requests_the_km_steps_once_or_when_a_pass_waits_for_it() -> None:
    """kopf may merge a rollout's events so that its incomplete states are never seen;
    a pass that found the KM rolling out must still be requested once it is complete."""
    steps = km_steps()
    key = ("ns", "Deployment", "km")
    done, rolling = workload.Rollout(True, 1), workload.Rollout(False, 1)
    assert steps.rollout_seen(key, done)  # the first time seen complete
    assert not steps.rollout_seen(key, done)  # the same again: nothing new
    assert not steps.rollout_seen(key, rolling)
    assert steps.rollout_seen(key, done)  # a rollout ended
    steps.awaited.add(key)
    assert not steps.rollout_seen(key, rolling)  # still waiting: kept
    assert steps.rollout_seen(key, done)  # seen as before, but a pass waits for it
    assert not steps.rollout_seen(key, done)


def test_a_km_still_rolling_out_shows_pending_not_the_last_synced() -> None:
    """A status written with new files must not say Synced for the KM's database: that
    was checked for the files before. Until the KM runs the new files it is Pending, and
    the rollout's end is awaited."""
    sp = parse.parse(find(sample_documents(), "OBServiceProvider"))
    km = sp.spec.key_manager
    digest = "new-digest"
    running = workload.Rollout(complete=True, ready=1)
    seen = {"target": dataclasses.replace(deployment(), digest="old-digest", rollout=running)}
    indexes = cast(Any, SimpleNamespace(workload=lambda namespace, ref: seen["target"]))
    files = result("Applied").model_copy(update={"digest": digest})
    steps = km_steps({((sp.namespace, sp.kind, sp.name), km): files})
    synced = {"keyManagerDatabase": {"state": "Synced", "message": "in place"}}
    shown = steps.result(sp, synced, indexes)
    assert shown is not None and shown.state == "Pending"
    assert "finish rolling out" in shown.message
    assert (sp.namespace, km.kind, km.name) in steps.awaited
    # The KM runs the new files: what was verified shows.
    seen["target"] = dataclasses.replace(seen["target"], digest=digest)
    shown = steps.result(sp, synced, indexes)
    assert shown is not None and shown.state == "Synced"


def test_validation_is_remembered_by_uid_and_generation_only() -> None:
    """A namespace is validated on every event of its resources; the result is reused
    while uid and generation are the same (the API server bumps generation with every
    spec change), and never for objects that lack either."""
    anchor = next(d for d in sample_documents() if d["kind"] == "OBTrustAnchor")
    anchor["metadata"].update(namespace="memo", uid="u-memo", generation=1)
    first = state.snapshot("memo", [anchor]).namespace.trust_anchors[0]
    assert state.snapshot("memo", [anchor]).namespace.trust_anchors[0] is first
    changed = {**anchor, "metadata": {**anchor["metadata"], "generation": 2}, "spec": {}}
    assert [i.name for i in state.snapshot("memo", [changed]).invalid] == [
        anchor["metadata"]["name"]
    ]
    # Back to a valid spec under a new generation: validated again, not the refusal.
    fixed = {**anchor, "metadata": {**anchor["metadata"], "generation": 3}}
    assert state.snapshot("memo", [fixed]).namespace.trust_anchors[0] is not first
    no_uid = {**anchor, "metadata": {**anchor["metadata"], "uid": ""}}
    once = state.snapshot("memo", [no_uid]).namespace.trust_anchors[0]
    assert state.snapshot("memo", [no_uid]).namespace.trust_anchors[0] is not once
    zero = {**anchor, "metadata": {**anchor["metadata"], "generation": 0}}
    once = state.snapshot("memo", [zero]).namespace.trust_anchors[0]
    assert state.snapshot("memo", [zero]).namespace.trust_anchors[0] is not once
    # Whatever else names the object is part of the key: another API version of the same
    # object (a CRD upgrade keeps uid and generation) is validated as what it is.
    other_version = {**anchor, "apiVersion": "obreg.dev/v1beta9"}
    assert [i.name for i in state.snapshot("memo", [other_version]).invalid] == [
        anchor["metadata"]["name"]
    ]
    for field, value in (("name", "renamed"), ("namespace", "elsewhere")):
        moved = {**anchor, "metadata": {**anchor["metadata"], field: value}}
        parsed = state.snapshot("memo", [moved]).namespace.trust_anchors[0]
        assert getattr(parsed, field) == value


def test_the_validation_memo_keeps_the_most_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "PARSED_KEPT", 2)
    monkeypatch.setattr(state, "_parsed_cache", type(state._parsed_cache)())
    anchor = next(d for d in sample_documents() if d["kind"] == "OBTrustAnchor")

    def parsed(uid: str) -> object:
        obj = {**anchor, "metadata": {**anchor["metadata"], "uid": uid, "generation": 1}}
        return state.snapshot("ns", [obj]).namespace.trust_anchors[0]

    a, b = parsed("a"), parsed("b")
    assert parsed("a") is a  # used again: now the most recent
    parsed("c")  # one too many: b, the least recently used, goes
    assert parsed("a") is a
    assert parsed("b") is not b


def test_a_namespace_renders_one_at_a_time_and_leaves_a_thread_to_the_others() -> None:
    """A namespace rendering thousands of certificates must not take every render thread:
    another namespace's render runs meanwhile, the same namespace's next one waits."""

    async def scenario() -> list[str]:
        renders, order, release = reconcile.Renders(threads=2), [], threading.Event()

        def render(name: str, block: bool = False) -> Any:
            order.append(f"start {name}")
            if block:
                assert release.wait(10)
            order.append(f"end {name}")

        heavy = asyncio.ensure_future(renders.run("heavy", lambda: render("heavy-1", True)))
        again = asyncio.ensure_future(renders.run("heavy", lambda: render("heavy-2")))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(renders.run("quiet", lambda: render("quiet")), 5)
        release.set()
        await asyncio.gather(heavy, again)
        return order

    order = asyncio.run(scenario())
    assert order.index("end quiet") < order.index("end heavy-1") < order.index("start heavy-2")


_REFS = st.frozensets(st.sampled_from([WorkloadRef(name=n) for n in ("km", "apim", "other")]))
_TRACKED = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from(["OBTrustAnchor", "OBServiceProvider"]),
        st.sampled_from(["one", "two"]),
        st.none() | _REFS,
    ),
    max_size=30,
)


@given(_TRACKED)
def test_targeted_is_the_union_of_each_resources_latest_targets(steps: list[Any]) -> None:
    """``targeted`` is kept as counts per namespace (it is asked on every event); after
    any sequence of changes and deletions it must equal the union of what each
    resource of the namespace targets now, and list no namespace left with none."""
    controller = Controller(api=cast(Any, None), settle_seconds=0)
    latest: dict[tuple[str, str, str], frozenset[WorkloadRef]] = {}
    for namespace, kind, name, refs in steps:
        before = latest.get((namespace, kind, name), frozenset())
        touched = controller.track((namespace, kind, name), refs)
        assert touched == set(before) | set(refs or ())
        if refs is None:
            latest.pop((namespace, kind, name), None)
        else:
            latest[(namespace, kind, name)] = refs
    for namespace in ("a", "b"):
        expected = {r for (ns, _, _), refs in latest.items() if ns == namespace for r in refs}
        assert controller.targeted(namespace) == expected
    assert controller.namespaces() == sorted({ns for (ns, _, _), refs in latest.items() if refs})


def test_a_resources_file_references_are_walked_once_per_parsed_spec() -> None:
    """The references are kept with the parsed object (asked on every event) and go
    with it; a new spec is walked anew."""
    sp = parse.parse(find(sample_documents(), "OBServiceProvider"))
    refs = state._file_refs(sp)
    assert ("Secret", sp.spec.key_manager_admin.credentials_secret) in refs
    assert state._file_refs(sp) is refs
    key = id(sp)
    del sp
    gc.collect()
    assert key not in state._refs_kept


def _deployment(namespace: str, name: str, **status: int) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name, "uid": f"u-{name}", "generation": 1},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c"}]}}},
        "status": {"observedGeneration": 1, **status},
    }


def test_only_a_change_of_what_obreg_reads_of_a_workload_is_passed_on() -> None:
    """Workloads are obreg's own watch: a status update that changes nothing obreg reads
    stops there; a rollout's progress, a spec change and a deletion are passed on."""
    held = workload.Workloads()
    key = ("ns", "Deployment", "km")
    assert held.event("Deployment", "ADDED", _deployment("ns", "km")) == key
    assert held.event("Deployment", "MODIFIED", _deployment("ns", "km")) is None
    noise = _deployment("ns", "km", collisionCount=2)  # not read by obreg
    assert held.event("Deployment", "MODIFIED", noise) is None
    progressed = _deployment("ns", "km", updatedReplicas=1, replicas=1, readyReplicas=1)
    assert held.event("Deployment", "MODIFIED", progressed) == key
    assert held.held[key].rollout != workload.rollout(_deployment("ns", "km"))
    relabelled = _deployment("ns", "km")
    relabelled["metadata"]["labels"] = {workload.INJECT_LABEL: "true"}
    assert held.event("Deployment", "MODIFIED", relabelled) == key
    assert held.event("Deployment", "DELETED", relabelled) == key
    assert held.event("Deployment", "DELETED", relabelled) is None
    assert key not in held.held


def test_a_relist_forgets_only_the_missing_workloads_of_its_kind_and_scope() -> None:
    """After a watch expired, a list is the truth for its kind and scope: what it lacks
    was deleted meanwhile; other kinds and namespaces are another stream's."""
    held = workload.Workloads()
    for namespace, name in (("a", "kept"), ("a", "gone"), ("b", "other")):
        held.event("Deployment", "ADDED", _deployment(namespace, name))
    held.event("StatefulSet", "ADDED", _deployment("a", "set"))
    assert held.relisted("Deployment", "a", [("a", "Deployment", "kept")]) == [
        ("a", "Deployment", "gone")
    ]
    assert set(held.held) == {
        ("a", "Deployment", "kept"),
        ("b", "Deployment", "other"),
        ("a", "StatefulSet", "set"),
    }
    assert held.relisted("Deployment", None, []) == [
        ("a", "Deployment", "kept"),
        ("b", "Deployment", "other"),
    ]


def test_a_deleted_resource_and_a_lost_lease_leave_nothing_of_what_this_process_decided() -> None:
    """A deleted resource's last warning event is forgotten with it (else one entry per
    resource ever warned about stays for the life of the process); losing the Lease
    forgets the statuses written and the Key Manager outcomes, which the next leader may
    have changed, so leading again starts from the API server's view, as a restart."""
    controller = Controller(api=cast(Any, None), settle_seconds=0)
    rid = ("ns", "OBTrustAnchor", "cas")
    controller.track(rid, [WorkloadRef(kind="Deployment", name="km")])
    controller.last_events[rid] = "inline must be PEM"
    controller.track(rid, None)
    assert rid not in controller.last_events
    sp = ("ns", "OBServiceProvider", "apim-store")
    controller.written[sp] = {"conditions": []}
    controller.key_manager.outcomes[("ns", "apim-store")] = cast(Any, object())
    controller.stop_acting()
    assert not controller.written and not controller.key_manager.outcomes
