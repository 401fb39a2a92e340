"""Honest ready times (forkflow/services/estimates.py): the quote comes from the kitchen's queue
and each station's measured pace. On plain snapshots, then on a real store (SQLite and
PostgreSQL) fed by the services (orders placed, lines done)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.schema import order_lines
from forkflow.services.estimates import (
    MIN_PACE_LINES,
    PACE_WINDOW,
    Done,
    Kitchen,
    PrepTime,
    Waiting,
    estimate_for,
    kitchen_now,
    read_kitchen,
    station_pace,
)
from forkflow.store import Store, Tx

from .conftest import BACKENDS, drop_postgres_database, new_postgres_database

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TYPICAL = PrepTime(timedelta(minutes=15), 0)


def part(order_id: int, work: float, longest: int = 10, station: str = "grill", **kw: object) -> Waiting:
    started = kw.get("started", NOON)
    assert isinstance(started, datetime)
    return Waiting(order_id, bool(kw.get("rush", False)), started, station, work, longest)


def done_every(minutes: float, work: float, count: int = 6, station: str = "grill", prep: int = 10) -> list[Done]:
    """`count` lines of `work` (prep `prep` minutes) each finished `minutes` apart, the last just now."""
    return [Done(station, NOON - timedelta(minutes=minutes * n), work, prep) for n in range(count)]


# The pace


def test_a_stations_pace_is_the_work_it_finished_per_minute() -> None:
    pace = station_pace(done_every(2, 10) + done_every(5, 3, station="cold"))
    assert pace == {"grill": pytest.approx(5.0), "cold": pytest.approx(0.6)}


def test_time_the_station_stood_idle_does_not_slow_its_pace() -> None:
    """Lines 10 minutes apart that take 4: the station cooked for 4 of every 10 minutes."""
    assert station_pace(done_every(10, 4, prep=4)) == {"grill": pytest.approx(1.0)}
    assert station_pace(done_every(3, 4, prep=4)) == {"grill": pytest.approx(4 / 3)}


def test_too_few_lines_or_one_moment_give_no_pace() -> None:
    assert station_pace(done_every(2, 10, count=MIN_PACE_LINES - 1)) == {}
    assert station_pace([Done("grill", NOON, 10, 10)] * 5) == {}, "a whole ticket bumped at once is no pace"


# The queue


def test_more_work_ahead_means_a_later_quote() -> None:
    """The order starts once the work ahead is cleared at the station's pace, less about one prep
    time's worth the cooks already have on the go (the mean prep time of the orders ahead)."""
    pace = station_pace(done_every(2, 10))  # 5 cook-minutes a minute
    light = Kitchen(NOON, (part(1, 20), part(9, 10)), pace)
    heavy = Kitchen(NOON, (part(1, 20), part(2, 30), part(3, 50), part(9, 10)), pace)
    assert light.ready_by(9) == NOON + timedelta(minutes=0 + 10), "20 / 5 is less than the 10 under way"
    assert heavy.ready_by(9) == NOON + timedelta(minutes=100 / 5 - 10 + 10)
    assert light.ready_by(1) == heavy.ready_by(1) == NOON + timedelta(minutes=10), "work behind does not count"


def test_a_faster_measured_pace_means_an_earlier_quote() -> None:
    queue = (part(1, 40), part(2, 40), part(9, 10))
    slow = Kitchen(NOON, queue, station_pace(done_every(4, 10)))
    fast = Kitchen(NOON, queue, station_pace(done_every(2, 10)))
    assert slow.ready_by(9) == NOON + timedelta(minutes=80 / 2.5 - 10 + 10)
    assert fast.ready_by(9) == NOON + timedelta(minutes=80 / 5 - 10 + 10)


def test_without_history_a_station_counts_only_the_prep_time() -> None:
    kitchen = Kitchen(NOON, (part(1, 400), part(9, 10, longest=12)), {})
    assert kitchen.ready_by(9) == NOON + timedelta(minutes=12)


def test_never_before_the_order_started_plus_its_longest_prep() -> None:
    placed = NOON - timedelta(minutes=3)
    kitchen = Kitchen(NOON, (part(9, 10, longest=12, started=placed),), station_pace(done_every(1, 10)))
    assert kitchen.ready_by(9) == placed + timedelta(minutes=12)


