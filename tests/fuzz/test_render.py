"""``obreg render`` under generated input: for every example, a clean refusal that names
a field path, or output that stays under ``-o``, parses, keeps every Secret-sourced byte
out of ConfigMaps, and consists of objects Kubernetes accepts. Never a traceback.

``make fuzz`` runs these with many more examples (HYPOTHESIS_PROFILE=fuzz)."""

from __future__ import annotations

import base64
import functools
import re
import tempfile
from pathlib import Path
from typing import Any

import json5
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from obreg.cli import EXIT_REFUSED, main
from obreg.render import xml_patch
from tests.bad_inputs import INPUT
from tests.fuzz import strategies as s

# A problem line: "  <Kind> <namespace>/<name>: <field path>: <message>", where a name
# that is not a valid one is JSON-quoted.
_TOKEN = r'("(?:[^"\\]|\\.)*"|[^ "]*)'
_PATH = r"(metadata|spec|apiVersion|data|stringData|binaryData)\S*"
PROBLEM = re.compile(rf"  {_TOKEN} {_TOKEN}/{_TOKEN}: {_PATH}: .")
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def secret_values(docs: s.Docs) -> list[bytes]:
    values = []
    for doc in docs:
        if doc["kind"] != "Secret":
            continue
        values += [v.encode() for v in (doc.get("stringData") or {}).values() if isinstance(v, str)]
        values += [base64.b64decode(v) for v in (doc.get("data") or {}).values()]
    return values


def public_text(docs: s.Docs) -> bytes:
    """Everything the input holds outside Secrets: a Secret value found there as well is
    a coincidence, not a leak."""
    public = [d for d in docs if d["kind"] != "Secret"]
    text = yaml.safe_dump_all(public).encode()
    for doc in public:
        text += b"".join(base64.b64decode(v) for v in (doc.get("binaryData") or {}).values())
    return text


def _config_map_bytes(out: Path) -> list[bytes]:
    held: list[bytes] = []
    for objects_file in out.rglob("obreg-objects.yaml"):
        config_map, _ = yaml.safe_load_all(objects_file.read_text())
        held += [v.encode() for v in (config_map.get("data") or {}).values()]
        held += [base64.b64decode(v) for v in (config_map.get("binaryData") or {}).values()]
    return held


@functools.cache
def stock_output() -> bytes:
    """What obreg writes into ConfigMaps for the samples: its own fixed text (an XML
    declaration, element names). A Secret value found there is a coincidence with
    obreg's template, not a leak of the Secret."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest, out = Path(tmp) / "in.yaml", Path(tmp) / "out"
        manifest.write_text(yaml.safe_dump_all(s.full_samples()))
        assert main(["render", "-f", str(manifest), "-o", str(out)]) == 0
        return b"\0".join(_config_map_bytes(out))


def render(docs: s.Docs, capsys: pytest.CaptureFixture[str]) -> None:
    """Render ``docs`` and assert the properties every outcome must have."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = root / "in.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        out = root / "out"
        code = main(["render", "-f", str(manifest), "-o", str(out)])
        printed = capsys.readouterr()
        assert not RAW_CONTROL.search(printed.out + printed.err), printed
        if code == EXIT_REFUSED:
            problems = printed.err.splitlines()[1:]
            assert problems and all(PROBLEM.match(p) for p in problems), printed.err
            assert sorted(p.name for p in root.iterdir()) == ["in.yaml"]
            return
        assert code == 0, printed.err
        # (a) nothing outside -o
        assert sorted(p.name for p in root.iterdir()) == ["in.yaml", "out"]
        secrets = [
            v
            for v in secret_values(docs)
            if len(v) >= 8 and v not in public_text(docs) and v not in stock_output()
        ]
        capsys.readouterr()  # what rendering the samples printed
        for objects_file in out.rglob("obreg-objects.yaml"):
            config_map, secret = yaml.safe_load_all(objects_file.read_text())
            # (d) objects Kubernetes accepts
            assert s.refusals_of_kubernetes(config_map) == []
            assert s.refusals_of_kubernetes(secret) == []
            # (c) no Secret-sourced byte in a ConfigMap
            held = [v.encode() for v in (config_map.get("data") or {}).values()]
            held += [base64.b64decode(v) for v in (config_map.get("binaryData") or {}).values()]
            for value in secrets:
                assert not any(value in h for h in held)
        # (b) every XML file is well-formed, every JSON file parses
        for path in out.rglob("*"):
            if path.suffix == ".xml":
                tree = etree.ElementTree(etree.fromstring(path.read_bytes(), xml_patch.parser()))
                assert not xml_patch.declares_dtd(tree)
            elif path.suffix == ".json":
                json5.loads(path.read_text(encoding="utf-8"))


