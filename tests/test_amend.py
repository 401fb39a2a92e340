"""Changes after sending (issue 15): lines added to and voided on an order the kitchen already has.

Against a real server on SQLite and PostgreSQL: the API's answers and refusals (each refusal writes
nothing), the stock a void gives back, and the kitchen display's stream; migration 0013 on a
database made at 0010.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command
from httpx_sse import ServerSentEvent, connect_sse

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.services.orders import waiting_counts
from forkflow.store import Store, _alembic_config

from .conftest import Server, old_database, on_both_backends, order_body

KEY = {"Idempotency-Key": "amend-1"}


def add(client: httpx.Client, order_id: int, *items: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/orders/{order_id}/lines", json={"items": list(items)}, headers=headers)


def void(client: httpx.Client, order_id: int, line_id: int, reason: Any = "sent back") -> httpx.Response:
    body = {} if reason is None else {"reason": reason}
    return client.post(f"/orders/{order_id}/lines/{line_id}/void", json=body)


def place(client: httpx.Client, menu: list[dict], **fields: Any) -> dict:
    response = client.post("/orders", json=order_body(menu, **fields))
    assert response.status_code == 201, response.text
    return response.json()


def move(client: httpx.Client, order_id: int, *statuses: str) -> None:
    for status in statuses:
        assert client.patch(f"/orders/{order_id}", json={"status": status}).status_code == 200


def line(item: dict, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {"menu_item_id": item["id"], "quantity": quantity, **fields}


# The API


@on_both_backends
def test_added_lines_are_priced_carry_the_next_revision_and_a_key_replays(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    burger, fries, salad, _ = menu
    order = place(client, menu)  # 2 burgers, 1 fries: 35.50
    assert order["revision"] == 1 and {ln["revision"] for ln in order["lines"]} == {1}
    move(client, order["id"], "preparing")

    added = add(client, order["id"], line(salad, 2, notes="no croutons"), key="amend-1")
    assert added.status_code == 200, added.text
    assert "Idempotent-Replayed" not in added.headers
    amended = added.json()
    assert amended["revision"] == 2 and amended["status"] == "preparing"
    new = amended["lines"][-1]
    assert (new["name"], new["quantity"], new["unit_price_cents"], new["revision"]) == ("Caesar Salad", 2, 1200, 2)
    assert (new["notes"], new["voided_at"], new["void_reason"]) == ("no croutons", None, None)
    assert amended["total_cents"] == 2 * 1550 + 450 + 2 * 1200

    replayed = add(client, order["id"], line(salad, 2, notes="no croutons"), key="amend-1")
    assert replayed.status_code == 200 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["lines"] == amended["lines"] and replayed.json()["revision"] == 2

    other_body = add(client, order["id"], line(fries), key="amend-1")
    assert other_body.status_code == 422 and other_body.json()["error"]["reason"] == "idempotency_key_reused"
    other_order = place(client, menu)
    elsewhere = add(client, other_order["id"], line(salad, 2, notes="no croutons"), key="amend-1")
    assert elsewhere.status_code == 422, "a key is one request's, not one body's"
    order_key = client.post("/orders", json=order_body(menu), headers={"Idempotency-Key": "placed-1"})
    assert order_key.status_code == 201
    assert add(client, order["id"], line(fries), key="placed-1").status_code == 422

    voided = void(client, order["id"], order["lines"][0]["id"], "wrong dish")
    assert voided.status_code == 200, voided.text
    after = voided.json()
    first = after["lines"][0]
    assert first["voided_at"] is not None and (first["void_reason"], first["voided_by"]) == ("wrong dish", "manager")
    assert after["revision"] == 3 and after["total_cents"] == 450 + 2 * 1200
    shown = client.get(f"/orders/{order['id']}").json()
    assert shown.pop("sightings") and shown == after  # (with who in the kitchen saw each send)
    assert burger["name"] == first["name"]


@on_both_backends
def test_bad_changes_are_refused_with_the_error_json_and_write_nothing(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    burger, fries, _, lemonade = menu
    order = place(client, menu)
    other = place(client, menu)
    done = place(client, menu)
    move(client, done["id"], "preparing", "ready", "completed")
    cancelled = place(client, menu)
    move(client, cancelled["id"], "cancelled")
    ready = place(client, menu)
    move(client, ready["id"], "preparing", "ready")
    single = place(client, menu, items=[line(lemonade)])
    voided_line = order["lines"][1]["id"]
    assert void(client, order["id"], voided_line).status_code == 200
    kitchen = httpx.Client(base_url=server.url, timeout=10, headers=server.auth("kitchen"))
    public = httpx.Client(base_url=server.url, timeout=10)
    oid, first = order["id"], order["lines"][0]["id"]
    cases: list[tuple[str, httpx.Response, int, str | None]] = [
        ("void twice", void(client, oid, voided_line), 409, "already_voided"),
        ("unknown line", void(client, oid, 999_999), 404, None),
        ("another order's line", void(client, oid, other["lines"][0]["id"]), 404, None),
        ("unknown order", void(client, 999_999, first), 404, None),
        ("missing reason", void(client, oid, first, None), 422, None),
        ("blank reason", void(client, oid, first, "   "), 422, None),
        ("reason too long", void(client, oid, first, "x" * 201), 422, None),
        ("reason with a control character", void(client, oid, first, "a\u0000b"), 422, None),
        ("the last line", void(client, single["id"], single["lines"][0]["id"]), 409, "last_line"),
        ("void on a completed order", void(client, done["id"], done["lines"][0]["id"]), 409, "order_not_open"),
        ("void on a ready order", void(client, ready["id"], ready["lines"][0]["id"]), 409, "order_not_open"),
        ("add to a completed order", add(client, done["id"], line(fries)), 409, "order_not_open"),
        ("add to a cancelled order", add(client, cancelled["id"], line(fries)), 409, "order_not_open"),
        ("add to a ready order", add(client, ready["id"], line(fries)), 409, "order_not_open"),
        ("add nothing", client.post(f"/orders/{oid}/lines", json={"items": []}), 422, None),
        ("add an unknown dish", add(client, oid, {"menu_item_id": 999_999, "quantity": 1}), 422, None),
        ("add a quantity of 0", add(client, oid, line(fries, 0)), 422, None),
        ("add another dish's option", add(client, oid, line(fries, modifiers=[999_999])), 422, None),
        ("malformed key", add(client, oid, line(fries), key="two words"), 400, None),
        ("add to an unknown order", add(client, 999_999, line(fries)), 404, None),
        ("the kitchen voids", void(kitchen, oid, first), 403, None),
        ("the kitchen adds", add(kitchen, oid, line(fries)), 403, None),
        ("the public voids", void(public, oid, first), 401, None),
    ]
    kitchen.close()
    public.close()
    for name, response, status, reason in cases:
        assert response.status_code == status, (name, response.text)
        error = response.json()["error"]
        assert error["code"] and error["message"], name
        if reason is not None:
            assert error["reason"] == reason, name
    # Nothing written: each order is as it was (one void of `order` above), and no event was added.
    for before in (other, done, cancelled, ready, single):
        after = client.get(f"/orders/{before['id']}").json()
        assert (after["revision"], after["total_cents"], after["lines"]) == (
            1,
            before["total_cents"],
            before["lines"],
        ), before["id"]
    assert client.get(f"/orders/{oid}").json()["revision"] == 2
    assert burger["id"] == order["lines"][0]["menu_item_id"]


@on_both_backends
def test_a_void_gives_a_new_orders_stock_back_but_not_a_started_ones(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    burger, fries, *_ = menu
    bun = client.post("/inventory", json={"item_name": "Bun", "quantity": 10, "unit": "pcs"}).json()
    bacon = client.post("/inventory", json={"item_name": "Bacon", "quantity": 10, "unit": "rasher"}).json()
    groups = [
        {
            "name": "Add-ons",
            "kind": "add",
            "max": 3,
            "options": [
                {"name": "Bacon", "price_cents": 200, "recipe": [{"inventory_id": bacon["id"], "quantity": 2}]}
            ],
        }
    ]
    dish = {k: burger[k] for k in ("name", "price_cents", "category", "station")}
    burger = client.put(f"/menu/{burger['id']}", json={**dish, "modifier_groups": groups}).json()
    option_id = burger["modifier_groups"][0]["options"][0]["id"]
    recipe = {"ingredients": [{"inventory_id": bun["id"], "quantity": 1}]}
    assert client.put(f"/menu/{burger['id']}/recipe", json=recipe).status_code == 200

    def stock() -> tuple[float, float]:
        return tuple(client.get(f"/inventory/{item['id']}").json()["quantity"] for item in (bun, bacon))

    items = [line(burger, 2, modifiers=[option_id]), line(fries)]
    fresh = place(client, menu, items=items)
    assert stock() == (8, 6)  # two buns, two portions of two rashers
    assert add(client, fresh["id"], line(burger, 1, modifiers=[option_id, option_id])).status_code == 200
    assert stock() == (7, 2)  # what is added is taken as an order's lines are
    assert void(client, fresh["id"], fresh["lines"][0]["id"], "customer changed their mind").status_code == 200
    assert stock() == (9, 6), "a new order's voided line goes back on the shelf"
    movements = client.get(f"/inventory/{bun['id']}/movements").json()
    assert (movements[0]["kind"], movements[0]["delta"], movements[0]["order_id"]) == ("cancel", 2, fresh["id"])
    assert movements[0]["note"] == "line voided"
    move(client, fresh["id"], "cancelled")
    assert stock() == (10, 10), "cancelling the new order gives back the rest it held, never more"

    started = place(client, menu, items=items)
    assert stock() == (8, 6)
    move(client, started["id"], "preparing")
    assert void(client, started["id"], started["lines"][0]["id"], "sent back").status_code == 200
    assert stock() == (8, 6), "a started order's voided line was made: it is waste, not stock"


# The kitchen display's stream


def _frames(source: Iterator[ServerSentEvent], until: str) -> list[ServerSentEvent]:
    got = []
    for sse in source:
        if sse.event:
            got.append(sse)
        if sse.event == until:
            return got
    raise AssertionError(f"the stream ended before {until}")


_ALLDAY = re.compile(r'<span class="count">(\d+)</span> <span class="name">([^<]+)</span>')


@on_both_backends
def test_the_kitchen_stream_replaces_the_one_ticket_with_add_and_void_marks_and_all_day_follows(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    burger, fries, salad, _ = menu
    order = place(client, menu)  # 2 burgers (grill), 1 fries (fry)
    kitchen = httpx.Client(base_url=server.url, timeout=httpx.Timeout(10, read=20), headers=server.auth("kitchen"))
    views = {"": "/kitchen/stream", "grill": "/kitchen/stream?station=grill", "cold": "/kitchen/stream?station=cold"}
    streams = {name: connect_sse(kitchen, "GET", url) for name, url in views.items()}
    sources = {name: stream.__enter__().iter_sse() for name, stream in streams.items()}
    try:
        for source in sources.values():
            _frames(source, "stream.ready")
        move(client, order["id"], "preparing")
        for source in sources.values():
            _frames(source, "ticket")
        add(client, order["id"], line(salad, 2))
        void(client, order["id"], order["lines"][0]["id"], "wrong <b>dish</b>")
        shown: dict[str, list[str]] = {}
        allday: dict[str, list[tuple[str, int]]] = {}
        for name, source in sources.items():
            frames = _frames(source, "ticket") + _frames(source, "ticket")
            tickets = [f.data for f in frames if f.event == "ticket"]
            assert len(tickets) == 2
            for html in tickets:  # each a whole ticket, the same element replaced: one per order
                assert len(re.findall(r'<article id="ticket-\d+"', html)) == 1
                assert f'id="ticket-{order["id"]}"' in html
            shown[name] = tickets
            last = _frames(source, "allday")[-1]  # (the panel after the last change)
            allday[name] = [(item, int(count)) for count, item in _ALLDAY.findall(last.data)]
        everything = shown[""][-1]
        assert 'data-revision="3"' in everything and "rev 3" in everything
        assert re.search(
            r'amend-add">ADD · rev 2</b>\s*<span class="qty">2×</span>\s*<span class="item">Caesar', everything
        )
        assert re.search(r'<div class="line voided"[^>]*>\s*<b class="amend amend-void">VOID</b>', everything)
        assert "wrong &lt;b&gt;dish&lt;/b&gt;" in everything, "the reason is shown, escaped"
        assert allday[""] == [("Caesar Salad", 2), ("Fries", 1)], "a voided line is not counted (menu order)"
        # Each station only its own lines: the grill sees its burgers voided (and keeps the ticket
        # until its cook has seen it), the cold station the salad added.
        grill = shown["grill"][-1]
        assert "VOID" in grill and "wrong &lt;b&gt;dish" in grill and "Caesar" not in grill and "Fries" not in grill
        cold = shown["cold"][-1]
        assert "ADD · rev 2" in cold and "Burger" not in cold and "Fries" not in cold
        assert allday["cold"] == [("Caesar Salad", 2)] and allday["grill"] == []
        # The grill's Done marks the void seen: nothing left to cook there, the ticket leaves its rail.
        bumped = kitchen.post(f"/kitchen/tickets/{order['id']}/bump", data={"status": "preparing", "station": "grill"})
        assert bumped.status_code == 303, bumped.text
        assert "data-remove" in next(f.data for f in _frames(sources["grill"], "ticket") if f.event == "ticket")
    finally:
        for stream in streams.values():
            stream.__exit__(None, None, None)
        kitchen.close()
    after = client.get(f"/orders/{order['id']}").json()
    assert after["status"] == "preparing" and after["lines"][1]["done_at"] is None  # the fries still cook
    assert fries["station"] == "fry" and burger["station"] == "grill"


# Migration 0013


async def test_migration_0013_puts_existing_orders_and_lines_at_revision_1(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_database(db, "0010", lines=(2, 1))

    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    try:
        order = await services.get_order(store, 1)
        assert order["revision"] == 1
        assert [(ln["revision"], ln["voided_at"], ln["void_reason"]) for ln in order["lines"]] == [(1, None, None)] * 2
        voided = await services.void_line(store, 1, 2, "sent back", "manager")
        assert (voided["revision"], voided["total_cents"]) == (2, 3000)
        assert [(a.name, a.count) for a in await waiting_counts(store)] == [("Burger", 2)]
    finally:
        await store.close()
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0010")
        columns = {c["name"] for c in sa.inspect(conn).get_columns("order_lines")}
        assert not columns & {"revision", "voided_at", "void_reason", "voided_by"}
    engine.dispose()