def test_the_slowest_station_decides_and_rush_orders_go_first() -> None:
    pace = {"grill": 5.0, "cold": 1.0}
    queue = (
        part(1, 100),
        part(2, 16, longest=4, station="cold"),
        part(9, 10, longest=8),
        part(9, 2, longest=3, station="cold"),
        part(10, 10, rush=True),
    )
    kitchen = Kitchen(NOON, queue, pace)
    # grill: (100 + 10 (rush)) / 5 - 10 + 8 = 20; cold: 16 / 1 - 4 + 3 = 15
    assert kitchen.ready_by(9) == NOON + timedelta(minutes=20)
    assert kitchen.ready_by(10) == NOON + timedelta(minutes=10), "the rush order waits for nobody"


def test_the_estimate_reads_the_queue_and_falls_back_to_the_typical_time() -> None:
    kitchen = Kitchen(NOON, (part(9, 10, longest=12),), {})
    order = {"id": 9, "status": "preparing", "created_at": "2026-03-01T12:00:00Z"}
    queued = estimate_for(order, TYPICAL, NOON, kitchen)
    assert queued.ready_by == NOON + timedelta(minutes=12) and queued.from_queue and not queued.overdue
    busy = estimate_for(order, TYPICAL, NOON, kitchen, busy=timedelta(minutes=20))
    assert busy.ready_by == NOON + timedelta(minutes=32), "a busy delay is added to the quote"
    nothing_left = estimate_for({**order, "id": 5}, TYPICAL, NOON, kitchen)
    assert nothing_left.ready_by == NOON + TYPICAL.typical and not nothing_left.from_queue
    assert estimate_for({**order, "status": "ready"}, TYPICAL, NOON, kitchen).ready_by is None


def test_a_new_order_is_quoted_behind_everything_waiting() -> None:
    """Checkout's "as soon as possible": behind the rush order too, at the pace of each station."""
    kitchen = Kitchen(NOON, (part(1, 50), part(2, 30, rush=True), part(3, 4, station="cold")), {"grill": 5.0})
    assert kitchen.quote([("grill", 12, 12)]) == NOON + timedelta(minutes=80 / 5 - 10 + 12)
    assert kitchen.quote([("grill", 12, 12), ("cold", 3, 3)]) == NOON + timedelta(minutes=18)
    assert kitchen.quote([("cold", 3, 3)]) == NOON + timedelta(minutes=3), "no pace at the cold station"
    assert kitchen.quote([]) is None


def test_a_scheduled_order_is_expected_at_its_pickup_time() -> None:
    """Held: its pickup time. Released: the queue's time, but never before the pickup time."""
    pickup = NOON + timedelta(minutes=30)
    held = {"id": 9, "status": "new", "created_at": "2026-03-01T11:00:00Z", "pickup_at": "2026-03-01T12:30:00Z"}
    kitchen = Kitchen(NOON, (part(1, 100), part(9, 10, longest=12)), {"grill": 2.0})
    assert estimate_for(held, TYPICAL, NOON, kitchen).ready_by == pickup
    released = {**held, "released_at": "2026-03-01T12:00:00Z"}
    late = estimate_for(released, TYPICAL, NOON, kitchen)
    assert late.ready_by == NOON + timedelta(minutes=100 / 2 - 10 + 12) and late.from_queue
    on_time = estimate_for(released, TYPICAL, NOON, Kitchen(NOON, (part(9, 10, longest=12),), {}))
    assert on_time.ready_by == pickup


# On a real store


