"""What obreg reads of a workload and writes on it (obreg/rules/workload.py), whole: the
summary of a realistic Deployment, the apply body of an injected one, StatefulSet
rollouts, and mounts that hide obreg's files."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from obreg.api.common import WorkloadRef
from obreg.render import objects
from obreg.render.bundle import Bundle, File
from obreg.rules import workload
from obreg.rules.workload import Rollout, Workload

ROOT = workload.DEFAULT_MOUNT_ROOT


def deployment_body() -> dict[str, Any]:
    """A Deployment as a chart makes it: volumes of every kind that can read a
    ConfigMap or Secret, two containers, a sidecar without mounts, a pod fsGroup, and
    annotations of others beside obreg's."""
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "wso2-km",
            "namespace": "bank",
            "uid": "u-1",
            "generation": 4,
            "labels": {"app": "km", workload.INJECT_LABEL: "true"},
            "annotations": {
                "deployment.kubernetes.io/revision": "3",
                workload.MOUNT_ROOT_ANNOTATION: "/opt/conf/",
            },
        },
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"annotations": {"obreg.dev/digest": "d-7", "other": "x"}},
                "spec": {
                    "securityContext": {"fsGroup": 802},
                    "volumes": [
                        {"name": "cm", "configMap": {"name": "conf"}},
                        {"name": "sec", "secret": {"secretName": "keys"}},
                        {
                            "name": "proj",
                            "projected": {
                                "sources": [
                                    {"configMap": {"name": "obreg-wso2-km"}},
                                    {"secret": {"name": "obreg-wso2-km"}},
                                    {"downwardAPI": {"items": []}},
                                ]
                            },
                        },
                        {"name": "scratch", "emptyDir": {}},
                        {"name": workload.VOLUME, "projected": {"sources": [], "defaultMode": 288}},
                    ],
                    "containers": [
                        {
                            "name": "km",
                            "volumeMounts": [
                                {"name": "cm", "mountPath": "/conf"},
                                {"name": workload.VOLUME, "mountPath": "/opt/conf"},
                            ],
                        },
                        {"name": "sidecar"},
                    ],
                },
            },
        },
        "status": {
            "observedGeneration": 4,
            "replicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 2,
            "readyReplicas": 2,
        },
    }


def test_a_workload_is_summarized_into_what_obreg_reads_and_nothing_more() -> None:
    assert workload.summarize(deployment_body()) == Workload(
        kind="Deployment",
        name="wso2-km",
        namespace="bank",
        uid="u-1",
        labels={"app": "km", workload.INJECT_LABEL: "true"},
        annotations={workload.MOUNT_ROOT_ANNOTATION: "/opt/conf/"},  # only obreg's own
        digest="d-7",
        containers=("km", "sidecar"),
        mounts={"km": {"/conf": "cm", "/opt/conf": workload.VOLUME}, "sidecar": {}},
        volume={"name": workload.VOLUME, "projected": {"sources": [], "defaultMode": 288}},
        fs_group=802,
        volume_objects={
            "cm": ("conf",),
            "sec": ("keys",),
            "proj": ("obreg-wso2-km", "obreg-wso2-km"),
            "scratch": (),
            workload.VOLUME: (),
        },
        rollout=Rollout(complete=True, ready=2),
    )


def test_a_bare_workload_is_summarized_with_empty_parts() -> None:
    """A body with no spec or status (as some events carry) is no error."""
    bare = {"kind": "StatefulSet", "metadata": {"name": "s", "namespace": "n", "uid": "u"}}
    assert workload.summarize(bare) == Workload(
        kind="StatefulSet",
        name="s",
        namespace="n",
        uid="u",
        labels={},
        annotations={},
        digest=None,
        containers=(),
        mounts={},
        volume=None,
        fs_group=None,
        volume_objects={},
        rollout=Rollout(complete=False, ready=0),
    )


def test_the_watch_summarizes_under_the_kind_it_watches() -> None:
    """Watch events of a kind's list carry no ``kind`` per item: the stream's is used."""
    held = workload.Workloads()
    body = deployment_body()
    del body["kind"]
    held.event("StatefulSet", "ADDED", body)
    assert held.held[("bank", "StatefulSet", "wso2-km")].kind == "StatefulSet"


KM = WorkloadRef(kind="Deployment", name="wso2-km")
FILES = Bundle(
    "bank",
    KM,
    (
        File("repository/conf/identity/identity.xml", b"x", False, "identity", "r"),
        File("repository/resources/security/client-truststore.jks", b"y", True, "jks", "r"),
    ),
)


