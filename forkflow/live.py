"""The live-stream toolkit: one Server-Sent Events response shape for every screen and the API.

`open_stream` subscribes to the bus *before* it reads the view's snapshot, then sends the stored
events after the snapshot's last id, then the live ones, skipping any live event it already sent
from the table. Publishing happens only after commit, so every event is in the table or in the
queue (or both): no gap, no duplicate. A view turns each event into frames (`Render`); a page's
`FrameCache` (one per app, `frame_cache`) shares the encoded frames among its streams.

Below `routes/`: it reads the request through `forkflow/request.py`, never through a route module.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from .auth.roles import principal_of
from .auth.stream_guard import attach
from .errors import BadRequest
from .events import Event, Subscription
from .limits import HoldingSlot, claim_stream_slot
from .numbers import MAX_ID, whole_number
from .request import store_of
from .store import Store

REPLAY_PAGE = 500
T = TypeVar("T")


def parse_last_event_id(request: Request) -> int | None:
    """The header a reconnecting EventSource sends, or `?last_event_id=` for a client that
    carries its position itself (a new EventSource sends no header).

    Staff send a plain id; the public an opaque one the stream sent it, or 0 (from the start).
    An opaque id is taken from staff too: a client that has signed in since keeps its place."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw == "":
        return None
    event_id = whole_number(raw)
    public = principal_of(request) is None
    if event_id is None or (public and event_id != 0):
        event_id = request.app.state.public_ids.reveal(raw)
    if event_id is None:
        if public:
            sent = "an id this stream sent (32 hex characters), or 0"
            raise BadRequest("Last-Event-ID must be an id this stream sent", {"Last-Event-ID": sent})
        raise BadRequest("Last-Event-ID must be an event id", {"Last-Event-ID": f"a whole number from 0 to {MAX_ID}"})
    return event_id


Frames = list[bytes | ServerSentEvent]
# How a stream turns one committed event into frames, and what it sends once the replay is done
# (given the last event id sent). The flag says the stream is live with nothing newer waiting:
# False while replaying or behind, so a view can leave a summary (the all-day panel) to the last
# event of a burst.
Render = Callable[[Event, bool], Awaitable[Frames]]
CaughtUp = Callable[[int], Awaitable[Frames]]


async def nothing_more(last_sent: int) -> Frames:
    """A `CaughtUp` for a view that sends nothing once it is caught up."""
    return []


@dataclass(frozen=True)
class Start:
    """A view as of its snapshot: the last event it reflects (`after`), the frames that show it
    (`prelude`, for a view that sends its whole state first), how it turns each later event into
    frames, what it sends once the replay is done, and what it sends after a burst of live events
    once their own frames are out (`settle`: a summary such as the all-day panel, which then never
    holds back a ticket)."""

    after: int
    render: Render
    caught_up: CaughtUp = nothing_more
    prelude: Sequence[bytes | ServerSentEvent] = ()
    settle: CaughtUp = nothing_more


# Reads a view's snapshot. It is given the stream's subscription, which it may watch (the console
# asks whether events are queued) but never ends: the stream owns it.
Snapshot = Callable[[Subscription], Awaitable[Start]]


async def open_stream(request: Request, topics: Iterable[str], snapshot: Snapshot) -> Response:
    """A view's Server-Sent Events response: its `prelude`, the stored events after `after`, what
    `caught_up` adds, then live events. It ends when the caller's session or token ends, and after
    at most `stream_max_seconds`.

    The one place a stream subscribes: first to the bus, then the snapshot is read, so whatever
    commits meanwhile is replayed or arrives live. Until the response owns the subscription, any
    failure (the snapshot's 404, a refused slot's 429/503, a client gone) unsubscribes it; from
    then on the response does, however it ends, also if its body never starts."""
    store = store_of(request)
    settings = store.settings
    sub = store.bus.subscribe(topics)
    try:
        start = await snapshot(sub)
        release = claim_stream_slot(request)  # 429/503 before the stream opens
    except BaseException:
        store.bus.unsubscribe(sub)
        raise
    attach(store.bus, sub, principal_of(request), settings.stream_max_seconds)
    response = EventSourceResponse(
        _frames(store, sub, start),
        ping=settings.sse_ping_seconds,
        send_timeout=30,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        shutdown_event=request.app.state.shutting_down,
        shutdown_grace_period=1.0,
        # Also runs when the body never starts (HEAD, or a client gone before the first byte).
        background=BackgroundTask(store.bus.unsubscribe, sub),
    )
    return HoldingSlot(response, release)


