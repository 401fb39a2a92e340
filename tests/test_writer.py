"""The single write path on a real SQLite file (forkflow/storage/sqlite.py and units.py): group
commit, all-or-nothing units, events published after the commit and in commit order, BEGIN
IMMEDIATE beside another writing connection, and shutdown.

Many tests hold the writer's thread inside a unit (a `Gate`) so that the units queued meanwhile
are known to be taken together in the next batch."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forkflow.config import Settings, sqlite_url
from forkflow.errors import StoreUnavailable
from forkflow.events import Bus, Event
from forkflow.storage.units import Job
from forkflow.store import Store, Tx

WAIT = 10  # seconds: only ever reached when a test is about to fail


async def open_store(path: Path, **settings: object) -> Store:
    s = Store(Settings(database_url=sqlite_url(path), **settings), Bus())
    await s.open()
    return s


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "writer.db")
    yield s
    await s.close()


def db_file(store: Store) -> Path:
    assert store.sqlite_file is not None
    return store.sqlite_file


@contextmanager
def outside(store: Store) -> Iterator[sqlite3.Connection]:
    """A connection of its own to the same file, as another process (the CLI, a backup) has."""
    conn = sqlite3.connect(db_file(store), timeout=WAIT, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def committed_names(store: Store) -> list[str]:
    """The menu rows another connection can see: only what is committed."""
    with outside(store) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM menu_items ORDER BY id")]


def dish(name: str) -> Callable[[Tx], str]:
    """A write unit: one menu row and its event; returns the name."""

    def unit(tx: Tx) -> str:
        tx.sql(
            "INSERT INTO menu_items (name, description, price_cents, category, station, available, created_at,"
            " updated_at) VALUES (?, '', 100, 'Mains', 'grill', 1, ?, ?)",
            (name, tx.stored_now, tx.stored_now),
        )
        tx.emit("menu.created", {"name": name})
        return name

    return unit


class Refused(Exception):
    pass


def failing(name: str) -> Callable[[Tx], str]:
    """A unit that writes its row and its event, then fails: none of it may remain."""

    def unit(tx: Tx) -> str:
        dish(name)(tx)
        raise Refused(name)

    return unit


class Gate:
    """A unit that holds the writer's thread until opened: what is queued meanwhile waits together."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.opened = threading.Event()

    def unit(self, tx: Tx) -> None:
        self.inside.set()
        if not self.opened.wait(WAIT):
            raise TimeoutError("the gate was never opened")

    async def hold(self, store: Store) -> asyncio.Task[None]:
        """Send the gate's unit and return once the writer's thread is inside it."""
        task = asyncio.create_task(store.write(self.unit))
        assert await asyncio.to_thread(self.inside.wait, WAIT)
        return task


async def queue_units(store: Store, units: list[Callable[[Tx], object]]) -> list[asyncio.Task[object]]:
    """Hand `units` to the writer and return once all of them are queued."""
    before = store.writer.queued
    tasks = [asyncio.create_task(store.write(unit)) for unit in units]
    while store.writer.queued < before + len(units):
        await asyncio.sleep(0)
    return tasks


# Group commit


async def test_units_queued_together_commit_together_in_one_transaction(store: Store) -> None:
    """Nothing of a batch is visible to anyone until the whole batch commits."""
    gate, last = Gate(), Gate()

    def last_unit(tx: Tx) -> str:
        dish("last")(tx)
        last.unit(tx)
        return "last"

    holding = await gate.hold(store)
    batches = store.writer.batches
    tasks = await queue_units(store, [dish(f"dish {n}") for n in range(9)] + [last_unit])
    gate.opened.set()
    await holding
    assert await asyncio.to_thread(last.inside.wait, WAIT)
    assert committed_names(store) == [], "nine units ran, but their batch has not committed yet"
    last.opened.set()
    assert await asyncio.gather(*tasks) == [*(f"dish {n}" for n in range(9)), "last"]
    assert committed_names(store) == [*(f"dish {n}" for n in range(9)), "last"]
    assert store.writer.batches - batches == 2, "the gate's batch, then one for all ten"


