"""The Key Manager admin services' contract (contract.yaml) as typed data, and an XML
Schema of their request elements made from it, so the double and the tests read one
description of WSO2's services, written apart from obreg's client.

``python -m testbed.kmcontract`` prints the schema documents.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

HERE = Path(__file__).resolve().parent
XS = "http://www.w3.org/2001/XMLSchema"


@dataclass(frozen=True)
class Dto:
    name: str
    namespace: str
    fields: tuple[tuple[str, str], ...]  # (name, type) in Axis2's order

    def type_of(self, name: str) -> str | None:
        return dict(self.fields).get(name)


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    parameters: tuple[tuple[str, str], ...]
    status: int
    returns: str | None  # a DTO name, "X[]", "boolean", "nil", "nothing", or None (no body)
    faults: dict[str, str] = field(default_factory=dict)
    omits: tuple[str, ...] = ()
    overwrites: tuple[str, ...] = ()
    overwrites_oauth2: tuple[str, ...] = ()

    def fault(self, which: str, **values: Any) -> str:
        return self.faults[which].format(**values)


@dataclass(frozen=True)
class Contract:
    versions: dict[str, str]
    namespaces: dict[str, str]
    dtos: dict[str, Dto]
    operations: dict[str, Operation]  # by operation name (unique across the services)
    access_denied: tuple[int, str]

    def services(self) -> dict[str, list[Operation]]:
        found: dict[str, list[Operation]] = {}
        for operation in self.operations.values():
            found.setdefault(operation.service, []).append(operation)
        return found


@cache
def load() -> Contract:
    raw = yaml.safe_load((HERE / "contract.yaml").read_text())
    namespaces = raw["namespaces"]
    dtos = {
        name: Dto(name, namespaces[d["namespace"]], tuple((f, t) for f, t in d["fields"]))
        for name, d in raw["dtos"].items()
    }
    operations = {}
    for service, ops in raw["services"].items():
        for name, op in ops.items():
            reply = op["reply"]
            operations[name] = Operation(
                service=service,
                name=name,
                parameters=tuple((p, t) for p, t in op["parameters"]),
                status=reply["status"],
                returns=reply.get("returns"),
                faults=dict(op.get("faults") or {}),
                omits=tuple(op.get("omits") or ()),
                overwrites=tuple(op.get("overwrites") or ()),
                overwrites_oauth2=tuple(op.get("overwrites with OAuth-2.0") or ()),
            )
    denied = raw["access denied"]
    return Contract(
        raw["versions"], namespaces, dtos, operations, (denied["status"], denied["fault"])
    )


# -- the XML Schema of the requests ---------------------------------------------------


def _element(parent: etree._Element, name: str, kind: str, prefixes: dict[str, str]) -> None:
    many = kind.endswith("[]")
    base = kind.removesuffix("[]")
    xs_type = {"string": "xs:string", "long": "xs:long", "boolean": "xs:boolean"}.get(
        base, f"{prefixes.get(base, '')}:{base}"
    )
    attributes = {"name": name, "type": xs_type, "minOccurs": "0"}
    if many:
        attributes["maxOccurs"] = "unbounded"
    if base == "string" or base in prefixes:
        attributes["nillable"] = "true"
    etree.SubElement(parent, f"{{{XS}}}element", attributes)


def schema_documents(contract: Contract | None = None) -> dict[str, bytes]:
    """file name -> XSD: one per namespace; the Axis2 one imports the DTO ones."""
    contract = contract or load()
    by_namespace: dict[str, list[Dto]] = {}
    for dto in contract.dtos.values():
        by_namespace.setdefault(dto.namespace, []).append(dto)
    files = {ns: f"dto{n}.xsd" for n, ns in enumerate(sorted(by_namespace))}
    prefixes = {
        dto.name: f"d{sorted(by_namespace).index(dto.namespace)}" for dto in contract.dtos.values()
    }
    documents: dict[str, bytes] = {}
    for namespace, dtos in by_namespace.items():
        root = etree.Element(
            f"{{{XS}}}schema",
            {"targetNamespace": namespace, "elementFormDefault": "qualified"},
            nsmap={"xs": XS, "t": namespace},
        )
        for dto in dtos:
            complex_type = etree.SubElement(root, f"{{{XS}}}complexType", name=dto.name)
            sequence = etree.SubElement(complex_type, f"{{{XS}}}sequence")
            for name, kind in dto.fields:
                _element(sequence, name, kind, {})
        documents[files[namespace]] = etree.tostring(root, pretty_print=True)
    axis2 = contract.namespaces["axis2"]
    nsmap = {"xs": XS, **{f"d{n}": ns for n, ns in enumerate(sorted(by_namespace))}}
    root = etree.Element(
        f"{{{XS}}}schema",
        {"targetNamespace": axis2, "elementFormDefault": "qualified"},
        nsmap=nsmap,
    )
    for namespace, name in sorted(files.items()):
        etree.SubElement(root, f"{{{XS}}}import", namespace=namespace, schemaLocation=name)
    for operation in contract.operations.values():
        element = etree.SubElement(root, f"{{{XS}}}element", name=operation.name)
        sequence = etree.SubElement(
            etree.SubElement(element, f"{{{XS}}}complexType"), f"{{{XS}}}sequence"
        )
        for name, kind in operation.parameters:
            _element(sequence, name, kind, prefixes)
    documents["axis2.xsd"] = etree.tostring(root, pretty_print=True)
    return documents


@cache
def request_schema() -> etree.XMLSchema:
    """Validates one operation element (a SOAP Body's child) of any service."""
    with tempfile.TemporaryDirectory() as directory:
        for name, document in schema_documents().items():
            Path(directory, name).write_bytes(document)
        return etree.XMLSchema(etree.parse(str(Path(directory, "axis2.xsd"))))
