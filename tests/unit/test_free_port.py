"""The local plane's ports (testbed/controlplane/launcher.py's free_port): a component
binds its port only after it starts, so a port the kernel could hand to an outgoing
connection meanwhile made a plane fail to start beside a busy test tier ("bind: address
already in use"). Ports are taken below the kernel's ephemeral range, never twice."""

from __future__ import annotations

import socket

import pytest

from testbed.controlplane import launcher


def test_ports_are_below_the_ephemeral_range_free_and_never_handed_out_twice() -> None:
    low, _ = launcher._ephemeral_range()
    ports = [launcher.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(launcher._LOWEST_PORT <= port < low for port in ports)
    for port in ports[:20]:  # each was free: a component can bind it
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_someone_listens_on_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probed by binding: a port taken by a listener is skipped."""
    taken_port, next_port = launcher._LOWEST_PORT, launcher._LOWEST_PORT + 1
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", taken_port))
        taken.listen()
        choices = iter([taken_port, next_port])
        monkeypatch.setattr(launcher.random, "choice", lambda _: next(choices))
        launcher._HANDED_OUT.discard(next_port)
        assert launcher.free_port() == next_port
