"""Hypothesis strategies for inputs written to exhaust a budget (obreg/budgets.py): depth
(nested YAML, JSON5 and XML), aliases (YAML alias fan-out), repetition (many BEGIN lines,
many documents, many certificates) and size (a manifest at and past its byte budget).

Each draws a whole manifest stream as bytes: the samples, with the hostile part placed
where a user could put it (a base file, a Secret's value, a resource's name, an object of
a kind obreg ignores). Sizes straddle each budget, so both sides of every limit are run.
"""

from __future__ import annotations

import base64
import json

import yaml
from hypothesis import strategies as st

from obreg import budgets
from tests.fuzz import strategies as s

DEPTH = budgets.NESTING_DEPTH
# Levels at the budget, and far past it (past Python's recursion limit, libxml2's 256).
LEVELS = st.sampled_from([DEPTH - 1, DEPTH, DEPTH + 1, 300, 3000, 100_000])


def _stream(docs: s.Docs, extra: str = "") -> bytes:
    # libyaml's emitter: Python's takes seconds over a base file of megabytes.
    return (yaml.dump_all(docs, Dumper=yaml.CSafeDumper) + extra).encode()


def _with_base_file(key: str, content: bytes) -> bytes:
    docs = s.full_samples()
    base = s.find(docs, "ConfigMap", "wso2-base-files")
    base["data"].pop(key)
    base.setdefault("binaryData", {})[key] = base64.b64encode(content).decode()
    return _stream(docs)


@st.composite
def nested_yaml(draw: st.DrawFn) -> bytes:
    """An object of a kind obreg ignores, nested in block or flow style."""
    levels = draw(LEVELS)
    if levels > 3000 or draw(st.booleans()):  # block style is indented: quadratic bytes
        value = "[" * levels + "]" * levels
    else:
        value = "".join(f"\n{'  ' * n}- " for n in range(levels)) + "x"
    ignored = f"---\napiVersion: v1\nkind: Other\nmetadata: {{name: x}}\nspec: {value}\n"
    return _stream(s.full_samples(), ignored)


@st.composite
def nested_json5(draw: st.DrawFn) -> bytes:
    """site.json or a locale file, its first member nested with objects and arrays."""
    levels = draw(LEVELS) - 1
    openers = draw(st.lists(st.sampled_from(['{"a": ', "{a: ", "["]), min_size=1, max_size=3))
    opened = [openers[n % len(openers)] for n in range(levels)]
    closers = "".join("]" if o == "[" else "}" for o in reversed(opened))
    text = '{"x": ' + "".join(opened) + "1" + closers + "}"
    key = draw(st.sampled_from(["site.json", "locale_en.json", "locale_default.json"]))
    return _with_base_file(key, text.encode())


@st.composite
def nested_xml(draw: st.DrawFn) -> bytes:
    levels = draw(LEVELS) - 1
    key, root = draw(
        st.sampled_from([("identity.xml", "Server"), ("api-manager.xml", "APIManager")])
    )
    text = f"<{root}>" + "<a>" * levels + "</a>" * levels + f"</{root}>"
    return _with_base_file(key, text.encode())


