"""The order writer's menu cache (issue 14's benchmark): the menu's revision (migration 0010) moves
at every change to dishes, groups, options and options' recipes, whoever makes it, and not for an
order; an order
after a change sees it at once (86, price, a direct UPDATE from another connection); a rolled-back
transaction or savepoint leaves no rows behind that a later revision could match."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from forkflow.config import Settings, sqlite_url
from forkflow.errors import Conflict
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.services import create_menu_item, create_order, set_option_availability
from forkflow.services.orders import _ordered_menu
from forkflow.storage.postgres import driver_dsn
from forkflow.storage.sqlite import _make_write_engine
from forkflow.storage.units import Job
from forkflow.store import Store, Tx, _alembic_config

from .conftest import BACKENDS, drop_postgres_database, new_postgres_database, on_both_backends
from .test_modifiers import BURGER, _option

MEDIUM = ("Doneness", "Medium")
BACON = ("Add-ons", "Bacon")


def _body(burger: dict[str, Any], *options: tuple[str, str]) -> dict[str, Any]:
    modifiers = [_option(burger, group, name)["id"] for group, name in options]
    return {
        "customer_name": "Ada",
        "channel": "counter",
        "items": [{"menu_item_id": burger["id"], "quantity": 1, "modifiers": modifiers}],
    }


# Through the server, as the till and the shop order


@on_both_backends
def test_an_86_or_a_price_change_reaches_the_next_order_at_once(client: httpx.Client) -> None:
    burger = client.post("/menu", json=BURGER).json()
    bacon = _option(burger, *BACON)
    first = client.post("/orders", json=_body(burger, MEDIUM, BACON))
    assert first.status_code == 201, first.text
    assert first.json()["total_cents"] == 1500 + 200

    off = client.put(f"/menu/{burger['id']}/options/{bacon['id']}/availability", json={"available": False})
    assert off.status_code == 200, off.text
    refused = client.post("/orders", json=_body(burger, MEDIUM, BACON))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["fields"] == {"items.0.modifiers.1": "not available"}
    assert client.put(f"/menu/{burger['id']}/options/{bacon['id']}/availability", json={"available": True}).is_success
    assert client.post("/orders", json=_body(burger, MEDIUM, BACON)).status_code == 201

    edited = {key: value for key, value in burger.items() if key in BURGER} | {"price_cents": 1700}
    for group in edited["modifier_groups"]:
        for option in group["options"]:
            option.pop("recipe", None)
            if option["name"] == "Bacon":
                option["price_cents"] = 250
    assert client.put(f"/menu/{burger['id']}", json=edited).status_code == 200
    repriced = client.post("/orders", json=_body(burger, MEDIUM, BACON))
    assert repriced.status_code == 201, repriced.text
    assert repriced.json()["total_cents"] == 1700 + 250

    client.put(f"/menu/{burger['id']}/availability", json={"available": False})
    assert client.post("/orders", json=_body(burger, MEDIUM)).status_code == 409


@on_both_backends
def test_a_change_made_behind_the_servers_back_is_seen_by_the_next_order(client: httpx.Client, server: Any) -> None:
    """As the command line, another worker or a manual fix in the database would make it."""
    burger = client.post("/menu", json=BURGER).json()
    bacon = _option(burger, *BACON)
    assert client.post("/orders", json=_body(burger, MEDIUM, BACON)).json()["total_cents"] == 1700
    server.execute("UPDATE modifier_options SET price_cents = 300 WHERE id = ?", bacon["id"])
    assert client.post("/orders", json=_body(burger, MEDIUM, BACON)).json()["total_cents"] == 1800
    server.execute("UPDATE menu_items SET price_cents = 1000 WHERE id = ?", burger["id"])
    assert client.post("/orders", json=_body(burger, MEDIUM, BACON)).json()["total_cents"] == 1300
    server.execute("UPDATE modifier_options SET available = ? WHERE id = ?", False, bacon["id"])
    assert client.post("/orders", json=_body(burger, MEDIUM, BACON)).status_code == 409
    server.execute("DELETE FROM modifier_options WHERE id = ?", bacon["id"])
    assert client.post("/orders", json=_body(burger, MEDIUM)).status_code == 201
    stale = _body(burger, MEDIUM)
    stale["items"][0]["modifiers"].append(bacon["id"])
    refused = client.post("/orders", json=stale)
    assert refused.status_code == 422, refused.text
    assert "items.0.modifiers.1" in refused.json()["error"]["fields"]


@on_both_backends
def test_an_option_given_a_recipe_behind_the_servers_back_takes_stock_at_the_next_order(
    client: httpx.Client, server: Any
) -> None:
    """The cache knows which options take stock (orders skip the query for the others)."""
    burger = client.post("/menu", json=BURGER).json()
    bacon = _option(burger, *BACON)
    stock = client.post("/inventory", json={"item_name": "Bacon", "quantity": 10, "unit": "piece"}).json()
    assert client.post("/orders", json=_body(burger, MEDIUM, BACON)).status_code == 201
    assert client.get(f"/inventory/{stock['id']}").json()["quantity"] == 10
    server.execute(
        "INSERT INTO option_recipe_lines (option_id, inventory_id, quantity_milli) VALUES (?, ?, 2000)",
        bacon["id"],
        stock["id"],
    )
    assert client.post("/orders", json=_body(burger, MEDIUM, BACON)).status_code == 201
    assert client.get(f"/inventory/{stock['id']}").json()["quantity"] == 8
    server.execute("DELETE FROM option_recipe_lines WHERE option_id = ?", bacon["id"])
    assert client.post("/orders", json=_body(burger, MEDIUM, BACON)).status_code == 201
    assert client.get(f"/inventory/{stock['id']}").json()["quantity"] == 8


# In the process, on the write path itself


@pytest.fixture
async def store(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    postgres = request.param == "postgres"
    url = new_postgres_database() if postgres else sqlite_url(tmp_path / "store.db")
    s = Store(Settings(database_url=url), Bus())
    await s.open()
    yield s
    await s.close()
    if postgres:
        drop_postgres_database(url)


both = pytest.mark.parametrize("store", BACKENDS, indirect=True)


async def _outside(store: Store, statement: str, *parameters: Any) -> Any:
    """Plain SQL (`?`) on a connection of its own, committed: not the write path's."""
    url = store.settings.database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as db:
            return db.execute(statement, parameters).fetchall()
    for i in range(1, len(parameters) + 1):
        statement = statement.replace("?", f"${i}", 1)
    conn = await asyncpg.connect(driver_dsn(url))
    try:
        return [tuple(row) for row in await conn.fetch(statement, *parameters)]
    finally:
        await conn.close()


