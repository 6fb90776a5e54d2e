"""The operator end to end on the real control plane, as the chart's ServiceAccount."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg.cli import main as obreg_main
from tests.e2e.harness import Operator, Scenario, consistently, window
from tests.kubetools import poll
from tests.pki import issue

pytestmark = pytest.mark.cluster


def converge(scenario: Scenario) -> dict[str, int]:
    scenario.apply()
    scenario.wait_ready()
    poll(lambda: all(n == 1 for n in scenario.rollouts().values()), 60, "the first rollouts")
    return scenario.rollouts()


def stays(scenario: Scenario, expected: dict[str, int]) -> None:
    consistently(lambda: scenario.rollouts() == expected, window(), f"rollouts stay {expected}")


def rolls_to(scenario: Scenario, expected: dict[str, int]) -> None:
    poll(lambda: scenario.rollouts() == expected, 30, f"rollouts {expected}")
    stays(scenario, expected)


def test_runbook_scenario_matches_obreg_render(scenario: Scenario, tmp_path: Path) -> None:
    assert converge(scenario) == {"wso2-km": 1, "wso2-apim": 1}
    # The README's Troubleshooting: every kind, Ready, the reason and the workloads.
    printed = scenario.kubectl("get", "ob", "-n", scenario.namespace).stdout.splitlines()
    lines = [line.split() for line in printed if line.strip()]  # a table per kind
    assert {tuple(line) for line in lines if line[0] == "NAME"} == {
        ("NAME", "READY", "REASON", "WORKLOADS", "AGE")
    }
    rows = [line for line in lines if line[0] != "NAME"]
    assert sorted(row[0] for row in rows) == [
        "obidentityprovider.obreg.dev/ob-directory",
        "observiceprovider.obreg.dev/apim-store",
        "obtrustanchor.obreg.dev/ob-directory-cas",
    ]
    assert all(row[1:3] == ["True", "Applied"] for row in rows)
    # The same manifests (plus the credentials obreg generated) rendered offline.
    generated = scenario.get("secret", "obreg-apim-store-client")
    generated.pop("status", None)
    manifests = tmp_path / "in.yaml"
    manifests.write_text(yaml.safe_dump_all([*scenario.docs, generated]))
    # With the operator's digest key, so the digests printed are the cluster's.
    key = tmp_path / "digest.key"
    key.write_bytes(scenario.digest_key())
    render = ["render", "-f", str(manifests), "-o", str(tmp_path / "out")]
    assert obreg_main([*render, "--digest-key-file", str(key)]) == 0
    for workload in ("wso2-km", "wso2-apim"):
        offline = list(
            yaml.safe_load_all(
                (
                    tmp_path / "out" / scenario.namespace / workload / "obreg-objects.yaml"
                ).read_text()
            )
        )
        for kind, expected in (("ConfigMap", offline[0]), ("Secret", offline[1])):
            live = scenario.get(kind.lower(), f"obreg-{workload}")
            assert {**live.get("data", {}), **live.get("binaryData", {})} == {
                **expected.get("data", {}),
                **expected.get("binaryData", {}),
            }
            assert (
                live["metadata"]["annotations"]["obreg.dev/digest"]
                == expected["metadata"]["annotations"]["obreg.dev/digest"]
            )
            owner = live["metadata"]["ownerReferences"][0]
            assert (owner["kind"], owner["name"]) == ("Deployment", workload)
        deployment = scenario.get("deployment", workload)
        template = deployment["spec"]["template"]
        assert (
            template["metadata"]["annotations"]["obreg.dev/digest"]
            == offline[0]["metadata"]["annotations"]["obreg.dev/digest"]
        )
        mounts = template["spec"]["containers"][0]["volumeMounts"]
        assert {
            "name": "obreg-files",
            "mountPath": "/home/wso2carbon/wso2-config-volume",
            "readOnly": True,
        } in mounts
    anchor = scenario.get("obta", "ob-directory-cas")["status"]
    assert [c["alias"] for c in anchor["certificates"]] == ["tpproot", "tppissuer"]
    assert anchor["observedGeneration"] == 1

    def rolled_out() -> set[str]:
        listed = json.loads(
            scenario.kubectl("get", "events", "-n", scenario.namespace, "-o", "json").stdout
        )["items"]
        return {
            e["involvedObject"]["name"]
            for e in listed
            if e["reason"] == "RolledOut" and e["source"].get("component") == "obreg"
        }

    # Each contributing resource is told that its workloads restarted.
    poll(
        lambda: rolled_out() == {"ob-directory-cas", "ob-directory", "apim-store"},
        30,
        "RolledOut events on the three resources",
    )
    assert {t["name"]: t["state"] for t in anchor["targets"]} == {
        "wso2-km": "Applied",
        "wso2-apim": "Applied",
    }
    assert anchor["warnings"] == ["the truststore uses the default password wso2carbon"]
    assert scenario.condition("obsp", "apim-store", "Stalled")["status"] == "False"


def test_rollouts_happen_exactly_when_files_change(scenario: Scenario, operator: Operator) -> None:
    counts = converge(scenario)

    scenario.apply()  # identical re-apply
    stays(scenario, counts)

    operator.stop()  # an operator restart re-reads everything and writes nothing
    operator.start()
    poll(
        lambda: "serving obreg's resources: 3 listed" in operator.since_start(),
        60,
        "the restarted operator to see the resources",
    )
    stays(scenario, counts)

    # A CA that only the API Manager trusts: one rollout there, none on the Key Manager.
    extra = {
        "apiVersion": "obreg.dev/v1alpha1",
        "kind": "OBTrustAnchor",
        "metadata": {"name": "apim-only", "namespace": scenario.namespace},
        "spec": {
            "targets": [{"name": "wso2-apim"}],
            "certificates": [{"alias": "partnerca", "inline": issue("Partner CA").pem.decode()}],
        },
    }
    scenario.apply([*scenario.docs, extra])
    counts["wso2-apim"] += 1
    rolls_to(scenario, counts)
    extra["spec"]["certificates"][0]["inline"] = issue("Partner CA 2").pem.decode()
    scenario.apply([*scenario.docs, extra])
    counts["wso2-apim"] += 1
    rolls_to(scenario, counts)

    # One apply changing three resources: one rollout per workload, not three.
    docs = copy.deepcopy(scenario.docs)
    for doc in docs:
        if doc["kind"] == "OBIdentityProvider":
            doc["spec"]["displayName"] = "OB Directory (changed)"
        if doc["kind"] == "OBServiceProvider":
            doc["spec"]["scope"] = "openid email api_store"
        if doc["kind"] == "OBTrustAnchor":
            doc["spec"]["certificates"].append(
                {"alias": "more", "inline": issue("More CA").pem.decode()}
            )
    with operator.frozen():
        scenario.apply([*docs, extra])
    counts = {k: v + 1 for k, v in counts.items()}
    rolls_to(scenario, counts)

    # A rotated referenced Secret: the IdP file changes, on the Key Manager only.
    scenario.merge_patch(
        "secret", "ob-directory-client", {"stringData": {"client-secret": "rotated"}}
    )
    counts["wso2-km"] += 1
    rolls_to(scenario, counts)
    idp_file = "repository__conf__identity__identity-providers__OBDirectory.xml"
    assert b"<Value>rotated</Value>" in base64.b64decode(
        scenario.data("secret", "obreg-wso2-km")[idp_file]
    )


def test_hand_edits_are_reverted(scenario: Scenario) -> None:
    converge(scenario)
    key = "repository__conf__identity__identity.xml"
    good = scenario.data("configmap", "obreg-wso2-km")[key]
    scenario.merge_patch("configmap", "obreg-wso2-km", {"data": {key: "edited by hand"}})
    poll(
        lambda: scenario.data("configmap", "obreg-wso2-km")[key] == good,
        10,
        "the ConfigMap edit to be reverted",
    )
    secret_key = "repository__deployment__server__jaggeryapps__store__site__conf__site.json"
    good_secret = scenario.data("secret", "obreg-wso2-apim")[secret_key]
    scenario.merge_patch("secret", "obreg-wso2-apim", {"data": {secret_key: "e30="}})
    poll(
        lambda: scenario.data("secret", "obreg-wso2-apim")[secret_key] == good_secret,
        10,
        "the Secret edit to be reverted",
    )
    scenario.kubectl(
        "patch",
        "deployment",
        "wso2-km",
        "-n",
        scenario.namespace,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/template/spec/containers/0/volumeMounts"}]',
    )
    poll(
        lambda: bool(
            scenario.get("deployment", "wso2-km")["spec"]["template"]["spec"]["containers"][0].get(
                "volumeMounts"
            )
        ),
        10,
        "the mount to be restored",
    )


def test_a_workload_created_later_gets_its_files(scenario: Scenario) -> None:
    resources = [d for d in scenario.docs if d["kind"] != "Deployment"]
    scenario.apply(resources)
    poll(
        lambda: scenario.condition("obidp", "ob-directory").get("reason") == "WaitingForWorkload",
        30,
        "the IdP to wait for its workload",
    )
    assert scenario.condition("obidp", "ob-directory", "Reconciling")["status"] == "True"
    scenario.apply()
    scenario.wait_ready()
    assert scenario.data("configmap", "obreg-wso2-km")


def test_deleting_resources_rolls_once_and_pods_still_start(
    scenario: Scenario, operator: Operator
) -> None:
    counts = converge(scenario)
    scenario.kubectl("delete", "obsp", "apim-store", "-n", scenario.namespace)
    counts = {k: v + 1 for k, v in counts.items()}
    rolls_to(scenario, counts)
    site = "repository__deployment__server__jaggeryapps__store__site__conf__site.json"
    assert site not in scenario.data("secret", "obreg-wso2-apim")
    with operator.frozen():  # two deletions seen together: one rollout each
        for kind in ("obta", "obidp"):
            scenario.kubectl("delete", kind, "--all", "-n", scenario.namespace)
    counts = {k: v + 1 for k, v in counts.items()}
    rolls_to(scenario, counts)
    # Empty objects, never missing ones: pods that mount them still start.
    assert scenario.data("configmap", "obreg-wso2-km") == {}
    for app in ("wso2-km", "wso2-apim"):
        scenario.kubectl(
            "rollout", "status", f"deployment/{app}", "-n", scenario.namespace, "--timeout=60s"
        )


def _bad_ca(docs: list[dict[str, object]]) -> None:
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "ob-directory-cas":  # type: ignore[index]
            doc["data"]["root-ca.pem"] = "-----BEGIN CERTIFICATE-----\nAAAA\n"  # type: ignore[index]


def test_bad_input_stalls_and_keeps_the_last_good_files(scenario: Scenario) -> None:
    counts = converge(scenario)
    good = {w: scenario.data("configmap", f"obreg-{w}") for w in ("wso2-km", "wso2-apim")}
    docs = copy.deepcopy(scenario.docs)
    _bad_ca(docs)
    scenario.apply(docs)
    poll(
        lambda: scenario.condition("obta", "ob-directory-cas", "Stalled").get("status") == "True",
        30,
        "the anchor to stall",
    )
    stalled = scenario.condition("obta", "ob-directory-cas", "Stalled")
    assert "spec.certificates[0].configMapKeyRef" in stalled["message"]
    assert "malformed PEM" in stalled["message"]
    poll(
        lambda: scenario.condition("obidp", "ob-directory").get("reason") == "Blocked",
        30,
        "the IdP, which shares the Key Manager, to be blocked",
    )
    stays(scenario, counts)
    assert {w: scenario.data("configmap", f"obreg-{w}") for w in good} == good
    events = scenario.kubectl(
        "get",
        "events",
        "-n",
        scenario.namespace,
        "--field-selector",
        "involvedObject.name=ob-directory-cas,type=Warning",
        "-o",
        "jsonpath={.items[*].message}",
    ).stdout
    assert "malformed PEM" in events
    scenario.apply()  # fixed: Ready again, with no rollout (the files are the good ones)
    scenario.wait_ready()
    stays(scenario, counts)


def test_a_missing_reference_fails_with_its_field_path(scenario: Scenario) -> None:
    converge(scenario)
    # A spec the API server accepts but obreg cannot render names its field path.
    bad = copy.deepcopy(scenario.find("OBTrustAnchor"))
    bad["metadata"]["name"] = "missing-key"
    bad["spec"]["certificates"][0]["configMapKeyRef"]["key"] = "missing.pem"
    scenario.apply([bad])
    poll(
        lambda: scenario.condition("obta", "missing-key").get("reason") == "Failed",
        30,
        "the anchor to fail",
    )
    assert "has no key 'missing.pem'" in scenario.condition("obta", "missing-key")["message"]
    assert (
        "spec.certificates[0].configMapKeyRef"
        in scenario.condition("obta", "missing-key")["message"]
    )


def test_someone_elses_object_under_obregs_name_is_left_alone(scenario: Scenario) -> None:
    scenario.kubectl(
        "create",
        "configmap",
        "obreg-wso2-km",
        "-n",
        scenario.namespace,
        "--from-literal=owner=someone-else",
    )
    scenario.apply()
    poll(
        lambda: (
            "is not managed by obreg"
            in scenario.condition("obidp", "ob-directory", "Stalled").get("message", "")
        ),
        30,
        "the IdP to report the foreign ConfigMap",
    )
    assert scenario.data("configmap", "obreg-wso2-km") == {"owner": "someone-else"}
    scenario.kubectl("delete", "configmap", "obreg-wso2-km", "-n", scenario.namespace)
    scenario.wait_ready()
    assert "repository__conf__identity__identity.xml" in scenario.data("configmap", "obreg-wso2-km")


def _km_as_statefulset(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scenario with its Key Manager a StatefulSet, as some WSO2 charts run it."""
    changed = copy.deepcopy(docs)
    km = {"kind": "StatefulSet", "name": "wso2-km"}
    for doc in changed:
        spec = doc.get("spec") or {}
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "wso2-km":
            doc["kind"] = "StatefulSet"
            spec["serviceName"] = "wso2-km"
        elif doc["kind"] == "OBTrustAnchor":
            spec["targets"] = [km if t["name"] == "wso2-km" else t for t in spec["targets"]]
        elif doc["kind"] == "OBIdentityProvider":
            spec["target"] = km
        elif doc["kind"] == "OBServiceProvider":
            spec["keyManager"] = km
    return changed


