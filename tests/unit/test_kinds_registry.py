"""api/kinds.py is the one place obreg's kinds are spelled out (issue 27: adding a kind or
changing its plural or targets is a change in one place), and what loops over it covers
every kind.

The guard scans operator/obreg's string literals (not docstrings or comments, which
describe and decide nothing) for any kind's name, plural, singular or short name; a
module that needs one takes it from the registry (``TRUST_ANCHOR.kind``,
``BY_KIND[...]``, a loop over ``KINDS``)."""

from __future__ import annotations

import ast
import copy
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import obreg
from obreg.api import crd, parse
from obreg.api.common import GROUP
from obreg.api.kinds import BY_KIND, KINDS, SERVICE_PROVIDER, TRUST_ANCHOR
from obreg.kube import api, serving
from obreg.render import bundle
from obreg.rules import resources, state
from tests.bad_inputs import sample_documents

PACKAGE = Path(obreg.__file__).parent
REGISTRY = Path("api/kinds.py")
HELPERS = Path(__file__).parents[2] / "charts/obreg/templates/_helpers.tpl"

# (module, the literal that names a kind) -> why it may stay there.
ALLOWED = {
    (
        Path("api/service_provider.py"),
        "Name of the OBIdentityProvider (same namespace) the login federates to.",
    ): "a CRD field's description in a model module, which the registry imports (so the "
    "module cannot import the registry back); kubectl explain shows it",
}


def _pattern() -> re.Pattern[str]:
    """Any kind's name, plural, singular or short name as a word, in any case, with an
    English plural's s (prose says "OBTrustAnchors")."""
    words = {w for k in KINDS for w in (k.kind, k.plural, k.singular, *k.short_names)}
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})s?(?![A-Za-z0-9_])", re.IGNORECASE)


def literals_naming_a_kind(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal in ``source`` that names a kind; f-strings'
    literal parts count, docstrings do not."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    pattern = _pattern()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and pattern.search(node.value)
        ):
            yield node.lineno, node.value


def test_the_guard_sees_a_kind_spelled_in_code_and_not_in_prose() -> None:
    source = (
        '"""A module about OBTrustAnchors."""\n'
        "# observiceproviders in a comment\n"
        'def f(kind):\n    """Whether it is an OBTrustAnchor."""\n'
        '    return kind == "OBTrustAnchor" or f"{kind} obidentityproviders" or "obSP"\n'
        'PATH = "OBTrustAnchorSpec/obtained/obspx"\n'
    )
    found = sorted(text for _, text in literals_naming_a_kind(source))
    assert found == [" obidentityproviders", "OBTrustAnchor", "obSP"]


def test_no_module_but_the_registry_spells_a_kind() -> None:
    found = {
        (path.relative_to(PACKAGE), text): line
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE) != REGISTRY
        for line, text in literals_naming_a_kind(path.read_text(encoding="utf-8"))
    }
    unexpected = [
        f"{path}:{line}: {text!r}"
        for (path, text), line in found.items()
        if (path, text) not in ALLOWED
    ]
    assert not unexpected, "take the kind from obreg.api.kinds instead:\n" + "\n".join(unexpected)
    assert set(ALLOWED) <= set(found), "an allowed literal is gone: drop it from ALLOWED"


def test_the_registry_spells_each_kind() -> None:
    names = [w for k in KINDS for w in (k.kind, k.plural, *k.short_names)]
    assert len(names) == len(set(names))
    spelled = {text for _, text in literals_naming_a_kind((PACKAGE / REGISTRY).read_text())}
    assert set(names) <= spelled


def test_every_table_that_depends_on_the_kind_has_each_kind() -> None:
    plurals = {k.plural for k in KINDS}
    assert [d["spec"]["names"]["kind"] for d in map(crd.definition, KINDS)] == [
        k.kind for k in KINDS
    ]
    assert plurals == serving.RESOURCES
    assert set(resources.Resources().by_kind) == set(BY_KIND)
    assert set(bundle._CONTRIBUTIONS) == set(BY_KIND)
    assert {f.name for f in dataclasses.fields(bundle.Namespace)} >= {
        k.namespace_field for k in KINDS
    }
    for kind in KINDS:
        assert api.path("obreg.dev/v1alpha1", kind.kind, "ns").endswith(f"/ns/{kind.plural}")


def test_the_charts_rbac_reads_each_kind_and_writes_its_status() -> None:
    """The chart is YAML, not Python, so it cannot import the registry: a new kind or
    plural without its RBAC rule fails here rather than as a 403 on a cluster."""
    text = HELPERS.read_text(encoding="utf-8")
    block = text.split('{{- define "obreg.rules" -}}', 1)[1].split("{{- end }}", 1)[0]
    rules = [r for r in yaml.safe_load(block) if r["apiGroups"] == [GROUP]]
    granted = {verb: set(r["resources"]) for r in rules for verb in r["verbs"]}
    plurals = {k.plural for k in KINDS}
    assert granted == {
        "get": plurals,
        "list": plurals,
        "watch": plurals,
        "patch": {f"{p}/status" for p in plurals},
    }


def _samples() -> list[dict[str, object]]:
    return [copy.deepcopy(d) for d in sample_documents() if d["kind"] in BY_KIND]


@pytest.mark.parametrize("kind", [k.kind for k in KINDS])
def test_a_kind_reads_the_same_targets_from_a_valid_and_a_raw_spec(kind: str) -> None:
    """The lenient reading (an invalid resource still blocks its workloads) and the
    validated one agree on what a valid spec targets, and each target has a path."""
    registry = BY_KIND[kind]
    docs = [d for d in _samples() if d["kind"] == kind]
    assert docs
    for doc in docs:
        resource = parse.parse(doc)
        targets = registry.targets(resource.spec)
        assert targets
        assert registry.raw_targets(doc["spec"]) == set(targets)
        assert set(targets) == bundle.targets(resource)
        for workload in targets:
            path = registry.target_path(resource.spec, workload)
            assert path.startswith("spec.")


def test_a_target_path_names_the_field_and_index_of_its_first_mention() -> None:
    doc = next(d for d in _samples() if d["kind"] == TRUST_ANCHOR.kind)
    spec = doc["spec"]
    assert isinstance(spec, dict)
    spec["targets"] = [{"name": "a"}, {"name": "b"}, {"name": "a", "kind": "StatefulSet"}]
    resource = parse.parse(doc)
    paths = [TRUST_ANCHOR.target_path(resource.spec, w) for w in resource.spec.targets]
    assert paths == ["spec.targets[0]", "spec.targets[1]", "spec.targets[2]"]
    sp = parse.parse(next(d for d in _samples() if d["kind"] == SERVICE_PROVIDER.kind))
    assert SERVICE_PROVIDER.target_path(sp.spec, sp.spec.api_manager) == "spec.apiManager"
    with pytest.raises(ValueError, match="does not target"):
        TRUST_ANCHOR.target_path(resource.spec, sp.spec.api_manager)


def test_a_namespace_is_grouped_by_kind_in_registry_order() -> None:
    docs = [dict(d, metadata={**d["metadata"], "namespace": "ns"}) for d in _samples()]
    snap = state.snapshot("ns", reversed(docs))
    listed = [r.kind for r in snap.namespace.resources()]
    assert listed == sorted(listed, key=[k.kind for k in KINDS].index)
    assert set(listed) == set(BY_KIND)
    for kind in KINDS:
        assert all(r.kind == kind.kind for r in getattr(snap.namespace, kind.namespace_field))
