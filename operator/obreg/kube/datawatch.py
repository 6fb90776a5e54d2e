"""Keeping rules/holdings.py and the workloads current: obreg's own watches, and GETs.

Per kind (Secret, ConfigMap) and scope (the cluster, or each served namespace):
- obreg's own objects, in full, selected by label on the server, so their drift is seen
  with the data that changed;
- every object's metadata only (PartialObjectMetadata), so the API server never sends
  obreg the data of objects it does not read; of these obreg keeps a resourceVersion.
An object some resource reads is fetched with a GET when it becomes read and whenever
its resourceVersion changes. Per workload kind (Deployment, StatefulSet) and scope, every
object, kept as the summary obreg reads (see WorkloadStream). Lists are paginated, so a
start never holds a cluster's objects in one response.

kopf's watches cannot do either (no metadata-only requests), hence these, on the
official client. A stream blocks on its socket, so each runs in its own thread and hands
its pages and events to the event loop, where every decision is taken.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from kubernetes.watch.watch import iter_resp_lines

from ..render.objects import MANAGED_BY
from ..rules import backoff, workload
from ..rules.holdings import KINDS, Holdings, Key, key, summary
from ..rules.workload import WorkloadKey, Workloads
from .api import Api, ApiError, path

log = logging.getLogger(__name__)

PAGE = 500  # kopf's lists (obreg's resources, workloads)
# Metadata can be large too (kubectl's last-applied copy of a Secret holds its data), and
# a page is parsed whole.
METADATA_PAGE = 100
LIST_SECONDS = 60  # one page; a list that hangs is retried, not waited for
WATCH_SECONDS = 290  # the server ends a watch after this; it is resumed where it was
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
SELECTOR = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
# Short: while a stream is down, changes of what obreg reads wait for it.
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0)
FETCH_TIMEOUT = 30.0  # a reconcile waits this long for a fetch, then fails and retries


class Gone(Exception):
    """The watch's resourceVersion is too old (HTTP 410): list again."""


class Streams:
    """What the streams of one owner share: the API client, the stop flag, and the event
    loop their threads hand over to."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run_streams(self, streams: Sequence[Stream[Any]]) -> None:
        """Start each stream in a thread of its own; return once each has listed once."""
        self._loop = asyncio.get_running_loop()
        for stream in streams:
            threading.Thread(target=stream.run, name=stream.name, daemon=True).start()
        await asyncio.gather(*(s.listed.wait() for s in streams))

    def hand_over(self, handle: Callable[..., None], *args: Any) -> None:
        """From a stream's thread to the event loop, in order."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(handle, *args)


OwnerT = TypeVar("OwnerT", bound=Streams)


