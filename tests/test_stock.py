"""Stock that runs the menu: recipes, stock taken by orders, automatic 86, restock, movements."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from forkflow.config import Settings, sqlite_url
from forkflow.errors import Conflict, ServiceError
from forkflow.events import Bus
from forkflow.models import InventoryIn, InventoryPatch, MenuItemIn, OrderIn, RecipeIn
from forkflow.schema import inventory, stock_movements
from forkflow.services import (
    change_inventory_item,
    change_status,
    create_inventory_item,
    create_menu_item,
    create_order,
    get_menu_item,
    get_recipe,
    list_movements,
    list_recipes,
    set_availability,
    set_recipe,
)
from forkflow.store import Store

from .conftest import BACKENDS, Server, drop_postgres_database, new_postgres_database, on_both_backends
from .sse import Listener


@pytest.fixture(params=BACKENDS)
async def store(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    url = new_postgres_database() if request.param == "postgres" else sqlite_url(tmp_path / "stock.db")
    s = Store(Settings(database_url=url), Bus())
    await s.open()
    yield s
    await s.close()
    if request.param == "postgres":
        drop_postgres_database(url)


BURGER = MenuItemIn(name="Burger", price_cents=1200, category="Mains", station="grill")
FRIES = MenuItemIn(name="Fries", price_cents=400, category="Sides", station="fry")


async def _burger_kitchen(store: Store, buns: int = 10, patties: int = 10, cheese_g: int = 1000) -> dict:
    """A burger (1 bun, 1 patty, 30 g cheese) and fries (no recipe)."""
    burger = await create_menu_item(
        store, MenuItemIn(name="Burger", price_cents=1200, category="Mains", station="grill")
    )
    fries = await create_menu_item(store, MenuItemIn(name="Fries", price_cents=400, category="Sides", station="fry"))
    bun = await create_inventory_item(store, InventoryIn(item_name="Bun", quantity=buns, unit="pcs"))
    patty = await create_inventory_item(store, InventoryIn(item_name="Patty", quantity=patties, unit="pcs"))
    cheese = await create_inventory_item(store, InventoryIn(item_name="Cheese", quantity=cheese_g / 1000, unit="kg"))
    recipe = [
        {"inventory_id": bun["id"], "quantity": 1},
        {"inventory_id": patty["id"], "quantity": 1},
        {"inventory_id": cheese["id"], "quantity": Decimal("0.03")},
    ]
    await set_recipe(store, burger["id"], RecipeIn(ingredients=recipe))
    return {"burger": burger, "fries": fries, "bun": bun, "patty": patty, "cheese": cheese}


def _order(*lines: tuple[dict, int]) -> OrderIn:
    items = [{"menu_item_id": item["id"], "quantity": quantity} for item, quantity in lines]
    return OrderIn(customer_name="Ada", channel="counter", items=items)


async def _quantities(store: Store) -> dict[str, int]:
    async with store.read() as conn:
        rows = await conn.execute(select(inventory.c.item_name, inventory.c.quantity_milli))
        return {name: quantity for name, quantity in rows.all()}


async def test_an_order_takes_its_recipe_off_stock_and_records_it(store: Store) -> None:
    k = await _burger_kitchen(store)
    order, _ = await create_order(store, _order((k["burger"], 2), (k["fries"], 1)))
    assert await _quantities(store) == {"Bun": 8000, "Patty": 8000, "Cheese": 940}
    moves = await list_movements(store, k["cheese"]["id"])
    assert [(m["kind"], m["delta"], m["quantity"], m["order_id"]) for m in moves] == [
        ("order", -0.06, 0.94, order["id"]),
        ("count", 1, 1, None),
    ]


async def test_an_order_stock_cannot_cover_is_refused_naming_what_ran_out_and_takes_nothing(store: Store) -> None:
    k = await _burger_kitchen(store, buns=5, patties=2)
    before = await _quantities(store)
    with pytest.raises(Conflict) as refused:
        await create_order(store, _order((k["burger"], 3)))
    assert "Patty (needs 3 pcs, 2 left)" in refused.value.message
    assert "Bun" not in refused.value.message
    assert refused.value.extra["out_of_stock"] == [{"item_name": "Patty", "unit": "pcs", "needed": 3, "left": 2}]
    assert await _quantities(store) == before
    async with store.read() as conn:
        orders_made = (await conn.execute(select(func.count()).select_from(stock_movements))).scalar_one()
    assert orders_made == 3, "only the three opening counts"


async def test_the_last_portion_86s_the_item_and_a_restock_brings_it_back(store: Store) -> None:
    k = await _burger_kitchen(store, buns=2)
    listener = store.bus.subscribe({"menu"})
    await create_order(store, _order((k["burger"], 1)))
    assert (await get_menu_item(store, k["burger"]["id"]))["available"] is True
    await create_order(store, _order((k["burger"], 1)))  # the last bun
    burger = await get_menu_item(store, k["burger"]["id"])
    assert (burger["available"], burger["switched_off"]) == (False, False)
    with pytest.raises(Conflict):
        await create_order(store, _order((k["burger"], 1)))
    await change_inventory_item(store, k["bun"]["id"], InventoryPatch(delta=24))
    assert (await get_menu_item(store, k["burger"]["id"]))["available"] is True
    seen = [await asyncio.wait_for(anext(aiter(listener)), 1) for _ in range(2)]
    assert [(e.type, e.payload["available"]) for e in seen] == [
        ("menu.availability", False),
        ("menu.availability", True),
    ]
    moves = await list_movements(store, k["bun"]["id"])
    assert moves[0]["kind"] == "restock" and moves[0]["delta"] == 24


async def test_a_manual_86_survives_a_restock_until_a_manager_switches_it_on(store: Store) -> None:
    k = await _burger_kitchen(store, buns=1)
    await set_availability(store, k["burger"]["id"], False)
    await change_inventory_item(store, k["bun"]["id"], InventoryPatch(delta=50))
    burger = await get_menu_item(store, k["burger"]["id"])
    assert (burger["available"], burger["switched_off"]) == (False, True)
    await create_order(store, _order((k["fries"], 1)))
    with pytest.raises(Conflict):
        await create_order(store, _order((k["burger"], 1)))
    burger = await set_availability(store, k["burger"]["id"], True)
    assert (burger["available"], burger["switched_off"]) == (True, False)


async def test_switching_on_an_item_stock_cannot_cover_keeps_it_sold_out_until_restocked(store: Store) -> None:
    k = await _burger_kitchen(store, patties=0)
    burger = await get_menu_item(store, k["burger"]["id"])
    assert burger["available"] is False, "a recipe stock cannot cover sells the item out at once"
    burger = await set_availability(store, k["burger"]["id"], True)
    assert (burger["available"], burger["switched_off"]) == (False, False)
    await change_inventory_item(store, k["patty"]["id"], InventoryPatch(quantity=10))
    assert (await get_menu_item(store, k["burger"]["id"]))["available"] is True


async def test_cancelling_a_new_order_puts_its_stock_back_and_un_86s(store: Store) -> None:
    k = await _burger_kitchen(store, buns=3)
    order, _ = await create_order(store, _order((k["burger"], 3)))
    assert (await get_menu_item(store, k["burger"]["id"]))["available"] is False
    await change_status(store, order["id"], "cancelled")
    assert await _quantities(store) == {"Bun": 3000, "Patty": 10000, "Cheese": 1000}
    assert (await get_menu_item(store, k["burger"]["id"]))["available"] is True
    kinds = [m["kind"] for m in await list_movements(store, k["bun"]["id"])]
    assert kinds == ["cancel", "order", "count"]


async def test_cancelling_an_order_already_being_cooked_keeps_its_stock_used(store: Store) -> None:
    k = await _burger_kitchen(store)
    order, _ = await create_order(store, _order((k["burger"], 2)))
    await change_status(store, order["id"], "preparing")
    await change_status(store, order["id"], "cancelled")
    assert (await _quantities(store))["Bun"] == 8000


async def test_falling_to_the_low_stock_level_emits_inventory_low_once(store: Store) -> None:
    k = await _burger_kitchen(store, buns=5)
    await change_inventory_item(store, k["bun"]["id"], InventoryPatch(low_stock=3))
    listener = store.bus.subscribe({"inventory"})
    for _ in range(4):  # 5 -> 1: crosses 3 once
        await create_order(store, _order((k["burger"], 1)))
    types = []
    while not listener.idle:
        types.append((await anext(aiter(listener))).type)
    assert types.count("inventory.low") == 1


async def test_a_recipe_names_real_stock_once(store: Store) -> None:
    k = await _burger_kitchen(store)
    with pytest.raises(ServiceError) as unknown:
        await set_recipe(store, k["fries"]["id"], RecipeIn(ingredients=[{"inventory_id": 999, "quantity": 1}]))
    assert unknown.value.status == 422
    with pytest.raises(ValueError):
        RecipeIn(ingredients=[{"inventory_id": 1, "quantity": 1}, {"inventory_id": 1, "quantity": 2}])
    with pytest.raises(ValueError):
        RecipeIn(ingredients=[{"inventory_id": 1, "quantity": 0}])


async def test_every_recipe_is_read_in_one_statement_as_each_reads_alone(store: Store) -> None:
    k = await _burger_kitchen(store)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(store.read_engine.sync_engine, "before_cursor_execute", count)
    try:
        recipes = await list_recipes(store)
    finally:
        event.remove(store.read_engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert recipes == {k["burger"]["id"]: (await get_recipe(store, k["burger"]["id"]))["ingredients"]}
    assert [line["item_name"] for line in recipes[k["burger"]["id"]]] == ["Bun", "Cheese", "Patty"]
    assert (await get_recipe(store, k["fries"]["id"]))["ingredients"] == []  # no recipe: absent from the map


# The race, against a real server


@on_both_backends
async def test_100_concurrent_orders_race_for_the_last_10_portions(server: Server) -> None:
    manager = server.auth("manager")
    async with httpx.AsyncClient(base_url=server.url, headers=manager, timeout=30) as client:
        burger = (
            await client.post(
                "/menu", json={"name": "Burger", "price_cents": 1200, "category": "Mains", "station": "grill"}
            )
        ).json()
        patty = (await client.post("/inventory", json={"item_name": "Patty", "quantity": 10, "unit": "pcs"})).json()
        recipe = {"ingredients": [{"inventory_id": patty["id"], "quantity": 1}]}
        (await client.put(f"/menu/{burger['id']}/recipe", json=recipe)).raise_for_status()
        async with Listener(server.url, "menu", token=server.tokens["manager"]) as listener:
            body = {
                "customer_name": "Rush",
                "channel": "counter",
                "items": [{"menu_item_id": burger["id"], "quantity": 1}],
            }
            answers = await asyncio.gather(*[client.post("/orders", json=body) for _ in range(100)])
            codes = sorted(answer.status_code for answer in answers)
            assert codes == [201] * 10 + [409] * 90
            refused = next(answer.json()["error"] for answer in answers if answer.status_code == 409)
            assert "Burger" in refused["message"] or "Patty" in refused["message"]
            stock = (await client.get(f"/inventory/{patty['id']}")).json()
            assert stock["quantity"] == 0
            assert (await client.get(f"/menu/{burger['id']}")).json()["available"] is False
            await asyncio.sleep(0.5)  # let anything else that was emitted arrive
            availability = listener.of_type("menu.availability")
            assert len(availability) == 1 and availability[0].payload["available"] is False
        moves = (await client.get(f"/inventory/{patty['id']}/movements")).json()
        assert sorted(m["quantity"] for m in moves) == list(range(0, 11)), "never below zero, one step at a time"
        assert sum(m["delta"] for m in moves) == 0


@on_both_backends
async def test_movements_say_who_and_when(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("manager"), timeout=10) as client:
        oil = (await client.post("/inventory", json={"item_name": "Oil", "quantity": 3, "unit": "l"})).json()
        waste = {"delta": -0.5, "reason": "waste", "note": "spilled"}
        assert (await client.patch(f"/inventory/{oil['id']}", json=waste)).json()["quantity"] == 2.5
        bad = await client.patch(f"/inventory/{oil['id']}", json={"delta": 1, "reason": "waste"})
        assert bad.status_code == 422
        moves = (await client.get(f"/inventory/{oil['id']}/movements")).json()
    assert [(m["kind"], m["delta"], m["staff"], m["note"]) for m in moves] == [
        ("waste", -0.5, "manager", "spilled"),
        ("count", 3, "manager", "opening stock"),
    ]
    assert all(m["created_at"].endswith("Z") for m in moves)


# Movements always add up


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(1, 4), st.integers(0, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("restock"), st.integers(0, 2), st.integers(1, 12)),
        st.tuples(st.just("waste"), st.integers(0, 2), st.integers(1, 12)),
        st.tuples(st.just("count"), st.integers(0, 2), st.integers(0, 15)),
        st.tuples(st.just("switch"), st.booleans()),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_movements_add_up_to_the_stock_after_any_mix_of_operations(tmp_path: Path, operations: list) -> None:
    async def run() -> None:
        db = tmp_path / f"prop-{uuid.uuid4().hex}.db"  # hypothesis seeds `random`: not that
        store = Store(Settings(database_url=sqlite_url(db)), Bus())
        await store.open()
        try:
            k = await _burger_kitchen(store, buns=6, patties=6, cheese_g=200)
            stock_ids = [k["bun"]["id"], k["patty"]["id"], k["cheese"]["id"]]
            placed: list[int] = []
            for op in operations:
                try:
                    if op[0] == "order":
                        order, _ = await create_order(store, _order((k["burger"], op[1]), (k["fries"], 1 + op[2])))
                        placed.append(order["id"])
                    elif op[0] == "cancel" and placed:
                        await change_status(store, placed[op[1] % len(placed)], "cancelled")
                    elif op[0] in ("restock", "waste"):
                        sign = 1 if op[0] == "restock" else -1
                        await change_inventory_item(store, stock_ids[op[1]], InventoryPatch(delta=sign * op[2]))
                    elif op[0] == "count":
                        await change_inventory_item(store, stock_ids[op[1]], InventoryPatch(quantity=op[2]))
                    elif op[0] == "switch":
                        await set_availability(store, k["burger"]["id"], op[1])
                except Conflict:
                    pass  # sold out, not enough stock, or a cancel of an order that moved on: all allowed
            async with store.read() as conn:
                total = func.sum(stock_movements.c.delta_milli)
                by_item = select(stock_movements.c.inventory_id, total).group_by(stock_movements.c.inventory_id)
                sums = {item_id: delta for item_id, delta in (await conn.execute(by_item)).all()}
                stock = await conn.execute(select(inventory.c.id, inventory.c.quantity_milli))
                quantities = {item_id: quantity for item_id, quantity in stock.all()}
                lowest = (await conn.execute(select(func.min(stock_movements.c.quantity_milli)))).scalar_one()
            assert sums == quantities
            assert lowest >= 0
            burger = await get_menu_item(store, k["burger"]["id"])
            portion = {k["bun"]["id"]: 1000, k["patty"]["id"]: 1000, k["cheese"]["id"]: 30}
            can_make = all(quantities[i] >= need for i, need in portion.items())
            assert burger["available"] == (can_make and not burger["switched_off"])
        finally:
            await store.close()

    asyncio.run(run())