async def _frames(store: Store, sub: Subscription, start: Start) -> AsyncIterator[bytes | ServerSentEvent]:
    try:
        yield ServerSentEvent(comment="forkflow events", retry=store.settings.sse_retry_ms)
        for frame in start.prelude:
            yield frame
        sent = start.after
        while True:
            page = await store.events_after(sent, sub.topics, REPLAY_PAGE)
            frames: Frames = []
            for event in page:
                frames += await start.render(event, False)
                sent = event.id
            if frames:
                yield _joined(frames)
            if len(page) < REPLAY_PAGE:
                break
        for frame in await start.caught_up(sent):
            yield frame
        # Each write takes every event waiting: under a burst, a stream that fell behind sends what
        # it missed in one write (one trip through the ASGI stack), not one per frame.
        async for batch in sub.batches():
            frames = []
            for event in batch:
                if event.id > sent:
                    frames += await start.render(event, event is batch[-1] and sub.idle)
                    sent = event.id
            if frames:
                yield _joined(frames)
            if sub.idle:  # (still, now the frames are out: else the next batch settles)
                settled = await start.settle(sent)
                if settled:
                    yield _joined(settled)
        # The bus dropped us (too slow) or is shutting down: end the response; the client
        # reconnects with Last-Event-ID and replays what it missed.
    finally:
        store.bus.unsubscribe(sub)


def _joined(frames: Frames) -> bytes:
    return b"".join(frame if isinstance(frame, bytes) else frame.encode() for frame in frames)


def ready_frame(last_event_id: int | str) -> ServerSentEvent:
    """Tells the client it is caught up, and from where: a view can resync on this. (An opaque
    id is hex, so it needs no escaping.)"""
    value = f'"{last_event_id}"' if isinstance(last_event_id, str) else last_event_id
    return ServerSentEvent(f'{{"last_event_id":{value}}}', event="stream.ready")


FrameKey = tuple[int, str, str]  # (event id, view, kind)


