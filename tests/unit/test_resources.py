"""obreg's store of its own resources (rules/resources.py): a new list replaces what was
held, so a resource deleted while no watch was open is forgotten and reported."""

from __future__ import annotations

from typing import Any

from obreg.kube.indexes import SNAPSHOTS_KEPT, Indexes
from obreg.rules.resources import Resources

TA = "OBTrustAnchor"


def anchor(namespace: str, name: str, version: str, cas: int = 1) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": namespace,
            "name": name,
            "resourceVersion": version,
            "uid": f"uid-{name}",
            "generation": 1,
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {"certificates": [{"alias": f"ca{n}"} for n in range(cas)]},
    }


def test_a_relist_forgets_what_it_lacks_in_its_scope_only() -> None:
    store = Resources()
    for namespace, name in (("a", "kept"), ("a", "deleted"), ("b", "other")):
        assert store.event(TA, "ADDED", anchor(namespace, name, "1"))
    assert store.relisted(TA, "a", [(TA, "a", "kept")]) == [(TA, "a", "deleted")]
    assert store.get((TA, "a", "deleted")) is None
    assert store.get((TA, "b", "other")) is not None  # another scope's list says nothing
    assert store.relisted(TA, None, [(TA, "a", "kept")]) == [(TA, "b", "other")]
    assert store.stores()[0] == {"a": {"kept": store.get((TA, "a", "kept"))}}


def test_a_relist_of_one_kind_leaves_the_others() -> None:
    store = Resources()
    store.event(TA, "ADDED", anchor("a", "x", "1"))
    store.event("OBIdentityProvider", "ADDED", anchor("a", "x", "2"))
    assert store.relisted("OBIdentityProvider", None, []) == [("OBIdentityProvider", "a", "x")]
    assert store.get((TA, "a", "x")) is not None


def test_an_unchanged_version_is_no_change_and_what_is_held_is_compact() -> None:
    store = Resources()
    assert store.event(TA, "ADDED", anchor("a", "x", "1"))
    assert not store.event(TA, "ADDED", anchor("a", "x", "1"))  # a relist repeating it
    assert store.event(TA, "MODIFIED", anchor("a", "x", "2", cas=2))
    held = store.get((TA, "a", "x"))
    assert held is not None and len(held["spec"]["certificates"]) == 2
    assert "managedFields" not in held["metadata"] and held["kind"] == TA
    assert store.event(TA, "DELETED", anchor("a", "x", "3"))
    assert not store.event(TA, "DELETED", anchor("a", "x", "3"))
    assert store.stores()[0] == {}


def test_a_status_write_coming_back_is_held_but_is_no_change() -> None:
    """obreg's own status write comes back as an event: kept (a restarted leader reads
    it), but nothing a reconcile acts on changed, so it requests none. A new spec, a
    new generation, or a resource made again (a
    new uid) still does."""
    store = Resources()
    assert store.event(TA, "ADDED", anchor("a", "x", "1"))
    with_status = {**anchor("a", "x", "2"), "status": {"conditions": [{"type": "Ready"}]}}
    assert not store.event(TA, "MODIFIED", with_status)
    held = store.get((TA, "a", "x"))
    assert held is not None and held["status"] == with_status["status"]
    regenerated = anchor("a", "x", "3")
    regenerated["metadata"]["generation"] = 2
    assert store.event(TA, "MODIFIED", regenerated)
    made_again = anchor("a", "x", "4")
    made_again["metadata"].update(uid="uid-new", generation=2)
    assert store.event(TA, "MODIFIED", made_again)
    assert store.event(TA, "MODIFIED", anchor("a", "x", "5", cas=3))


def test_a_namespace_snapshot_is_made_again_exactly_when_a_resource_changed() -> None:
    """Indexes.snapshot reuses a namespace's snapshot while the store holds the same
    objects, and any event that changes one (status included) or adds or removes one
    makes a new snapshot that shows it."""
    store = Resources()
    indexes = Indexes(custom=store.stores(), secrets={}, config_maps={}, workloads={})
    store.event(TA, "ADDED", anchor("a", "x", "1"))
    store.event(TA, "ADDED", anchor("b", "y", "1"))
    first = indexes.snapshot("a")
    assert indexes.snapshot("a") is first
    store.event(TA, "ADDED", anchor("b", "z", "1"))  # another namespace
    assert indexes.snapshot("a") is first
    status = {**anchor("a", "x", "2"), "status": {"observedGeneration": 1}}
    store.event(TA, "MODIFIED", status)
    second = indexes.snapshot("a")
    assert second is not first and second.raw[(TA, "x")]["status"] == status["status"]
    store.event(TA, "ADDED", anchor("a", "w", "1"))
    assert sorted(name for _, name in indexes.snapshot("a").raw) == ["w", "x"]
    store.event(TA, "DELETED", anchor("a", "w", "3"))
    store.event(TA, "DELETED", anchor("a", "x", "3"))
    assert indexes.snapshot("a").raw == {}
    assert "a" not in indexes._snapshots  # an emptied namespace holds nothing


def test_the_snapshots_kept_are_the_most_recently_used_namespaces_only() -> None:
    store = Resources()
    indexes = Indexes(custom=store.stores(), secrets={}, config_maps={}, workloads={})
    names = [f"ns{n}" for n in range(SNAPSHOTS_KEPT + 1)]
    for name in names:
        store.event(TA, "ADDED", anchor(name, "x", "1"))
    first = indexes.snapshot(names[0])
    for name in names[1:]:
        indexes.snapshot(name)
        assert indexes.snapshot(names[0]) is first  # used again: kept
    assert len(indexes._snapshots) == SNAPSHOTS_KEPT
    assert names[1] not in indexes._snapshots  # the least recently used went
