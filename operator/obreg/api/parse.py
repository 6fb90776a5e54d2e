"""From a Kubernetes object (a dict) to a validated Resource, with errors that name the
field path the way kubectl shows it (``spec.certificates[0].alias``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import InvalidInput, Problem
from . import identity_provider, service_provider, trust_anchor
from .common import API_VERSION
from .resource import Resource

SPECS: dict[str, type[BaseModel]] = {
    trust_anchor.KIND: trust_anchor.OBTrustAnchorSpec,
    identity_provider.KIND: identity_provider.OBIdentityProviderSpec,
    service_provider.KIND: service_provider.OBServiceProviderSpec,
}


def field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _message(error: Mapping[str, Any]) -> str:
    """pydantic's message without the input value, which may be a secret."""
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling against `kubectl explain`)"
    if error["type"] == "missing":
        return "required field is not set"
    return message.removeprefix("Value error, ")


def parse(obj: Mapping[str, Any]) -> Resource[Any]:
    kind = str(obj.get("kind"))
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name", ""))
    namespace = str(metadata.get("namespace") or "default")
    label = f"{kind} {namespace}/{name}"
    if obj.get("apiVersion") != API_VERSION:
        raise InvalidInput([Problem(label, "apiVersion", f"must be {API_VERSION}")])
    if not name:
        raise InvalidInput([Problem(label, "metadata.name", "required field is not set")])
    model = SPECS[kind]
    try:
        spec = model.model_validate(obj.get("spec") or {})
    except ValidationError as err:
        raise InvalidInput(
            [
                Problem(label, field_path(("spec", *e["loc"])), _message(e))
                for e in err.errors(include_url=False, include_input=False)
            ]
        ) from None
    return Resource(
        kind=kind,
        namespace=namespace,
        name=name,
        spec=spec,
        generation=int(metadata.get("generation") or 0),
        uid=str(metadata.get("uid") or ""),
    )