class FrameCache:
    """Encoded SSE frames by (event id, view, kind): shared by the streams of a page (the kitchen display,
    the till, the public menu): fifty displays on six views render and encode each event six times,
    not fifty. While one display renders a frame, the others wait for it
    rather than render it again (the all-day panel is a query)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._frames: OrderedDict[FrameKey, bytes] = OrderedDict()
        self._rendering: dict[FrameKey, asyncio.Future[bytes]] = {}

    async def get(self, key: FrameKey, render: Callable[[], Awaitable[bytes]]) -> bytes:
        frame = self._frames.get(key)
        if frame is not None:
            return frame
        pending = self._rendering.get(key)
        if pending is None:
            pending = self._rendering[key] = asyncio.ensure_future(render())
            pending.add_done_callback(lambda _: self._rendering.pop(key, None))
        frame = await asyncio.shield(pending)
        self._frames[key] = frame
        if len(self._frames) > self.size:
            self._frames.popitem(last=False)
        return frame


class SharedRead(Generic[T]):
    """A read of current state (the all-day panel's counts) shared by every stream that needs it.

    Events are published only after they commit, so a read begun once event N was committed shows
    at least event N (`as_of`): any stream that needs the state as of N or before may take it. Two
    ways to ask. `as_of` waits for such a read (a stream's first panel). `ready` never waits: it
    answers with the newest read if it will do, or else None, and the stream is nudged
    (`Subscription.nudge`) once the next read is done; reads run one at a time and start at most
    every `every` seconds. So a burst of events costs a read per `every`, not one per event, and no
    ticket waits behind a panel: the panel follows at most `every` plus a read behind."""

    def __init__(self, read: Callable[[], Awaitable[T]], published: Callable[[], int], every: float = 0.0) -> None:
        self._read = read
        self._published = published  # the newest event this process has published
        self._every = every
        self._done: tuple[int, T] | None = None
        self._running: tuple[int, asyncio.Future[T]] | None = None
        self._need = 0  # the newest event a stream has asked to see
        self._wanted = False  # a stream waits for a read begun after the running one
        self._waiting: set[Callable[[], None]] = set()  # nudged once the next read is done
        self._started = -math.inf  # (loop time)
        self._timer: asyncio.TimerHandle | None = None

    async def as_of(self, event_id: int) -> tuple[int, T]:
        """The state as of `event_id` or later, with the event id it shows at least."""
        done = self._done
        if done is not None and done[0] >= event_id:
            return done
        self._need = max(self._need, event_id)
        running = self._running
        if running is None or running[0] < event_id:
            running = self._start()
        return running[0], await asyncio.shield(running[1])

    def ready(self, event_id: int, nudge: Callable[[], None]) -> tuple[int, T] | None:
        """The newest read if it shows `event_id`; else None, and `nudge` is called once the next
        read is done (a read that shows it, or a failed one: ask again)."""
        done = self._done
        if done is not None and done[0] >= event_id:
            return done
        self._need = max(self._need, event_id)
        self._waiting.add(nudge)
        running = self._running
        if running is None or running[0] < event_id:
            self._wanted = True
            if running is None:
                self._schedule()
        return None

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._started + self._every - loop.time()
        if delay <= 0:
            self._start()
        else:
            self._timer = loop.call_later(delay, self._due)

    def _due(self) -> None:
        self._timer = None
        if self._running is None and self._wanted:
            self._start()

    def _start(self) -> tuple[int, asyncio.Future[T]]:
        self._wanted = False
        self._started = asyncio.get_running_loop().time()
        running = self._running = (max(self._published(), self._need), asyncio.ensure_future(self._read()))
        running[1].add_done_callback(partial(self._finished, running))
        return running

    def _finished(self, running: tuple[int, asyncio.Future[T]], _: object) -> None:
        if self._running is running:
            self._running = None
        future = running[1]
        if not future.cancelled() and future.exception() is None:
            if self._done is None or self._done[0] < running[0]:
                self._done = (running[0], future.result())
        # (a failed read's error reaches whoever awaited it in `as_of`; the nudged ask again)
        waiting, self._waiting = self._waiting, set()
        for nudge in waiting:
            nudge()
        if self._wanted and self._running is None:
            self._schedule()


class FrameCaches:
    """Each page's `FrameCache`, made by its first stream, and its `SharedRead`s. One holder per app
    (`app.state`, made by its lifespan), never a module global: frames are keyed by event id, and two
    apps in one process (two databases, as in the tests) number their events each from 1."""

    def __init__(self) -> None:
        self._pages: dict[str, FrameCache] = {}
        self._reads: dict[str, SharedRead[Any]] = {}

    def read(self, name: str, make: Callable[[], SharedRead[T]]) -> SharedRead[T]:
        """The shared read called `name`, made by `make` the first time."""
        shared = self._reads.get(name)
        if shared is None:
            shared = self._reads[name] = make()
        return shared

    def of(self, page: str, size: int) -> FrameCache:
        """`page`'s cache; `size` (frames kept) counts when it is made."""
        cache = self._pages.get(page)
        if cache is None:
            cache = self._pages[page] = FrameCache(size)
        return cache


def frame_cache(request: Request, page: str, size: int = 4096) -> FrameCache:
    """The frame cache `page` shares among its streams in the app answering `request`."""
    caches: FrameCaches = request.app.state.frame_caches
    return caches.of(page, size)


def shared_read(request: Request, name: str, read: Callable[[], Awaitable[T]], every: float) -> SharedRead[T]:
    """The `SharedRead` called `name` in the app answering `request` (`read` and `every` count when
    it is made)."""
    caches: FrameCaches = request.app.state.frame_caches
    bus = store_of(request).bus
    return caches.read(name, lambda: SharedRead(read, lambda: bus.last_event_id, every))
