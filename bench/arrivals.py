"""When objects reached the API server, as a watch saw them: per-target latencies of a
change without polling N objects (which would load the plane being measured)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from testbed.controlplane.launcher import ControlPlane

Seen = tuple[float, dict[str, Any]]  # (perf_counter at arrival, object)


class Arrivals:
    """A cluster-wide watch of one kind, optionally of one name, from now on; every
    event kept with the time it arrived."""

    def __init__(self, plane: ControlPlane, collection: str, name: str | None = None) -> None:
        self._plane, self._collection = plane, collection
        query = {"watch": "true", "allowWatchBookmarks": "false", "timeoutSeconds": "3600"}
        if name:
            query["fieldSelector"] = f"metadata.name={name}"
        listed = json.loads(plane.request(f"{collection}?limit=1"))
        query["resourceVersion"] = listed["metadata"]["resourceVersion"]
        self._url = f"{plane.server}{collection}?{urllib.parse.urlencode(query)}"
        self.events: list[Seen] = []
        self._lock = threading.Lock()
        self._response: Any = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})
        context = self._plane._ssl_context()
        with urllib.request.urlopen(request, context=context, timeout=3600) as response:
            self._response = response
            for line in response:
                event = json.loads(line)
                with self._lock:
                    self.events.append((time.perf_counter(), event["object"]))

    def first(
        self, since: float, namespaces: Iterable[str], test: Callable[[dict[str, Any]], bool]
    ) -> dict[str, float]:
        """Per namespace, when the first object passing ``test`` arrived after ``since``."""
        wanted, found = set(namespaces), {}
        with self._lock:
            events = list(self.events)
        for at, obj in events:
            ns = obj["metadata"].get("namespace")
            if at >= since and ns in wanted and ns not in found and test(obj):
                found[ns] = at
        return found

    def last(self, namespace: str, before: float) -> dict[str, Any] | None:
        """The newest object of ``namespace`` that arrived before ``before``."""
        with self._lock:
            events = list(self.events)
        found = None
        for at, obj in events:
            if at < before and obj["metadata"].get("namespace") == namespace:
                found = obj
        return found

    def wait(
        self,
        since: float,
        namespaces: Iterable[str],
        test: Callable[[dict[str, Any]], bool],
        timeout: float,
    ) -> dict[str, float]:
        """``first``, once every namespace has one (polled, with a deadline)."""
        wanted = list(namespaces)
        deadline = time.monotonic() + timeout
        while True:
            found = self.first(since, wanted, test)
            if len(found) == len(wanted):
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(wanted) - len(found)} of {len(wanted)} not seen")
            time.sleep(0.05)
