"""The chart's PrometheusRule (templates/prometheusrule.yaml), checked by promtool built
from the Go module proxy (hack/tools): the rendered rules pass ``promtool check rules``,
and ``promtool test rules`` shows each alert firing and staying quiet on series that
obreg's own metrics module produces (so an alert that selects a label or value obreg
never exports fails here), and every metric a rule names is one obreg exports."""

from __future__ import annotations

import datetime
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import tools
from obreg import metrics
from obreg.api.common import TargetResult
from obreg.api.service_provider import KeyManagerResult
from obreg.api.trust_anchor import CertificateSummary
from obreg.rules import status
from tests.chart_tools import CHART, documents, helm

NOW = datetime.datetime(2026, 12, 6, 8, 0, tzinfo=datetime.UTC)
# What Prometheus adds to every series it scrapes through the ServiceMonitor (honorLabels
# keeps a series' own namespace, the resource's, where it has one).
TARGET = {"job": "rel-obreg-metrics", "instance": "10.0.0.7:9090", "namespace": "obreg-system"}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return tools.PROMTOOL.path()


@pytest.fixture(autouse=True)
def no_series() -> Iterator[None]:
    metrics.forget_resources()
    yield
    metrics.forget_resources()


def rules(*args: str) -> dict[str, Any]:
    """The rendered PrometheusRule's spec (a Prometheus rule file's content)."""
    found = [
        d
        for d in documents("--set", "prometheusRule.enabled=true", *args)
        if d["kind"] == "PrometheusRule"
    ]
    assert len(found) == 1
    spec: dict[str, Any] = found[0]["spec"]
    return spec


def promtool_run(promtool: Path, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def series(metric: MetricWrapperBase, sample: str, **match: str) -> dict[str, float]:
    """The series ``metric`` exports now whose labels include ``match``, in PromQL's
    notation with the scrape target's labels (the series' own win), and their values."""
    out = {}
    for family in metric.collect():
        for s in family.samples:
            if s.name == sample and match.items() <= s.labels.items():
                labels = {**TARGET, **s.labels}
                inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                out[f"{sample}{{{inner}}}"] = s.value
    return out


def target(state: str) -> TargetResult:
    return TargetResult.model_validate({"kind": "Deployment", "name": "km", "state": state})


def conditions(kind: str, name: str, built: dict[str, Any]) -> dict[str, str]:
    """The condition series of a resource whose status is ``built``, held for 40 minutes."""
    metrics.conditions("bank", kind, name, built["conditions"])
    found = series(metrics.CONDITION, "obreg_resource_condition", name=name)
    return {s: f"{v:.0f}x40" for s, v in found.items()}


def expiry(days_after_epoch: int) -> dict[str, str]:
    """An anchor whose earliest certificate expires ``days_after_epoch`` days after the
    Unix epoch, where promtool's clock starts."""
    metrics.forget_resources()
    day = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        days=days_after_epoch
    )
    late = CertificateSummary(
        alias="root", subject="CN=r", issuer="CN=r", not_after="1971-01-01T00:00:00Z", sha256="a"
    )
    early = late.model_copy(update={"alias": "issuing", "not_after": day.isoformat()})
    metrics.certificates("bank", "ob-directory-cas", [late, early])
    found = series(
        metrics.EARLIEST_NOT_AFTER, "obreg_trust_anchor_earliest_not_after_timestamp_seconds"
    )
    assert list(found.values()) == [day.timestamp()]  # the earliest of the two
    return {s: f"{v:.0f}x180" for s, v in found.items()}


