"""Reading YAML manifests for the offline CLI: obreg's resources and the Secrets and
ConfigMaps they reference, as ``kubectl apply -f`` would take them. Other kinds (the
workloads themselves, Namespaces) are accepted and ignored."""

from __future__ import annotations

import base64
import binascii
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import budgets, yaml_stream
from .api import parse
from .api.resource import Resource
from .errors import InvalidInput, Label, Problem
from .render.bundle import Namespace
from .render.inputs import Inputs

_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = Path("-")


@dataclass
class Manifests:
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    config_maps: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)

    def inputs(self) -> Inputs:
        return Inputs(secrets=self.secrets, config_maps=self.config_maps)


def _files(paths: Iterable[Path], problems: list[Problem]) -> Iterator[Path]:
    for path in paths:
        if path == STDIN:
            yield path
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not found:  # a mistaken folder would otherwise render nothing, successfully
                problems.append(Problem(str(path), "-f", f"holds no {', '.join(_SUFFIXES)} files"))
            yield from found
        else:
            yield path


def _read(path: Path) -> bytes:
    """The file's or standard input's bytes, refused past budgets.MANIFEST_BYTES while
    reading (a pipe or /dev/zero has no size to check first)."""
    limit = budgets.MANIFEST_BYTES
    if path != STDIN:
        with path.open("rb") as source:
            data = source.read(limit + 1)
    elif hasattr(sys.stdin, "buffer"):
        data = sys.stdin.buffer.read(limit + 1)
    else:  # standard input replaced by a text stream (an embedding program, a test)
        data = sys.stdin.read(limit + 1).encode("utf-8", "surrogateescape")
    if len(data) > limit:
        raise InvalidInput(
            [Problem(str(path), "-", f"larger than {limit} bytes", "split the manifests")]
        )
    return data


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    try:
        documents = yaml_stream.load_all(_read(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(
            [Problem(str(path), "-", f"cannot read: {err.__class__.__name__}")]
        ) from None
    except yaml_stream.Refused as err:
        problem = Problem(str(path), f"line {err.line}", err.message, err.hint)
        raise InvalidInput([problem]) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "-"
        raise InvalidInput([Problem(str(path), where, "not valid YAML")]) from None
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise InvalidInput([Problem(str(path), "-", "a document is not a Kubernetes object")])
        items = document.get("items") if document.get("kind") == "List" else [document]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InvalidInput([Problem(str(path), "items", "a List's items are not objects")])
        yield from items


def _data(obj: dict[str, Any], label: Label) -> dict[str, bytes]:
    """Secret data/stringData or ConfigMap data/binaryData, as bytes. Values must be
    strings, as kubectl requires: YAML reads an unquoted 0123 as the number 83 and an
    empty value as null, and neither may silently become a password."""
    result: dict[str, bytes] = {}
    encoded = "data" if obj["kind"] == "Secret" else "binaryData"
    plain = "stringData" if obj["kind"] == "Secret" else "data"
    problems: list[Problem] = []
    for field_name in (encoded, plain):
        values = obj.get(field_name) or {}
        if not isinstance(values, dict):
            problems.append(Problem(label, field_name, "must be a mapping of keys to strings"))
            continue
        for key, value in values.items():
            where = f"{field_name}.{key}"
            if not isinstance(key, str) or not isinstance(value, str):
                problems.append(
                    Problem(label, where, "must be a string", "quote the value in YAML")
                )
            elif field_name == plain:
                result[key] = value.encode("utf-8")
            else:
                try:
                    result[key] = base64.b64decode(value, validate=True)
                except binascii.Error:
                    problems.append(Problem(label, where, "not valid base64"))
    if problems:
        raise InvalidInput(problems)
    return result


def load(paths: Iterable[Path]) -> Manifests:
    """Every manifest under ``paths``; all problems are collected before refusing."""
    manifests = Manifests()
    problems: list[Problem] = []
    resources: dict[str, dict[str, list[Resource[Any]]]] = defaultdict(lambda: defaultdict(list))
    for path in _files(paths, problems):
        try:
            documents = list(_documents(path))
        except InvalidInput as err:
            problems += err.problems
            continue
        for obj in documents:
            kind, namespace, name = parse.identity(obj)
            key = (namespace, name)
            label = Label(kind, namespace, name)
            try:
                if kind in ("Secret", "ConfigMap"):
                    refused = parse.metadata_problems(obj, label)
                    if refused:
                        raise InvalidInput(refused)
                    target = manifests.secrets if kind == "Secret" else manifests.config_maps
                    target[key] = _data(obj, label)
                elif kind in parse.SPECS:
                    resource = parse.parse(obj)
                    resources[namespace][kind].append(resource)
            except InvalidInput as err:
                problems += err.problems
    if problems:
        raise InvalidInput(problems)
    for namespace, kinds in sorted(resources.items()):
        manifests.namespaces[namespace] = Namespace(
            name=namespace,
            trust_anchors=sorted(kinds["OBTrustAnchor"], key=lambda r: r.name),
            identity_providers=sorted(kinds["OBIdentityProvider"], key=lambda r: r.name),
            service_providers=sorted(kinds["OBServiceProvider"], key=lambda r: r.name),
        )
    return manifests
