"""Hypothesis strategies for obreg's inputs: every string field of the three resources,
Secret values, and every kind of base file (XML, JSON5, JKS, PKCS12, PEM, DER), built from
the samples so that most examples get past validation into rendering.

Text mixes three sources: hostile values a person would try (paths, separators, control
and XML-illegal characters, markup, YAML traps, over-long names), values that look like
what the field wants, and arbitrary Unicode.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jks
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from hypothesis import strategies as st

from tests.pki import DAY, NOW, issue

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
Docs = list[dict[str, Any]]
Path_ = tuple[str | int, ...]
OURS = ("OBTrustAnchor", "OBIdentityProvider", "OBServiceProvider")

HOSTILE = [
    "",
    " ",
    ".",
    "..",
    "../..",
    "../../../etc/passwd",
    "/",
    "/etc/passwd",
    "a/../b",
    "a//b",
    "__",
    "a__b",
    "a:b",
    "a@b",
    "a b",
    "\x00",
    "\x01",
    "\t",
    "\n",
    "\r\n",
    "x\n",
    " x ",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\u202e",
    "\x1b[2J",
    "\x1b]0;t\x07",
    "<x>",
    "</Server>",
    "&amp;",
    "&a;",
    "]]>",
    "<!--",
    "'",
    '"',
    "\\",
    "${x}",
    "{{x}}",
    "0123",
    "null",
    "~",
    "true",
    "yes",
    "1e3",
    "-",
    "é",
    "日本",
    "😀",
    "k" * 63,
    "k" * 64,
    "k" * 241,
    "k" * 254,
    "x" * 5000,
    "https://h",
    "https://h?q=1",
    "https://h#f",
    "https://u:p@h/",
    "https://h:99999",
    "http://h",
    "HTTPS://H",
    "https://[::1]:9443/x",
    "wso2-km",
    "obreg-wso2-km",
    "apim-store-client",
    "OBDirectory",
    "PRIMARY",
]
LIKE_A_NAME = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,30}[a-z0-9])?", fullmatch=True)
LIKE_A_URL = st.from_regex(
    r"https://[a-z0-9.-]{1,20}(:[0-9]{1,5})?(/[a-zA-Z0-9._~%/-]{0,20})?", fullmatch=True
)
TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    LIKE_A_NAME,
    LIKE_A_URL,
    st.text(max_size=60),
    st.text(st.characters(codec="utf-8"), max_size=20),
)


def samples() -> Docs:
    docs: Docs = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] != "Namespace"]
    return docs


def find(docs: Docs, kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"]))


def full_samples() -> Docs:
    """The samples with every optional string field of the three resources set, so each
    is there to be fuzzed."""
    docs = samples()
    anchor = find(docs, "OBTrustAnchor")["spec"]
    anchor["output"] = {"path": "repository/resources/security/client-truststore.jks"}
    idp = find(docs, "OBIdentityProvider")["spec"]
    idp.update(
        displayName="Open Banking Directory",
        identityProviderName="OBDirectory",
        userInfoEndpoint="https://auth.directory.example/userinfo",
        logoutEndpoint="https://auth.directory.example/logout",
        queryParameters="scope=openid email profile&prompt=login",
        claims={
            "userIdClaim": "email",
            "mappings": [{"remote": "tpp_associated", "local": "http://wso2.org/claims/active"}],
        },
        provisioning={"userStoreDomain": "PRIMARY"},
    )
    sp = find(docs, "OBServiceProvider")["spec"]
    sp.update(
        applicationName="apim_store_ob",
        issuer="API_STORE",
        scope="openid api_store",
        usernameClaim="email",
        roleParameter="tpp_associated",
        role="Internal/subscriber",
        requestedClaims=["http://wso2.org/claims/emailaddress"],
        grantTypes=["authorization_code"],
        oidcClaim={
            "claimUri": "tpp_associated",
            "mappedLocalClaim": "http://wso2.org/claims/active",
        },
        applicationAttributes=[{"name": "software_id_sandbox", "description": "Software ID"}],
    )
    return docs


def string_paths(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Paths of every string leaf (and of every key of a string mapping) under ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_paths(item, (*path, index))
    elif isinstance(value, str):
        yield path


def fuzzable(docs: Docs) -> list[tuple[int, Path_]]:
    """(document index, path) of every string of the three resources: metadata and spec."""
    return [
        (index, path)
        for index, doc in enumerate(docs)
        if doc["kind"] in OURS
        for part in ("metadata", "spec")
        for path in string_paths(doc[part], (part,))
    ]


def put(doc: dict[str, Any], path: Path_, value: Any) -> None:
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


@st.composite
def with_strings(draw: st.DrawFn) -> Docs:
    """The full samples with one to three string fields replaced."""
    docs = full_samples()
    places = fuzzable(docs)
    for _ in range(draw(st.integers(1, 3))):
        index, path = draw(st.sampled_from(places))
        put(docs[index], path, draw(TEXT))
    return docs


# -- base files -----------------------------------------------------------------------

TAGS = st.sampled_from(
    [
        "Server",
        "OAuth",
        "UK",
        "APIManager",
        "Claims",
        "Scopes",
        "Scope",
        "Dialect",
        "Claim",
        "a",
        "x:y",
        "_b",
    ]
)


@st.composite
def xml_documents(draw: st.DrawFn, root: str) -> bytes:
    """XML of the base file's shape or not: nested elements, attributes, comments,
    CDATA, processing instructions, a DOCTYPE sometimes, in UTF-8 or UTF-16."""

    def element(depth: int) -> str:
        tag = draw(TAGS) if depth else root
        values = st.sampled_from(["", "openid", "&amp;", "&#1;", "x<y", "é"])
        attributes = "".join(f' a{n}="{draw(values)}"' for n in range(draw(st.integers(0, 2))))
        inner = []
        for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
            inner.append(
                draw(
                    st.one_of(
                        st.just(element(depth + 1)),
                        st.sampled_from(
                            [
                                "text",
                                "&lt;&amp;",
                                "<!-- c -->",
                                "<![CDATA[<x>]]>",
                                "<?pi x?>",
                                "&#x1;",
                                "&#xFFFE;",
                                "\t\n",
                                "é",
                            ]
                        ),
                        st.text(
                            st.characters(blacklist_categories=("Cs",), blacklist_characters="<&"),
                            max_size=10,
                        ),
                    )
                )
            )
        return f"<{tag}{attributes}>{''.join(inner)}</{tag}>"

    body = element(0)
    prolog = draw(
        st.sampled_from(
            [
                "",
                '<?xml version="1.0"?>',
                '<?xml version="1.0" encoding="UTF-8"?>',
                '<?xml version="1.0" encoding="UTF-16"?>',
                '<?xml version="1.0" encoding="ISO-8859-1"?>',
                f'<!DOCTYPE {root} [<!ENTITY a "b">]>',
                f'<!DOCTYPE {root} SYSTEM "file:///etc/passwd">',
                "<!-- licence -->",
            ]
        )
    )
    text = prolog + body
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    if "UTF-16" in prolog:
        encoding = "utf-16"
    elif "ISO-8859-1" in prolog:
        encoding = "latin-1"
    return text.encode(encoding, "replace")


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def json5_documents(draw: st.DrawFn) -> bytes:
    """JSON5 objects as people write them: comments, trailing commas, quoted and bare
    member names; sometimes not an object or not JSON at all."""
    import json

    members = draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4))
    parts = []
    for key, value in members.items():
        name = key if key.isidentifier() and draw(st.booleans()) else json.dumps(key)
        comment = draw(st.sampled_from(["", " // note", " /* c */"]))
        parts.append(f"{name}: {json.dumps(value)}{comment}")
    trailing = draw(st.sampled_from(["", ","]))
    text = "{\n" + ",\n".join(parts) + trailing + "\n}"
    text = draw(
        st.one_of(
            st.just(text),
            st.sampled_from(["[1]", "{", "", "{a:1 b:2}", "\ufeff{}"]),
            st.text(max_size=20),
        )
    )
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8", "replace")


# -- certificates and keystores ---------------------------------------------------------

_ROOT = issue("Fuzz Root CA")
POOL = [
    _ROOT,
    issue("Fuzz Issuing CA", issuer=_ROOT),
    issue("Fuzz Leaf", issuer=_ROOT, ca=False),
    issue("Fuzz Soon", not_after=NOW + 3 * DAY),
    issue("Fuzz Later", not_before=NOW + DAY),
]


def _damaged(data: bytes, draw: st.DrawFn) -> bytes:
    if not data or not draw(st.booleans()):
        return data
    position = draw(st.integers(0, len(data) - 1))
    return draw(
        st.sampled_from(
            [
                data[:position],
                data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :],
                data + b"\x00",
            ]
        )
    )


@st.composite
def certificate_sources(draw: st.DrawFn) -> bytes:
    """PEM bundles and DER files: real certificates, repeated, mixed with keys, other
    blocks and damage."""
    chosen = draw(st.lists(st.sampled_from(POOL), min_size=0, max_size=4))
    kind = draw(st.sampled_from(["pem", "der", "key", "other"]))
    if kind == "der" and chosen:
        return _damaged(chosen[0].der, draw)
    blocks = [c.pem for c in chosen]
    if kind == "key" and chosen:
        blocks.append(chosen[0].key_pem)
    if kind == "other":
        blocks.append(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    separator = draw(st.sampled_from([b"", b"\n", b"\r\n", b"junk\n"]))
    return _damaged(separator.join(blocks), draw)


@st.composite
def keystores(draw: st.DrawFn) -> tuple[str, bytes]:
    """(type, bytes) of a base keystore: JKS or PKCS12 with arbitrary aliases and
    friendly names (repeated, differing in case, odd characters), sometimes damaged."""
    chosen = draw(st.lists(st.sampled_from(POOL), min_size=0, max_size=4))
    names = [
        draw(
            st.one_of(
                st.sampled_from(["stock", "Stock", "tpproot", "", "é x"]),
                st.text(min_size=1, max_size=12),
            )
        )
        for _ in chosen
    ]
    if draw(st.booleans()):
        entries = {}
        for name, cert in zip(names, chosen, strict=True):
            entries.setdefault(
                (name or "x").lower(), jks.TrustedCertEntry.new((name or "x").lower(), cert.der)
            )
        data = bytes(jks.KeyStore.new("jks", list(entries.values())).saves("wso2carbon"))
        return "JKS", _damaged(data, draw)
    if not chosen:  # a PKCS12 file holds at least one certificate
        chosen, names = POOL[:1], ["stock"]
    data = pkcs12.serialize_java_truststore(
        [
            pkcs12.PKCS12Certificate(c.cert, n.encode() or None)
            for n, c in zip(names, chosen, strict=True)
        ],
        serialization.BestAvailableEncryption(b"wso2carbon"),
    )
    return "PKCS12", _damaged(data, draw)


def as_binary(data: bytes) -> str:
    return base64.b64encode(data).decode()


def copy_docs(docs: Docs) -> Docs:
    return copy.deepcopy(docs)


# -- what Kubernetes accepts ----------------------------------------------------------

_KEY = r"[-._a-zA-Z0-9]+"
_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"


def refusals_of_kubernetes(obj: dict[str, Any]) -> list[str]:
    """What the API server's validation of a ConfigMap or Secret would refuse, written
    from its rules (names, namespaces, label values, keys, 1 MiB of data), so every
    fuzzed output is checked; a server-side dry run checks a sample of them for real."""
    import re

    found = []
    meta = obj["metadata"]
    if len(meta["name"]) > 253 or not re.fullmatch(_SUBDOMAIN, meta["name"]):
        found.append(f"name {meta['name']!r}")
    if len(meta["namespace"]) > 63 or not re.fullmatch(
        r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["namespace"]
    ):
        found.append(f"namespace {meta['namespace']!r}")
    for key, value in (meta.get("labels") or {}).items():
        if len(value) > 63 or not re.fullmatch(_LABEL_VALUE, value):
            found.append(f"label {key}={value!r}")
    plain, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    for key in [*plain, *binary]:
        if (
            len(key) > 253
            or not re.fullmatch(_KEY, key)
            or key in (".", "..")
            or key.startswith("..")
        ):
            found.append(f"key {key!r}")
    if set(plain) & set(binary):
        found.append("a key in both data and binaryData")
    if obj["kind"] == "Secret":
        size = sum(len(base64.b64decode(v)) for v in plain.values())
    else:
        size = sum(len(v.encode()) for v in plain.values()) + sum(
            len(base64.b64decode(v)) for v in binary.values()
        )
    if size > 1024 * 1024:
        found.append(f"{size} bytes of data")
    return found
