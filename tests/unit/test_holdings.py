"""What obreg holds of Secrets and ConfigMaps (rules/holdings.py): the data of what its
resources read and of its own objects, and of everything else a resourceVersion only."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from obreg.render.objects import MANAGED_BY
from obreg.rules.holdings import Holdings, summary

NS = "bank"


def meta(name: str, version: str = "1", ns: str = NS, ours: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ns,
        "resourceVersion": version,
        "labels": dict(MANAGED_BY) if ours else {"app": "x"},
    }


def secret(name: str, value: bytes, version: str = "1", ours: bool = False) -> dict[str, Any]:
    return {
        "metadata": meta(name, version, ours=ours),
        "data": {"password": base64.b64encode(value).decode()},
    }


def test_an_object_no_resource_reads_is_not_held_only_its_version() -> None:
    holdings = Holdings()
    assert holdings.metadata_event("Secret", "ADDED", meta("helm-release")) is None
    assert holdings.held == {}
    assert holdings.existing == {("Secret", NS, "helm-release"): "1"}


def test_an_object_becoming_read_is_fetched_when_it_exists_and_held_after() -> None:
    holdings = Holdings()
    holdings.metadata_event("Secret", "ADDED", meta("admin"))
    wanted = [("Secret", NS, "admin"), ("Secret", NS, "absent")]
    assert holdings.want(NS, wanted) == [("Secret", NS, "admin")]  # absent: no GET
    assert holdings.store(("Secret", NS, "admin"), summary("Secret", secret("admin", b"pw")))
    assert holdings.view("Secret")[(NS, "admin")].data == {"password": b"pw"}
    # Held as it is: the same version again needs no GET, a new one does.
    assert holdings.want(NS, wanted) == []
    assert holdings.metadata_event("Secret", "MODIFIED", meta("admin")) is None
    assert holdings.metadata_event("Secret", "MODIFIED", meta("admin", "2")) == "fetch"
    # An absent one that is created is fetched.
    assert holdings.metadata_event("Secret", "ADDED", meta("absent")) == "fetch"


def test_what_no_resource_reads_any_more_is_dropped_but_obregs_own_objects_stay() -> None:
    holdings = Holdings()
    holdings.metadata_event("Secret", "ADDED", meta("admin"))
    holdings.want(NS, [("Secret", NS, "admin")])
    holdings.store(("Secret", NS, "admin"), summary("Secret", secret("admin", b"pw")))
    holdings.managed_event("Secret", "ADDED", secret("obreg-km", b"files", ours=True))
    holdings.want(NS, [])
    assert list(holdings.view("Secret")) == [(NS, "obreg-km")]
    assert holdings.wanted == {}


def test_a_fetch_that_ends_after_its_object_stopped_being_read_is_not_held() -> None:
    holdings = Holdings()
    holdings.want(NS, [])
    assert not holdings.store(("Secret", NS, "admin"), summary("Secret", secret("admin", b"x")))
    assert holdings.held == {}


def test_a_deleted_held_object_is_gone_and_its_readers_are_told() -> None:
    holdings = Holdings()
    holdings.metadata_event("ConfigMap", "ADDED", meta("cas"))
    holdings.want(NS, [("ConfigMap", NS, "cas")])
    holdings.store(("ConfigMap", NS, "cas"), summary("ConfigMap", {"metadata": meta("cas")}))
    assert holdings.metadata_event("ConfigMap", "DELETED", meta("cas", "2")) == "gone"
    assert (NS, "cas") not in holdings.view("ConfigMap")
    assert holdings.metadata_event("ConfigMap", "DELETED", meta("other")) is None


def test_obregs_own_objects_come_in_full_from_the_labelled_watch_only() -> None:
    holdings = Holdings()
    item = ("Secret", NS, "obreg-km")
    assert holdings.managed_event("Secret", "ADDED", secret("obreg-km", b"a", ours=True))
    # The all-objects watch sees it too: no GET, and no version kept twice.
    assert holdings.metadata_event("Secret", "MODIFIED", meta("obreg-km", ours=True)) is None
    assert item not in holdings.existing
    # The same content again is no change; a hand edit is.
    assert not holdings.managed_event("Secret", "MODIFIED", secret("obreg-km", b"a", "2", True))
    assert holdings.managed_event("Secret", "MODIFIED", secret("obreg-km", b"b", "3", True))
    assert holdings.managed_event("Secret", "DELETED", secret("obreg-km", b"b", "4", True))
    assert item not in holdings.held


def test_every_change_to_a_key_bumps_its_sequence_so_a_racing_fetch_is_repeated() -> None:
    holdings = Holdings()
    item = ("Secret", NS, "obreg-km")
    before = holdings.sequence.get(item, 0)
    holdings.managed_event("Secret", "ADDED", secret("obreg-km", b"a", ours=True))
    assert holdings.sequence[item] > before
    middle = holdings.sequence[item]
    holdings.forget(item)
    assert holdings.sequence[item] > middle


def test_a_relist_forgets_what_the_list_no_longer_has() -> None:
    holdings = Holdings()
    for name in ("a", "b"):
        holdings.metadata_event("Secret", "ADDED", meta(name))
    holdings.metadata_event("Secret", "ADDED", meta("c", ns="elsewhere"))
    holdings.want(NS, [("Secret", NS, "a"), ("Secret", NS, "b")])
    holdings.store(("Secret", NS, "b"), summary("Secret", secret("b", b"x")))
    gone = holdings.relisted("Secret", NS, [("Secret", NS, "a")])
    assert gone == [("Secret", NS, "b")]  # held, so readers are told
    assert set(holdings.existing) == {("Secret", NS, "a"), ("Secret", "elsewhere", "c")}
    holdings.managed_event("Secret", "ADDED", secret("obreg-km", b"a", ours=True))
    assert holdings.managed_relisted("Secret", None, []) == [("Secret", NS, "obreg-km")]


def test_only_obregs_annotations_are_held_not_kubectls_last_applied_copy() -> None:
    obj = secret("admin", b"pw")
    obj["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
        "obreg.dev/allowed-hosts": "km.example",
    }
    assert summary("Secret", obj).annotations == {"obreg.dev/allowed-hosts": "km.example"}


names = st.sampled_from(["a", "b", "obreg-w"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("want"), st.frozensets(names)),
        st.tuples(st.just("meta"), names, st.sampled_from(["ADDED", "MODIFIED", "DELETED"])),
        st.tuples(st.just("ours"), names, st.sampled_from(["ADDED", "DELETED"])),
        st.tuples(st.just("fetched"), names, st.booleans()),
    ),
    max_size=30,
)


@settings(max_examples=300)
@given(steps)
def test_held_data_is_only_ever_of_what_is_read_or_obregs_own(plan: list[Any]) -> None:
    """Whatever the order of events, wants and fetch results, an object outside obreg's
    label is held only while some resource reads it."""
    holdings = Holdings()
    for version, step in enumerate(plan, start=1):
        if step[0] == "want":
            holdings.want(NS, [("Secret", NS, n) for n in step[1]])
        elif step[0] == "meta":
            holdings.metadata_event("Secret", step[2], meta(step[1], str(version)))
        elif step[0] == "ours":
            holdings.managed_event("Secret", step[2], secret(step[1], b"x", str(version), True))
        else:
            obj = secret(step[1], b"y", str(version)) if step[2] else None
            holdings.store(("Secret", NS, step[1]), summary("Secret", obj) if obj else None)
        for item, held in holdings.held.items():
            ours = all(held.labels.get(k) == v for k, v in MANAGED_BY.items())
            assert ours or holdings.is_wanted(item)


def test_a_relist_of_obregs_own_objects_forgets_only_its_kind_and_namespace() -> None:
    """A namespaced obreg lists its own objects one namespace and kind at a time: one
    list must not forget another namespace's or kind's, nor someone else's objects."""
    holdings = Holdings()
    other_ns = secret("obreg-apim", b"a", ours=True)
    other_ns["metadata"]["namespace"] = "elsewhere"
    for obj in (secret("obreg-km", b"a", ours=True), other_ns):
        holdings.managed_event("Secret", "ADDED", obj)
    holdings.managed_event("ConfigMap", "ADDED", {"metadata": meta("obreg-km", ours=True)})
    holdings.want(NS, [("Secret", NS, "read")])
    holdings.store(("Secret", NS, "read"), summary("Secret", secret("read", b"x")))
    assert holdings.managed_relisted("Secret", NS, []) == [("Secret", NS, "obreg-km")]
    assert set(holdings.held) == {
        ("Secret", "elsewhere", "obreg-apim"),
        ("ConfigMap", NS, "obreg-km"),
        ("Secret", NS, "read"),  # not obreg's own: the labelled list does not show it
    }


