"""The README's example is what a new user applies first, so it must be the scenario the
project tests: its YAML blocks are samples/' Secrets and three resources (which
``make demo`` and the e2e tier bring to Ready), its ConfigMap commands make exactly the
keys those resources read, from the product paths obreg writes back, and the blocks
render offline with ``obreg render``."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SAMPLES = ROOT / "samples"
RESOURCE_KINDS = {"Secret", "OBTrustAnchor", "OBIdentityProvider", "OBServiceProvider"}
# Where the commands read a product's file: the home of the product whose workload gets it.
HOMES = {"$KM_HOME/": "wso2-km", "$APIM_HOME/": "wso2-apim"}

Key = tuple[str, str, str]


def section(title: str) -> str:
    """The README's text under ``## title``, up to the next second-level heading."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def key(doc: dict[str, Any]) -> Key:
    meta = doc["metadata"]
    return (doc["kind"], meta.get("namespace", ""), meta["name"])


def readme_documents() -> list[dict[str, Any]]:
    example = section("Example: the runbook scenario")
    return [d for b in blocks(example, "yaml") for d in yaml.safe_load_all(b) if d]


def sample_documents() -> list[dict[str, Any]]:
    return [
        d
        for path in sorted(SAMPLES.glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d
    ]


def configmap_commands() -> dict[tuple[str, str, str], str]:
    """(namespace, ConfigMap, key) -> the file path each ``--from-file`` of the example's
    ``kubectl create configmap`` commands names, with the block's shell variables put in."""
    made: dict[tuple[str, str, str], str] = {}
    for block in blocks(section("Example: the runbook scenario"), "sh"):
        variables: dict[str, str] = {}
        for line in block.replace("\\\n", " ").splitlines():
            assignment = re.fullmatch(r"([A-Z_]+)=(\S+)", line.strip())
            if assignment:
                variables[assignment[1]] = assignment[2]
                continue
            for name, value in variables.items():
                line = line.replace(f"${name}", value)
            words = shlex.split(line, posix=False)
            if words[:1] != ["kubectl"] or "configmap" not in words:
                continue
            namespace = words[words.index("-n") + 1]
            configmap = words[words.index("configmap") + 1]
            for word in words:
                if word.startswith("--from-file="):
                    name, path = word.removeprefix("--from-file=").split("=", 1)
                    made[(namespace, configmap, name)] = path
    return made


def test_the_yaml_blocks_are_the_samples_resources_and_secrets() -> None:
    found = readme_documents()
    readme = {key(d): d for d in found}
    assert len(readme) == len(found), "an object is in the README twice"
    samples = {key(d): d for d in sample_documents() if d["kind"] in RESOURCE_KINDS}
    assert {k[0] for k in readme} == RESOURCE_KINDS
    assert readme.keys() == samples.keys()
    for k, doc in readme.items():
        assert doc == samples[k], f"{k} differs from samples/"


def test_the_commands_make_exactly_the_configmap_keys_the_resources_read() -> None:
    made = {(ns, name, k) for ns, name, k in configmap_commands()}
    wanted = {
        (d["metadata"]["namespace"], d["metadata"]["name"], k)
        for d in sample_documents()
        if d["kind"] == "ConfigMap"
        for k in {**d.get("data", {}), **d.get("binaryData", {})}
    }
    assert made == wanted


def test_the_example_renders_offline_and_the_product_paths_are_obregs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = tmp_path / "obreg-demo.yaml"
    resources.write_text(yaml.safe_dump_all(readme_documents()))
    # The samples' ConfigMaps stand in for the user's files the commands read.
    configmaps = tmp_path / "configmaps.yaml"
    configmaps.write_text(
        yaml.safe_dump_all(d for d in sample_documents() if d["kind"] == "ConfigMap")
    )
    out = tmp_path / "out"
    code = main(["render", "-f", str(resources), "-f", str(configmaps), "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    idp = out / "obreg-demo/wso2-km/repository/conf/identity/identity-providers/OBDirectory.xml"
    assert "sample-directory-client-id" in idp.read_text()
    product_paths = [
        (workload, path.removeprefix(home))
        for path in configmap_commands().values()
        for home, workload in HOMES.items()
        if path.startswith(home)
    ]
    assert len(product_paths) == 9  # the stock truststore and the eight product files
    for workload, path in product_paths:
        assert (out / "obreg-demo" / workload / path).is_file(), f"{workload}: {path}"
