"""The store on a real SQLite file: settings, BEGIN IMMEDIATE, commit-then-emit, group commit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select, text, update

from forkflow import idempotency
from forkflow.config import Settings, sqlite_url
from forkflow.errors import Conflict, Invalid
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.schema import events, idempotency_keys, menu_items
from forkflow.services import create_menu_item, create_order, set_availability
from forkflow.services.orders import business_date
from forkflow.storage.units import Job
from forkflow.store import Store, Tx, migrations_head

from .conftest import BACKENDS, drop_postgres_database, new_postgres_database


@pytest.fixture
async def store(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """SQLite; tests marked `both` run on PostgreSQL too."""
    postgres = getattr(request, "param", "sqlite") == "postgres"
    url = new_postgres_database() if postgres else sqlite_url(tmp_path / "store.db")
    s = Store(Settings(database_url=url), Bus())
    await s.open()
    yield s
    await s.close()
    if postgres:
        drop_postgres_database(url)


both = pytest.mark.parametrize("store", BACKENDS, indirect=True)


async def _event_count(store: Store) -> int:
    async with store.read() as conn:
        return (await conn.execute(select(func.count()).select_from(events))).scalar_one()


async def _dish(store: Store, name: str = "Burger") -> dict:
    return await create_menu_item(store, MenuItemIn(name=name, price_cents=1000, category="Mains", station="grill"))


async def test_sqlite_is_set_up_for_a_busy_restaurant(store: Store) -> None:
    def read_pragmas(tx: Tx) -> dict[str, object]:
        names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        return {name: tx.conn.execute(text(f"PRAGMA {name}")).scalar_one() for name in names}

    pragmas = await store.write(read_pragmas)  # on the writer's own connection
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 10_000}
    async with store.read() as conn:
        assert (await conn.execute(text("PRAGMA query_only"))).scalar_one() == 1


async def test_write_transactions_begin_immediate(store: Store, tmp_path: Path) -> None:
    """A unit that has only read so far already holds the write lock: nobody can slip in between."""
    inside = threading.Event()
    release = threading.Event()

    def read_then_wait(tx: Tx) -> None:
        tx.conn.execute(select(func.count()).select_from(menu_items))
        inside.set()
        release.wait(10)

    unit = asyncio.create_task(store.write(read_then_wait))
    await asyncio.to_thread(inside.wait, 10)
    other = sqlite3.connect(tmp_path / "store.db", timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        # Reads never wait for the writer.
        assert other.execute("SELECT count(*) FROM menu_items").fetchone() == (0,)
        async with store.read() as conn:
            assert (await conn.execute(select(func.count()).select_from(menu_items))).scalar_one() == 0
    finally:
        release.set()
        await unit
        other.close()


@both
async def test_a_rolled_back_write_emits_nothing(store: Store) -> None:
    published = store.bus.subscribe()

    def emit_then_fail(tx: Tx) -> None:
        tx.conn.execute(
            insert(menu_items).values(
                name="Ghost",
                description="",
                price_cents=1,
                category="X",
                station="grill",
                available=True,
                created_at=tx.now,
                updated_at=tx.now,
            )
        )
        tx.emit("menu.created", {"name": "Ghost"})
        raise Conflict("changed my mind")

    with pytest.raises(Conflict):
        await store.write(emit_then_fail)
    assert await _event_count(store) == 0
    async with store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(menu_items))).scalar_one() == 0
    dish = await _dish(store)
    first = await asyncio.wait_for(anext(aiter(published)), 1)
    assert (first.type, first.payload) == ("menu.created", dish), "the failed unit published nothing"


@both
async def test_failed_validation_emits_nothing(store: Store) -> None:
    dish = await _dish(store)
    await set_availability(store, dish["id"], False)
    before = await _event_count(store)
    with pytest.raises(Conflict):
        await create_order(
            store, OrderIn(customer_name="A", channel="counter", items=[{"menu_item_id": dish["id"], "quantity": 1}])
        )
    with pytest.raises(Invalid):
        await create_order(
            store, OrderIn(customer_name="A", channel="counter", items=[{"menu_item_id": 999, "quantity": 1}])
        )
    assert await _event_count(store) == before
    assert store.bus.published == before


@both
async def test_group_commit_fails_only_the_failing_unit(store: Store) -> None:
    """Units queued together share one commit, but each is all-or-nothing on its own."""
    dish = await _dish(store)
    good = [
        create_order(
            store,
            OrderIn(customer_name=f"G{n}", channel="counter", items=[{"menu_item_id": dish["id"], "quantity": 1}]),
        )
        for n in range(20)
    ]
    bad = create_order(
        store, OrderIn(customer_name="Bad", channel="counter", items=[{"menu_item_id": 999, "quantity": 1}])
    )
    batches_before = store.writer.batches
    results = await asyncio.gather(*good[:10], bad, *good[10:], return_exceptions=True)
    assert isinstance(results[10], Invalid)
    made = [r for r in results if not isinstance(r, Exception)]
    assert len(made) == 20
    assert sorted(order["ticket_no"] for order, _ in made) == list(range(1, 21))
    assert store.writer.batches - batches_before < 21, "concurrent units were committed together"
    assert await _event_count(store) == 1 + 20


def _menu_row(tx: Tx, name: str) -> None:
    values = {"name": name, "description": "", "price_cents": 1, "category": "X", "station": "grill"}
    tx.conn.execute(insert(menu_items).values(**values, available=True, created_at=tx.now, updated_at=tx.now))
    tx.emit("menu.created", {"name": name})


async def test_a_batch_keeps_every_good_unit_and_nothing_of_a_failed_one(store: Store) -> None:
    """Units run bare until one fails; then the batch runs again with the failed ones skipped and
    savepoints after the first: whatever the positions of the failures, each unit is all-or-nothing."""
    runs: dict[str, int] = {}

    def good(name: str) -> Callable[[Tx], str]:
        def unit(tx: Tx) -> str:
            runs[name] = runs.get(name, 0) + 1
            _menu_row(tx, name)
            return name

        return unit

    def bad(name: str) -> Callable[[Tx], str]:
        def unit(tx: Tx) -> str:
            runs[name] = runs.get(name, 0) + 1
            _menu_row(tx, name)  # written, then the unit fails: must leave no trace
            raise Conflict(f"{name} changed its mind")

        return unit

    def flaky(tx: Tx) -> str:
        """Succeeds the first time, fails when run again: the batch must still hold together."""
        runs["flaky"] = runs.get("flaky", 0) + 1
        _menu_row(tx, "flaky")
        if runs["flaky"] > 1:
            raise Conflict("flaky failed the second time")
        return "flaky"

    units = [good("a"), flaky, bad("x"), good("b"), bad("y"), good("c")]
    published = store.bus.subscribe()
    jobs = [Job(unit, asyncio.get_running_loop().create_future()) for unit in units]
    with store.writer.engine.connect() as conn:
        outcomes = store.writer._commit(conn, jobs)
    results = [outcome.error if outcome.error else outcome.result for outcome in outcomes]
    assert results[0] == "a" and results[3] == "b" and results[5] == "c"
    assert all(isinstance(results[i], Conflict) for i in (1, 2, 4))
    assert runs["x"] == 1 and runs["y"] <= 2, "a failed unit is not run again bare"
    async with store.read() as conn:
        names = (await conn.execute(select(menu_items.c.name).order_by(menu_items.c.id))).scalars().all()
        event_names = [json.loads(p)["name"] for p in (await conn.execute(select(events.c.payload))).scalars()]
    assert names == ["a", "b", "c"]
    assert event_names == ["a", "b", "c"]
    assert [len(outcome.events) for outcome in outcomes] == [1, 0, 0, 1, 0, 1]
    for outcome in outcomes:
        for event in outcome.events:
            store.bus.publish(event)
    assert [json.loads(e.data)["name"] for e in [await anext(aiter(published)) for _ in range(3)]] == ["a", "b", "c"]


async def test_a_slow_listener_is_dropped_without_slowing_anyone(tmp_path: Path) -> None:
    settings = Settings(database_url=sqlite_url(tmp_path / "slow.db"), subscriber_queue_size=5)
    store = Store(settings, Bus(settings.subscriber_queue_size))
    await store.open()
    try:
        stuck = store.bus.subscribe()  # never reads
        keen = store.bus.subscribe()
        got: list[int] = []

        async def read_keen() -> None:
            async for event in keen:
                got.append(event.id)
                if len(got) == 20:
                    return

        reader = asyncio.create_task(read_keen())
        for n in range(20):
            await _dish(store, f"Dish {n}")
            await asyncio.sleep(0)
        await asyncio.wait_for(reader, 2)
        assert len(got) == 20
        assert stuck.dropped and not keen.dropped
        assert [e async for e in stuck] == [], "a dropped listener's stream ends; it replays on reconnect"
        assert store.bus.state()["dropped_subscribers"] == 1
    finally:
        await store.close()


def test_ticket_numbers_restart_at_the_start_of_the_service_day() -> None:
    settings = Settings(timezone=ZoneInfo("Europe/Paris"), day_starts_at=time(4, 0))
    late_night = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)  # 03:30 in Paris: still Saturday's service
    morning = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)  # 04:30 in Paris: Sunday
    assert business_date(late_night, settings) == "2026-02-28"
    assert business_date(morning, settings) == "2026-03-01"


async def test_migrations_are_applied_and_idempotent(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "fresh.db")
    for _ in range(2):
        s = Store(Settings(database_url=url), Bus())
        await s.migrate()
        async with s.read() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            tables = set((await conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))).scalars())
        await s.close()
    assert version == migrations_head()
    assert {"menu_items", "orders", "order_lines", "inventory", "events", "idempotency_keys"} <= tables
    assert {"recipe_lines", "stock_movements", "staff_sessions", "sign_in_attempts", "order_line_modifiers"} <= tables
    assert "menu_revision" in tables


@both
async def test_idempotency_keys_are_kept_a_day_then_purged(store: Store) -> None:
    dish = await _dish(store)
    body = OrderIn(customer_name="A", channel="counter", items=[{"menu_item_id": dish["id"], "quantity": 1}])
    old, _ = await create_order(store, body, "old-key")
    recent, _ = await create_order(store, body, "recent-key")

    def age_old_key(tx: Tx) -> None:
        tx.conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == "old-key")
            .values(created_at=datetime.now(UTC) - timedelta(hours=49))
        )

    await store.write(age_old_key)
    assert await store.write(idempotency.purge) == 1
    replay, replayed = await create_order(store, body, "recent-key")
    assert replayed and replay["id"] == recent["id"]
    fresh, replayed = await create_order(store, body, "old-key")
    assert not replayed and fresh["id"] != old["id"]


@both
async def test_a_snapshot_sees_one_moment(store: Store) -> None:
    await _dish(store, "Before")
    async with store.snapshot() as conn:
        count = select(func.count()).select_from(menu_items)
        assert (await conn.execute(count)).scalar_one() == 1
        await _dish(store, "During")  # committed by the writer meanwhile
        assert (await conn.execute(count)).scalar_one() == 1
        assert await store.last_event_id(conn) == 1
    assert await store.last_event_id() == 2


async def test_the_migrations_match_the_schema(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from forkflow.schema import metadata

    def diff(sync_conn) -> list:
        return compare_metadata(MigrationContext.configure(sync_conn), metadata)

    async with store.read() as conn:
        assert await conn.run_sync(diff) == []
