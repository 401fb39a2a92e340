"""The in-process event bus: committed events fan out to every live subscriber.

Events reach the bus only after their transaction commits (see storage/), and every event
is also a row in the events table, so a subscriber that falls behind is simply dropped: its client
reconnects with Last-Event-ID and replays from the table. The bus never waits on a subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sse_starlette import ServerSentEvent

from .public_ids import PublicIds

# The topics clients may ask for (`?topics=`, replay): the client-visible list.
TOPICS = ("orders", "menu", "inventory", "kitchen", "money")
# Internal: credentials that ended (sign-out, revoked token, disabled account, changed password or
# role). Written like every event, so it reaches every process, but no stream ever sends it.
AUTH_TOPIC = "auth"
ALL_TOPICS = (*TOPICS, AUTH_TOPIC)
_TOPIC_OF_PREFIX = {
    "order": "orders",
    "menu": "menu",
    "inventory": "inventory",
    # The kitchen's devices (issue 16): printers and their print jobs, screens and what they saw.
    "printer": "kitchen",
    "print": "kitchen",
    "screen": "kitchen",
    "sight": "kitchen",
    # The money side (issue 17): one event per money action, with who, when, the order and the
    # amounts (the audit log reads these). A change to an order's bill also emits the order's own
    # `order.updated`, so every screen showing the order follows it on the orders topic.
    "payment": "money",  # payment.taken
    "refund": "money",  # refund.given
    "discount": "money",  # discount.given, discount.removed
    "drawer": "money",  # drawer.opened, drawer.paid_in, drawer.paid_out, drawer.closed
    "tax": "money",  # tax.rate_created, tax.rate_updated, tax.rate_deleted, tax.settings_changed
    "day": "money",  # day.closed
    "auth": AUTH_TOPIC,
}

SESSION_ENDED = "auth.session_ended"  # {staff_id, session_id}: signed out
TOKEN_REVOKED = "auth.token_revoked"  # {staff_id, token_id}
STAFF_CHANGED = "auth.staff_changed"  # {staff_id}: disabled, password or role changed


def topic_of(event_type: str) -> str:
    return _TOPIC_OF_PREFIX[event_type.split(".", 1)[0]]


_UNKNOWN = object()


class Event:
    """A committed change: the events-table row, with its SSE frame encoded once for all listeners
    (once for staff, with the plain id, and once for the public, with the opaque one)."""

    __slots__ = ("id", "type", "data", "created_at", "_frame", "_public_frame", "_subject_id")

    def __init__(
        self, id: int, type: str, data: str, created_at: datetime, subject_id: int | None | object = _UNKNOWN
    ) -> None:
        self.id = id
        self.type = type
        self.data = data  # the payload as JSON text, exactly as stored
        self.created_at = created_at
        self._frame: bytes | None = None
        self._public_frame: tuple[PublicIds, bytes] | None = None
        self._subject_id = subject_id

    def __repr__(self) -> str:
        return f"Event({self.id}, {self.type!r})"

    @property
    def topic(self) -> str:
        return topic_of(self.type)

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.data)
        return payload

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

    def public_frame(self, ids: PublicIds) -> bytes:
        """The frame for callers who are not signed in: the same, with the id made opaque."""
        cached = self._public_frame
        if cached is None or cached[0] is not ids:
            frame = ServerSentEvent(self.data, event=self.type, id=ids.hide(self.id)).encode()
            cached = self._public_frame = (ids, frame)
        return cached[1]


_CLOSED = object()
_NUDGE = object()


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose credential a stream rides on: a staff member's session (`via="session"`) or token."""

    staff_id: int
    via: str
    credential_id: int
    role: str

    def ended_by(self, event: Event) -> bool:
        """Does this auth event end this credential?"""
        payload = event.payload
        if payload.get("staff_id") != self.staff_id:
            return False
        if event.type == SESSION_ENDED:
            return self.via == "session" and payload.get("session_id") == self.credential_id
        if event.type == TOKEN_REVOKED:
            return self.via == "token" and payload.get("token_id") == self.credential_id
        return True  # STAFF_CHANGED, or any later kind: every credential of that staff member


