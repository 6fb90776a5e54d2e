"""Every text field of a spec is one line without surrounding whitespace (api/names.py):
WSO2 keeps what it is given, so obreg refuses what the product would keep by mistake.
The fields are found by walking the spec models, so a new field is covered unasked."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from obreg.api.kinds import KINDS

# PEM text is lines by nature; the certificate parser reads it, not WSO2.
MULTILINE = {("CertificateSource", "inline")}


def _text_fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[tuple[str, Any]]:
    if model in seen:
        return
    seen.add(model)
    for name, info in model.model_fields.items():
        stack: list[tuple[Any, tuple[Any, ...]]] = [(info.annotation, tuple(info.metadata))]
        while stack:
            kind, metadata = stack.pop()
            origin = typing.get_origin(kind)
            if origin is Annotated:
                inner, *more = typing.get_args(kind)
                stack.append((inner, (*more, *metadata)))
            elif kind is str:
                if (model.__name__, name) not in MULTILINE:
                    annotated = Annotated[str, *metadata] if metadata else str
                    yield f"{model.__name__}.{name}", annotated
            elif isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from _text_fields(kind, seen)
            elif (isinstance(kind, types.UnionType) or origin is not None) and (
                origin is not typing.Literal
            ):
                stack += [(a, ()) for a in typing.get_args(kind) if a is not type(None)]


def _fields() -> list[tuple[str, Any]]:
    seen: set[type[BaseModel]] = set()
    return sorted({f: t for kind in KINDS for f, t in _text_fields(kind.spec, seen)}.items())


FIELDS = _fields()
EXAMPLES = [
    "https://km.example:9446/oauth2/token",
    "repository/resources/security/client-truststore.jks",
    "client-id",
    "http://wso2.org/claims/active",
]


def test_the_walk_finds_the_free_text_fields() -> None:
    names = {name for name, _ in FIELDS}
    assert {
        "OBIdentityProviderSpec.client_id",
        "OBIdentityProviderSpec.display_name",
        "OBIdentityProviderSpec.query_parameters",
        "ApplicationAttribute.description",
    } <= names
    assert len(names) > 30


def _valid(adapter: TypeAdapter[str], kind: Any) -> st.SearchStrategy[str]:
    metadata = typing.get_args(kind)[1:]
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
    generated = st.from_regex(pattern, fullmatch=True) if pattern else st.text(min_size=1)
    # Values of the narrow patterns (URLs, the truststore path) that a regex seldom hits.
    examples = st.sampled_from([v for v in EXAMPLES if _accepted(adapter, v)] or ["x"])
    return st.one_of(examples, generated).filter(lambda v: _accepted(adapter, v))


def _accepted(adapter: TypeAdapter[str], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except pydantic.ValidationError:
        return False
    return True


@pytest.mark.parametrize(("field", "kind"), FIELDS, ids=[f for f, _ in FIELDS])
@settings(max_examples=20, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data(), untidy=st.sampled_from([" {}", "{} ", "{}\n", "\t{}", "{}\r\n"]))
def test_surrounding_whitespace_and_line_breaks_are_refused(
    field: str, kind: Any, data: st.DataObject, untidy: str
) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(kind)
    value = data.draw(_valid(adapter, kind))
    assert not _accepted(adapter, untidy.format(value)), field
    if len(value) > 1:
        cut = data.draw(st.integers(1, len(value) - 1))
        assert not _accepted(adapter, value[:cut] + "\n" + value[cut:]), field