async def _revision(store: Store) -> int:
    return int((await _outside(store, "SELECT revision FROM menu_revision"))[0][0])


async def _run_batch(store: Store, units: list[Callable[[Tx], Any]]) -> list[Any]:
    """Run `units` as one batch of the store's write path (its cache with them), on a connection of
    the test's own; each unit's result or error."""
    jobs = [Job(unit, asyncio.get_running_loop().create_future()) for unit in units]
    if store.settings.database_url.startswith("sqlite"):
        engine = _make_write_engine(store.settings.database_url)
        try:
            with engine.connect() as conn:
                outcomes = store.writer._commit(conn, jobs)  # type: ignore[attr-defined]
        finally:
            engine.dispose()
    else:
        async with store.writer.engine.connect() as conn:  # type: ignore[attr-defined]
            outcomes = await conn.run_sync(store.writer._commit, jobs)  # type: ignore[attr-defined]
    return [outcome.error or outcome.result for outcome in outcomes]


def _order(burger: dict[str, Any], *options: tuple[str, str]) -> OrderIn:
    return OrderIn.model_validate(_body(burger, *options))


@both
async def test_the_revision_moves_with_the_menu_and_not_with_orders(store: Store) -> None:
    before = await _revision(store)
    burger = await create_menu_item(store, MenuItemIn.model_validate(BURGER))
    made = await _revision(store)
    assert made > before
    for _ in range(3):
        await create_order(store, _order(burger, MEDIUM, BACON))
    assert await _revision(store) == made, "an order (and its stock check) leaves the menu as it was"
    await set_option_availability(store, burger["id"], _option(burger, *BACON)["id"], False)
    assert await _revision(store) > made