def test_storing_reports_a_change_only_when_something_held_changed() -> None:
    holdings = Holdings()
    item = ("Secret", NS, "admin")
    assert not holdings.store(item, None)  # nothing held, nothing to tell
    holdings.want(NS, [item])
    assert holdings.store(item, summary("Secret", secret("admin", b"pw")))
    assert not holdings.store(item, summary("Secret", secret("admin", b"pw", "2")))  # same
    assert len(holdings.view("Secret")) == 1 and len(holdings.view("ConfigMap")) == 0
    holdings.want(NS, [])  # no longer read: dropped, and a fetch in flight is stale
    before = holdings.sequence[item]
    assert item not in holdings.held
    holdings.want(NS, [item])
    assert holdings.store(item, summary("Secret", secret("admin", b"pw")))
    holdings.want(NS, [])
    assert holdings.sequence[item] > before
    # An object that is not obreg's and no longer read is dropped when it is stored.
    holdings.want(NS, [item])
    holdings.store(item, summary("Secret", secret("admin", b"pw")))
    holdings.wanted.clear()
    assert holdings.store(item, summary("Secret", secret("admin", b"new")))
    assert item not in holdings.held
    assert holdings.store(item, None) is False


def test_obregs_own_objects_leave_the_versions_of_others() -> None:
    holdings = Holdings()
    holdings.metadata_event("Secret", "ADDED", meta("out"))
    assert ("Secret", NS, "out") in holdings.existing
    # Labelled obreg's now: the labelled watch reports it, so its version goes.
    assert holdings.metadata_event("Secret", "MODIFIED", meta("out", "2", ours=True)) is None
    assert holdings.existing == {}
    holdings.metadata_event("Secret", "ADDED", meta("other"))
    assert holdings.metadata_event("Secret", "DELETED", meta("other")) is None
    assert holdings.existing == {}