def test_the_apply_body_of_an_injected_workload_whole() -> None:
    """Everything obreg owns on the workload, key by key: a misspelt key would be a
    field the API server drops or refuses."""
    summary = workload.summarize(deployment_body())
    mode = 0o440  # the pod has an fsGroup
    assert workload.apply_body(summary, FILES) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "wso2-km", "namespace": "bank", "uid": "u-1"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"obreg.dev/digest": FILES.digest}},
                "spec": {
                    "volumes": [
                        {
                            "name": workload.VOLUME,
                            "projected": {
                                "sources": [
                                    {
                                        "configMap": {
                                            "name": "obreg-wso2-km",
                                            "items": [
                                                {
                                                    "key": "repository__conf__identity__"
                                                    "identity.xml",
                                                    "path": "repository/conf/identity/identity.xml",
                                                }
                                            ],
                                        }
                                    },
                                    {
                                        "secret": {
                                            "name": "obreg-wso2-km",
                                            "items": [
                                                {
                                                    "key": "repository__resources__"
                                                    "security__client-truststore.jks",
                                                    "path": "repository/resources/security/"
                                                    "client-truststore.jks",
                                                    "mode": mode,
                                                }
                                            ],
                                        }
                                    },
                                ],
                                "defaultMode": mode,
                            },
                        }
                    ],
                    "containers": [
                        {
                            "name": name,
                            "volumeMounts": [
                                {
                                    "name": workload.VOLUME,
                                    "mountPath": "/opt/conf",
                                    "readOnly": True,
                                }
                            ],
                        }
                        for name in ("km", "sidecar")
                    ],
                },
            }
        },
    }


def applied(summary: Workload) -> Workload:
    """The summary after obreg's apply landed as is."""
    spec = workload.apply_body(summary, FILES)["spec"]["template"]["spec"]
    root = workload.mount_root(summary)
    return dataclasses.replace(
        summary,
        digest=FILES.digest,
        volume=spec["volumes"][0],
        mounts={c: {root: workload.VOLUME} for c in summary.containers},
    )


def test_an_applied_workload_needs_nothing_until_its_mounts_are_edited() -> None:
    done = applied(workload.summarize(deployment_body()))
    assert not workload.needs_apply(done, FILES)
    assert workload.needs_apply(dataclasses.replace(done, digest="d-0"), FILES)
    assert workload.needs_apply(dataclasses.replace(done, volume=None), FILES)
    # A container whose mounts are gone altogether (not only obreg's).
    assert workload.needs_apply(dataclasses.replace(done, mounts={"km": done.mounts["km"]}), FILES)
    # Not injecting: only the digest counts; mounts are the user's.
    plain = dataclasses.replace(done, labels={}, mounts={}, volume=None)
    assert not workload.needs_apply(plain, FILES)
    # Nothing to mount: only the digest.
    empty = Bundle("bank", KM, ())
    assert not workload.needs_apply(dataclasses.replace(done, digest=empty.digest), empty)


def statefulset(**status: object) -> dict[str, Any]:
    return {
        "kind": "StatefulSet",
        "metadata": {"generation": 2},
        "spec": {"replicas": 3},
        "status": {
            "observedGeneration": 2,
            "updatedReplicas": 3,
            "readyReplicas": 3,
            "currentRevision": "r2",
            "updateRevision": "r2",
            **status,
        },
    }


@pytest.mark.parametrize(
    ("body", "complete"),
    [
        (statefulset(), True),
        # StatefulSets have no availableReplicas rule: ready pods count.
        (statefulset(availableReplicas=0), True),
        (statefulset(currentRevision="r1"), False),  # pods of the old revision remain
        (statefulset(updateRevision=None), False),
        (statefulset(readyReplicas=2), False),
        (statefulset(updatedReplicas=2), False),
        (statefulset(observedGeneration=1), False),
        # One replica when unset, and missing counts are zero.
        ({"kind": "StatefulSet", "spec": {}, "status": {"updatedReplicas": 1}}, False),
        (
            {
                "kind": "StatefulSet",
                "status": {"updatedReplicas": 1, "readyReplicas": 1},
            },
            True,
        ),
        ({"kind": "Deployment", "status": {"updatedReplicas": 1, "replicas": 1}}, False),
        (
            {
                "kind": "Deployment",
                "status": {"updatedReplicas": 1, "replicas": 1, "availableReplicas": 1},
            },
            True,
        ),
        ({"kind": "Deployment", "metadata": {"generation": 1}, "status": {}}, False),
        # A count the controller has not written yet is zero, not "done".
        (
            {
                "kind": "Deployment",
                "metadata": {"generation": 1},
                "status": {"updatedReplicas": 1, "replicas": 1, "availableReplicas": 1},
            },
            False,
        ),
        ({"kind": "Deployment", "status": {"replicas": 1, "availableReplicas": 1}}, False),
        ({"kind": "Deployment", "status": {"updatedReplicas": 1, "availableReplicas": 1}}, False),
    ],
)
def test_a_statefulset_rollout_is_complete_when_every_pod_is_of_the_update_revision(
    body: dict[str, Any], complete: bool
) -> None:
    assert workload.rollout(body).complete is complete


