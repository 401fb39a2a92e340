"""Prometheus metrics: what the HTTP path, the event bus and the write path are doing.

Each app has its own `CollectorRegistry` (several apps in one process, as in tests, never
clash). Request counts and latencies come from a pure ASGI middleware; the bus and the writer
are read when Prometheus scrapes, so there is nothing to keep in step with them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .events import Event
    from .store import Store

UNMATCHED = "<unmatched>"
# Seconds; a JSON answer takes a few milliseconds, an order in a rush tens of them.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_CONVERTOR = re.compile(r"\{(\w+):[^}]+\}")


def route_template(scope: Scope) -> str:
    """The matched route's path as written (`/orders/{id}`), never the raw path: one label value
    per route, however many orders there are. Anything no route matched is `<unmatched>`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    if isinstance(route, Mount):
        path = path.rstrip("/") + "/{path}"  # a Mount (static files): one series for all of it
    return _CONVERTOR.sub(r"{\1}", path) or "/"


class _StoreCollector(Collector):
    """Reads the bus and the writer at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        store = self._metrics.store
        if store is None:  # not started yet, or already shut down
            return
        bus = store.bus
        yield GaugeMetricFamily(
            "forkflow_sse_streams_open",
            "Open Server-Sent Events streams: listeners subscribed to this process's event bus "
            "(/events, the kitchen display, tills, tracking links).",
            value=bus.subscriber_count,
        )
        yield CounterMetricFamily(
            "forkflow_sse_streams_dropped",
            "Listeners the bus disconnected because they could not keep up (they reconnect and replay).",
            value=bus.dropped,
        )
        yield GaugeMetricFamily(
            "forkflow_events_lag",
            "Events committed to the database that this process's bus had not published when scraped: "
            "the newest event id in the events table minus the last event id published. Events are "
            "published right after their commit (on PostgreSQL, every process's events arrive by "
            "LISTEN/NOTIFY), so this is 0 or a few for an instant; a lasting gap means events are "
            "committed but not reaching this process's streams.",
            value=max(0, self._metrics.committed_event_id - bus.last_event_id),
        )
        yield GaugeMetricFamily(
            "forkflow_last_event_id",
            "The last event id published on this process's bus.",
            value=bus.last_event_id,
        )
        yield GaugeMetricFamily(
            "forkflow_write_queue_depth",
            "Write units waiting for the single write path (they are committed together in the next batch).",
            value=store.writer.queued,
        )


class Metrics:
    """One app's metrics and its registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "forkflow_http_requests",
            "HTTP requests answered, by method, route template and status (an event stream counts when it ends).",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "forkflow_http_request_duration_seconds",
            "Time from a request's arrival to the last byte of its answer, by route template. Event "
            "streams are left out: they stay open for hours (see forkflow_sse_streams_open).",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.orders_created = Counter(
            "forkflow_orders_created",
            "order.created events published on this process's event bus (orders committed).",
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(self))
        self.store: Store | None = None
        self.committed_event_id = 0

    def attach(self, store: Store) -> None:
        """Start reading `store`, and count the orders its bus publishes (a hook on publish:
        a bus subscriber would itself show up as an open stream, and could be dropped)."""
        self.store = store
        bus = store.bus
        publish = bus.publish
        counter = self.orders_created

        def publish_and_count(event: Event) -> None:
            publish(event)
            if event.type == "order.created":
                counter.inc()

        bus.publish = publish_and_count  # type: ignore[method-assign]

    def detach(self) -> None:
        self.store = None

    async def exposition(self) -> bytes:
        """The text format Prometheus scrapes, with the committed event id read just before."""
        if self.store is not None:
            self.committed_event_id = await self.store.last_event_id()
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: no buffering, streams pass straight through).

    Placed outermost, so it also sees answers the inner middleware give (401s, 413s, CSRF refusals).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering
        streaming = False

        async def send_and_watch(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type":
                        streaming = value.startswith(b"text/event-stream")
                        break
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            route = route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            if not streaming:
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)
