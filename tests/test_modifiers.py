"""The menu side of modifiers (issue 14): modifier groups and options with stable ids, allergens and
dietary tags, an option's 86 (by hand and by stock), required groups taking their item off, the
menu's own order, and migration 0007 on a database made at 0006."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command

from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import MAX_GROUPS, MAX_OPTIONS, MenuItemIn
from forkflow.services import create_menu_item, list_menu, move_menu_item
from forkflow.store import Store, _alembic_config

from .conftest import Server, on_both_backends
from .sse import Listener

BURGER: dict[str, Any] = {
    "name": "Burger",
    "price_cents": 1500,
    "category": "Mains",
    "station": "grill",
    "allergens": ["gluten", "eggs"],
    "modifier_groups": [
        {
            "name": "Doneness",
            "min": 1,
            "max": 1,
            "options": [{"name": "Medium-rare"}, {"name": "Medium"}, {"name": "Well done"}],
        },
        {
            "name": "Add-ons",
            "kind": "add",
            "max": 5,
            "options": [
                {"name": "Bacon", "price_cents": 200},
                {"name": "Cheese", "price_cents": 100, "allergens": ["milk"]},
            ],
        },
    ],
}


def _group(item: dict[str, Any], name: str) -> dict[str, Any]:
    return next(group for group in item["modifier_groups"] if group["name"] == name)


def _option(item: dict[str, Any], group: str, name: str) -> dict[str, Any]:
    return next(option for option in _group(item, group)["options"] if option["name"] == name)


@on_both_backends
def test_groups_come_back_with_ids_and_keep_them_across_a_put(client: httpx.Client) -> None:
    made = client.post("/menu", json=BURGER)
    assert made.status_code == 201, made.text
    burger = made.json()
    assert burger["allergens"] == ["gluten", "eggs"]  # the vocabulary's order
    assert [group["name"] for group in burger["modifier_groups"]] == ["Doneness", "Add-ons"]
    doneness = _group(burger, "Doneness")
    assert (doneness["min"], doneness["max"]) == (1, 1)
    assert [option["name"] for option in doneness["options"]] == ["Medium-rare", "Medium", "Well done"]
    cheese = _option(burger, "Add-ons", "Cheese")
    assert cheese["allergens"] == ["milk"] and cheese["price_cents"] == 100 and cheese["available"]
    assert client.get(f"/menu/{burger['id']}").json() == burger

    # Send the groups back with their ids: options reordered, one left out, one new, a group renamed.
    body = copy.deepcopy(BURGER)
    body["modifier_groups"] = copy.deepcopy(burger["modifier_groups"])
    doneness_in = body["modifier_groups"][0]
    doneness_in["options"] = [doneness_in["options"][2], doneness_in["options"][0], {"name": "Rare"}]
    body["modifier_groups"][1]["name"] = "Extras"
    put = client.put(f"/menu/{burger['id']}", json=body)
    assert put.status_code == 200, put.text
    after = put.json()
    ids = {option["name"]: option["id"] for group in burger["modifier_groups"] for option in group["options"]}
    new_doneness = _group(after, "Doneness")
    assert new_doneness["id"] == doneness["id"]
    assert [(o["name"], o["id"]) for o in new_doneness["options"][:2]] == [
        ("Well done", ids["Well done"]),
        ("Medium-rare", ids["Medium-rare"]),
    ]
    assert new_doneness["options"][2]["name"] == "Rare" and new_doneness["options"][2]["id"] not in ids.values()
    assert _group(after, "Extras")["id"] == _group(burger, "Add-ons")["id"]
    assert _option(after, "Extras", "Bacon")["id"] == ids["Bacon"]

    # A PUT without the groups (the console's edit form) keeps them, and the allergens too.
    plain = {key: BURGER[key] for key in ("name", "price_cents", "category", "station")}
    kept = client.put(f"/menu/{burger['id']}", json=plain | {"description": "Now with a description"}).json()
    assert kept["modifier_groups"] == after["modifier_groups"] and kept["allergens"] == ["gluten", "eggs"]


def _bad_bodies(other_group_id: int, other_option_id: int) -> list[tuple[str, dict[str, Any], str]]:
    """(what, the body of a PUT of the burger, the field the error must name)."""

    def with_groups(*groups: dict[str, Any]) -> dict[str, Any]:
        return {**BURGER, "modifier_groups": list(groups)}

    def group(**fields: Any) -> dict[str, Any]:
        return {"name": "G", "min": 0, "max": 1, "options": [{"name": "O"}]} | fields

    one_option = [{"name": "O"}]
    return [
        ("50 groups", with_groups(*[group(name=f"G{i}") for i in range(50)]), "modifier_groups"),
        (f"{MAX_GROUPS + 1} groups", with_groups(*[group() for _ in range(MAX_GROUPS + 1)]), "modifier_groups"),
        (
            "100 options",
            with_groups(group(options=[{"name": f"O{i}"} for i in range(100)])),
            "modifier_groups.0.options",
        ),
        (
            f"{MAX_OPTIONS + 1} options",
            with_groups(group(options=one_option * (MAX_OPTIONS + 1))),
            "modifier_groups.0.options",
        ),
        ("no options", with_groups(group(options=[])), "modifier_groups.0.options"),
        ("min > max", with_groups(group(min=3, max=2)), "modifier_groups.0"),
        ("negative max", with_groups(group(max=-1)), "modifier_groups.0.max"),
        ("max 0", with_groups(group(max=0)), "modifier_groups.0.max"),
        ("negative min", with_groups(group(min=-1)), "modifier_groups.0.min"),
        ("max too large", with_groups(group(max=1000)), "modifier_groups.0.max"),
        (
            "negative price",
            with_groups(group(options=[{"name": "O", "price_cents": -1}])),
            "modifier_groups.0.options.0.price_cents",
        ),
        ("unknown allergen", {**BURGER, "allergens": ["gluten", "nuts"]}, "allergens.1"),
        (
            "unknown option allergen",
            with_groups(group(options=[{"name": "O", "allergens": ["cheese"]}])),
            "modifier_groups.0.options.0.allergens.0",
        ),
        ("allergen twice", {**BURGER, "allergens": ["milk", "milk"]}, "allergens"),
        ("unknown diet", {**BURGER, "dietary": ["keto"]}, "dietary.0"),
        (
            "recipe on unknown stock",
            with_groups(group(options=[{"name": "O", "recipe": [{"inventory_id": 999999, "quantity": 1}]}])),
            "modifier_groups.0.options.0.recipe.0.inventory_id",
        ),
        (
            "a zero stock delta",
            with_groups(group(options=[{"name": "O", "recipe": [{"inventory_id": 1, "quantity": 0}]}])),
            "modifier_groups.0.options.0.recipe.0.quantity",
        ),
        ("another item's group", with_groups(group(id=other_group_id)), "modifier_groups.0.id"),
        (
            "another item's option",
            with_groups(group(options=[{"id": other_option_id, "name": "O"}])),
            "modifier_groups.0.options.0.id",
        ),
        ("negative position", {**BURGER, "position": -1}, "position"),
        ("blank option name", with_groups(group(options=[{"name": " "}])), "modifier_groups.0.options.0.name"),
    ]


def test_bad_modifiers_are_refused_naming_the_field_and_change_nothing(client: httpx.Client) -> None:
    burger = client.post("/menu", json=BURGER).json()
    other = client.post("/menu", json={**BURGER, "name": "Other"}).json()
    cases = _bad_bodies(other["modifier_groups"][0]["id"], other["modifier_groups"][0]["options"][0]["id"])
    before = client.get("/menu").json()
    for what, body, field in cases:
        for method, path in (("PUT", f"/menu/{burger['id']}"), ("POST", "/menu")):
            response = client.request(method, path, json=body)
            assert response.status_code == 422, (what, method, response.text)
            error = response.json()["error"]
            assert field in error["fields"], (what, method, error)
    assert client.get("/menu").json() == before  # nothing written
    unknown = client.put("/menu/categories", json={"order": ["Mains", "Puddings"]})
    assert unknown.status_code == 422 and "order.1" in unknown.json()["error"]["fields"]
    twice = client.put("/menu/categories", json={"order": ["Mains", " Mains"]})
    assert twice.status_code == 422 and "order.1" in twice.json()["error"]["fields"]
    option = burger["modifier_groups"][0]["options"][0]["id"]
    assert (
        client.put(f"/menu/{other['id']}/options/{option}/availability", json={"available": False}).status_code == 404
    )
    assert client.get("/menu").json() == before


@on_both_backends
async def test_an_option_86_reaches_listeners_and_a_required_group_takes_its_item_off(server: Server) -> None:
    headers = server.auth("manager")
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as client:
        burger = (await client.post("/menu", json=BURGER)).json()
        async with Listener(server.url, "menu") as listener:  # the public's stream
            bacon = _option(burger, "Add-ons", "Bacon")
            off = await client.put(
                f"/menu/{burger['id']}/options/{bacon['id']}/availability", json={"available": False}
            )
            assert off.status_code == 200, off.text
            assert not _option(off.json(), "Add-ons", "Bacon")["available"] and off.json()["available"]
            seen = await listener.wait_for(1, "menu.availability")
            assert seen[0].payload == off.json()

            # Every doneness off: the required group has nothing left, so the burger is off too.
            for option in _group(burger, "Doneness")["options"]:
                path = f"/menu/{burger['id']}/options/{option['id']}/availability"
                answer = (await client.put(path, json={"available": False})).json()
            assert not answer["available"] and not answer["switched_off"]
            await listener.wait_for(4, "menu.availability")
            assert not listener.events[-1].payload["available"]

            medium = _option(burger, "Doneness", "Medium")
            path = f"/menu/{burger['id']}/options/{medium['id']}/availability"
            back = (await client.put(path, json={"available": True})).json()
            assert back["available"] and _option(back, "Doneness", "Medium")["available"]
            await listener.wait_for(5, "menu.availability")
            assert listener.events[-1].payload == back
            # The same switch again changes nothing and tells no one.
            assert (await client.put(path, json={"available": True})).json() == back
        assert len(listener.of_type("menu.availability")) == 5


@on_both_backends
async def test_options_sell_out_on_stock_and_come_back_on_restock(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("manager"), timeout=10) as client:
        bacon = (await client.post("/inventory", json={"item_name": "Bacon", "quantity": 1, "unit": "pcs"})).json()
        cups = (await client.post("/inventory", json={"item_name": "Large cups", "quantity": 2, "unit": "pcs"})).json()
        burger_body = copy.deepcopy(BURGER)
        burger_body["modifier_groups"][1]["options"][0]["recipe"] = [{"inventory_id": bacon["id"], "quantity": 1}]
        burger = (await client.post("/menu", json=burger_body)).json()
        lemonade_body = {
            "name": "Lemonade",
            "price_cents": 350,
            "category": "Drinks",
            "station": "bar",
            "modifier_groups": [
                {
                    "name": "Size",
                    "min": 1,
                    "max": 1,
                    "options": [
                        {"name": "Large", "price_cents": 100, "recipe": [{"inventory_id": cups["id"], "quantity": 1}]}
                    ],
                }
            ],
        }
        lemonade = (await client.post("/menu", json=lemonade_body)).json()
        assert lemonade["available"] and _option(burger, "Add-ons", "Bacon")["available"]
        # What options take is read with the item's recipe; a PUT sending options without `recipe` keeps it.
        burger_body["modifier_groups"][1]["options"][1]["recipe"] = [{"inventory_id": bacon["id"], "quantity": -0.5}]
        burger = (await client.put(f"/menu/{burger['id']}", json=burger_body)).json()  # (new ids: none were sent)
        recipe = (await client.get(f"/menu/{burger['id']}/recipe")).json()
        line = {"inventory_id": bacon["id"], "item_name": "Bacon", "unit": "pcs"}
        assert recipe["options"] == [
            {"option_id": _option(burger, "Add-ons", "Bacon")["id"], "ingredients": [line | {"quantity": 1}]},
            {"option_id": _option(burger, "Add-ons", "Cheese")["id"], "ingredients": [line | {"quantity": -0.5}]},
        ]
        same = {**BURGER, "modifier_groups": burger["modifier_groups"]}
        resent = await client.put(f"/menu/{burger['id']}", json=same)
        assert resent.json() == burger  # the same groups and options, ids and all: nothing changed
        assert (await client.get(f"/menu/{burger['id']}/recipe")).json() == recipe

        async with Listener(server.url, "menu", token=server.tokens["manager"]) as listener:
            await client.patch(f"/inventory/{bacon['id']}", json={"quantity": 0.5, "reason": "count"})
            (event,) = await listener.wait_for(1, "menu.availability")
            assert event.payload["id"] == burger["id"] and event.payload["available"]  # only the add-on is out
            assert not _option(event.payload, "Add-ons", "Bacon")["available"]
            assert not _option(event.payload, "Add-ons", "Bacon")["switched_off"]

            await client.patch(f"/inventory/{cups['id']}", json={"delta": -2, "reason": "waste"})
            events = await listener.wait_for(2, "menu.availability")
            assert events[1].payload["id"] == lemonade["id"] and not events[1].payload["available"]
            assert not (await client.get(f"/menu/{lemonade['id']}")).json()["available"]

            await client.patch(f"/inventory/{cups['id']}", json={"delta": 5, "reason": "restock"})
            await client.patch(f"/inventory/{bacon['id']}", json={"delta": 3, "reason": "restock"})
            events = await listener.wait_for(4, "menu.availability")
            assert events[2].payload["available"] and _option(events[2].payload, "Size", "Large")["available"]
            assert _option(events[3].payload, "Add-ons", "Bacon")["available"]

        # A manager's 86 holds through a restock.
        large = _option(lemonade, "Size", "Large")
        await client.put(f"/menu/{lemonade['id']}/options/{large['id']}/availability", json={"available": False})
        await client.patch(f"/inventory/{cups['id']}", json={"delta": 5, "reason": "restock"})
        again = (await client.get(f"/menu/{lemonade['id']}")).json()
        assert not again["available"] and _option(again, "Size", "Large")["switched_off"]


def test_the_menu_is_listed_in_its_own_order(client: httpx.Client) -> None:
    def add(name: str, category: str, **extra: Any) -> dict[str, Any]:
        body = {"name": name, "price_cents": 100, "category": category, "station": "grill", **extra}
        response = client.post("/menu", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    add("Steak", "Mains")
    add("Burger", "Mains")  # after Steak: a new item goes last in its category
    add("Soup", "Starters")
    add("Brownie", "Desserts")
    add("Bread", "Starters", position=0)

    def names() -> list[str]:
        return [item["name"] for item in client.get("/menu").json()]

    # Categories in the order they were first used; ties of position go by name.
    assert names() == ["Steak", "Burger", "Bread", "Soup", "Brownie"]
    assert client.get("/menu/categories").json()["categories"] == [
        {
            "name": "Mains",
            "position": 0,
            "course": 1,
            "tax_rate_id": None,
        },  # (a new category's course: services/courses.py)
        {"name": "Starters", "position": 1, "course": 1, "tax_rate_id": None},
        {"name": "Desserts", "position": 2, "course": 1, "tax_rate_id": None},
    ]
    ordered = client.put("/menu/categories", json={"order": ["Starters"]})
    assert ordered.status_code == 200, ordered.text
    assert [c["name"] for c in ordered.json()["categories"]] == ["Starters", "Mains", "Desserts"]
    assert names() == ["Bread", "Soup", "Steak", "Burger", "Brownie"]

    burger = next(item for item in client.get("/menu").json() if item["name"] == "Burger")
    body = {key: burger[key] for key in ("name", "price_cents", "category", "station")}
    client.put(f"/menu/{burger['id']}", json=body | {"position": 0})
    assert names() == ["Bread", "Soup", "Burger", "Steak", "Brownie"]
    client.put(f"/menu/{burger['id']}", json=body | {"category": "Desserts"})  # moved: last of Desserts
    assert names() == ["Bread", "Soup", "Steak", "Brownie", "Burger"]
    # An emptied category goes away; a new one comes last.
    steak = next(item for item in client.get("/menu").json() if item["name"] == "Steak")
    client.put(f"/menu/{steak['id']}", json={**body, "name": "Steak", "category": "Grill"})
    assert [c["name"] for c in client.get("/menu/categories").json()["categories"]] == ["Starters", "Desserts", "Grill"]


async def test_the_category_order_is_an_event(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("manager"), timeout=10) as client:
        for name, category in (("Soup", "Starters"), ("Steak", "Mains")):
            await client.post("/menu", json={"name": name, "price_cents": 100, "category": category, "station": "a"})
        async with Listener(server.url, "menu") as listener:
            answer = (await client.put("/menu/categories", json={"order": ["Mains", "Starters"]})).json()
            (event,) = await listener.wait_for(1, "menu.categories")
            assert event.payload == answer
            unchanged = await client.put("/menu/categories", json={"order": ["Mains"]})
            assert unchanged.json() == answer
        assert len(listener.of_type("menu.categories")) == 1


async def test_migration_0007_keeps_an_old_menu_in_its_alphabetical_order(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
        now = "2026-01-01 12:00:00.000000"
        for name, category, available, switched_off in (
            ("Tart", "Desserts", True, False),
            ("Burger", "Mains", True, False),
            ("Brownie", "Desserts", False, True),
            ("Ale", "Drinks", True, False),
            ("Steak", "Mains", True, False),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO menu_items (name, description, price_cents, category, station, available, "
                    "switched_off, created_at, updated_at) VALUES (:n, '', 500, :c, 'grill', :a, :s, :t, :t)"
                ),
                {"n": name, "c": category, "a": available, "s": switched_off, "t": now},
            )
    engine.dispose()

    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    try:
        menu = await list_menu(store)
    finally:
        await store.close()
    assert [(item["category"], item["name"], item["position"]) for item in menu] == [
        ("Desserts", "Brownie", 0),
        ("Desserts", "Tart", 1),
        ("Drinks", "Ale", 0),
        ("Mains", "Burger", 0),
        ("Mains", "Steak", 1),
    ]
    brownie = menu[0]
    assert not brownie["available"] and brownie["switched_off"]
    assert brownie["modifier_groups"] == [] and brownie["allergens"] == [] and brownie["dietary"] == []
    with sqlite3.connect(db) as conn:
        categories = conn.execute("SELECT name, position FROM menu_categories ORDER BY position").fetchall()
    assert categories == [("Desserts", 0), ("Drinks", 1), ("Mains", 2)]


async def test_moving_an_item_renumbers_its_category_in_one_write(tmp_path: Path) -> None:
    """The console's up/down: one write unit, so the category is never seen half-renumbered and
    the changed items' events are consecutive."""
    store = Store(Settings(database_url=sqlite_url(tmp_path / "move.db")), Bus())
    await store.open()
    try:
        made = [
            await create_menu_item(store, MenuItemIn(name=name, price_cents=100, category="Mains", station="grill"))
            for name in ("Steak", "Burger", "Fish")
        ]
        await create_menu_item(store, MenuItemIn(name="Soup", price_cents=100, category="Starters", station="cold"))
        before = await store.last_event_id()
        batches = store.writer.batches
        mains = await move_menu_item(store, made[2]["id"], -1)
        assert [item["name"] for item in mains] == ["Steak", "Fish", "Burger"]
        assert store.writer.batches == batches + 1
        events = await store.events_after(before, ["menu"], 10)
        assert [(e.type, e.payload["name"], e.payload["position"]) for e in events] == [
            ("menu.updated", "Fish", 1),
            ("menu.updated", "Burger", 2),
        ]
        assert [i["name"] for i in await list_menu(store)] == ["Steak", "Fish", "Burger", "Soup"]
        # At either end nothing moves and nothing is written.
        assert [i["name"] for i in await move_menu_item(store, made[0]["id"], -1)] == ["Steak", "Fish", "Burger"]
        assert await store.last_event_id() == events[-1].id
    finally:
        await store.close()
