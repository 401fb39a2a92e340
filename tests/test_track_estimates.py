"""Tracking estimates (forkflow/services/estimates.py) on a real SQLite store: the median of the last
20 readied orders, the 15-minute default, what is left out, the short cache, and an order's
expected ready time."""

from __future__ import annotations

import gc
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.schema import orders
from forkflow.services.estimates import (
    DEFAULT_PREP,
    LOOK_BACK,
    MIN_SAMPLES,
    SAMPLE_SIZE,
    PrepTime,
    estimate_for,
    prep_time,
    typical_prep,
)
from forkflow.store import Store, Tx

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(Settings(database_url=sqlite_url(tmp_path / "estimates.db")), Bus())
    await s.open()
    yield s
    await s.close()


async def add_orders(store: Store, *orders_made: tuple[datetime, datetime | None, str]) -> None:
    """Orders as (placed, ready or None, status), written straight into the orders table."""

    def unit(tx: Tx) -> None:
        before = tx.conn.execute(select(func.count()).select_from(orders)).scalar_one()
        rows = [
            {
                "business_date": "2026-03-01",
                "ticket_no": before + n + 1,
                "customer_name": "Ada",
                "channel": "counter",
                "notes": "",
                "status": status,
                "total_cents": 100,
                "created_at": placed,
                "updated_at": ready or placed,
                "ready_at": ready,
                "tracking_token": secrets.token_urlsafe(24),
            }
            for n, (placed, ready, status) in enumerate(orders_made)
        ]
        tx.conn.execute(insert(orders), rows)

    await store.write(unit)


def ready_after(minutes: float, ready: datetime = NOON) -> tuple[datetime, datetime, str]:
    """An order that was ready at `ready`, `minutes` after it was placed."""
    return ready - timedelta(minutes=minutes), ready, "ready"


async def fresh(store: Store) -> PrepTime:
    return await prep_time(store, max_age=0)


# The default


async def test_with_no_history_the_estimate_is_fifteen_minutes(store: Store) -> None:
    prep = await fresh(store)
    assert prep == PrepTime(timedelta(minutes=15), 0) and prep.typical == DEFAULT_PREP
    assert not prep.from_history


async def test_fewer_than_three_readied_orders_are_not_history_enough(store: Store) -> None:
    await add_orders(store, ready_after(2), ready_after(3))
    assert await fresh(store) == PrepTime(DEFAULT_PREP, 0)
    await add_orders(store, ready_after(4))
    assert MIN_SAMPLES == 3 and await fresh(store) == PrepTime(timedelta(minutes=3), 3)


# The median of the last 20


async def test_the_estimate_is_the_median_of_the_last_twenty_readied_orders(store: Store) -> None:
    """Last by when they became ready, not by id: five long ones readied earlier but entered later
    are left out."""
    recent = [ready_after(minutes, NOON + timedelta(minutes=n)) for n, minutes in enumerate(range(5, 25))]
    earlier = [ready_after(60, NOON - timedelta(hours=1, minutes=n)) for n in range(5)]
    await add_orders(store, *recent)
    await add_orders(store, *earlier)
    prep = await fresh(store)
    assert SAMPLE_SIZE == 20 and prep.samples == 20 and prep.from_history
    assert prep.typical == timedelta(minutes=14, seconds=30), "the median of 5..24 minutes"


async def test_one_forgotten_ticket_does_not_swing_the_estimate(store: Store) -> None:
    await add_orders(store, ready_after(8), ready_after(9), ready_after(10), ready_after(11), ready_after(600))
    assert (await fresh(store)).typical == timedelta(minutes=10)


async def test_orders_not_ready_yet_and_cancelled_orders_are_left_out(store: Store) -> None:
    await add_orders(store, ready_after(6), ready_after(7), ready_after(8))
    dish = await services.create_menu_item(
        store, MenuItemIn(name="Soup", price_cents=500, category="Starters", station="cold")
    )
    body = OrderIn(customer_name="Bo", channel="counter", items=[{"menu_item_id": dish["id"], "quantity": 1}])
    waiting, _ = await services.create_order(store, body)
    cooking, _ = await services.create_order(store, body)
    await services.change_status(store, cooking["id"], "preparing")
    for moves in (["cancelled"], ["preparing", "cancelled"]):
        order, _ = await services.create_order(store, body)
        for status in moves:
            await services.change_status(store, order["id"], status)
    assert await fresh(store) == PrepTime(timedelta(minutes=7), 3)


