"""What goes wrong by the user's doing (a -o that cannot be written, a -f that is not
there, no kubeconfig for ``obreg run``) is a refusal: exit 1 and a line naming the path
and the option, never "internal error, please report" and never a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from obreg.cli import EXIT_REFUSED, main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def render(out: Path | str, capsys: pytest.CaptureFixture[str], source: Path = SAMPLES) -> str:
    assert main(["render", "-f", str(source), "-o", str(out)]) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    return err


def test_an_output_inside_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    err = render(tmp_path / "file" / "deeper" / "out", capsys)
    assert f"-o: is inside {tmp_path / 'file'}, not a folder" in err
    assert render(tmp_path / "file", capsys).endswith("-o: is not a folder\n")


@pytest.mark.parametrize(
    ("broken", "code"),
    [("pathlib.Path.mkdir", errno.EACCES), ("os.open", errno.ENOSPC), ("os.open", errno.EROFS)],
)
def test_an_output_that_cannot_be_written_is_refused_and_left_as_it_was(
    broken: str,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_open = os.open

    def refuse(*args: object, **kwargs: object) -> object:
        # Only the creation of a file or folder fails: rmtree still opens what it removes.
        if broken == "os.open" and not int(args[1]) & os.O_CREAT:  # type: ignore[call-overload]
            return real_open(*args, **kwargs)  # type: ignore[arg-type]
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(broken, refuse)
    err = render(tmp_path / "new" / "out", capsys)
    assert f"new/out: -o: cannot write: {os.strerror(code)}" in err
    assert err.count("\n") == 2  # the header and the one problem
    assert list(tmp_path.rglob("*")) in ([], [tmp_path / "new"])  # no staging left


def test_a_missing_manifest_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = render(tmp_path / "out", capsys, tmp_path / "missing.yaml")
    assert "missing.yaml: -: cannot read: FileNotFoundError" in err


@pytest.mark.parametrize("kubeconfig", ["missing", ".", "garbage"])
def test_run_without_a_usable_kubeconfig_says_so_in_one_line(
    kubeconfig: str, tmp_path: Path
) -> None:
    (tmp_path / "garbage").write_text("clusters: [\n")
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "OBREG_"))
    }
    environment.update(KUBECONFIG=str(tmp_path / kubeconfig), HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "obreg.cli", "run", "--standalone"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"obreg: {tmp_path / kubeconfig}: kubeconfig: not usable (")
