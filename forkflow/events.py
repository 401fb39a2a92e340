"""The in-process event bus: committed events fan out to every live subscriber.

Events reach the bus only after their transaction commits (see `store.Writer`), and every event
is also a row in the events table, so a subscriber that falls behind is simply dropped: its client
reconnects with Last-Event-ID and replays from the table. The bus never waits on a subscriber.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from sse_starlette import ServerSentEvent

TOPICS = ("orders", "menu", "inventory")
_TOPIC_OF_PREFIX = {"order": "orders", "menu": "menu", "inventory": "inventory"}


def topic_of(event_type: str) -> str:
    return _TOPIC_OF_PREFIX[event_type.split(".", 1)[0]]


_UNKNOWN = object()


class Event:
    """A committed change: the events-table row, with its SSE frame encoded once for all listeners."""

    __slots__ = ("id", "type", "data", "created_at", "_frame", "_subject_id")

    def __init__(
        self, id: int, type: str, data: str, created_at: datetime, subject_id: int | None | object = _UNKNOWN
    ) -> None:
        self.id = id
        self.type = type
        self.data = data  # the payload as JSON text, exactly as stored
        self.created_at = created_at
        self._frame: bytes | None = None
        self._subject_id = subject_id

    def __repr__(self) -> str:
        return f"Event({self.id}, {self.type!r})"

    @property
    def topic(self) -> str:
        return topic_of(self.type)

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.data)

    @property
    def subject_id(self) -> int | None:
        """The id of the thing that changed (an order's, a menu item's): lets a stream that follows
        one order skip the others without parsing every payload."""
        if self._subject_id is _UNKNOWN:
            self._subject_id = self.payload.get("id")
        return self._subject_id  # type: ignore[return-value]

    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = ServerSentEvent(self.data, event=self.type, id=str(self.id)).encode()
        return self._frame


_CLOSED = object()


class Subscription:
    """One listener's bounded queue. Iterating ends when the bus drops or closes it."""

    def __init__(self, topics: frozenset[str], maxsize: int) -> None:
        self.topics = topics
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.dropped = False

    def _offer(self, event: Event) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def _end(self) -> None:
        # Make room for the end marker: whatever is queued will be replayed from the table anyway.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)

    @property
    def idle(self) -> bool:
        """Nothing is waiting to be read."""
        return self._queue.empty()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            yield item


class Bus:
    def __init__(self, queue_size: int = 2000) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self.published = 0
        self.dropped = 0
        self.last_event_id = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def subscribe(self, topics: Iterable[str] = TOPICS) -> Subscription:
        sub = Subscription(frozenset(topics), self.queue_size)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, event: Event) -> None:
        self.published += 1
        self.last_event_id = max(self.last_event_id, event.id)
        topic = event.topic
        for sub in list(self._subscribers):
            if topic in sub.topics and not sub._offer(event):
                self._drop(sub)
        if self._waiters:
            self._wake(self.last_event_id)

    async def published_through(self, event_id: int, timeout: float) -> bool:
        """Wait until the event `event_id` has been published here (on PostgreSQL events arrive
        through LISTEN, after the commit); False if it did not come within `timeout` seconds."""
        if self.last_event_id >= event_id:
            return True
        arrived = asyncio.get_running_loop().create_future()
        self._waiters.append((event_id, arrived))
        try:
            await asyncio.wait_for(asyncio.shield(arrived), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters = [(i, f) for i, f in self._waiters if f is not arrived]

    def _wake(self, last: int) -> None:
        for event_id, arrived in self._waiters:
            if event_id <= last and not arrived.done():
                arrived.set_result(None)

    def _drop(self, sub: Subscription) -> None:
        self.dropped += 1
        sub.dropped = True
        self._subscribers.discard(sub)
        sub._end()

    def close(self) -> None:
        for sub in list(self._subscribers):
            self._subscribers.discard(sub)
            sub._end()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def state(self) -> dict[str, int]:
        return {
            "subscribers": self.subscriber_count,
            "published": self.published,
            "dropped_subscribers": self.dropped,
            "last_event_id": self.last_event_id,
        }
