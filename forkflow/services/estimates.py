"""Read-only: how long the kitchen takes lately, so a tracking page can say when an order will be ready.

The typical preparation time is the median of placed → ready over the most recently readied orders
(the median, so one forgotten or recalled ticket does not swing it); with too little history it is
a sensible default. Only the newest orders are looked at, so the cost stays flat however many
orders the database holds.
"""

from __future__ import annotations

import statistics
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from ..schema import orders
from ..store import Store
from ..vocabulary import COOKING_STATUSES

DEFAULT_PREP = timedelta(minutes=15)
SAMPLE_SIZE = 20  # the most recently readied orders
MIN_SAMPLES = 3  # fewer than this and the default is a better guess
LOOK_BACK = 500  # only the newest orders: a bounded read, even with a million rows
CACHE_SECONDS = 10.0  # many trackers, one query per ten seconds


@dataclass(frozen=True)
class PrepTime:
    """The typical placed → ready time, and how many recent orders it comes from (0: the default)."""

    typical: timedelta
    samples: int

    @property
    def from_history(self) -> bool:
        return self.samples > 0


def typical_prep(durations: list[timedelta]) -> PrepTime:
    """The median of the given placed → ready durations, or the default with too few of them."""
    usable = [d for d in durations if d >= timedelta(0)]
    if len(usable) < MIN_SAMPLES:
        return PrepTime(DEFAULT_PREP, 0)
    seconds = statistics.median(d.total_seconds() for d in usable)
    return PrepTime(timedelta(seconds=round(seconds)), len(usable))


def _recent_durations(conn: Connection) -> list[timedelta]:
    # A scheduled order's time in the kitchen starts at its release, not when it was placed.
    started = func.coalesce(orders.c.released_at, orders.c.created_at).label("started")
    newest = select(orders.c.id, started, orders.c.ready_at).order_by(orders.c.id.desc()).limit(LOOK_BACK)
    recent = newest.subquery()
    query = (
        select(recent.c.started, recent.c.ready_at)
        .where(recent.c.ready_at.is_not(None))
        .order_by(recent.c.ready_at.desc())
        .limit(SAMPLE_SIZE)
    )
    return [row.ready_at - row.started for row in conn.execute(query)]


# Per store, and gone with it: keyed by id() a new store could inherit a closed one's estimate.
_cache: weakref.WeakKeyDictionary[Store, tuple[float, PrepTime]] = weakref.WeakKeyDictionary()


async def prep_time(store: Store, max_age: float = CACHE_SECONDS) -> PrepTime:
    """The typical preparation time lately; a result up to `max_age` seconds old may be reused."""
    now = time.monotonic()
    cached = _cache.get(store)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    found = typical_prep(await store.query(_recent_durations))
    _cache[store] = (now, found)
    return found


@dataclass(frozen=True)
class Estimate:
    """What a tracking page says about timing: when the order should be (or was) ready."""

    ready_by: datetime | None  # the expected moment, while it is still being made
    overdue: bool  # expected by now, but not ready yet
    prep: PrepTime


def estimate_for(order: dict[str, Any], prep: PrepTime, now: datetime) -> Estimate:
    """An order's expected ready time: when it was placed (a scheduled one: released) plus the typical
    preparation time."""
    if order["status"] not in COOKING_STATUSES:
        return Estimate(None, False, prep)
    placed = datetime.fromisoformat((order.get("released_at") or order["created_at"]).replace("Z", "+00:00"))
    ready_by = placed + prep.typical
    return Estimate(ready_by, ready_by <= now, prep)