def test_the_ready_count_is_the_ready_pods() -> None:
    assert workload.rollout(statefulset(readyReplicas=2)).ready == 2
    assert workload.rollout({"kind": "Deployment"}).ready == 0


def test_a_mount_over_obregs_whole_root_or_under_it_is_reported() -> None:
    summary = dataclasses.replace(
        workload.summarize(deployment_body()),
        mounts={
            "km": {
                "/opt/conf": workload.VOLUME,
                "/opt/conf/repository/conf/": "cm",  # hides identity.xml (trailing slash)
            },
            "sidecar": {"/opt/conf": "sec"},  # over the whole root
        },
    )
    assert workload.hidden_files(summary, FILES) == [
        "container km: volume cm mounted at /opt/conf/repository/conf/ hides "
        "repository/conf/identity/identity.xml",
        "container sidecar: volume sec mounted at /opt/conf hides "
        "repository/conf/identity/identity.xml, "
        "repository/resources/security/client-truststore.jks",
    ]
    # With no file to name, the mount hides the root itself.
    assert workload.hidden_files(summary, Bundle("bank", KM, ())) == [
        "container sidecar: volume sec mounted at /opt/conf hides obreg's whole mount"
    ]


def test_a_workload_that_mounts_obregs_objects_itself_is_checked_at_its_own_path() -> None:
    """Not injecting: obreg's root is where the user mounted a volume that reads
    obreg-<name> (a trailing slash is the same root)."""
    summary = dataclasses.replace(
        workload.summarize(deployment_body()),
        labels={},
        mounts={"km": {"/mine/": "proj", "/mine/repository/conf/identity": "cm"}},
    )
    assert workload.hidden_files(summary, FILES) == [
        "container km: volume cm mounted at /mine/repository/conf/identity hides "
        "repository/conf/identity/identity.xml"
    ]
    # A volume obreg knows nothing of: no root, nothing reported.
    unknown = dataclasses.replace(summary, volume_objects={})
    assert workload.hidden_files(unknown, FILES) == []


def test_the_config_map_and_secret_of_a_bundle_whole() -> None:
    """What obreg applies beside the workload, key by key: text in data, other bytes in
    binaryData, secret files only in the Secret, labels that tell its workload."""
    files = (
        File("a/plain.xml", b"<x/>", False, "f1", "r"),
        File("a/binary.jks", b"\xfe\xed", False, "f2", "r"),
        File("a/secret.json", b"{}", True, "f3", "r"),
    )
    bundle = Bundle("bank", KM, files)
    metadata = {
        "name": "obreg-wso2-km",
        "namespace": "bank",
        "labels": {
            "app.kubernetes.io/managed-by": "obreg",
            "obreg.dev/workload": "wso2-km",
            "obreg.dev/workload-kind": "Deployment",
        },
        "annotations": {"obreg.dev/digest": bundle.digest},
    }
    assert objects.config_map(bundle) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {files[0].key: "<x/>"},
        "binaryData": {files[1].key: "/u0="},
    }
    assert objects.secret(bundle) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata,
        "data": {files[2].key: "e30="},
    }
    assert objects.credentials_secret("bank", "obreg-sp-client", {"b": b"2", "a": b"1"}) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "obreg-sp-client",
            "namespace": "bank",
            # obreg's own, and an input of obreg as any Secret its resources read.
            "labels": {"app.kubernetes.io/managed-by": "obreg", "obreg.dev/input": "true"},
        },
        "data": {"a": "MQ==", "b": "Mg=="},
    }
    only_text = Bundle("bank", KM, files[:1])
    assert "binaryData" not in objects.config_map(only_text)
