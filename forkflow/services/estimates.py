"""Read-only: when an order will be ready, from the kitchen's live queue: the tracking page's
expected time, checkout's "as soon as possible" and the till's sent ticket.

The queue (`Kitchen`) is every fired, not done, not voided line of the orders the kitchen is
cooking, weighed as its prep minutes × quantity ("work", in cook-minutes: prep_minutes is what the
line carries from when it was ordered; prep_load counts online capacity, it is not a time). Each
station's pace is the work it finished per minute over the last hour, from its lines' `done_at`
(leaving out the time it stood idle). An order's part at a station starts once the work ahead of
it there (in the kitchen's order: rush first, then oldest), less what the cooks have on the go, is
cleared at that pace; it then takes its longest prep time there. The order is ready when its
slowest station is, never before it started plus its longest prep time; a station with too little
history counts only the prep time. One snapshot of the kitchen serves every tracker.

Orders the queue cannot speak for (no fired work left, or no snapshot) fall back to the typical
time: the median of placed → ready over the most recently readied orders (the median, so one
forgotten or recalled ticket does not swing it), or a default with too little history. Only the
newest rows are looked at, so the cost stays flat however many orders the database holds.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from ..numbers import DEFAULT_PREP_MINUTES, MAX_ID
from ..schema import order_lines, orders
from ..store import Store
from ..vocabulary import COOKING_STATUSES
from .courses import rail_order
from .orders import _COOKING as WAITING_LINE

DEFAULT_PREP = timedelta(minutes=15)
SAMPLE_SIZE = 20  # the most recently readied orders
MIN_SAMPLES = 3  # fewer than this and the default is a better guess
LOOK_BACK = 500  # only the newest orders: a bounded read, even with a million rows
CACHE_SECONDS = 10.0  # many trackers, one query per ten seconds
PACE_WINDOW = timedelta(hours=1)  # a station's pace is measured over the last hour
MIN_PACE_LINES = 3  # fewer lines done in the window and the station has no measured pace
LINE_LOOK_BACK = 2000  # only the newest lines are searched for the hour's done ones: a bounded read


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


# The queue and the pace


@dataclass(frozen=True)
class Waiting:
    """One order's part of the queue at one station: its work left (cook-minutes) and its longest
    prep time there."""

    order_id: int
    rush: bool
    started: datetime  # placed, or a scheduled order's release
    station: str
    work: float
    longest: int  # minutes

    @property
    def key(self) -> tuple[bool, int]:
        return rail_order(self.rush, self.order_id)


@dataclass(frozen=True)
class Done:
    """A line finished at a station: when, its work, and its prep time (minutes)."""

    station: str
    done_at: datetime
    work: float
    prep: int


def station_pace(done: Iterable[Done]) -> dict[str, float]:
    """Each station's pace (cook-minutes finished per minute of work) from the lines it finished: the
    work finished after its first done moment over the time it was busy since. Idle time does not
    count: a gap between two done moments longer than the later line's own prep time counts only
    that prep time (the line cannot have taken longer to cook; the rest the station waited). A
    station with fewer than MIN_PACE_LINES lines, or all finished at one moment, has no pace."""
    by_station: dict[str, list[Done]] = {}
    for line in done:
        by_station.setdefault(line.station, []).append(line)
    pace: dict[str, float] = {}
    for station, lines in by_station.items():
        lines.sort(key=lambda line: line.done_at)
        work = busy = 0.0
        for before, line in zip(lines, lines[1:], strict=False):
            work += line.work
            busy += min((line.done_at - before.done_at).total_seconds() / 60, line.prep)
        if len(lines) >= MIN_PACE_LINES and busy > 0:
            pace[station] = work / busy
    return pace


@dataclass(frozen=True)
class Kitchen:
    """The queue and each station's pace at one moment (`at`), as of event `head`: every open
    tracking page reads its own order's time from the same one."""

    at: datetime
    waiting: tuple[Waiting, ...]
    pace: dict[str, float]
    head: int = 0
    _by_order: dict[int, list[Waiting]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_order: dict[int, list[Waiting]] = {}
        for part in self.waiting:
            by_order.setdefault(part.order_id, []).append(part)
        object.__setattr__(self, "_by_order", by_order)

    def ready_by(self, order_id: int) -> datetime | None:
        """When the order should be ready, from the queue ahead of it; None if it has no work waiting."""
        mine = self._by_order.get(order_id)
        if not mine:
            return None
        return max(self._station_ready(part) for part in mine)

    def quote(self, parts: Iterable[tuple[str, float, int]]) -> datetime | None:
        """When a new order, placed now, would be ready: its (station, work, longest prep) parts
        behind everything waiting (checkout's "as soon as possible"). None for no parts."""
        new = [Waiting(MAX_ID, False, self.at, station, work, longest) for station, work, longest in parts]
        return max((self._station_ready(part) for part in new), default=None)

    def _station_ready(self, part: Waiting) -> datetime:
        start = part.started
        pace = self.pace.get(part.station)
        ahead = [w for w in self.waiting if w.station == part.station and w.key < part.key]
        if pace and ahead:
            # What is ahead includes what the cooks have on the go: about one prep time's worth at pace.
            under_way = statistics.mean(w.longest for w in ahead)
            wait = max(0.0, sum(w.work for w in ahead) / pace - under_way)
            start = max(start, self.at + timedelta(minutes=wait))
        return start + timedelta(minutes=part.longest)


_PREP = func.coalesce(order_lines.c.prep_minutes, DEFAULT_PREP_MINUTES)
_WAITING = (
    select(
        orders.c.id,
        orders.c.rush,
        func.coalesce(orders.c.released_at, orders.c.created_at).label("started"),
        func.coalesce(order_lines.c.station, "").label("station"),
        func.sum(_PREP * order_lines.c.quantity).label("work"),
        func.max(_PREP).label("longest"),
    )
    .select_from(order_lines.join(orders))
    .where(*WAITING_LINE)
    .group_by(orders.c.id, orders.c.rush, "started", "station")
)


def _done_since(conn: Connection, since: datetime) -> list[Done]:
    newest = conn.execute(select(func.coalesce(func.max(order_lines.c.id), 0))).scalar_one()
    query = select(
        func.coalesce(order_lines.c.station, ""), order_lines.c.done_at, _PREP * order_lines.c.quantity, _PREP
    ).where(
        order_lines.c.id > newest - LINE_LOOK_BACK,
        order_lines.c.done_at >= since,
        order_lines.c.voided_at.is_(None),
    )
    return [Done(station, done_at, float(work), prep) for station, done_at, work, prep in conn.execute(query)]


def read_kitchen(conn: Connection, now: datetime, head: int = 0) -> Kitchen:
    """The queue and the stations' pace as `conn` sees them at `now`: two grouped, bounded reads."""
    waiting = tuple(
        Waiting(row.id, bool(row.rush), row.started, row.station, float(row.work), int(row.longest))
        for row in conn.execute(_WAITING)
    )
    return Kitchen(now, waiting, station_pace(_done_since(conn, now - PACE_WINDOW)), head)


# Per store: the newest snapshot, and the read in progress (one read, however many trackers ask).
_kitchens: weakref.WeakKeyDictionary[Store, tuple[float, Kitchen]] = weakref.WeakKeyDictionary()
_reading: weakref.WeakKeyDictionary[Store, asyncio.Future[Kitchen]] = weakref.WeakKeyDictionary()


async def _read(store: Store) -> Kitchen:
    async with store.snapshot() as conn:
        head = await store.last_event_id(conn)
        found: Kitchen = await conn.run_sync(read_kitchen, datetime.now(UTC), head)
    _kitchens[store] = (time.monotonic(), found)
    return found


async def kitchen_now(store: Store, after: int = 0, max_age: float = CACHE_SECONDS) -> Kitchen:
    """The kitchen's queue and pace, reflecting at least event `after`, at most `max_age` seconds
    old. Streams handling one event share one read: a tracker that asks while a read is running
    waits for it (and reads again only if that read began before its event)."""
    for _ in range(2):
        cached = _kitchens.get(store)
        if cached is not None and cached[1].head >= after and time.monotonic() - cached[0] < max_age:
            return cached[1]
        pending = _reading.get(store)
        if pending is None:
            pending = _reading[store] = asyncio.ensure_future(_read(store))
            pending.add_done_callback(lambda _: _reading.pop(store, None))
        found = await asyncio.shield(pending)
        if found.head >= after:
            return found
    return await _read(store)


# An order's estimate


@dataclass(frozen=True)
class Estimate:
    """What a tracking page says about timing: when the order should be (or was) ready."""

    ready_by: datetime | None  # the expected moment, while it is still being made
    overdue: bool  # expected by now, but not ready yet
    prep: PrepTime
    from_queue: bool = False  # read from the live queue and pace (else: the typical time)


def estimate_for(
    order: dict[str, Any],
    prep: PrepTime,
    now: datetime,
    kitchen: Kitchen | None = None,
    busy: timedelta = timedelta(0),
) -> Estimate:
    """An order's expected ready time: from the kitchen's queue when it has the order's work waiting,
    else when it was placed (a scheduled one: released) plus the typical preparation time. `busy` is
    added to the quote (the hook for a manager's "busy" delay). A scheduled order is expected at its
    pickup time while held, and never before it once released."""
    if order["status"] not in COOKING_STATUSES:
        return Estimate(None, False, prep)
    pickup = _moment(order.get("pickup_at"))
    if pickup is not None and not order.get("released_at"):
        return Estimate(pickup, pickup <= now, prep)
    queued = kitchen.ready_by(order["id"]) if kitchen is not None and "id" in order else None
    started = _moment(order.get("released_at") or order["created_at"])
    assert started is not None
    ready_by = (queued if queued is not None else started + prep.typical) + busy
    if pickup is not None:
        ready_by = max(ready_by, pickup)
    return Estimate(ready_by, ready_by <= now, prep, queued is not None)


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


async def ready_estimate(
    store: Store, order: dict[str, Any], after: int | None = None, busy: timedelta = timedelta(0)
) -> Estimate:
    """`order`'s expected ready time now, read from the kitchen as of event `after` or later (the
    tracking page's stream, the till's sent ticket); None: as of the newest event, so an order just
    placed is in the queue it is read from. `busy`: see `estimate_for`."""
    prep = await prep_time(store)
    kitchen = await kitchen_now(store, await store.last_event_id() if after is None else after)
    return estimate_for(order, prep, datetime.now(UTC), kitchen, busy)


async def quote_new(
    store: Store, parts: Iterable[tuple[str, float, int]], busy: timedelta = timedelta(0)
) -> datetime | None:
    """When a new order of these (station, work, longest prep) parts would be ready if placed now,
    from the kitchen's queue and pace; with no pace anywhere it needed, now plus its longest prep.
    `busy` is added (the hook for a manager's "busy" delay, as in `estimate_for`)."""
    ready_by = (await kitchen_now(store)).quote(parts)
    return None if ready_by is None else ready_by + busy