async def test_a_batch_takes_at_most_max_batch_units(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "small.db", max_batch=4)
    try:
        gate = Gate()
        holding = await gate.hold(store)
        batches = store.writer.batches
        tasks = await queue_units(store, [dish(f"dish {n}") for n in range(10)])
        gate.opened.set()
        await asyncio.gather(holding, *tasks)
        assert store.writer.batches - batches == 1 + 3, "10 units in batches of 4, 4 and 2"
        assert len(committed_names(store)) == 10
    finally:
        await store.close()


async def test_a_unit_alone_is_committed_without_waiting_for_company(store: Store) -> None:
    assert await asyncio.wait_for(store.write(dish("alone")), WAIT) == "alone"
    assert committed_names(store) == ["alone"]


# All-or-nothing units


async def test_a_failing_unit_rolls_back_alone_and_its_caller_gets_its_own_error(store: Store) -> None:
    published = store.bus.subscribe()
    gate = Gate()
    holding = await gate.hold(store)
    units = [dish("a"), failing("x"), dish("b"), failing("y"), dish("c")]
    tasks = await queue_units(store, units)
    gate.opened.set()
    await holding
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0::2] == ["a", "b", "c"]
    assert [type(r) for r in results[1::2]] == [Refused, Refused]
    assert [str(r) for r in results[1::2]] == ["x", "y"], "each failed caller gets its own exception"
    assert committed_names(store) == ["a", "b", "c"]
    with outside(store) as conn:
        stored = [json.loads(p)["name"] for (p,) in conn.execute("SELECT payload FROM events ORDER BY id")]
    assert stored == ["a", "b", "c"], "a failed unit's events are rolled back with it"
    assert [e.payload["name"] for e in [await anext(aiter(published)) for _ in range(3)]] == ["a", "b", "c"]
    assert published.idle, "and never published"


async def test_a_unit_that_fails_before_writing_leaves_the_next_units_intact(store: Store) -> None:
    def fails_at_once(tx: Tx) -> None:
        raise Refused("at once")

    gate = Gate()
    holding = await gate.hold(store)
    tasks = await queue_units(store, [fails_at_once, dish("after")])
    gate.opened.set()
    await holding
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], Refused) and results[1] == "after"
    assert committed_names(store) == ["after"]


async def test_a_commit_the_database_refuses_fails_its_batch_and_the_writer_carries_on(store: Store) -> None:
    """A constraint checked only at COMMIT fails the whole transaction: every unit in it is answered
    503 (nothing of it is written), and the next write gets a fresh connection and succeeds."""

    def dangling_key(tx: Tx) -> None:
        tx.sql("PRAGMA defer_foreign_keys=ON")  # the foreign key is checked at commit, not here
        tx.sql("INSERT INTO idempotency_keys VALUES ('k', 'h', 12345, ?)", (tx.stored_now,))

    gate = Gate()
    holding = await gate.hold(store)
    tasks = await queue_units(store, [dish("before"), dangling_key, dish("after")])
    gate.opened.set()
    await holding
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert committed_names(store) == []
    assert await store.write(dish("next")) == "next"
    assert committed_names(store) == ["next"]


# Events: after the commit, in commit order


async def test_events_are_published_only_after_their_unit_commits(store: Store) -> None:
    published = store.bus.subscribe()
    gate = Gate()

    def emit_then_wait(tx: Tx) -> str:
        dish("soup")(tx)
        gate.unit(tx)
        return "soup"

    unit = asyncio.create_task(store.write(emit_then_wait))
    assert await asyncio.to_thread(gate.inside.wait, WAIT)
    await asyncio.sleep(0.05)  # give a wrong early publication the chance to show
    assert published.idle and store.bus.published == 0, "emitted, but not committed: not published"
    gate.opened.set()
    assert await unit == "soup"
    assert not published.idle, "the caller is answered after its events are out"
    event = await anext(aiter(published))
    with outside(store) as conn:
        row = conn.execute("SELECT type, topic, payload FROM events WHERE id = ?", (event.id,)).fetchone()
    assert row == ("menu.created", "menu", event.data), "a published event is already in the table"
    assert committed_names(store) == ["soup"]


