"""Bad inputs, each through ``obreg render`` as a user would meet it: a non-zero exit, a
message naming the resource, the field path and the problem, and nothing written."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from obreg.cli import main
from tests.bad_inputs import (
    CASES,
    RECORDED_REFUSALS,
    Docs,
    idp,
    recorded_refusals,
    refusal,
    sample_documents,
    sp,
)


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 30


RECORDED = recorded_refusals()


@pytest.mark.parametrize(("case", "mutate", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_a_clear_message_and_no_output(
    tmp_path: Path,
    case: str,
    mutate: Callable[[Docs], None],
    path: str,
    message: str,
) -> None:
    docs = sample_documents()
    mutate(docs)
    code, stderr, wrote = refusal(docs, tmp_path)
    assert code == 1
    assert not wrote
    assert "refused, nothing written" in stderr
    lines = [line for line in stderr.splitlines() if message in line]
    assert lines, stderr
    assert f": {path}: " in lines[0], lines[0]
    # Names the resource: its kind, namespace and name.
    assert re.match(r"  (OB[A-Za-z]+|Secret|ConfigMap) [^ ]+/", lines[0]), lines[0]
    # And reads, whole, as recorded (after a deliberate change: make refusals).
    assert stderr == RECORDED.get(case), f"{case}: not as recorded in {RECORDED_REFUSALS}"


def test_bad_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "in.yaml"
    manifest.write_text("kind: [unclosed\n")
    assert main(["render", "-f", str(manifest), "-o", str(tmp_path / "out")]) == 1
    assert "not valid YAML" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_every_problem_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    idp(docs).pop("clientId")
    sp(docs).update(signatureAlgorithm="RS256")
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    assert main(["render", "-f", str(manifest), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "spec.clientId" in err and "spec.signatureAlgorithm" in err