def _revisions_with_digest(scenario: Scenario, name: str) -> set[str]:
    """The obreg digests of a StatefulSet's ControllerRevisions: one per rollout."""
    got = scenario.kubectl("get", "controllerrevisions", "-n", scenario.namespace, "-o", "json")
    listed = json.loads(got.stdout)["items"]
    return {
        annotations["obreg.dev/digest"]
        for r in listed
        if r["metadata"]["name"].startswith(f"{name}-")
        for annotations in [r["data"]["spec"]["template"]["metadata"].get("annotations") or {}]
        if "obreg.dev/digest" in annotations
    }


def test_a_statefulset_target_is_served_like_a_deployment(scenario: Scenario) -> None:
    """Files, digest, rollout and Key Manager steps for a StatefulSet; its deletion is
    seen (the target waits for it) and its return gets the same files."""
    docs = _km_as_statefulset(scenario.docs)
    scenario.apply(docs)
    scenario.wait_ready(timeout=90)
    assert scenario.data("configmap", "obreg-wso2-km")
    digest = scenario.get("statefulset", "wso2-km")["spec"]["template"]["metadata"]["annotations"][
        "obreg.dev/digest"
    ]
    assert _revisions_with_digest(scenario, "wso2-km") == {digest}
    assert scenario.condition("obsp", "apim-store", "KeyManagerDatabase")["reason"] == "Synced"

    anchor = next(d for d in docs if d["kind"] == "OBTrustAnchor")
    anchor["spec"]["certificates"].append(
        {"alias": "partnerca", "inline": issue("Partner CA").pem.decode()}
    )
    scenario.apply(docs)
    poll(lambda: len(_revisions_with_digest(scenario, "wso2-km")) == 2, 30, "a second rollout")

    scenario.kubectl("delete", "statefulset", "wso2-km", "-n", scenario.namespace)
    poll(
        lambda: scenario.condition("obidp", "ob-directory").get("reason") == "WaitingForWorkload",
        30,
        "the IdP to wait for its StatefulSet",
    )
    scenario.apply(docs)
    scenario.wait_ready(timeout=90)
