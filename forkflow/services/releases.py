"""Releasing scheduled orders to the kitchen: exactly once, by the server, at `release_at`.

A release is one conditional UPDATE (`released_at IS NULL`) in a write unit with its
`order.released` event: whoever runs it first (the worker of any process on a shared PostgreSQL,
or staff's "send now") releases the order; every later attempt changes no row and emits nothing.

The worker (`release_worker`, started in the app's lifespan) releases whatever is due when it
starts (so a restart loses nothing), then sleeps until the next `release_at`. A new scheduled
order wakes it early (it hears `order.created` on the bus, from every process on PostgreSQL), as
does an order staff hold until a time (`hold_until`, `order.updated`); it also looks again every
`SAFETY_SECONDS` whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select, update

from ..errors import Conflict, Invalid, ServiceError
from ..events import Event
from ..schema import orders, utcnow
from ..store import Store, Tx
from .dispatch import record_sends
from .hours import HOLD_GRACE, ahead_problem
from .orders import Order, _load, _matching
from .representation import Encoded

log = logging.getLogger("forkflow.releases")

SAFETY_SECONDS = 30.0  # the worker looks at least this often, even when nothing woke it
BATCH = 200  # orders released in one write unit at most (the rest in the next)
# In an `order.created` or `order.updated` event's JSON text: the order is held (JSON escapes
# quotes inside strings, so no customer's text can contain it).
HELD_MARK = '"held":true'
# In an order event's JSON text: an order the kitchen had at once, never scheduled nor held (the
# screens' scheduled lists skip those).
ASAP_MARK = '"release_at":null'

_WAITING = (orders.c.release_at.is_not(None), orders.c.released_at.is_(None), orders.c.status == "new")


def _release(tx: Tx, order_id: int) -> Order | None:
    """Release one held order now; None if it was released already (or never held)."""
    done = tx.conn.execute(
        update(orders).where(orders.c.id == order_id, *_WAITING).values(released_at=tx.now, updated_at=tx.now)
    )
    if done.rowcount != 1:
        return None
    order = _load(tx.conn, order_id)
    event = tx.emit("order.released", order)
    record_sends(tx, order, event, "released")
    return Encoded(order, event.data)


def release_due(tx: Tx) -> int:
    """Release every held order whose time has come (up to BATCH); how many were."""
    due = select(orders.c.id).where(*_WAITING, orders.c.release_at <= tx.now).order_by(orders.c.release_at)
    released = [_release(tx, order_id) for order_id in tx.conn.execute(due.limit(BATCH)).scalars().all()]
    return sum(order is not None for order in released)


def _next_release(conn: Connection) -> datetime | None:
    found: datetime | None = conn.execute(select(func.min(orders.c.release_at)).where(*_WAITING)).scalar_one()
    return found


async def next_release(store: Store) -> datetime | None:
    """The earliest `release_at` still waiting, if any."""
    return await store.query(_next_release)


# (An ASAP order staff hold has no pickup time: its release time stands in for it.)
_HELD = select(orders).where(*_WAITING).order_by(func.coalesce(orders.c.pickup_at, orders.c.release_at), orders.c.id)


async def held_orders(store: Store) -> list[Order]:
    """The orders waiting for their release (scheduled or held, still new), by pickup time: the
    till's and the console's "Scheduled" lists."""
    return await store.query(_matching, _HELD)


async def release_now(store: Store, order_id: int) -> Order:
    """Staff's "send now": the order goes to the kitchen at once. An order already released is
    answered as it is (nothing changes, no event); one that was never held, or is no longer new, is 409."""

    def unit(tx: Tx) -> Order:
        released = _release(tx, order_id)
        if released is not None:
            return released
        current = _load(tx.conn, order_id)
        if current["released_at"] is not None:
            return current
        if current["release_at"] is None:
            raise Conflict(f"order {order_id} was not scheduled: the kitchen has it already")
        raise Conflict(f"order {order_id} is {current['status']}: it can no longer be sent to the kitchen")

    return await store.write(unit)


async def hold_until(store: Store, order_id: int, until: datetime) -> Order:
    """Staff hold an order until a time ("table 4 wants their food at 20:00"): it leaves the kitchen
    displays (`order.updated`, held) and the worker releases it at `until`. Holding a held order
    moves its time. 422 naming `until` in the past or beyond the schedule limit; 409 for an order
    no longer new or with a line done (a cook has started it)."""

    def unit(tx: Tx) -> Order:
        problem = ahead_problem(until, tx.now, store.settings, HOLD_GRACE, "time")
        if problem is not None:
            raise Invalid(f"the order cannot be held until then: {problem}", {"until": problem})
        current = _load(tx.conn, order_id)
        if current["status"] != "new":
            raise Conflict(f"order {order_id} is {current['status']}: it can no longer be held")
        if any(line["done_at"] is not None for line in current["lines"]):
            raise Conflict(f"ticket {current['ticket_no']} has a line done: the kitchen has started it")
        values = {"release_at": until.astimezone(UTC), "released_at": None, "updated_at": tx.now}
        tx.conn.execute(update(orders).where(orders.c.id == order_id).values(values))
        order = _load(tx.conn, order_id)
        return Encoded(order, tx.emit("order.updated", order).data)

    return await store.write(unit)


def _waker(wake: asyncio.Event) -> Callable[[Event], None]:
    """Wake the worker for every new held order, and every order held anew or moved (any
    process's, on PostgreSQL: they are published here too)."""

    def heard(event: Event) -> None:
        if event.type in ("order.created", "order.updated") and HELD_MARK in event.data:
            wake.set()

    return heard


async def release_worker(store: Store) -> None:
    """Release due orders now and whenever the next one is due; runs until cancelled."""
    wake = asyncio.Event()
    listener = _waker(wake)
    store.bus.listeners.append(listener)
    try:
        while True:
            wake.clear()  # (before reading: a wake-up from now on is not lost)
            delay = SAFETY_SECONDS
            try:
                while await store.write(release_due) == BATCH:
                    pass
                upcoming = await next_release(store)
                if upcoming is not None:
                    delay = min(max((upcoming - utcnow()).total_seconds(), 0.0), SAFETY_SECONDS)
            except ServiceError:
                log.warning("could not release scheduled orders; will try again")
            except Exception:  # the worker must outlive any one failure: orders wait on it
                log.exception("releasing scheduled orders failed; will try again")
            # (asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the wake-up does, and the worker would then outlive its server.)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await wake.wait()
    finally:
        store.bus.listeners.remove(listener)
