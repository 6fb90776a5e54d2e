"""A sample of the fuzzer's accepted outputs, sent to the real kube-apiserver as a
server-side dry run: the ConfigMaps and Secrets ``obreg render`` accepts are ones
Kubernetes accepts, checked by Kubernetes itself rather than by our reading of its rules."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings

from obreg.cli import main
from tests.fuzz import strategies as s
from tests.kubetools import Kubectl

pytestmark = pytest.mark.cluster


@settings(max_examples=25)
@given(docs=s.with_strings())
def test_accepted_outputs_are_accepted_by_the_api_server(
    docs: s.Docs, kubectl: Kubectl, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "in.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        code = main(["render", "-f", str(manifest), "-o", str(Path(tmp) / "out")])
        capsys.readouterr()
        if code != 0:
            return  # refusals are the offline tier's to check
        objects = []
        for path in sorted((Path(tmp) / "out").rglob("obreg-objects.yaml")):
            for obj in yaml.safe_load_all(path.read_text()):
                # The namespace was validated offline; the dry run needs one that exists.
                obj["metadata"]["namespace"] = namespace
                objects.append(obj)
        result = kubectl(
            "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(objects), check=False
        )
        assert result.returncode == 0, result.stderr
