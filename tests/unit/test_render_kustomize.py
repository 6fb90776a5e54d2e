"""``kustomize build overlay | obreg render -f -`` with a real kustomize (built from the
Go module proxy into the per-machine cache, as the control plane's binaries are): a base
of the samples and an overlay whose configMapGenerator makes the stock truststore, which
kustomize writes as base64 wrapped across lines."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path

import jks
import pytest
import yaml

from obreg.cli import main
from testbed.controlplane import build
from tests.bad_inputs import SAMPLES, find, sample_documents


@pytest.fixture(scope="module")
def kustomize() -> Path:
    return build.build(build.KUSTOMIZE) / "kustomize"


def test_kustomize_build_output_on_standard_input_renders(
    kustomize: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, overlay = tmp_path / "base", tmp_path / "overlays" / "prod"
    shutil.copytree(SAMPLES, base)
    names = sorted(p.name for p in base.glob("*.yaml"))
    (base / "kustomization.yaml").write_text(yaml.safe_dump({"resources": names}))
    overlay.mkdir(parents=True)
    store = find(sample_documents(), "ConfigMap", "ob-directory-cas")["binaryData"]
    (overlay / "client-truststore.jks").write_bytes(
        base64.b64decode(store["client-truststore.jks"])
    )
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": ["../../base"],
                "configMapGenerator": [
                    {
                        "name": "ob-directory-cas",
                        "namespace": "obreg-demo",
                        "behavior": "merge",
                        "files": ["client-truststore.jks"],
                    }
                ],
                "generatorOptions": {"disableNameSuffixHash": True},
            }
        )
    )
    built = subprocess.run(
        [str(kustomize), "build", str(overlay)], capture_output=True, text=True, check=True
    ).stdout
    # kustomize wraps the generated binaryData across lines (the API server accepts it).
    wrapped = built.split("client-truststore.jks: |\n", 1)[1].splitlines()
    assert len(wrapped[0].strip()) < len(store["client-truststore.jks"])
    monkeypatch.setattr("sys.stdin", io.StringIO(built))
    out = tmp_path / "out"
    assert main(["render", "-f", "-", "-o", str(out)]) == 0
    rendered = out / "obreg-demo/wso2-km/repository/resources/security/client-truststore.jks"
    assert "samplestockca" in jks.KeyStore.loads(rendered.read_bytes(), "wso2carbon").certs
