"""The operator's own API client never goes through the Key Manager's proxy: the
chart's ``proxy`` value sets HTTPS_PROXY for the KM calls, and kubernetes' client reads
it too, which would send every API request through a proxy that may not reach the API
server."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import pytest
import yaml

from obreg.kube import api

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://10.96.0.1:443"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


def test_the_api_client_ignores_the_proxy_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    # Loading a kubeconfig sets the default Configuration: put the test's one back.
    monkeypatch.setattr(
        kubernetes.client.Configuration, "_default", kubernetes.client.Configuration._default
    )
    # KUBECONFIG as kubernetes read it at import.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(config))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("https_proxy", "http://proxy.corp:3128")
    made = api.client()
    assert made.configuration.host == "https://10.96.0.1:443"
    assert made.configuration.proxy is None
