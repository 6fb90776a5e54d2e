"""docs/examples/gitops renders from a fresh clone: each overlay built by a real
kustomize and rendered with placeholders for its SealedSecrets; and render --help and
diff --help say what they do, show an example and their exit codes."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from obreg.cli import main
from testbed.controlplane import build

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "gitops"


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_the_gitops_example_renders_with_placeholders(
    overlay: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kustomize = build.build(build.KUSTOMIZE) / "kustomize"
    built = subprocess.run(
        [str(kustomize), "build", str(EXAMPLE / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    monkeypatch.setattr("sys.stdin", io.StringIO(built))
    out = tmp_path / "out"
    args = ["render", "-f", "-", "-o", str(out), "--placeholder-secrets"]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    namespace = f"obreg-{overlay}"
    sealed = f"Secret {namespace}/ob-directory-client is not in the manifests (only a SealedSecret"
    assert sealed in err
    idp = out / namespace / "wso2-km/repository/conf/identity/identity-providers/OBDirectory.xml"
    assert f"placeholder-not-real-{namespace}-ob-directory-client-client-secret" in idp.read_text()
    # Without placeholders the sealed Secret is refused, saying how to preview.
    monkeypatch.setattr("sys.stdin", io.StringIO(built))
    assert main(args[:-1]) == 1
    assert "--placeholder-secrets" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["render", "diff"])
def test_help_describes_shows_an_example_and_the_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "example:\n  obreg " + command in text
    assert "exit codes" in text and "0 " in text
    assert len(text.split("options:")[0]) > 300  # a description, not just usage
