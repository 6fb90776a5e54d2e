"""A manifest stream within budgets (obreg/yaml_stream.py, obreg/manifests.py): bytes
counted while reading (standard input too), nodes counted with aliases expanded, nesting
with an alias's height on top of its place, and every over-budget or unconstructible
stream a refusal naming the file and line, never an internal error."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from obreg import budgets, yaml_stream
from obreg.cli import EXIT_REFUSED, main


def laughs(levels: int, fan_out: int = 10) -> str:
    """A "billion laughs" stream: each anchor a list of ``fan_out`` aliases of the one
    before, fan_out**levels nodes expanded in a few hundred bytes."""
    lines = ["l0: &l0 [" + ",".join(["lol"] * fan_out) + "]"]
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def refused(text: str) -> yaml_stream.Refused:
    with pytest.raises(yaml_stream.Refused) as raised:
        yaml_stream.load_all(text)
    return raised.value


def render(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    manifest = tmp_path / "in.yaml"
    manifest.write_text(text)
    code = main(["render", "-f", str(manifest), "-o", str(tmp_path / "out"), "--allow-empty"])
    return code, capsys.readouterr().err


def test_an_alias_bomb_is_refused_at_its_line_in_little_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = laughs(9)  # 10^9 nodes expanded from 800 bytes
    assert len(bomb) < 1024
    tracemalloc.start()
    try:
        code, err = render(tmp_path, bomb, capsys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == EXIT_REFUSED
    assert f"in.yaml: line 6: more than {budgets.YAML_NODES} YAML nodes" in err
    assert peak < 20 * 1024 * 1024
    assert not (tmp_path / "out").exists()


def test_nodes_are_counted_with_aliases_expanded_up_to_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budgets, "YAML_NODES", 14)
    # A mapping, two keys, an anchored list of 3 and an alias to it: 1 + 2 + 4 + 4 + 3 docs.
    text = "a: &x [1, 2, 3]\nb: *x\n---\nc\n---\nd\n---\ne\n"
    assert len(yaml_stream.load_all(text)) == 4
    # One node more anywhere in the stream (here a later document) is over.
    assert refused(text + "---\nf\n").line == 10
    # An alias costs its anchor's whole size, not one node.
    assert refused("a: &x [1, 2, 3]\nb: *x\nc: *x\n").line == 3


def test_nesting_is_refused_at_the_budget_in_block_and_flow_style() -> None:
    depth = budgets.NESTING_DEPTH
    assert yaml_stream.load_all("[" * depth + "]" * depth)
    for text in ("[" * (depth + 1) + "]" * (depth + 1), "- " * 5000 + "x", "{a: " * 5000):
        problem = refused(text)
        assert problem.line == 1
        assert problem.message == f"nested more than {depth} deep (aliases counted expanded)"


def test_an_alias_placed_deep_adds_its_anchors_height() -> None:
    depth = budgets.NESTING_DEPTH
    half = depth // 2
    deep = "[" * half + "1" + "]" * half
    # Anchors chained at a depth each under the budget nest past it once expanded.
    text = f"a: &a {deep}\nb: " + "[" * half + "*a" + "]" * half + "\n"
    assert refused(text).line == 2
    assert yaml_stream.load_all(f"a: &a {deep}\nb: *a\n")


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert refused("&a [1, *a]").message == "an alias inside its own anchor's node (a cycle)"
    # An anchor of an earlier document defined again around an alias of its name.
    assert refused("a: &x 1\n---\n&x [*x]\n").line == 3


@pytest.mark.parametrize(
    "text",
    [
        "1" + ":1" * 5000,  # base 60, converted in quadratic time by yaml
        "1" * 5000,  # past Python's own limit, a ValueError
        "2001-13-45",  # a date by yaml's pattern, not by the calendar
        "!!float 1e",
    ],
)
def test_a_scalar_yaml_cannot_construct_is_refused(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = render(tmp_path, f"a: b\nc: {text}\n", capsys)
    assert code == EXIT_REFUSED
    assert "in.yaml: line 2: a " in err
    assert "internal error" not in err


def test_a_manifest_over_the_byte_budget_is_refused_while_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(budgets, "MANIFEST_BYTES", 100)
    assert render(tmp_path, "# " + "x" * 97 + "\n", capsys)[0] == 0  # 100 bytes: fine
    code, err = render(tmp_path, "# " + "x" * 98 + "\n", capsys)
    assert code == EXIT_REFUSED and "in.yaml: -: larger than 100 bytes" in err


class Endless(io.RawIOBase):
    """Standard input that never ends, and refuses to be read whole."""

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        buffer[:] = b"#" * len(buffer)
        return len(buffer)

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "read to the end of an endless stream"
        return b"#" * size

    def readable(self) -> bool:
        return True


def test_standard_input_is_counted_while_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = io.TextIOWrapper(Endless())  # type: ignore[arg-type]
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(["render", "-f", "-", "-o", str(tmp_path / "out")]) == EXIT_REFUSED
    assert f"-: -: larger than {budgets.MANIFEST_BYTES} bytes" in capsys.readouterr().err
    # A text stream in its place (as an embedding program sets) is bounded the same way.
    monkeypatch.setattr("sys.stdin", io.StringIO("#" * (budgets.MANIFEST_BYTES + 10)))
    assert main(["render", "-f", "-", "-o", str(tmp_path / "out")]) == EXIT_REFUSED
    assert "larger than" in capsys.readouterr().err


def test_a_folder_without_manifests_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not a manifest")
    for folder in ("empty", "other"):
        code = main(["render", "-f", str(tmp_path / folder), "-o", str(tmp_path / "out")])
        assert code == EXIT_REFUSED
        assert f"{folder}: -f: holds no .yaml, .yml, .json files" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