def labels_of(one_series: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', one_series))


# What each firing case's alert says, exactly (its templates filled in by Prometheus).
SAYS = {
    "ObregCertificateExpiringSoon": {
        "summary": "A certificate that OBTrustAnchor bank/ob-directory-cas trusts expires "
        "within 30 days",
        "description": "The earliest certificate of OBTrustAnchor bank/ob-directory-cas, in "
        "the truststores rendered from it, is valid for 9d 22h 0m 0s more (negative: "
        "expired). Its status.certificates names it; add its successor to the anchor before "
        "it expires.",
    },
    "ObregResourceStalled": {
        "summary": "OBTrustAnchor bank/cas is Stalled (Failed)",
        "description": "obreg cannot bring OBTrustAnchor bank/cas to Ready without a change "
        "of its input or of a resource it depends on (reason Failed: Invalid, Blocked, Failed "
        "or KeyManagerFailed); its workloads keep their last good files. The Stalled "
        "condition's message says what to do: kubectl get ob -n bank.",
    },
    "ObregKeyManagerUnavailable": {
        "summary": "The Key Manager of OBServiceProvider bank/tpp does not answer",
        "description": "obreg cannot reach the Key Manager admin service that "
        "OBServiceProvider bank/tpp names (or its answers are garbled), so the OAuth app, "
        "OIDC claim and openid scope are not verified; obreg retries. Its "
        "status.keyManagerDatabase.message says what failed.",
    },
    "ObregReconcileErrors": {
        "summary": "obreg's reconciles keep failing (15 errors in 15m)",
        "description": "Reconciles of obreg (rel-obreg-metrics in obreg-system) raised: the "
        "API server refused a write or obreg met a bug. Its log names each failed reconcile "
        "and why; obreg retries them.",
    },
}


def case(
    alert: str, at: str, input_series: dict[str, str], fired: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in input_series.items()],
        "alert_rule_test": [
            {
                "eval_time": at,
                "alertname": alert,
                "exp_alerts": [
                    {"exp_labels": labels, "exp_annotations": SAYS[alert]} for labels in fired
                ],
            }
        ],
    }


def test_the_rendered_rules_pass_promtool_check(promtool: Path, tmp_path: Path) -> None:
    for values in ([], ["--set", "prometheusRule.additionalRuleLabels.team=platform"]):
        (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules(*values)))
        assert "SUCCESS: 4 rules found" in promtool_run(
            promtool, "check", "rules", "rules.yaml", cwd=tmp_path
        )


def test_each_alert_fires_and_stays_quiet(promtool: Path, tmp_path: Path) -> None:
    """Defaults: 30 days and 1h; 15m; 15m; more than 5 errors in 15m, for 15m."""
    warning = {"severity": "warning"}
    cases = []

    # A certificate 10 days from expiry fires after 1h; 60 days away never does.
    soon = expiry(10)
    (anchor,) = soon
    cases.append(
        case("ObregCertificateExpiringSoon", "2h", soon, [{**labels_of(anchor), **warning}])
    )
    cases.append(case("ObregCertificateExpiringSoon", "30m", soon, []))  # pending
    cases.append(case("ObregCertificateExpiringSoon", "2h", expiry(60), []))

    # Stalled by a failed target fires; Ready and Reconciling (waiting) do not.
    failed = conditions("OBTrustAnchor", "cas", status.build(1, [target("Failed")], [], None, NOW))
    (stalled,) = [s for s in failed if 'type="Stalled"' in s and 'status="True"' in s]
    cases.append(case("ObregResourceStalled", "20m", failed, [{**labels_of(stalled), **warning}]))
    cases.append(case("ObregResourceStalled", "10m", failed, []))  # pending
    for state in ("Applied", "WaitingForWorkload"):
        quiet = conditions("OBTrustAnchor", state, status.build(1, [target(state)], [], None, NOW))
        cases.append(case("ObregResourceStalled", "20m", quiet, []))

    # A Key Manager that does not answer fires; one that is synced does not.
    unavailable = KeyManagerResult(state="Unavailable", message="connection refused")
    built = status.build(1, [target("Applied")], [], None, NOW, key_manager=unavailable)
    down = conditions("OBServiceProvider", "tpp", built)
    (km,) = [s for s in down if 'type="KeyManagerDatabase"' in s]
    cases.append(case("ObregKeyManagerUnavailable", "20m", down, [{**labels_of(km), **warning}]))
    synced = KeyManagerResult(state="Synced", message="in place")
    built = status.build(1, [target("Applied")], [], None, NOW, key_manager=synced)
    cases.append(
        case("ObregKeyManagerUnavailable", "20m", conditions("OBServiceProvider", "ok", built), [])
    )

    # One error a minute for 40 minutes fires; one every ten minutes does not.
    (errors,) = series(metrics.ERRORS, "obreg_reconcile_errors_total")
    per_job = {k: TARGET[k] for k in ("namespace", "job")}
    fired = [{**per_job, **warning}]
    cases.append(case("ObregReconcileErrors", "40m", {errors: "0+1x60"}, fired))
    cases.append(case("ObregReconcileErrors", "40m", {errors: "0+0.1x60"}, []))

    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": cases})
    )
    promtool_run(promtool, "test", "rules", "tests.yaml", cwd=tmp_path)