async def test_a_readied_order_counts_from_when_it_was_placed_to_when_it_was_ready(store: Store) -> None:
    dish = await services.create_menu_item(
        store, MenuItemIn(name="Soup", price_cents=500, category="Starters", station="cold")
    )
    body = OrderIn(customer_name="Bo", channel="counter", items=[{"menu_item_id": dish["id"], "quantity": 1}])
    for _ in range(3):
        order, _ = await services.create_order(store, body)
        await services.change_status(store, order["id"], "preparing")
        await services.change_status(store, order["id"], "ready")
        await services.change_status(store, order["id"], "completed")  # completed orders still count
    prep = await fresh(store)
    assert prep.samples == 3 and prep.typical < timedelta(seconds=5), "made and readied just now"


async def test_only_the_newest_orders_are_looked_at(store: Store) -> None:
    """A bounded read: history older than the newest 500 orders is not searched for."""
    await add_orders(store, ready_after(6), ready_after(7), ready_after(8))
    assert (await fresh(store)).samples == 3
    await add_orders(store, *[(NOON, None, "new")] * LOOK_BACK)
    assert await fresh(store) == PrepTime(DEFAULT_PREP, 0)


def test_negative_durations_are_left_out_and_the_median_is_whole_seconds() -> None:
    skewed = [timedelta(seconds=s) for s in (-30, 61, 62, 64, 65)]
    assert typical_prep(skewed) == PrepTime(timedelta(seconds=63), 4)
    assert typical_prep([timedelta(seconds=s) for s in (10, 11, 12.6)]).typical == timedelta(seconds=11)
    assert typical_prep([timedelta(seconds=s) for s in (10, 11)]) == PrepTime(DEFAULT_PREP, 0)


# The cache


async def test_the_estimate_is_reused_for_a_few_seconds_then_read_again(store: Store) -> None:
    await add_orders(store, ready_after(6), ready_after(7), ready_after(8))
    first = await fresh(store)
    await add_orders(store, ready_after(30), ready_after(31))
    assert await prep_time(store) == first, "many trackers, one query"
    assert await prep_time(store, max_age=0) == PrepTime(timedelta(minutes=8), 5)


async def test_each_store_has_its_own_estimate(store: Store, tmp_path: Path) -> None:
    await add_orders(store, ready_after(6), ready_after(7), ready_after(8))
    assert (await fresh(store)).samples == 3
    for n in range(20):  # stores come and go (each test server, each app): none inherits another's
        other = Store(Settings(database_url=sqlite_url(tmp_path / f"other{n}.db")), Bus())
        await other.open()
        try:
            assert await prep_time(other) == PrepTime(DEFAULT_PREP, 0)
            await add_orders(other, ready_after(1), ready_after(1), ready_after(1))
            assert (await prep_time(other, max_age=0)).samples == 3  # cached, then the store goes
        finally:
            await other.close()
        del other
        gc.collect()


# An order's expected ready time


def order_placed(status: str, placed: datetime = NOON) -> dict[str, str]:
    return {"status": status, "created_at": placed.isoformat().replace("+00:00", "Z")}


def test_an_order_being_made_is_expected_when_placed_plus_the_typical_time() -> None:
    prep = PrepTime(timedelta(minutes=12), 20)
    for status in ("new", "preparing"):
        estimate = estimate_for(order_placed(status), prep, now=NOON + timedelta(minutes=5))
        assert estimate.ready_by == NOON + timedelta(minutes=12) and not estimate.overdue
        assert estimate.prep is prep


def test_an_order_is_overdue_from_its_expected_time_on() -> None:
    prep = PrepTime(DEFAULT_PREP, 0)
    assert estimate_for(order_placed("new"), prep, now=NOON + timedelta(minutes=15)).overdue
    assert not estimate_for(order_placed("new"), prep, now=NOON + timedelta(minutes=14, seconds=59)).overdue


def test_an_order_no_longer_being_made_has_no_expected_time() -> None:
    prep = PrepTime(timedelta(minutes=12), 20)
    for status in ("ready", "completed", "cancelled"):
        estimate = estimate_for(order_placed(status), prep, now=NOON + timedelta(hours=2))
        assert estimate.ready_by is None and not estimate.overdue