class Stream(Generic[OwnerT]):
    """One list-then-watch of one collection, in a thread of its own. What to ask for
    and what its items mean is a subclass's; the ``on_*`` methods run on the loop."""

    page_size = PAGE
    list_accept = watch_accept = "application/json"

    def __init__(self, owner: OwnerT, name: str, collection: str) -> None:
        self.owner, self.name, self.collection = owner, name, collection
        self.listed = asyncio.Event()

    def _query(self, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return extra

    def key_of(self, metadata: dict[str, Any]) -> Key:
        raise NotImplementedError

    def on_page(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.on_event("ADDED", item)

    def on_listed(self, seen: list[Key]) -> None:
        """The list is complete: ``seen`` is everything in it."""
        raise NotImplementedError

    def on_event(self, kind_of_event: str, obj: dict[str, Any]) -> None:
        raise NotImplementedError

    def lost(self, err: ApiError) -> bool:
        """Whether ``err`` ends this stream for good (the thread returns) instead of
        being retried; it is called in the stream's thread."""
        return False

    def _listed(self, seen: list[Key]) -> None:
        self.on_listed(seen)
        self.listed.set()

    def list_all(self) -> str:
        """Every page, handed over one by one; the list's resourceVersion."""
        token, seen = "", []
        while True:
            query = self._query(
                [("limit", str(self.page_size)), *([("continue", token)] if token else [])]
            )
            page = self.owner.api.read(
                "list",
                self.name,
                "GET",
                self.collection,
                query=query,
                accept=self.list_accept,
                timeout=LIST_SECONDS,
            )
            items = page.get("items") or []
            seen += [self.key_of(i["metadata"]) for i in items]
            self.owner.hand_over(self.on_page, items)
            meta = page.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                self.owner.hand_over(self._listed, seen)
                return str(meta.get("resourceVersion") or "")

    def watch(self, version: str) -> str:
        """Events from ``version`` until the server ends the watch; the last version."""
        query = self._query(
            [
                ("watch", "true"),
                ("resourceVersion", version),
                ("allowWatchBookmarks", "true"),
                ("timeoutSeconds", str(WATCH_SECONDS)),
            ]
        )
        response = self.owner.api.send(
            "GET",
            self.collection,
            query=query,
            accept=self.watch_accept,
            timeout=WATCH_SECONDS + 30,
        )
        try:
            if response.status == 410:
                raise Gone()
            if response.status != 200:
                raise ApiError("watch", self.name, response.status, str(response.reason))
            for event in _events(iter_resp_lines(response)):  # type: ignore[no-untyped-call]
                kind_of_event, obj = event.get("type"), event.get("object") or {}
                if kind_of_event == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone()
                    raise ApiError("watch", self.name, int(obj.get("code") or 0), "error event")
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind_of_event in ("ADDED", "MODIFIED", "DELETED"):
                    self.owner.hand_over(self.on_event, str(kind_of_event), obj)
        finally:
            response.release_conn()
        return version

    def run(self) -> None:
        """List, then watch from where the list or the last event left off; list again
        only when the server says the version is gone. Errors are retried with backoff."""
        version, failures = "", 0
        while not self.owner.stopping.is_set():
            try:
                if not version:
                    version = self.list_all()
                version = self.watch(version)
                failures = 0
            except Gone:
                log.info("%s: its resourceVersion is gone (410): listing again", self.name)
                version = ""
            except ApiError as err:
                if self.lost(err):
                    return
                failures = self._failed(err, failures)
            except Exception as err:  # an API server away, a dropped connection
                failures = self._failed(err, failures)

    def _failed(self, err: Exception, failures: int) -> int:
        """Wait out the backoff of one more failure in a row; the count of them."""
        delay = backoff.delay(RETRY_DELAYS, failures)
        log.warning("%s: %s; again in %.1f s", self.name, err, delay)
        self.owner.stopping.wait(delay)
        return failures + 1


def _events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line:
            yield json.loads(line)


def unmerged(api: Api, kind: str, objects: Iterable[Mapping[str, Any]]) -> None:
    """Objects read by a list or a GET, not a watch: each may hold someone else's write
    merged with obreg's own (a change made just before obreg's apply, whose own event a
    watch gap lost), so none is taken for obreg's own write coming back (kube/api.py's
    own_echo), and each is reconciled as any change is."""
    for obj in objects:
        meta = obj.get("metadata") or {}
        api.forget_written(kind, str(meta.get("namespace")), str(meta.get("name")))


class DataStream(Stream["DataWatch"]):
    """A Secret or ConfigMap collection: obreg's own objects in full, or every object's
    metadata."""

    def __init__(self, owner: DataWatch, kind: str, namespace: str | None, full: bool) -> None:
        name = f"{'obreg' if full else 'metadata'} {kind} {namespace or '*'}"
        super().__init__(owner, name, path("v1", kind, namespace))
        self.kind, self.namespace, self.full = kind, namespace, full
        if not full:
            self.page_size = METADATA_PAGE
            self.list_accept, self.watch_accept = METADATA_LIST, METADATA

    def _query(self, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [*extra, *([("labelSelector", SELECTOR)] if self.full else [])]

    def key_of(self, metadata: dict[str, Any]) -> Key:
        return key(self.kind, metadata)

    def on_page(self, items: list[dict[str, Any]]) -> None:
        unmerged(self.owner.api, self.kind, items)
        super().on_page(items)

    def on_listed(self, seen: list[Key]) -> None:
        holdings = self.owner.holdings
        if self.full:
            gone = holdings.managed_relisted(self.kind, self.namespace, seen)
        else:
            gone = holdings.relisted(self.kind, self.namespace, seen)
        for item in gone:
            self.owner.on_change(item)
        if self.full:  # forgotten ones may live on outside the label: read them again
            for item in gone:
                self.owner.fetch_if_wanted(item)

    def on_event(self, kind_of_event: str, obj: dict[str, Any]) -> None:
        holdings, item = self.owner.holdings, key(self.kind, obj["metadata"])
        if self.full:
            if holdings.managed_event(self.kind, kind_of_event, obj):
                self.owner.on_change(item)
            if kind_of_event == "DELETED":
                self.owner.fetch_if_wanted(item)
        else:
            action = holdings.metadata_event(self.kind, kind_of_event, obj["metadata"])
            if action == "fetch":
                self.owner.fetch(item)
            elif action == "gone":
                self.owner.on_change(item)


class WorkloadStream(Stream["DataWatch"]):
    """Every Deployment or StatefulSet in a scope, summarized (workload.Workloads).

    These were kopf indexes. kopf holds back every handler of every indexed kind until
    all of their objects are indexed, and each object indexed at start wakes every object
    waiting: with 1,000 anchors and their 1,000 Deployments listed at start, half of
    obreg's CPU to Ready went to those wake-ups (a million), with each waiting object's
    events held meanwhile. obreg reads only a workload's summary, so a plain watch serves,
    and ``DataWatch.start`` (which kopf's watches wait for) waits for its first list."""

    def __init__(self, owner: DataWatch, kind: str, namespace: str | None) -> None:
        name = f"workload {kind} {namespace or '*'}"
        super().__init__(owner, name, path("apps/v1", kind, namespace))
        self.kind, self.namespace = kind, namespace

    def key_of(self, metadata: dict[str, Any]) -> Key:
        return workload.key(self.kind, metadata)

    def on_page(self, items: list[dict[str, Any]]) -> None:
        unmerged(self.owner.api, self.kind, items)
        super().on_page(items)

    def on_listed(self, seen: list[Key]) -> None:
        for item in self.owner.workloads.relisted(self.kind, self.namespace, seen):
            self.owner.on_workload(item)

    def on_event(self, kind_of_event: str, obj: dict[str, Any]) -> None:
        item = self.owner.workloads.event(self.kind, kind_of_event, obj)
        if item is not None:
            self.owner.on_workload(item)


class DataWatch(Streams):
    """The holdings and the workloads, kept current; ``on_change`` is told of each key
    whose held content changed, ``on_workload`` of each workload whose summary changed,
    appeared or went (both on the event loop)."""

    def __init__(
        self,
        api: Api,
        namespaces: tuple[str, ...],
        on_change: Callable[[Key], None],
        on_workload: Callable[[WorkloadKey], None],
    ) -> None:
        super().__init__(api)
        self.on_change, self.on_workload = on_change, on_workload
        self.holdings = Holdings()
        self.workloads = Workloads()
        scopes = namespaces or (None,)
        self.streams: list[Stream[DataWatch]] = [
            DataStream(self, kind, namespace, full)
            for kind in KINDS
            for namespace in scopes
            for full in (True, False)
        ]
        self.streams += [
            WorkloadStream(self, kind, namespace) for kind in workload.KINDS for namespace in scopes
        ]
        self._fetches: dict[Key, asyncio.Task[None]] = {}
        self._again: set[Key] = set()

    async def start(self) -> None:
        """Start every stream and return once each has listed once."""
        await self.run_streams(self.streams)

    def stop(self) -> None:
        """Streams end at their next retry or watch timeout; fetches are cancelled."""
        self.stopping.set()
        for task in self._fetches.values():
            task.cancel()

    def want(self, namespace: str, items: Iterable[Key]) -> None:
        for item in self.holdings.want(namespace, items):
            self.fetch(item)

    def fetch_if_wanted(self, item: Key) -> None:
        if self.holdings.is_wanted(item) and item in self.holdings.existing:
            self.fetch(item)

    def fetch(self, item: Key) -> None:
        """GET ``item`` now, or again after the GET under way."""
        if item in self._fetches:
            self._again.add(item)
            return
        task = asyncio.get_running_loop().create_task(self._fetch(item))
        self._fetches[item] = task
        task.add_done_callback(lambda _: self._fetches.pop(item, None))

    async def _fetch(self, item: Key) -> None:
        kind, namespace, name = item
        failures = 0
        while True:
            self._again.discard(item)
            before = self.holdings.sequence.get(item, 0)
            try:
                obj = await self.api.get(kind, namespace, name)
            except Exception as err:  # retried: a reconcile waits for it (settled)
                delay = backoff.delay(RETRY_DELAYS, failures)
                failures += 1
                log.warning(
                    "reading %s %s/%s: %s; again in %.1f s", kind, namespace, name, err, delay
                )
                await asyncio.sleep(delay)
                continue
            if item in self._again or self.holdings.sequence.get(item, 0) != before:
                continue  # it changed while being read: read it again
            if obj is not None:
                unmerged(self.api, kind, [obj])
            if self.holdings.store(item, summary(kind, obj) if obj is not None else None):
                self.on_change(item)
            return

    async def settled(self, namespace: str) -> None:
        """Wait for the fetches under way in ``namespace``: a reconcile reads them."""
        pending = [t for k, t in self._fetches.items() if k[1] == namespace]
        if pending:
            await asyncio.wait_for(
                asyncio.gather(*(asyncio.shield(t) for t in pending)), FETCH_TIMEOUT
            )
