"""A request to the API server is sent once: a connection dropped after the request left,
or an answer asking to retry later, reaches obreg as a failure, and obreg's own loops
(the work queue, the Lease's renew, the watch) decide what to do with what they read
again. urllib3's default retry rules re-send a PUT or DELETE whose connection dropped and
honour Retry-After on them: a Lease renewal re-sent after it landed comes back 409, and
the leader would take its own write for another instance's."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator

import kubernetes
import pytest
import urllib3

from obreg.kube.api import Api, ApiError

METHODS = ("PUT", "DELETE", "PATCH", "POST", "GET")
RETRY_LATER = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"


class Server:
    """An API server stand-in that reads each request whole, counts it by method, then
    drops the connection (``answer`` empty) or sends ``answer``."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.seen: Counter[str] = Counter()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")),
                    0,
                )  # fmt: skip
                while len(body) < length:
                    body += conn.recv(65536)
                self.seen[head.split(b" ", 1)[0].decode()] += 1
                if self.answer:
                    conn.sendall(self.answer)


@pytest.fixture(params=[b"", RETRY_LATER], ids=["dropped", "retry-after"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    served = Server(request.param)
    yield served
    served.listener.close()


@pytest.mark.parametrize("method", METHODS)
def test_a_request_is_sent_once(server: Server, method: str) -> None:
    configuration = kubernetes.client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.port}"
    api = Api(kubernetes.client.ApiClient(configuration))
    body = None if method in ("GET", "DELETE") else {"spec": {"holderIdentity": "obreg"}}
    url = "/apis/coordination.k8s.io/v1/namespaces/obreg-system/leases/obreg"
    with pytest.raises((ApiError, urllib3.exceptions.HTTPError)) as failed:
        api.read(method.lower(), "Lease obreg-system/obreg", method, url, body, timeout=5)
    # The answer as it came (no wait for Retry-After), or the dropped connection.
    assert isinstance(failed.value, ApiError if server.answer else urllib3.exceptions.HTTPError)
    assert server.seen == {method: 1}
