"""The KM double's server itself (testbed/kmdouble.py): a client that connects and never
finishes its TLS handshake (a proxy tunnel dropped half-way) must not hold the double.
It did: the handshake ran in accept on the serving loop, so the loop, and stop() in a
test's teardown, waited for it for ever (the offline tier hung in tests/km)."""

from __future__ import annotations

import socket
import ssl
import threading

from testbed import kmdouble

DEADLINE = 10.0  # seconds stop() and a real call may take


def test_a_silent_connection_holds_neither_the_calls_nor_stop() -> None:
    double, _ = kmdouble.new(password="km-admin-pw")
    silent = socket.create_connection((double.address, double.port))
    try:
        # Another client is still served while the silent one waits.
        with socket.create_connection((double.address, double.port), timeout=DEADLINE) as tcp:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            with context.wrap_socket(tcp) as tls:
                tls.sendall(b"POST /x HTTP/1.1\r\nHost: km\r\nContent-Length: 0\r\n\r\n")
                assert tls.recv(12).startswith(b"HTTP/1.")
        stopping = threading.Thread(target=double.stop, daemon=True)
        stopping.start()
        stopping.join(DEADLINE)
        assert not stopping.is_alive(), "stop() waited for the silent connection"
    finally:
        silent.close()
