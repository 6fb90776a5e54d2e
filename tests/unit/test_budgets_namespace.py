"""Rule 4: what every workload's render asks of the whole namespace is worked out once
per namespace, and no step compares every file or resource with every other. Work is
counted (calls of ``targets``, string searches), never timed."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obreg.errors import InvalidInput, Label
from obreg.render import bundle
from obreg.render.bundle import File, Namespace
from obreg.render.inputs import Inputs
from tests.pki import NOW, issue
from tests.unit.test_truststore import NS, anchor

PEM = issue("Namespace CA").pem.decode()


def anchors(count: int, workloads: int) -> Namespace:
    """``count`` anchors of one certificate, the n-th targeting workloads n % workloads
    onwards (``workloads`` of them in all, each anchor targeting up to three)."""
    return Namespace(
        NS,
        [
            anchor(
                {
                    "targets": [
                        {"name": f"w{(n + k) % workloads}"} for k in range(min(3, workloads))
                    ],
                    "certificates": [{"inline": PEM}],
                },
                f"a{n:04d}",
            )
            for n in range(count)
        ],
    )


@pytest.fixture
def targets_asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    asked = [0]
    original = bundle.targets

    def counting(resource: Any) -> Any:
        asked[0] += 1
        return original(resource)

    monkeypatch.setattr(bundle, "targets", counting)
    return asked


@pytest.mark.parametrize("workloads", [1, 4, 40])
def test_the_namespace_is_looked_over_once_whatever_the_workloads(
    workloads: int, targets_asked: list[int]
) -> None:
    """Each workload's render used to ask every resource its targets, for the conflict
    check: resources x workloads. Now each resource is asked a fixed number of times."""
    namespace = anchors(40, workloads)
    for workload in namespace.workloads():
        bundle.render(namespace, workload, Inputs(), NOW)
    assert targets_asked[0] <= 2 * 40


def test_conflicts_are_the_same_when_asked_again(targets_asked: list[int]) -> None:
    namespace = anchors(6, 3)
    first = namespace.conflicts()
    asked = targets_asked[0]
    assert namespace.conflicts() == first
    assert targets_asked[0] == asked


class Path(str):
    """A file path that counts the searches made in it."""

    searched = 0

    def startswith(self, *args: Any) -> bool:
        Path.searched += 1
        return super().startswith(*args)

    def find(self, *args: Any) -> int:
        Path.searched += 1
        return super().find(*args)


def file(path: str) -> File:
    content = path.encode()
    return File(
        Path(path), content, False, hashlib.sha256(content).hexdigest(), Label("K", NS, path)
    )


def test_files_are_checked_against_folders_in_linear_work() -> None:
    for count in (100, 400):
        Path.searched = 0
        bundle._unique(file(f"repository/conf/f{n:04d}.xml") for n in range(count))
        assert Path.searched <= 4 * count  # a pairwise check searches count**2 times


def _reference_folder(paths: list[str]) -> tuple[str, str] | None:
    """The old pairwise check: the first file (by path) that is another's folder, and the
    first path (in order given) inside it."""
    for path in sorted(paths):
        inside = next((p for p in paths if p.startswith(path + "/")), None)
        if inside is not None:
            return path, inside
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from("ab"), min_size=1, max_size=4), max_size=8))
def test_the_folder_check_finds_what_the_pairwise_check_found(parts: list[list[str]]) -> None:
    paths = list(dict.fromkeys("/".join(p) for p in parts))
    expected = _reference_folder(paths)
    try:
        bundle._unique(file(p) for p in paths)
    except InvalidInput as refused:
        assert expected is not None
        path, inside = expected
        assert f"writes the file {path}, which K {NS}/{inside} needs as a folder for {inside}" in (
            str(refused)
        )
    else:
        assert expected is None