@pytest.fixture(params=BACKENDS)
async def store(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """SQLite and PostgreSQL: the queue's grouped read runs on both."""
    postgres = request.param == "postgres"
    url = new_postgres_database() if postgres else sqlite_url(tmp_path / "queue.db")
    s = Store(Settings(database_url=url), Bus())
    await s.open()
    yield s
    await s.close()
    if postgres:
        drop_postgres_database(url)


async def place(store: Store, dish: int, quantity: int = 1) -> int:
    body = OrderIn(customer_name="Bo", channel="counter", items=[{"menu_item_id": dish, "quantity": quantity}])
    order, _ = await services.create_order(store, body)
    return int(order["id"])


async def set_done_at(store: Store, order_id: int, moment: datetime) -> None:
    def unit(tx: Tx) -> None:
        tx.conn.execute(update(order_lines).where(order_lines.c.order_id == order_id).values(done_at=moment))

    await store.write(unit)


async def test_the_store_quotes_from_its_queue_and_pace(store: Store) -> None:
    """Lines done over the last half hour give the grill's pace; orders waiting ahead push a new
    order's quote later, and a faster history brings it earlier."""
    grill = await services.create_menu_item(
        store, MenuItemIn(name="Steak", price_cents=2000, category="Mains", station="grill", prep_minutes=12)
    )
    salad = await services.create_menu_item(
        store, MenuItemIn(name="Salad", price_cents=900, category="Starters", station="cold", prep_minutes=4)
    )
    now = datetime.now(UTC)
    history = [await place(store, grill["id"]) for _ in range(6)]
    for n, order_id in enumerate(history):  # one 12-minute steak every 6 minutes: a pace of 2
        await services.mark_lines_done(store, order_id, True)
        await set_done_at(store, order_id, now - timedelta(minutes=6 * n))
        await services.change_status(store, order_id, "preparing")
        await services.change_status(store, order_id, "ready")
    await place(store, grill["id"], quantity=3)  # 36 cook-minutes waiting
    mine = await place(store, grill["id"])
    await place(store, salad["id"])
    await place(store, grill["id"], quantity=5)  # behind mine: not counted

    kitchen = await store.query(read_kitchen, now)
    assert kitchen.pace == {"grill": pytest.approx(2.0)}, "the salad station has no history"
    assert {(w.order_id, w.station, w.work, w.longest) for w in kitchen.waiting if w.order_id == mine} == {
        (mine, "grill", 12.0, 12)
    }
    ready_by = kitchen.ready_by(mine)
    assert ready_by is not None and abs(ready_by - (now + timedelta(minutes=36 / 2 - 12 + 12))) < timedelta(seconds=5)

    rush = await place(store, grill["id"], quantity=4)  # a rush order jumps the queue: later still
    await services.change_order(store, rush, rush=True)
    busier = await store.query(read_kitchen, now)
    assert busier.ready_by(mine) == ready_by + timedelta(minutes=48 / 2)

    for n, order_id in enumerate(history):  # the same steaks 3 minutes apart: a pace of 4
        await set_done_at(store, order_id, now - timedelta(minutes=3 * n))
    faster = await store.query(read_kitchen, now)
    assert faster.pace == {"grill": pytest.approx(4.0)}
    assert faster.ready_by(mine) == busier.ready_by(mine) - timedelta(minutes=84 / 2 - 84 / 4)

    long_ago = await store.query(read_kitchen, now + PACE_WINDOW + timedelta(minutes=1))
    assert long_ago.pace == {}, "only the last hour's pace counts"


async def test_done_lines_move_the_queue_and_one_read_serves_everyone(store: Store) -> None:
    grill = await services.create_menu_item(
        store, MenuItemIn(name="Steak", price_cents=2000, category="Mains", station="grill", prep_minutes=12)
    )
    first = await place(store, grill["id"], quantity=2)
    mine = await place(store, grill["id"])
    before = await kitchen_now(store)
    assert {w.order_id for w in before.waiting} == {first, mine}
    assert await kitchen_now(store) is before, "many trackers, one read"
    done = await services.mark_lines_done(store, first, True)
    head = await store.last_event_id()
    after = await kitchen_now(store, after=head)
    assert after is not before and after.head >= head and {w.order_id for w in after.waiting} == {mine}
    assert done["id"] == first


async def test_an_order_just_placed_is_quoted_from_the_queue_not_an_older_read(store: Store) -> None:
    grill = await services.create_menu_item(
        store, MenuItemIn(name="Steak", price_cents=2000, category="Mains", station="grill", prep_minutes=12)
    )
    await place(store, grill["id"])
    cached = await kitchen_now(store)
    mine, _ = await services.create_order(
        store, OrderIn(customer_name="Bo", channel="counter", items=[{"menu_item_id": grill["id"], "quantity": 1}])
    )
    assert cached.ready_by(mine["id"]) is None and await kitchen_now(store) is cached, "the read is still fresh"
    estimate = await services.ready_estimate(store, mine)
    created = datetime.fromisoformat(mine["created_at"].replace("Z", "+00:00"))
    assert estimate.from_queue and estimate.ready_by is not None
    assert abs(estimate.ready_by - (created + timedelta(minutes=12))) < timedelta(seconds=1)


async def test_checkouts_quote_puts_a_new_order_behind_the_queue_plus_any_busy_delay(store: Store) -> None:
    await services.create_menu_item(
        store, MenuItemIn(name="Steak", price_cents=2000, category="Mains", station="grill", prep_minutes=12)
    )
    before = datetime.now(UTC)
    quoted = await services.quote_new(store, [("grill", 24, 12)])
    busy = await services.quote_new(store, [("grill", 24, 12)], busy=timedelta(minutes=20))
    assert quoted is not None and busy is not None and busy - quoted == timedelta(minutes=20)
    assert timedelta(minutes=12) <= quoted - before < timedelta(minutes=12, seconds=5), "no pace yet: its prep time"
    assert await services.quote_new(store, []) is None