async def test_events_are_published_in_commit_order(store: Store) -> None:
    published = store.bus.subscribe()

    def two_events(n: int) -> Callable[[Tx], list[int]]:
        def unit(tx: Tx) -> list[int]:
            return [tx.emit("menu.updated", {"id": n, "part": part}).id for part in (1, 2)]

        return unit

    gate = Gate()
    holding = await gate.hold(store)
    first = await queue_units(store, [two_events(n) for n in range(20)])
    gate.opened.set()
    later = []
    for n in range(20, 40):  # while the first twenty commit: in batches of their own
        later.append(asyncio.create_task(store.write(two_events(n))))
        await asyncio.sleep(0.001)
    await holding
    ids = [i for unit_ids in await asyncio.gather(*first, *later) for i in unit_ids]
    received = [await anext(aiter(published)) for _ in range(80)]
    assert [e.id for e in received] == sorted(e.id for e in received), "ids only grow"
    assert sorted(ids) == [e.id for e in received]
    with outside(store) as conn:
        table = [i for (i,) in conn.execute("SELECT id FROM events ORDER BY id")]
    assert table == [e.id for e in received], "the stream and the table agree"
    pairs = [(e.payload["id"], e.payload["part"]) for e in received]
    assert all(pairs[i][0] == pairs[i + 1][0] for i in range(0, 80, 2)), "a unit's events stay together"
    assert [n for n, part in pairs if part == 1][:20] == list(range(20)), "a batch publishes in queue order"


async def test_an_emitted_event_is_its_stored_row(store: Store) -> None:
    def unit(tx: Tx) -> tuple[Event, Event]:
        return tx.emit("order.created", {"id": 7, "name": "Zoë"}), tx.emit("auth.staff_changed", {"staff_id": 2})

    order, auth = await store.write(unit)
    assert order.id < auth.id and order.created_at == auth.created_at, "one unit, one clock"
    assert order.created_at.tzinfo is not None and abs(datetime.now(UTC) - order.created_at).total_seconds() < 5
    assert order.subject_id == 7 and auth.subject_id is None
    with outside(store) as conn:
        rows = conn.execute("SELECT id, type, topic, payload FROM events ORDER BY id").fetchall()
    assert rows == [
        (order.id, "order.created", "orders", '{"id":7,"name":"Zoë"}'),
        (auth.id, "auth.staff_changed", "auth", '{"staff_id":2}'),
    ]
    assert store.bus.last_event_id == auth.id


# A caller that went away


async def test_a_unit_whose_caller_went_away_before_its_turn_is_not_run(store: Store) -> None:
    ran = threading.Event()

    def unit(tx: Tx) -> None:
        ran.set()
        dish("abandoned")(tx)

    gate = Gate()
    holding = await gate.hold(store)
    (abandoned,) = await queue_units(store, [unit])
    abandoned.cancel()  # the client disconnected while its order waited
    await asyncio.sleep(0)
    gate.opened.set()
    await holding
    assert await store.write(dish("next")) == "next"
    assert not ran.is_set() and committed_names(store) == ["next"]


# BEGIN IMMEDIATE beside another writing connection