class Subscription:
    """One listener's bounded queue. Iterating ends when the bus drops or closes it.

    A stream for a signed-in caller carries its `owner`, so that revoking the credential ends it,
    and every stream has a `deadline` (wall-clock seconds) after which the bus's sweep ends it."""

    __slots__ = ("topics", "_queue", "dropped", "owner", "deadline")

    def __init__(self, topics: frozenset[str], maxsize: int) -> None:
        self.topics = topics
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.dropped = False
        self.owner: Owner | None = None
        self.deadline = math.inf

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
        # One at a time, taking nothing it does not yield: a caller may take one event and drop
        # the iterator (`anext(aiter(sub))`), and the next events must still be queued.
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            if item is not _NUDGE:
                yield item

    def nudge(self) -> None:
        """Wake the stream with no event (an empty batch): something it waited for besides events
        is ready (the all-day panel's shared read). A full queue has events to wake it anyway."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_NUDGE)

    async def batches(self, most: int = 64) -> AsyncIterator[list[Event]]:
        """The events in order, each step with every one already waiting (up to `most`): a stream
        that fell behind catches up in one write, not one per event; a nudge alone is an empty
        step. Ends when the bus drops or closes the subscription."""
        while True:
            item = await self._queue.get()
            batch: list[Event] = []
            while item is not _CLOSED:
                if item is not _NUDGE:
                    batch.append(item)
                if len(batch) == most or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if item is _CLOSED:
                if batch:
                    yield batch
                return
            yield batch


class Bus:
    def __init__(self, queue_size: int = 2000) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        # Streams of signed-in callers by staff id: an auth event looks at that person's only.
        self._owned: dict[int, set[Subscription]] = {}
        self.published = 0
        self.dropped = 0
        self.ended = 0  # streams ended because their credential ended, changed or expired
        self.last_event_id = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        # Called with every auth event (after the streams it ends are ended): caches forget.
        self.auth_listeners: list[Callable[[Event], None]] = []
        # Called with every event published: the server's own workers (the release worker's
        # wake-up), which need to hear of events but are not streams (not counted, never dropped).
        self.listeners: list[Callable[[Event], None]] = []

    def subscribe(self, topics: Iterable[str] = TOPICS) -> Subscription:
        sub = Subscription(frozenset(topics), self.queue_size)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        if sub.owner is not None:
            owned = self._owned.get(sub.owner.staff_id)
            if owned is not None:
                owned.discard(sub)
                if not owned:
                    del self._owned[sub.owner.staff_id]

    def own(self, sub: Subscription, owner: Owner | None, deadline: float) -> None:
        """Say whose credential `sub` rides on, and when it must end at the latest."""
        sub.deadline = deadline
        if owner is None or sub not in self._subscribers:
            return
        sub.owner = owner
        self._owned.setdefault(owner.staff_id, set()).add(sub)

    def end(self, sub: Subscription) -> None:
        """End a stream cleanly (its credential ended, or its time is up): the client reconnects
        and is authenticated again."""
        self.ended += 1
        self.unsubscribe(sub)
        sub._end()

    def owned(self) -> list[Subscription]:
        """The streams of signed-in callers."""
        return [sub for subs in self._owned.values() for sub in subs]

    def subscriptions(self) -> list[Subscription]:
        return list(self._subscribers)

    def publish(self, event: Event) -> None:
        self.published += 1
        self.last_event_id = max(self.last_event_id, event.id)
        topic = event.topic
        if topic == AUTH_TOPIC:
            self._credential_ended(event)
        for sub in list(self._subscribers):
            if topic in sub.topics and not sub._offer(event):
                self._drop(sub)
        for listener in self.listeners:
            listener(event)
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

    def credential_ended(self, event: Event) -> None:
        """Apply an `auth` event that another process wrote (the CLI, on SQLite) and this bus
        will never publish: ending streams and forgetting credentials twice is harmless."""
        self._credential_ended(event)

    def _credential_ended(self, event: Event) -> None:
        staff_id = event.payload.get("staff_id")
        for sub in list(self._owned.get(staff_id, ())):  # type: ignore[arg-type]
            if sub.owner is not None and sub.owner.ended_by(event):
                self.end(sub)
        for listener in self.auth_listeners:
            listener(event)

    def _wake(self, last: int) -> None:
        for event_id, arrived in self._waiters:
            if event_id <= last and not arrived.done():
                arrived.set_result(None)

    def _drop(self, sub: Subscription) -> None:
        self.dropped += 1
        sub.dropped = True
        self.unsubscribe(sub)
        sub._end()

    def close(self) -> None:
        for sub in list(self._subscribers):
            self.unsubscribe(sub)
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
