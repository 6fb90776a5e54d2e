"""``python -m testbed.controlplane build|up|down``: what the Makefile's targets call.

``up`` leaves the plane running after this process exits (a person's cluster), so its
components are not tied to this process and their pids go to a state file that ``down``
reads. The last line ``up`` prints is ``KUBECONFIG=<absolute path>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import build, launcher, node

STATE = Path(__file__).resolve().parents[2] / ".cluster" / "state.json"


def _running(state: dict[str, object]) -> bool:
    pids = state.get("pids", [])
    assert isinstance(pids, list)
    for pid in pids:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
    return bool(pids)


def up(node: str | None = None) -> None:
    """Start the plane, or reuse the running one if it has the node asked for (any, when
    none is asked for: ``make demo`` on a plane started with NODE=real keeps it) and the
    Kubernetes version $OBREG_K8S_VERSION selects."""
    kubernetes = build.selected_version()
    if STATE.exists():
        state = json.loads(STATE.read_text())
        same_version = state.get("kubernetes", next(iter(build.PLANES))) == kubernetes
        if _running(state) and same_version and node in (None, state.get("node", "kwok")):
            print(f"KUBECONFIG={state['kubeconfig']}")
            return
        launcher.stop_detached(state)
    plane = launcher.ControlPlane(tie_to_parent=False, node=node or "kwok", kubernetes=kubernetes)
    plane.start()
    STATE.parent.mkdir(exist_ok=True)
    STATE.write_text(json.dumps(plane.state()))
    print(f"control plane at {plane.server}; logs in {plane.root / 'logs'}")
    print(f"KUBECONFIG={plane.kubeconfig}")


def down() -> None:
    if not STATE.exists():
        print("no control plane running")
        return
    launcher.stop_detached(json.loads(STATE.read_text()))
    STATE.unlink()
    print("control plane stopped")


def main() -> None:
    parser = argparse.ArgumentParser(prog="controlplane")
    parser.add_argument("command", choices=("build", "up", "down", "leftovers"))
    parser.add_argument(
        "--node",
        choices=("kwok", "real"),
        default=os.environ.get("NODE") or "kwok",
        help="kwok: fake nodes only (the default); real: also a node that runs containers",
    )
    arguments = parser.parse_args()
    command = arguments.command
    try:
        if command == "build":
            for name, path in build.build_all().items():
                print(f"{name}={path}")
        elif command == "leftovers":
            found = node.leftovers()
            print("\n".join(found) or "no real node left on this machine")
            sys.exit(1 if found else 0)
        elif command == "up":
            up(arguments.node)
        else:
            down()
    except (launcher.StartError, node.HostError) as err:
        sys.exit(f"control plane failed to start: {err}")


if __name__ == "__main__":
    main()
