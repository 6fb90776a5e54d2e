"""From a Kubernetes object (a dict) to a validated Resource, with errors that name the
field path the way kubectl shows it (``spec.certificates[0].alias``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from ..errors import InvalidInput, Label, Problem
from . import names
from .common import API_VERSION
from .kinds import BY_KIND
from .resource import Resource


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


def identity(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """(kind, namespace, name) of any object, read leniently for labelling a refusal. A
    kind, namespace or name that is not a valid one is shown JSON-quoted, so a label
    stays one unambiguous token whatever the input holds."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name, namespace, kind = metadata.get("name"), metadata.get("namespace"), obj.get("kind")
    return (
        kind if isinstance(kind, str) and re.fullmatch(r"[A-Za-z]+", kind) else _quoted(kind),
        "default" if namespace is None else _name(namespace, names.is_label),
        "" if name is None else _name(name, names.is_subdomain),
    )


def _name(value: object, valid: Callable[[str], bool]) -> str:
    return value if isinstance(value, str) and valid(value) else _quoted(value)


def _quoted(value: object) -> str:
    return json.dumps(value if isinstance(value, str) else repr(value))


def metadata_problems(obj: Mapping[str, Any], label: Label) -> list[Problem]:
    """Object identity as the API server would check it, plus obreg's own bound on
    names that become other names."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return [Problem(label, "metadata", "must be a mapping with name and namespace")]
    problems = []
    name, namespace = metadata.get("name"), metadata.get("namespace")
    # What a resource's name becomes bounds it (see names.py).
    known = BY_KIND.get(str(obj.get("kind")))
    limit = known.name_limit if known is not None else names.SUBDOMAIN_MAX
    if not name:
        problems.append(Problem(label, "metadata.name", "required field is not set"))
    elif not isinstance(name, str) or not names.is_subdomain(name, limit):
        problems.append(
            Problem(
                label,
                "metadata.name",
                f"must be a DNS-1123 name of at most {limit} characters",
                "lower-case letters, digits, '-' and '.'",
            )
        )
    if namespace is not None and (not isinstance(namespace, str) or not names.is_label(namespace)):
        problems.append(
            Problem(
                label,
                "metadata.namespace",
                f"must be a DNS-1123 label of at most {names.LABEL_MAX} characters",
            )
        )
    return problems


def parse(obj: Mapping[str, Any]) -> Resource[Any]:
    kind, namespace, name = identity(obj)
    label = Label(kind, namespace, name)
    if obj.get("apiVersion") != API_VERSION:
        raise InvalidInput([Problem(label, "apiVersion", f"must be {API_VERSION}")])
    problems = metadata_problems(obj, label)
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        problems.append(Problem(label, "spec", "must be a mapping"))
    if problems:
        raise InvalidInput(problems)
    metadata = obj["metadata"]
    try:
        validated = BY_KIND[kind].spec.model_validate(spec or {})
    except ValidationError as err:
        raise InvalidInput(
            [
                Problem(label, field_path(("spec", *e["loc"])), _message(e))
                for e in err.errors(include_url=False, include_input=False)
            ]
        ) from None
    generation = metadata.get("generation")
    return Resource(
        kind=kind,
        namespace=namespace,
        name=name,
        spec=validated,
        generation=generation if isinstance(generation, int) else 0,
        uid=str(metadata.get("uid") or ""),
    )
