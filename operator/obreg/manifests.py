"""Reading YAML manifests for the offline CLI: obreg's resources and the Secrets and
ConfigMaps they reference, as ``kubectl apply -f`` would take them.

Objects are identified as the API server identifies them (the group of ``apiVersion``,
kind, namespace and name): one defined twice is refused naming both places, or, when the
caller asks (``--last-wins``), the last one is kept, as ``kubectl apply`` would leave it.
A kind in obreg's group that obreg does not know is refused with the closest known one.
Folders are read as kubectl reads them: their own files, and their subfolders only when
recursive; a folder ``obreg render`` wrote (``.obreg-render``) is never read back.
Secrets kept in a repository in a form obreg cannot read (a SealedSecret, an
ExternalSecret, a SOPS-encrypted Secret) are recognised by their shape and recorded as
such, never read as values. Other kinds (the workloads themselves, Namespaces) are
accepted and ignored."""

from __future__ import annotations

import base64
import binascii
import difflib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import budgets, yaml_stream
from .api import parse
from .api.common import GROUP
from .api.kinds import BY_KIND, KINDS
from .api.resource import Resource
from .errors import InvalidInput, Label, Problem
from .render.bundle import OBJECT_DATA_MAX, Namespace
from .render.inputs import Inputs

_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = Path("-")
MARKER = ".obreg-render"  # marks a folder obreg render wrote, which it may replace
# (group, kind, namespace, name), as the API server tells objects apart.
Identity = tuple[str, str, str, str]
# Where a Secret that is not in the manifests comes from, recognised by its shape.
SEALED_KINDS = {("bitnami.com", "SealedSecret"), ("external-secrets.io", "ExternalSecret")}


@dataclass(frozen=True)
class Place:
    """Where an object was read: the file (``-`` for standard input), the document's
    index in it (1-based) and its first line, and its index in a List."""

    file: str
    document: int
    line: int
    item: int | None = None

    def __str__(self) -> str:
        where = f"{self.file} document {self.document} (line {self.line})"
        return where if self.item is None else f"{where} item {self.item}"


@dataclass
class Manifests:
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    config_maps: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    # Each Secret's labels, for the opt-in rule (render/inputs.py).
    secret_labels: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    # Secrets present only in a form obreg cannot read: (namespace, name) -> what and where.
    sealed: dict[tuple[str, str], str] = field(default_factory=dict)
    # What the reader decided that the user should know (an object defined twice, the
    # last kept): printed as warnings.
    notes: list[str] = field(default_factory=list)

    def inputs(self) -> Inputs:
        return Inputs(
            secrets=self.secrets, config_maps=self.config_maps, secret_labels=self.secret_labels
        )


def group_of(api_version: object) -> str:
    """The API group of an ``apiVersion`` (``""`` for the core group's ``v1``)."""
    text = api_version if isinstance(api_version, str) else ""
    return text.rpartition("/")[0]


def _written_by_obreg(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _files(paths: Iterable[Path], recursive: bool, problems: list[Problem]) -> Iterator[Path]:
    for path in paths:
        if path == STDIN:
            yield path
        elif path.is_dir():
            if _written_by_obreg(path):
                problems.append(
                    Problem(
                        str(path),
                        "-f",
                        "is the output of obreg render, which is never read back",
                        "give the folder of the manifests",
                    )
                )
                continue
            found = list(_folder(path, recursive))
            if not found:  # a mistaken folder would otherwise render nothing, successfully
                nested = not recursive and any(_folder(path, True))
                problems.append(
                    Problem(
                        str(path),
                        "-f",
                        f"holds no {', '.join(_SUFFIXES)} files"
                        + (" of its own (only its subfolders do)" if nested else ""),
                        "pass -R (--recursive) to read its subfolders, as kubectl does"
                        if nested
                        else "",
                    )
                )
            yield from found
        else:
            yield path


def _folder(folder: Path, recursive: bool) -> Iterator[Path]:
    """A folder's manifest files in the order kubectl takes them (Go's filepath.Walk:
    entries in lexical order, a subfolder where its name falls): its own, and with
    ``recursive`` its subfolders' (links to folders not followed); never a folder that
    obreg render wrote, nor its staging folders."""
    stack = [iter(sorted(folder.iterdir(), key=lambda p: p.name))]
    while stack:  # a stack, not recursion: a deep tree is no internal error
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
        elif entry.is_dir() and not entry.is_symlink():
            hidden = entry.name.startswith(".obreg-render-") or _written_by_obreg(entry)
            if recursive and not hidden:
                stack.append(iter(sorted(entry.iterdir(), key=lambda p: p.name)))
        elif entry.suffix in _SUFFIXES and entry.is_file():
            yield entry


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


def _documents(path: Path) -> Iterator[tuple[Place, dict[str, Any]]]:
    try:
        documents = yaml_stream.load_all_located(_read(path).decode("utf-8"))
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
    for index, (line, document) in enumerate(documents, 1):
        if document is None:
            continue
        place = Place(str(path), index, line)
        if not isinstance(document, dict):
            raise InvalidInput([Problem(str(path), "-", "a document is not a Kubernetes object")])
        if document.get("kind") != "List":
            yield place, document
            continue
        items = document.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InvalidInput([Problem(str(path), "items", "a List's items are not objects")])
        for number, item in enumerate(items):
            yield Place(place.file, index, line, number), item


def decode_base64(value: str) -> bytes:
    """Base64 as the API server reads ``data`` and ``binaryData``: Go's JSON decoding of
    ``[]byte`` uses ``base64.StdEncoding``, which skips carriage returns and line feeds
    anywhere (``kustomize build`` and ``base64`` wrap long values) and refuses every
    other character outside the alphabet and wrong padding."""
    return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    """An object's labels that are strings (the API server refuses any other)."""
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)}


