"""Bounds on open event streams: per client address and in total, per server process.

Each open stream holds a connection, a bus subscription and its buffers (about 55 KiB), for as
long as the client likes; without a bound one client can open them until the process runs out of
memory or file descriptors. A stream takes a slot before it opens (429 past the client's bound,
503 past the total, both with Retry-After) and gives it back when its response ends, however it
ends: the client went away, the server shut down, the bus dropped it as too slow.

Signed-in staff are counted in the total only: a restaurant's screens (kitchen displays, tills)
often all sit behind one NAT address, and staff are already identified and revocable.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .auth.roles import principal_of
from .errors import Busy, TooManyRequests
from .request import client_address

RETRY_AFTER_SECONDS = 5


class StreamSlots:
    """How many streams are open, by client address; 0 as a bound means no bound."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open = 0
        self.by_client: Counter[str] = Counter()

    def claim(self, client: str | None) -> Callable[[], None]:
        """Take a slot for one stream (`client` None: not counted per address), or refuse.
        Returns the slot's release, which may be called any number of times."""
        if self.total and self.open >= self.total:
            raise Busy("the server holds as many event streams as it may; try again shortly", RETRY_AFTER_SECONDS)
        if client is not None and self.per_client and self.by_client[client] >= self.per_client:
            raise TooManyRequests(
                f"too many open event streams from this address (at most {self.per_client}); close one first",
                retry_after=RETRY_AFTER_SECONDS,
            )
        self.open += 1
        if client is not None:
            self.by_client[client] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.open -= 1
            if client is not None:
                self.by_client[client] -= 1
                if self.by_client[client] <= 0:
                    del self.by_client[client]

        return release


def claim_stream_slot(request: Request) -> Callable[[], None]:
    """A slot for a stream answering `request`: anonymous callers count against their address."""
    client = None if principal_of(request) is not None else client_address(request)
    slots: StreamSlots = request.app.state.stream_slots
    return slots.claim(client)


class HoldingSlot(Response):
    """Sends `inner` and releases the slot when that ends, however it ends (also if the response
    object is dropped without ever being sent)."""

    def __init__(self, inner: Response, release: Callable[[], None]) -> None:
        self.inner = inner
        self.status_code = inner.status_code
        self.raw_headers = inner.raw_headers
        self.background = None
        self.release = release
        weakref.finalize(self, release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.inner(scope, receive, send)
        finally:
            self.release()
