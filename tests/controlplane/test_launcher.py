"""The launcher leaves nothing behind, and a component that fails shows its own log."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from testbed.controlplane import build, launcher

pytestmark = pytest.mark.cluster


def plane_processes(root: Path) -> list[str]:
    """Processes whose command line names the plane's run directory."""
    out = subprocess.run(["pgrep", "-af", str(root)], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def test_stop_leaves_no_process_or_directory() -> None:
    plane = launcher.ControlPlane()
    plane.start()
    pids = [c.process.pid for c in plane.components if c.process is not None]
    assert len(pids) == 5
    assert plane_processes(plane.root)
    plane.stop()
    assert not plane.root.exists()
    assert plane_processes(plane.root) == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_failing_component_shows_its_log_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "kube-scheduler"
    broken.write_text("#!/bin/sh\necho 'scheduler: cannot start (test double)'\nexit 3\n")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    real = build.build_all()
    monkeypatch.setattr(build, "build_all", lambda *_: {**real, "kube-scheduler": broken})

    plane = launcher.ControlPlane()
    with pytest.raises(launcher.StartError) as failure:
        plane.start()
    message = str(failure.value)
    assert "kube-scheduler exited with code 3" in message
    assert "scheduler: cannot start (test double)" in message
    assert not plane.root.exists()
    assert plane_processes(plane.root) == []