@given(docs=s.with_strings())
def test_any_string_in_any_field(docs: s.Docs, capsys: pytest.CaptureFixture[str]) -> None:
    render(docs, capsys)


BASE_FILES = {
    "identity.xml": "Server",
    "claim-config.xml": "Claims",
    "oidc-scope-config.xml": "Scopes",
    "open-banking.xml": "Server",
    "api-manager.xml": "APIManager",
}
JSON_FILES = ["site.json", "locale_default.json", "locale_en.json"]


@given(data=st.data(), key=st.sampled_from([*BASE_FILES, *JSON_FILES]), in_secret=st.booleans())
def test_any_base_file(
    data: st.DataObject, key: str, in_secret: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = s.full_samples()
    content = data.draw(
        s.xml_documents(BASE_FILES[key]) if key in BASE_FILES else s.json5_documents()
    )
    if in_secret:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "base-secret",
                    "namespace": "obreg-demo",
                    "labels": dict(INPUT),
                },
                "data": {key: s.as_binary(content)},
            }
        )
        spec = s.find(docs, "OBServiceProvider")["spec"]
        for ref in spec["baseFiles"].values():
            if ref["configMapKeyRef"]["key"] == key:
                ref.clear()
                ref["secretKeyRef"] = {"name": "base-secret", "key": key}
    else:
        base = s.find(docs, "ConfigMap", "wso2-base-files")
        base["data"].pop(key)
        base.setdefault("binaryData", {})[key] = s.as_binary(content)
    render(docs, capsys)


@given(data=st.data())
def test_any_keystore_and_certificate(
    data: st.DataObject, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = s.full_samples()
    cas = s.find(docs, "ConfigMap", "ob-directory-cas")
    source = data.draw(s.certificate_sources())
    cas["data"].pop("root-ca.pem")
    cas["binaryData"]["root-ca.pem"] = s.as_binary(source)
    anchor = s.find(docs, "OBTrustAnchor")["spec"]
    if data.draw(st.booleans()):
        anchor["certificates"][0].pop("alias")
    store_type, store = data.draw(s.keystores())
    cas["binaryData"]["client-truststore.jks"] = s.as_binary(store)
    anchor["baseKeystore"]["type"] = store_type
    anchor["output"]["format"] = data.draw(st.sampled_from(["JKS", "PKCS12"]))
    render(docs, capsys)


@given(data=st.data())
def test_any_secret_value(data: st.DataObject, capsys: pytest.CaptureFixture[str]) -> None:
    docs = s.full_samples()
    value: Any = data.draw(st.one_of(s.TEXT, st.binary(max_size=40)))
    client = s.find(docs, "Secret", "ob-directory-client")
    if isinstance(value, bytes):
        client.pop("stringData")
        client["data"] = {"client-secret": s.as_binary(value)}
    else:
        client["stringData"]["client-secret"] = value
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "pw", "namespace": "obreg-demo", "labels": dict(INPUT)},
            "stringData": {"p": data.draw(s.TEXT)},
        }
    )
    s.find(docs, "OBTrustAnchor")["spec"]["output"]["passwordSecretRef"] = {
        "name": "pw",
        "key": "p",
    }
    render(docs, capsys)