@st.composite
def alias_fan_out(draw: st.DrawFn) -> bytes:
    """A "billion laughs": ``levels`` anchors, each a list of ``fan_out`` aliases of the
    one before, where a string belongs (a name, a namespace, a Secret's value, a spec
    field) or in an object obreg ignores."""
    levels, fan_out = draw(
        st.one_of(
            st.tuples(st.integers(1, 3), st.integers(2, 4)),  # small enough to render
            st.tuples(st.integers(8, 12), st.integers(8, 12)),  # 10^7 nodes and far more
        )
    )
    anchors = ["x0: &a0 [" + ",".join(["lol"] * fan_out) + "]"]
    anchors += [
        f"x{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * fan_out) + "]" for n in range(1, levels)
    ]
    top = f"*a{levels - 1}"
    kind, field = draw(
        st.sampled_from(
            [
                ("Secret", "metadata.name"),
                ("Secret", "stringData.k"),
                ("OBServiceProvider", "metadata.name"),
                ("OBServiceProvider", "spec.scope"),
                ("OBTrustAnchor", "metadata.namespace"),
                ("Other", "spec"),
            ]
        )
    )
    api_version = "v1" if kind in ("Secret", "Other") else "obreg.dev/v1alpha1"
    metadata = {"namespace": "obreg-demo", "name": "x"}
    doc: dict[str, object] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    part, _, key = field.partition(".")
    target = metadata if part == "metadata" else doc.setdefault(part, {}) if key else doc
    target[key or part] = "BOMB"  # type: ignore[index]
    text = yaml.dump(doc, Dumper=yaml.CSafeDumper).replace("BOMB", top)
    doc_text = "laughs:\n  " + "\n  ".join(anchors) + "\n" + text
    return _stream(s.full_samples(), "---\n" + doc_text)


@st.composite
def many_begin_lines(draw: st.DrawFn) -> bytes:
    """A CA bundle of BEGIN lines: alone, each before a real certificate, or one real
    certificate repeated, up to past CERTIFICATES_PER_SOURCE."""
    count = draw(
        st.one_of(
            st.integers(0, 20),
            st.sampled_from([budgets.CERTIFICATES_PER_SOURCE, budgets.CERTIFICATES_PER_SOURCE + 1]),
            st.just(200_000),
        )
    )
    certificate = s.POOL[0].pem
    kind = draw(st.sampled_from(["begin", "begin-then-one", "repeated"]))
    if kind == "repeated":
        bundle = certificate * min(count, budgets.CERTIFICATES_PER_SOURCE + 1)
    else:
        bundle = b"-----BEGIN CERTIFICATE-----\n" * count
        bundle += certificate if kind == "begin-then-one" else b""
    docs = s.full_samples()
    cas = s.find(docs, "ConfigMap", "ob-directory-cas")
    cas["data"].pop("root-ca.pem")
    cas["binaryData"]["root-ca.pem"] = base64.b64encode(bundle).decode()
    return _stream(docs)


@st.composite
def many_documents(draw: st.DrawFn) -> bytes:
    """The samples followed by empty or tiny documents."""
    count = draw(st.integers(0, 2000))
    document = draw(st.sampled_from(["---\n", "--- x\n", "---\n{}\n", "--- []\n"]))
    return _stream(s.full_samples(), document * count)


def past_the_node_budget() -> bytes:
    """One tiny document more than YAML_NODES allows: seconds to compose, so run once
    as an explicit example rather than drawn again and again."""
    return _stream(s.full_samples(), "--- x\n" * budgets.YAML_NODES)


@st.composite
def sized(draw: st.DrawFn) -> bytes:
    """A manifest padded with a comment to a few bytes either side of MANIFEST_BYTES, or
    a site.json either side of JSON5_BYTES, of a long string or of dense arrays (what
    json5 parses slowest), or of the whole manifest's size."""
    shape = draw(st.sampled_from(["comment", "string", "arrays", "manifest"]))
    if shape == "comment":
        text = _stream(s.full_samples())
        target = budgets.MANIFEST_BYTES + draw(st.integers(-2, 2))
        return text + b"#" * (target - len(text) - 1) + b"\n"
    docs = s.full_samples()
    data = s.find(docs, "ConfigMap", "wso2-base-files")["data"]
    site = data["site.json"]
    if shape == "manifest":  # what is left of MANIFEST_BYTES after the samples
        pad = "p" * (budgets.MANIFEST_BYTES - 16 * 1024)
        data["site.json"] = site.replace("{", f'{{"pad": "{pad}",', 1)
        return _stream(docs)
    size = budgets.JSON5_BYTES - len(site.encode()) - 10 + draw(st.integers(-2, 2))
    pad = json.dumps("p" * size) if shape == "string" else "[" + "1," * (size // 2 - 1) + "1]"
    return _with_base_file("site.json", site.replace("{", f'{{"pad": {pad},', 1).encode())
