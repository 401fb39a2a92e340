"""The order side of modifiers (issue 14): lines carrying options (checked, priced, kept as a
snapshot, taking their stock deltas), the order's allergies (flagged, confirmed, acknowledged by the
kitchen before the ticket starts), the idempotency fingerprint, and migration 0008."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from forkflow.config import Settings, sqlite_url
from forkflow.errors import Conflict
from forkflow.events import Bus
from forkflow.models import OrderIn
from forkflow.services import acknowledge_allergies, bump, get_order
from forkflow.services.orders import MODIFIER_ROWS_PER_INSERT, request_fingerprint
from forkflow.store import Store, _alembic_config

from .conftest import Server, on_both_backends, pooled
from .sse import Listener
from .test_modifiers import BURGER, _option


def _line(burger: dict[str, Any], *options: tuple[str, str], quantity: int = 1) -> dict[str, Any]:
    return {
        "menu_item_id": burger["id"],
        "quantity": quantity,
        "modifiers": [_option(burger, group, name)["id"] for group, name in options],
    }


def _order(*lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"customer_name": "Ada", "channel": "counter", "items": list(lines), **extra}


MEDIUM = ("Doneness", "Medium")
BACON = ("Add-ons", "Bacon")
CHEESE = ("Add-ons", "Cheese")


@on_both_backends
def test_bad_modifiers_are_refused_naming_the_field_and_write_nothing(client: httpx.Client) -> None:
    burger = client.post("/menu", json=BURGER).json()
    fries = client.post("/menu", json={"name": "Fries", "price_cents": 400, "category": "Sides", "station": "fry"})
    other = fries.json()
    off = _option(burger, "Add-ons", "Cheese")
    client.put(f"/menu/{burger['id']}/options/{off['id']}/availability", json={"available": False})
    medium = _option(burger, *MEDIUM)["id"]
    bacon = _option(burger, *BACON)["id"]
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        # (line, status, field, words in its message)
        ({"menu_item_id": other["id"], "quantity": 1, "modifiers": [medium]}, 422, "items.0.modifiers.0", "not one"),
        ({"menu_item_id": burger["id"], "quantity": 1, "modifiers": [999999]}, 422, "items.0.modifiers.0", "not one"),
        ({"menu_item_id": burger["id"], "quantity": 1}, 422, "items.0.modifiers", "Doneness: choose at least 1"),
        (
            {"menu_item_id": burger["id"], "quantity": 1, "modifiers": [medium, medium]},
            422,
            "items.0.modifiers",
            "Doneness: choose at most 1",
        ),
        (
            {"menu_item_id": burger["id"], "quantity": 1, "modifiers": [medium, *[bacon] * 6]},
            422,
            "items.0.modifiers",
            "Add-ons: choose at most 5",
        ),
        (
            {"menu_item_id": burger["id"], "quantity": 1, "modifiers": [medium, off["id"]]},
            409,
            "items.0.modifiers.1",
            "not available",
        ),
    ]
    for line, status, field, words in cases:
        answer = client.post("/orders", json=_order(line))
        assert answer.status_code == status, (line, answer.text)
        assert words in answer.json()["error"]["fields"][field], answer.text
    refused = client.post("/orders", json=_order(cases[-1][0]))
    assert refused.json()["error"]["unavailable_options"] == [
        {"id": off["id"], "name": "Cheese", "menu_item_id": burger["id"]}
    ]
    unknown = client.post("/orders", json=_order(_line(burger, MEDIUM), allergies=["kryptonite"]))
    assert unknown.status_code == 422 and "allergies.0" in unknown.json()["error"]["fields"], unknown.text
    assert client.get("/orders").json() == []
    # An item without groups still takes no modifiers at all.
    plain = client.post("/orders", json=_order({"menu_item_id": other["id"], "quantity": 1}))
    assert plain.status_code == 201 and plain.json()["lines"][0]["modifiers"] == []


@on_both_backends
def test_options_are_priced_and_kept_as_a_snapshot_through_menu_edits(client: httpx.Client) -> None:
    burger = client.post("/menu", json=BURGER).json()
    # Sent out of the menu's order, bacon twice: they come back in the item's group/option order.
    answer = client.post("/orders", json=_order(_line(burger, CHEESE, BACON, MEDIUM, BACON, quantity=2)))
    assert answer.status_code == 201, answer.text
    order = answer.json()
    line = order["lines"][0]
    assert line["unit_price_cents"] == 1500 + 2 * 200 + 100
    assert line["line_total_cents"] == order["total_cents"] == 2 * 2000
    ids = {name: _option(burger, group, name)["id"] for group, name in (MEDIUM, BACON, CHEESE)}
    # Each keeps its group's kind, and whether the group took exactly one option (Doneness: min 1, max 1).
    medium = {"group": "Doneness", "name": "Medium", "price_cents": 0, "count": 1, "kind": "choice"}
    bacon = {"group": "Add-ons", "name": "Bacon", "price_cents": 200, "count": 2, "kind": "add"}
    cheese = {"group": "Add-ons", "name": "Cheese", "price_cents": 100, "count": 1, "kind": "add"}
    assert line["modifiers"] == [
        {"option_id": ids["Medium"], **medium, "exactly_one": True},
        {"option_id": ids["Bacon"], **bacon, "exactly_one": False},
        {"option_id": ids["Cheese"], **cheese, "exactly_one": False},
    ]
    assert line["allergens"] == ["gluten", "eggs", "milk"] and line["allergy_flags"] == []
    assert {**client.get(f"/orders/{order['id']}").json(), "sightings": None} == {**order, "sightings": None}

    # The menu changes: bacon is repriced and renamed, cheese deleted, Doneness made optional and the
    # add-ons a choice. The order keeps what it charged, and reads as it did.
    body = copy.deepcopy(BURGER)
    body["modifier_groups"] = copy.deepcopy(burger["modifier_groups"])
    body["modifier_groups"][0]["min"] = 0
    body["modifier_groups"][1]["kind"] = "choice"
    body["modifier_groups"][1]["options"] = [{**_option(burger, *BACON), "name": "Smoked bacon", "price_cents": 350}]
    for group in body["modifier_groups"]:
        for option in group["options"]:
            for key in ("available", "switched_off"):
                option.pop(key, None)
    assert client.put(f"/menu/{burger['id']}", json=body).status_code == 200
    after = client.get(f"/orders/{order['id']}").json()
    assert after["total_cents"] == order["total_cents"]
    kept = after["lines"][0]["modifiers"]
    assert [(m["name"], m["price_cents"]) for m in kept] == [("Medium", 0), ("Bacon", 200), ("Cheese", 100)]
    assert [(m["kind"], m["exactly_one"]) for m in kept] == [("choice", True), ("add", False), ("add", False)]
    assert client.get(f"/menu/{burger['id']}").json()["modifier_groups"][1]["kind"] == "choice"
    assert kept[2]["option_id"] is None  # the option is gone from the menu; the snapshot stays
    assert after["lines"][0]["allergens"] == ["gluten", "eggs", "milk"]


@on_both_backends
def test_an_order_with_more_options_than_one_insert_takes_keeps_them_all(client: httpx.Client) -> None:
    """An order's chosen options are written MODIFIER_ROWS_PER_INSERT rows at a time: 3 lines of 40
    distinct options are 120 rows, two statements. Every one comes back, in the menu's order."""
    assert MODIFIER_ROWS_PER_INSERT < 120
    groups = [
        {
            "name": f"Toppings {side}",
            "min": 0,
            "max": 20,
            "options": [{"name": f"{side}{k:02}", "price_cents": 10 + k} for k in range(30)],
        }
        for side in "AB"
    ]
    pizza = {"name": "Pizza", "price_cents": 900, "category": "Mains", "station": "oven", "modifier_groups": groups}
    made = client.post("/menu", json=pizza)
    assert made.status_code == 201, made.text
    item = made.json()
    options = [option for group in item["modifier_groups"] for option in group["options"]]
    lines = []
    for n in range(3):
        # 20 of each group, a different slice per line, sent in reverse order
        picked = options[n : n + 20] + options[30 + n : 30 + n + 20]
        lines.append({"menu_item_id": item["id"], "quantity": n + 1, "modifiers": [o["id"] for o in reversed(picked)]})
    answer = client.post("/orders", json=_order(*lines))
    assert answer.status_code == 201, answer.text
    order = answer.json()
    total = 0
    for n, line in enumerate(order["lines"]):
        picked = options[n : n + 20] + options[30 + n : 30 + n + 20]
        assert [m["option_id"] for m in line["modifiers"]] == [o["id"] for o in picked]
        assert [m["name"] for m in line["modifiers"]] == [o["name"] for o in picked]
        assert line["unit_price_cents"] == 900 + sum(o["price_cents"] for o in picked)
        total += line["unit_price_cents"] * (n + 1)
    assert order["total_cents"] == total
    assert {**client.get(f"/orders/{order['id']}").json(), "sightings": None} == {**order, "sightings": None}