def object_data(obj: dict[str, Any], label: Label) -> dict[str, bytes]:
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
                    result[key] = decode_base64(value)
                except binascii.Error:
                    problems.append(Problem(label, where, "not valid base64"))
    # As the API server counts: a ConfigMap's keys and values, a Secret's values.
    keys = obj["kind"] == "ConfigMap"
    size = sum(len(v) + (len(k) if keys else 0) for k, v in result.items())
    if size > OBJECT_DATA_MAX:
        problems.append(
            Problem(
                label,
                f"{encoded}/{plain}",
                f"holds {size} bytes; the API server refuses a {obj['kind']} of more than "
                f"{OBJECT_DATA_MAX}",
                "the cluster would never hold it, so neither does a preview",
            )
        )
    if problems:
        raise InvalidInput(problems)
    return result


def load(
    paths: Iterable[Path],
    *,
    recursive: bool = False,
    last_wins: bool = False,
    allow_empty: bool = False,
) -> Manifests:
    """Every manifest under ``paths``; all problems are collected before refusing."""
    problems: list[Problem] = []
    chosen: dict[Identity, tuple[Place, dict[str, Any]]] = {}
    notes: list[str] = []
    for path in _files(paths, recursive, problems):
        try:
            documents = list(_documents(path))
        except InvalidInput as err:
            problems += err.problems
            continue
        for place, obj in documents:
            kind, namespace, name = parse.identity(obj)
            identity = (group_of(obj.get("apiVersion")), kind, namespace, name)
            earlier = chosen.get(identity)
            if earlier is not None and name:
                label = Label(kind, namespace, name)
                if not last_wins:
                    problems.append(
                        Problem(
                            label,
                            "metadata.name",
                            f"defined twice: {earlier[0]} and {place}",
                            "kubectl apply would keep only the last: remove one, or pass "
                            "--last-wins to render what it would keep",
                        )
                    )
                    continue
                notes.append(f"{label}: defined twice; the last, {place}, replaces {earlier[0]}")
                del chosen[identity]  # the kept one takes the later place in the order
            chosen[identity] = (place, obj)
    manifests = _read_objects(chosen.values(), problems)
    manifests.notes = notes
    if not problems and not allow_empty and not manifests.namespaces:
        problems.append(
            Problem(
                ", ".join(str(p) for p in paths),
                "-f",
                f"holds no {GROUP} resources ({', '.join(k.kind for k in KINDS)})",
                "check the path, or pass --allow-empty when that is intended",
            )
        )
    if problems:
        raise InvalidInput(problems)
    return manifests


def _read_objects(
    objects: Iterable[tuple[Place, dict[str, Any]]], problems: list[Problem]
) -> Manifests:
    manifests = Manifests()
    resources: dict[str, list[Resource[Any]]] = {}
    for place, obj in objects:
        kind, namespace, name = parse.identity(obj)
        group = group_of(obj.get("apiVersion"))
        key = (namespace, name)
        label = Label(kind, namespace, name)
        try:
            if group == "" and kind == "Secret" and "sops" in obj:
                # SOPS leaves the keys readable and every value ENC[...]: not a value.
                manifests.sealed[key] = f"a SOPS-encrypted Secret ({place})"
            elif group == "" and kind in ("Secret", "ConfigMap"):
                refused = parse.metadata_problems(obj, label)
                if refused:
                    raise InvalidInput(refused)
                target = manifests.secrets if kind == "Secret" else manifests.config_maps
                target[key] = object_data(obj, label)
                if kind == "Secret":
                    manifests.secret_labels[key] = _labels(obj)
            elif (group, kind) in SEALED_KINDS:
                article = "an" if kind[0] in "AEIOU" else "a"
                target_name = _sealed_target(obj, name)
                manifests.sealed[(namespace, target_name)] = f"{article} {kind} ({place})"
            elif kind in BY_KIND:
                resources.setdefault(namespace, []).append(parse.parse(obj))
            elif group == GROUP:
                close = difflib.get_close_matches(kind, BY_KIND, n=1, cutoff=0.6)
                problems.append(
                    Problem(
                        label,
                        "kind",
                        f"is not a kind of {GROUP} ({place})",
                        f"did you mean {close[0]}?"
                        if close
                        else f"the kinds are {', '.join(sorted(BY_KIND))}",
                    )
                )
        except InvalidInput as err:
            problems += err.problems
    for namespace, listed in sorted(resources.items()):
        # Sorted by name, so each kind's list in the Namespace is too.
        manifests.namespaces[namespace] = Namespace.of(
            namespace, sorted(listed, key=lambda r: r.name)
        )
    return manifests


def _sealed_target(obj: dict[str, Any], name: str) -> str:
    """The Secret a SealedSecret or ExternalSecret makes: ``spec.template.metadata.name``
    or ``spec.target.name`` when set, else its own name."""
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    for outer, inner in (("template", "metadata"), ("target", None)):
        part = spec.get(outer)
        part = part.get(inner) if inner and isinstance(part, dict) else part
        if isinstance(part, dict) and isinstance(part.get("name"), str) and part["name"]:
            return str(part["name"])
    return name
