"""CustomResourceDefinitions generated from the pydantic models: one source of truth.

pydantic's JSON Schema is close to, but not, a Kubernetes structural schema, so it is
rewritten: ``$ref`` inlined, ``Optional`` unwrapped, titles and ``additionalProperties``
dropped, ``default_factory`` defaults evaluated (so the API server applies the same
defaults pydantic does), and CEL rules kept as ``x-kubernetes-validations``.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from . import names
from .common import GROUP, VERSION
from .kinds import KINDS, Kind

CATEGORIES = ["ob", "obreg"]


class _WithFactoryDefaults(GenerateJsonSchema):
    """Evaluate ``default_factory`` so list and object defaults reach the CRD."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            evaluated = core_schema.with_default_schema(schema["schema"], default=factory())  # type: ignore[call-arg]
            return super().default_schema(evaluated)
        return super().default_schema(schema)


def _without_none(value: Any) -> Any:
    """Defaults as the API server should store them: unset optional fields are absent."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = copy.deepcopy(defs[node.pop("$ref").rsplit("/", 1)[1]])
        # The field's own description and default win over the model's.
        node = {**target, **node}
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b != {"type": "null"}]
        if len(branches) != 1:
            raise ValueError(f"cannot express a union in a structural schema: {branches}")
        node = {**_structural(branches[0], defs), **node}
        if node.get("default", ...) is None:
            del node["default"]
    if "default" in node:
        node["default"] = _without_none(node["default"])
    for key in ("title", "additionalProperties", "$defs"):
        node.pop(key, None)
    if "properties" in node:
        node["type"] = "object"
    return {key: _structural(value, defs) for key, value in node.items()}


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, schema_generator=_WithFactoryDefaults)
    schema: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    return schema


def _conditions_as_map(status: dict[str, Any]) -> None:
    conditions = status["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]


def _name_limit(kind: Kind) -> dict[str, Any]:
    """A CEL rule on the root where a kind's name becomes another name (its name_limit),
    so kubectl refuses it at apply time, as obreg render does."""
    limit = kind.name_limit
    if limit == names.SUBDOMAIN_MAX:
        return {}
    return {
        "x-kubernetes-validations": [
            {
                "rule": f"size(self.metadata.name) <= {limit}",
                "message": f"metadata.name must have at most {limit} characters (obreg names "
                "a Secret after it)",
            }
        ]
    }


def definition(kind: Kind) -> dict[str, Any]:
    status = openapi_schema(kind.status)
    _conditions_as_map(status)
    spec = openapi_schema(kind.spec)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": CATEGORIES,
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {
                            "name": "Reason",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
                        },
                        {"name": "Workloads", "type": "string", "jsonPath": ".status.workloads"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            **_name_limit(kind),
                            "properties": {
                                "apiVersion": {"type": "string", "description": "API version."},
                                "kind": {"type": "string", "description": "Kind."},
                                # The API server owns metadata's schema; it refuses more.
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def render_all() -> str:
    """The CRDs as one YAML stream, in a stable order (what ``obreg crds`` prints)."""
    documents = [definition(kind) for kind in KINDS]
    return yaml.safe_dump_all(documents, sort_keys=False, width=100)