def _stocked(client: httpx.Client, bacon_pieces: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A burger whose bacon add-on takes a piece of bacon, and whose recipe takes 0.03 kg of cheese
    that a "No cheese" option gives back."""
    bacon = client.post("/inventory", json={"item_name": "Bacon", "quantity": bacon_pieces, "unit": "pcs"}).json()
    cheese = client.post("/inventory", json={"item_name": "Cheese", "quantity": 1, "unit": "kg"}).json()
    body = copy.deepcopy(BURGER)
    body["modifier_groups"][1]["options"][0]["recipe"] = [{"inventory_id": bacon["id"], "quantity": 1}]
    body["modifier_groups"].append(
        {
            "name": "Remove",
            "max": 3,
            "options": [{"name": "No cheese", "recipe": [{"inventory_id": cheese["id"], "quantity": -0.03}]}],
        }
    )
    burger = client.post("/menu", json=body).json()
    recipe = {"ingredients": [{"inventory_id": cheese["id"], "quantity": 0.03}]}
    assert client.put(f"/menu/{burger['id']}/recipe", json=recipe).status_code == 200
    return burger, bacon, cheese


@on_both_backends
def test_options_take_and_give_back_stock_and_a_cancel_returns_it(client: httpx.Client) -> None:
    burger, bacon, cheese = _stocked(client, 5)
    no_cheese = ("Remove", "No cheese")
    made = client.post("/orders", json=_order(_line(burger, MEDIUM, BACON, BACON, no_cheese, quantity=2)))
    assert made.status_code == 201, made.text
    assert client.get(f"/inventory/{bacon['id']}").json()["quantity"] == 1  # 2 portions x 2 bacon
    assert client.get(f"/inventory/{cheese['id']}").json()["quantity"] == 1  # no cheese: none taken
    plain = client.post("/orders", json=_order(_line(burger, MEDIUM)))
    assert client.get(f"/inventory/{cheese['id']}").json()["quantity"] == 0.97

    # Two more bacon than stock holds: 409 naming the stock for staff, the option for the public.
    short = client.post("/orders", json=_order(_line(burger, MEDIUM, BACON, BACON)))
    assert short.status_code == 409 and short.json()["error"]["out_of_stock"][0]["item_name"] == "Bacon"
    public = httpx.post(
        f"{client.base_url}/orders", json=_order(_line(burger, MEDIUM, BACON, BACON), channel="online"), timeout=10
    )
    assert public.status_code == 409, public.text
    error = public.json()["error"]
    assert "out_of_stock" not in error and error["unavailable_options"][0]["name"] == "Bacon"
    assert client.get(f"/inventory/{bacon['id']}").json()["quantity"] == 1

    # The last piece is taken: bacon sells out by itself; the burger stays on.
    client.post("/orders", json=_order(_line(burger, MEDIUM, BACON)))
    item = client.get(f"/menu/{burger['id']}").json()
    assert not _option(item, *BACON)["available"] and item["available"]

    for order in (made.json(), plain.json()):
        assert client.patch(f"/orders/{order['id']}", json={"status": "cancelled"}).status_code == 200
    assert client.get(f"/inventory/{bacon['id']}").json()["quantity"] == 4  # the last order keeps its piece
    assert client.get(f"/inventory/{cheese['id']}").json()["quantity"] == 0.97  # and its cheese
    assert _option(client.get(f"/menu/{burger['id']}").json(), *BACON)["available"]


@on_both_backends
async def test_a_hundred_orders_race_for_the_last_portions_of_an_add_on(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers=server.auth("manager"), timeout=10) as setup:
        burger, bacon, _ = _stocked(setup, 7)
    body = _order(_line(burger, MEDIUM, BACON))
    limits = pooled(100)
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("cashier"), timeout=60, limits=limits) as c:
        answers = await asyncio.gather(*(c.post("/orders", json=body) for _ in range(100)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [201] * 7 + [409] * 93, [a.text for a in answers if a.status_code not in (201, 409)]
        stock = (await c.get(f"/inventory/{bacon['id']}", headers=server.auth("manager"))).json()
    assert stock["quantity"] == 0


@on_both_backends
async def test_allergies_are_flagged_confirmed_and_acknowledged_before_the_ticket_starts(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=server.auth("manager"), timeout=10) as client:
        burger = (await client.post("/menu", json=BURGER)).json()
        fries = {"name": "Fries", "price_cents": 400, "category": "Sides", "station": "fry"}
        plain = (await client.post("/menu", json=fries)).json()
        lines = [_line(burger, MEDIUM), {"menu_item_id": plain["id"], "quantity": 1}, _line(burger, MEDIUM, CHEESE)]
        body = _order(*lines, allergies=["milk", "peanuts"])
        refused = await client.post("/orders", json=body)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["reason"] == "allergy_confirmation_needed"
        assert error["fields"] == {"items.2": "contains milk"}  # the vocabulary's label, as a sentence reads it
        assert (await client.get("/orders")).json() == []

        made = await client.post("/orders", json={**body, "allergies_confirmed": True})
        assert made.status_code == 201, made.text
        order = made.json()
        assert order["allergies"] == ["milk", "peanuts"]
        assert [line["allergy_flags"] for line in order["lines"]] == [[], [], ["milk"]]
        assert order["allergies_acknowledged_at"] is None and order["allergies_acknowledged_by"] is None
        tracked = (await client.get(order["tracking_url"] + ".json")).json()
        assert tracked["allergies"] == ["milk", "peanuts"] and tracked["lines"][2]["allergy_flags"] == ["milk"]

        kitchen = server.auth("kitchen")
        path = f"/orders/{order['id']}"
        early = await client.patch(path, json={"status": "preparing"}, headers=kitchen)
        assert early.status_code == 409 and early.json()["error"]["reason"] == "allergies_not_acknowledged"

        async with Listener(server.url, "orders", token=server.tokens["kitchen"]) as listener:
            ack = await client.post(f"{path}/allergies/acknowledge", headers=kitchen)
            assert ack.status_code == 200, ack.text
            acknowledged = ack.json()
            assert acknowledged["allergies_acknowledged_by"] == "kitchen"
            assert acknowledged["allergies_acknowledged_at"] is not None
            seen = await listener.wait_for(1, "order.updated")
            assert seen[0].payload == acknowledged
            again = await client.post(f"{path}/allergies/acknowledge", headers=server.auth("manager"))
            assert again.json() == acknowledged  # the first who and when are kept
        assert len(listener.of_type("order.updated")) == 1

        started = await client.patch(path, json={"status": "preparing"}, headers=kitchen)
        assert started.status_code == 200 and started.json()["status"] == "preparing"

        no_allergies = (await client.post("/orders", json=_order(_line(burger, MEDIUM)))).json()
        nothing = await client.post(f"/orders/{no_allergies['id']}/allergies/acknowledge", headers=kitchen)
        assert nothing.status_code == 409
        assert (await client.post("/orders/999999/allergies/acknowledge", headers=kitchen)).status_code == 404


def test_the_fingerprint_includes_modifiers_and_allergies(client: httpx.Client) -> None:
    burger = client.post("/menu", json=BURGER).json()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = _order(_line(burger, MEDIUM, BACON))
    first = client.post("/orders", json=body, headers=key)
    assert first.status_code == 201
    again = client.post("/orders", json=body, headers=key)
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == first.json()["id"]
    for changed in (_order(_line(burger, MEDIUM, BACON, BACON)), {**body, "allergies": ["milk"]}):
        reused = client.post("/orders", json=changed, headers=key)
        assert reused.status_code == 422 and reused.json()["error"]["reason"] == "idempotency_key_reused"


def test_an_order_without_modifiers_keeps_the_fingerprint_of_the_previous_release() -> None:
    """A key stored before the upgrade still matches its retry after it."""
    body = {"customer_name": "Ada", "channel": "counter", "items": [{"menu_item_id": 1, "quantity": 2}]}
    before = (
        '{"customer_name":"Ada","channel":"counter","table":null,"notes":"",'
        '"items":[{"menu_item_id":1,"quantity":2,"notes":""}]}'
    )
    assert request_fingerprint(OrderIn.model_validate(body)) == hashlib.sha256(before.encode()).hexdigest()
    with_modifiers = {**body, "items": [{"menu_item_id": 1, "quantity": 2, "modifiers": [3]}]}
    fingerprints = {
        request_fingerprint(OrderIn.model_validate(variant))
        for variant in (body, with_modifiers, {**body, "allergies": ["milk"]}, {**body, "allergies": ["eggs"]})
    }
    assert len(fingerprints) == 4


async def test_every_path_that_starts_a_ticket_waits_for_the_acknowledgement(tmp_path: Path) -> None:
    """The kitchen display's bump goes through services.bump: the same 409 as the API's PATCH."""
    from forkflow.models import MenuItemIn
    from forkflow.services import create_menu_item, create_order

    store = Store(Settings(database_url=sqlite_url(tmp_path / "f.db")), Bus())
    await store.open()
    try:
        item = await create_menu_item(store, MenuItemIn.model_validate({**BURGER, "modifier_groups": []}))
        body = {**_order({"menu_item_id": item["id"], "quantity": 1}), "allergies": ["eggs"]}
        order, _ = await create_order(store, OrderIn.model_validate({**body, "allergies_confirmed": True}))
        with pytest.raises(Conflict) as refused:
            await bump(store, order["id"], "new")
        assert refused.value.extra["reason"] == "allergies_not_acknowledged"
        assert "acknowledge" in refused.value.message  # what the kitchen display shows for a refused tap
        await acknowledge_allergies(store, order["id"], "kitchen")
        assert (await bump(store, order["id"], "new"))["status"] == "preparing"
        assert (await get_order(store, order["id"]))["allergies_acknowledged_by"] == "kitchen"
    finally:
        await store.close()


async def test_migration_0008_keeps_old_orders_readable(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0007")
        now = "2026-01-01 12:00:00.000000"
        conn.execute(
            sa.text(
                "INSERT INTO menu_items (id, name, description, price_cents, category, station, available, "
                "switched_off, created_at, updated_at, position, allergens, dietary) "
                "VALUES (1, 'Burger', '', 1500, 'Mains', 'grill', 1, 0, :t, :t, 0, 'gluten', '')"
            ),
            {"t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO orders (id, business_date, ticket_no, customer_name, channel, notes, status, "
                "total_cents, created_at, updated_at, tracking_token) "
                "VALUES (1, '2026-01-01', 1, 'Ada', 'counter', '', 'new', 3000, :t, :t, 'tok')"
            ),
            {"t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO order_lines (order_id, menu_item_id, name, unit_price_cents, quantity, notes, station) "
                "VALUES (1, 1, 'Burger', 1500, 2, '', 'grill')"
            )
        )
    engine.dispose()

    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    try:
        order = await get_order(store, 1)
        assert order["allergies"] == [] and order["allergies_acknowledged_at"] is None
        assert order["lines"][0]["modifiers"] == [] and order["lines"][0]["allergens"] == []
        assert (await bump(store, 1, "new"))["status"] == "preparing"  # nothing to acknowledge
    finally:
        await store.close()


def test_the_kitchen_ticket_shows_modifiers_flags_and_the_allergy_banner(client: httpx.Client) -> None:
    """The kitchen display's fragment (the page and the stream share it): each line's options under
    it, a flagged line marked, and the order's allergies as a banner to tap until acknowledged."""
    burger = client.post("/menu", json=BURGER).json()
    body = _order(_line(burger, MEDIUM, BACON, BACON, CHEESE), allergies=["milk"], allergies_confirmed=True)
    order = client.post("/orders", json=body).json()
    page = client.get("/kitchen/display").text
    ticket = page[page.index(f'id="ticket-{order["id"]}"') :]
    ticket = ticket[: ticket.index("</article>")]
    assert '<strong class="headline">— Medium</strong>' in ticket  # Doneness: exactly one, by the name
    assert '<b class="mod-word">ADD</b> 2× Bacon' in ticket and '<b class="mod-word">ADD</b> Cheese' in ticket
    assert "contains milk" in ticket and 'class="allergy-button"' in ticket and "Allergy: Milk" in ticket
    assert client.post(f"/kitchen/tickets/{order['id']}/allergies", headers={"HX-Request": "true"}).status_code == 204
    page = client.get("/kitchen/display").text
    ticket = page[page.index(f'id="ticket-{order["id"]}"') :]
    assert "seen by manager" in ticket[: ticket.index("</article>")]