@both
@pytest.mark.parametrize("guarded", [False, True], ids=["bare", "in a savepoint"])
async def test_a_rolled_back_unit_leaves_no_menu_rows_in_the_cache(store: Store, guarded: bool) -> None:
    """A unit changes the menu, reads it for an order, then fails: the menu it read was never
    committed, though the next committed change brings the counter to the very same number."""
    burger = await create_menu_item(store, MenuItemIn.model_validate(BURGER))
    bacon = _option(burger, *BACON)["id"]
    order = _order(burger, MEDIUM, BACON)
    assert (await create_order(store, order))[0]["total_cents"] == 1700  # the cache holds the burger

    def changes_then_fails(tx: Tx) -> None:
        tx.sql("UPDATE modifier_options SET price_cents = 999 WHERE id = ?", (bacon,))
        dishes = _ordered_menu(tx, order)
        assert [o.price_cents for o in dishes[burger["id"]].options if o.id == bacon] == [999]
        raise Conflict("changed its mind")

    def fails_first(tx: Tx) -> None:
        raise Conflict("fails before anything")

    units = [fails_first, changes_then_fails] if guarded else [changes_then_fails]
    results = await _run_batch(store, units)
    assert all(isinstance(result, Conflict) for result in results)

    await _outside(store, "UPDATE modifier_options SET price_cents = 500 WHERE id = ?", bacon)
    assert (await create_order(store, order))[0]["total_cents"] == 1500 + 500


@both
async def test_orders_in_the_batch_after_a_menu_change_see_it(store: Store) -> None:
    burger = await create_menu_item(store, MenuItemIn.model_validate(BURGER))
    bacon = _option(burger, *BACON)["id"]
    order = _order(burger, MEDIUM, BACON)
    await create_order(store, order)

    def reprice(tx: Tx) -> None:
        tx.sql("UPDATE modifier_options SET price_cents = 400 WHERE id = ?", (bacon,))

    def priced(tx: Tx) -> int:
        dishes = _ordered_menu(tx, order)
        return next(o.price_cents for o in dishes[burger["id"]].options if o.id == bacon)

    assert await _run_batch(store, [priced, reprice, priced]) == [200, None, 400]
    assert (await create_order(store, order))[0]["total_cents"] == 1900


async def test_migration_0010_counts_menu_changes_and_goes_back(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0009")
        conn.execute(
            sa.text(
                "INSERT INTO menu_items (id, name, description, price_cents, category, station, available, "
                "switched_off, created_at, updated_at, position, allergens, dietary) "
                "VALUES (1, 'Burger', '', 1500, 'Mains', 'grill', 1, 0, :t, :t, 0, '', '')"
            ),
            {"t": "2026-01-01 12:00:00.000000"},
        )
        command.upgrade(_alembic_config(conn), "0010")

    def revision() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT revision FROM menu_revision")).scalar_one())

    assert revision() == 0
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET price_cents = 1600"))
        conn.execute(
            sa.text(
                "INSERT INTO modifier_groups (id, menu_item_id, name, position, min_choices, max_choices) "
                "VALUES (1, 1, 'Doneness', 0, 1, 1)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO modifier_options (id, group_id, name, position, price_cents, allergens, available, "
                "switched_off) VALUES (1, 1, 'Medium', 0, 0, '', 1, 0)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO inventory (id, item_name, unit, quantity_milli, last_updated) "
                "VALUES (1, 'Salt', 'kg', 0, '2026-01-01 12:00:00.000000')"
            )
        )
        conn.execute(sa.text("INSERT INTO option_recipe_lines VALUES (1, 1, 5)"))
        conn.execute(sa.text("DELETE FROM option_recipe_lines"))
        conn.execute(sa.text("DELETE FROM modifier_options"))
    assert revision() == 6
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0009")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET price_cents = 1700"))  # no trigger, no table left
        assert conn.execute(sa.text("SELECT name FROM sqlite_master WHERE name LIKE '%menu_revision%'")).all() == []
    engine.dispose()