def exported() -> dict[str, set[str]]:
    """Every series name obreg's metrics module exports, with its label names."""
    names: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                suffixes = {
                    "counter": ("_total",),
                    "histogram": ("_bucket", "_sum", "_count"),
                }.get(family.type, ("",))
                labels = set(value._labelnames)
                for suffix in suffixes:
                    names[family.name + suffix] = labels | (
                        {"le"} if suffix == "_bucket" else set()
                    )
    return names


def test_every_metric_and_label_a_rule_selects_is_one_obreg_exports() -> None:
    known = exported()
    assert "obreg_resource_condition" in known and "obreg_reconcile_errors_total" in known
    spec = rules()
    exprs = [r["expr"] for g in spec["groups"] for r in g["rules"]]
    assert len(exprs) == 4
    for expr in exprs:
        named = re.findall(r"\b(obreg_\w+)(?:\{([^}]*)\})?", expr)
        assert named, expr
        for name, matchers in named:
            assert name in known, f"{name} is not a metric obreg exports: {expr}"
            selected = set(re.findall(r"(\w+)\s*[=!~]+", matchers))
            assert selected <= known[name], f"{expr}: obreg's {name} has {known[name]}"


def test_the_rule_values_render_as_documented() -> None:
    assert not [d for d in documents() if d["kind"] == "PrometheusRule"]  # off by default
    (rule,) = [
        d
        for d in documents(
            "--set", "prometheusRule.enabled=true",
            "--set", "prometheusRule.namespace=monitoring",
            "--set", "prometheusRule.labels.release=kube-prometheus-stack",
            "--set", "prometheusRule.additionalRuleLabels.team=platform",
            "--set", "prometheusRule.additionalRuleLabels.severity=ignored",
            "--set", "prometheusRule.alerts.certificateExpiring.days=7",
            "--set", "prometheusRule.alerts.certificateExpiring.severity=critical",
            "--set", "prometheusRule.alerts.resourceStalled.for=1h",
            "--set", "prometheusRule.alerts.keyManagerUnavailable.enabled=false",
            "--set", "prometheusRule.alerts.reconcileErrors.threshold=0",
            "--set", "prometheusRule.alerts.reconcileErrors.window=1h",
        )
        if d["kind"] == "PrometheusRule"
    ]  # fmt: skip
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["labels"]["app.kubernetes.io/name"] == "obreg"
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "ObregCertificateExpiringSoon",
        "ObregResourceStalled",
        "ObregReconcileErrors",
    }
    expiring = alerts["ObregCertificateExpiringSoon"]
    assert expiring["expr"].endswith("< 7 * 86400")
    assert expiring["labels"] == {"severity": "critical", "team": "platform"}
    assert alerts["ObregResourceStalled"]["for"] == "1h"
    assert alerts["ObregResourceStalled"]["labels"] == {"severity": "warning", "team": "platform"}
    assert alerts["ObregReconcileErrors"]["expr"] == (
        "sum by (namespace, job) (increase(obreg_reconcile_errors_total[1h])) > 0"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "prometheusRule.alerts.resourceStalled.for=15 minutes",
        "prometheusRule.alerts.certificateExpiring.days=0",
        "prometheusRule.alerts.reconcileErrors.treshold=1",
        "prometheusRule.alerts.podRestarts.enabled=true",
        "prometheusRule.namespace=Monitoring",
    ],
)
def test_the_schema_refuses_a_mistyped_rule_value(bad: str) -> None:
    result = subprocess.run(
        [str(helm()), "template", "rel", str(CHART), "--set", bad],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "prometheusRule" in result.stderr, bad