async def test_no_database_is_locked_while_another_connection_writes(store: Store) -> None:
    """Each unit reads, then writes. In a deferred transaction that is SQLite's `database is locked`
    at once whenever another connection committed in between; BEGIN IMMEDIATE takes the write lock
    first and waits its turn (busy timeout) instead."""

    def read_then_write(n: int) -> Callable[[Tx], int]:
        def unit(tx: Tx) -> int:
            count = tx.sql("SELECT count(*) FROM menu_items").fetchone()[0]
            dish(f"ours {n}")(tx)
            return count

        return unit

    started = threading.Event()

    def other_writer() -> None:
        """Another process's writes (the CLI's, say): short transactions holding the lock a while."""
        with outside(store) as conn:
            for n in range(40):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO menu_items (name, description, price_cents, category, station, available,"
                    " created_at, updated_at) VALUES (?, '', 1, 'X', 'bar', 1, '2026-01-01', '2026-01-01')",
                    (f"theirs {n}",),
                )
                time.sleep(0.005)
                conn.execute("COMMIT")
                started.set()
                time.sleep(0.005)

    other = asyncio.create_task(asyncio.to_thread(other_writer))
    assert await asyncio.to_thread(started.wait, WAIT)
    ours = 20
    await asyncio.gather(*(store.write(read_then_write(n)) for n in range(ours)))  # a batch
    while not other.done():  # and one at a time, each its own transaction, for as long as they write
        await store.write(read_then_write(ours))
        ours += 1
    await other
    names = committed_names(store)
    assert sum(name.startswith("theirs") for name in names) == 40
    assert sum(name.startswith("ours") for name in names) == ours > 20, "every unit committed"


async def test_a_unit_holds_the_write_lock_from_its_first_statement(store: Store) -> None:
    gate = Gate()
    holding = await gate.hold(store)  # has run no statement at all yet
    conn = sqlite3.connect(db_file(store), timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            conn.execute("BEGIN IMMEDIATE")
        assert conn.execute("SELECT count(*) FROM menu_items").fetchone() == (0,), "reads never wait"
    finally:
        gate.opened.set()
        await holding
        conn.close()


# Shutdown


async def test_stopping_answers_every_unit_queued_before_it(store: Store) -> None:
    published = store.bus.subscribe()
    gate = Gate()
    holding = await gate.hold(store)
    tasks = await queue_units(store, [dish(f"dish {n}") for n in range(5)])
    stopping = asyncio.create_task(store.writer.stop())
    await asyncio.sleep(0)
    with pytest.raises(StoreUnavailable, match="not running"):
        await store.write(dish("too late"))
    gate.opened.set()
    await asyncio.wait_for(stopping, WAIT)
    await holding
    assert await asyncio.gather(*tasks) == [f"dish {n}" for n in range(5)]
    assert committed_names(store) == [f"dish {n}" for n in range(5)]
    assert len([await anext(aiter(published)) for _ in range(5)]) == 5


async def test_a_unit_that_reaches_the_queue_after_the_stop_is_refused_not_dropped(tmp_path: Path) -> None:
    """Only a unit handed over from another thread could land behind the stop marker, and in a
    batch of its own (here every batch is one unit): it is answered 503, never left waiting."""
    store = await open_store(tmp_path / "late.db", max_batch=1)
    try:
        gate = Gate()
        holding = await gate.hold(store)
        stopping = asyncio.create_task(store.writer.stop())
        while store.writer.queued < 1:  # the stop marker is queued
            await asyncio.sleep(0)
        late = Job(dish("late"), asyncio.get_running_loop().create_future())
        store.writer._jobs.put(late)
        gate.opened.set()
        await asyncio.wait_for(stopping, WAIT)
        await holding
        with pytest.raises(StoreUnavailable, match="shutting down"):
            await asyncio.wait_for(late.future, WAIT)
        assert committed_names(store) == []
    finally:
        await store.close()


async def test_a_writer_that_was_never_started_refuses_writes(tmp_path: Path) -> None:
    store = Store(Settings(database_url=sqlite_url(tmp_path / "closed.db")), Bus())
    with pytest.raises(StoreUnavailable):
        await store.write(dish("nope"))
    await store.close()
