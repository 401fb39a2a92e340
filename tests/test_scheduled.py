"""Scheduled orders (issue 15): `pickup_at` and its refusals, the release to the kitchen (live, exactly
once, across a restart and across two PostgreSQL workers), "send now", "hold until" and its
refusals, the opening hours, menu items' prep time and load, and migration 0012."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.routes.kitchen.endpoints import render_ticket
from forkflow.routes.kitchen.view import View
from forkflow.services.hours import get_hours
from forkflow.services.orders import waiting_counts
from forkflow.store import Store, _alembic_config

from .conftest import Server, create_menu, old_database, order_body
from .test_kitchen import stream_frames

ALL_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _prep(server: Server, dish: dict[str, Any], minutes: int) -> dict[str, Any]:
    fields = {k: dish[k] for k in ("name", "price_cents", "category", "station")}
    response = httpx.put(
        f"{server.url}/menu/{dish['id']}", json={**fields, "prep_minutes": minutes}, headers=server.auth("manager")
    )
    assert response.status_code == 200, response.text
    return response.json()


def _schedule(server: Server, menu: list[dict[str, Any]], release_in: float, **body: Any) -> dict[str, Any]:
    """An order whose release is due in `release_in` seconds (its longest line's prep before pickup)."""
    longest = max(dish["prep_minutes"] for dish in menu[:2])
    pickup = _at(longest * 60 + release_in)
    response = httpx.post(
        f"{server.url}/orders", json=order_body(menu, pickup_at=pickup, **body), headers=server.auth("cashier")
    )
    assert response.status_code == 201, response.text
    return response.json()


def _released_events(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT payload FROM events WHERE type = 'order.released' ORDER BY id").fetchall()
    return [json.loads(payload)["id"] for (payload,) in rows]


def _wait_released(server: Server, order_id: int, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        order = httpx.get(f"{server.url}/orders/{order_id}", headers=server.auth("kitchen")).json()
        if order["released_at"] is not None:
            return order
        time.sleep(0.1)
    raise AssertionError(f"order {order_id} was not released within {within} s")


# The answer, and the kitchen


def test_a_scheduled_order_is_held_off_the_kitchen_and_released_live(server: Server) -> None:
    made = create_menu(server)
    burger = _prep(server, made["Classic Burger"], 12)
    fries = _prep(server, made["Fries"], 4)
    menu = [burger, fries]
    order = _schedule(server, menu, release_in=3)
    assert order["held"] is True and order["released_at"] is None and order["status"] == "new"
    pickup = datetime.fromisoformat(order["pickup_at"])
    assert datetime.fromisoformat(order["release_at"]) == pickup - timedelta(minutes=12)  # the longest line's
    assert [line["prep_minutes"] for line in order["lines"]] == [12, 4]

    kitchen = server.auth("kitchen")
    assert order["id"] not in [o["id"] for o in httpx.get(f"{server.url}/kitchen/orders", headers=kitchen).json()]
    page = httpx.get(f"{server.url}/kitchen/display", headers=kitchen).text
    assert f'id="ticket-{order["id"]}"' not in page
    assert "Classic Burger" not in page.split('id="allday"', 1)[1]  # not counted all day either

    started = time.monotonic()
    frames = stream_frames(server, "station=", stop_at="ticket")  # waits for the release
    ticket = frames[-1]
    assert f'id="ticket-{order["id"]}"' in ticket["data"] and "data-remove" not in ticket["data"]
    assert time.monotonic() - started < 10
    released = httpx.get(f"{server.url}/orders/{order['id']}", headers=kitchen).json()
    assert released["held"] is False and released["released_at"] is not None
    assert released["released_at"] >= released["release_at"]
    assert order["id"] in [o["id"] for o in httpx.get(f"{server.url}/kitchen/orders", headers=kitchen).json()]
    assert _released_events(server.db) == [order["id"]]
    # Staff's "send now" on a released order changes nothing and tells nobody.
    again = httpx.post(f"{server.url}/orders/{order['id']}/release", headers=kitchen)
    assert again.status_code == 200 and again.json()["released_at"] == released["released_at"]
    assert _released_events(server.db) == [order["id"]]


def test_send_now_releases_at_once_and_an_asap_order_is_never_held(server: Server) -> None:
    made = create_menu(server)
    menu = [made["Classic Burger"], made["Fries"]]
    order = _schedule(server, menu, release_in=3600)
    sent = httpx.post(f"{server.url}/orders/{order['id']}/release", headers=server.auth("kitchen"))
    assert sent.status_code == 200 and sent.json()["held"] is False
    asap = httpx.post(f"{server.url}/orders", json=order_body(menu), headers=server.auth("cashier")).json()
    assert (asap["pickup_at"], asap["release_at"], asap["released_at"], asap["held"]) == (None, None, None, False)
    refused = httpx.post(f"{server.url}/orders/{asap['id']}/release", headers=server.auth("kitchen"))
    assert refused.status_code == 409 and refused.json()["error"]["code"]
    # A pickup sooner than the prep time is released as it is taken: the kitchen has it at once.
    soon = _schedule(server, menu, release_in=-300)
    assert soon["held"] is False and soon["released_at"] is not None
    # A held order that is cancelled is never released.
    later = _schedule(server, menu, release_in=3600)
    cancel = httpx.patch(
        f"{server.url}/orders/{later['id']}", json={"status": "cancelled"}, headers=server.auth("manager")
    )
    assert cancel.status_code == 200
    assert httpx.post(f"{server.url}/orders/{later['id']}/release", headers=server.auth("kitchen")).status_code == 409
    assert _released_events(server.db) == [order["id"]]  # (the one released at once came out with order.created)


def _events(db: Path, order_id: int) -> list[tuple[str, bool]]:
    """The order's events since it was created: (type, held)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type, payload FROM events WHERE type LIKE 'order.%' ORDER BY id").fetchall()
    found = [(kind, json.loads(payload)) for kind, payload in rows]
    return [(kind, order["held"]) for kind, order in found if order["id"] == order_id and kind != "order.created"]


def _kitchen_ids(server: Server) -> list[int]:
    return [o["id"] for o in httpx.get(f"{server.url}/kitchen/orders", headers=server.auth("kitchen")).json()]


def test_an_asap_order_held_until_a_time_leaves_the_kitchen_and_is_released_then(server: Server) -> None:
    made = create_menu(server)
    menu = [made["Classic Burger"], made["Fries"]]
    asap = httpx.post(f"{server.url}/orders", json=order_body(menu), headers=server.auth("cashier")).json()
    assert asap["id"] in _kitchen_ids(server)
    hold = f"{server.url}/orders/{asap['id']}/hold"
    held = httpx.post(hold, json={"until": _at(3600)}, headers=server.auth("kitchen"))
    assert held.status_code == 200, held.text
    order = held.json()
    assert (order["held"], order["released_at"], order["pickup_at"]) == (True, None, None)
    assert order["id"] not in _kitchen_ids(server)
    page = httpx.get(f"{server.url}/kitchen/display", headers=server.auth("kitchen")).text
    assert f'id="ticket-{order["id"]}"' not in page
    for view in (View(), View(station="grill"), View(expo=True)):  # the displays' frame for its order.updated
        assert "data-remove" in render_ticket(order, view)

    # Holding it again moves its time; the worker (asleep until its 30 s look) is woken for it.
    started = time.monotonic()
    moved = httpx.post(hold, json={"until": _at(2)}, headers=server.auth("manager")).json()
    assert moved["held"] is True and moved["release_at"] < order["release_at"]
    released = _wait_released(server, order["id"], within=8)
    assert time.monotonic() - started < 8
    assert released["held"] is False and released["released_at"] >= released["release_at"]
    assert order["id"] in _kitchen_ids(server)
    assert _events(server.db, order["id"]) == [
        ("order.updated", True),
        ("order.updated", True),
        ("order.released", False),
    ]
    time.sleep(0.5)  # exactly once: nothing more comes
    assert _released_events(server.db) == [order["id"]]


def test_bad_holds_are_refused_and_write_nothing(server: Server) -> None:
    made = create_menu(server)
    menu = [made["Classic Burger"], made["Fries"]]
    manager = server.auth("manager")
    order = httpx.post(f"{server.url}/orders", json=order_body(menu), headers=manager).json()
    started = httpx.post(f"{server.url}/orders", json=order_body(menu), headers=manager).json()
    line = started["lines"][0]["id"]
    done = httpx.post(f"{server.url}/kitchen/tickets/{started['id']}/lines/{line}", data={"done": "1"}, headers=manager)
    assert done.status_code < 400, done.text
    preparing = httpx.post(f"{server.url}/orders", json=order_body(menu), headers=manager).json()
    moving = httpx.patch(f"{server.url}/orders/{preparing['id']}", json={"status": "preparing"}, headers=manager)
    assert moving.status_code == 200, moving.text
    cases = [
        (order["id"], {"until": _at(-120)}, 422),  # past, beyond the minute's grace
        (order["id"], {"until": _at(8 * 24 * 3600)}, 422),  # beyond the limit
        (order["id"], {"until": datetime.now().replace(microsecond=0).isoformat()}, 422),  # no offset
        (order["id"], {"until": int(time.time()) + 3600}, 422),  # a number
        (order["id"], {}, 422),
        (started["id"], {"until": _at(3600)}, 409),  # a line done: the kitchen has started it
        (preparing["id"], {"until": _at(3600)}, 409),  # no longer new
        (order["id"] + 100, {"until": _at(3600)}, 404),
    ]
    before = httpx.get(f"{server.url}/health", headers=manager).json()["bus"]["last_event_id"]
    orders_before = httpx.get(f"{server.url}/orders", headers=manager).json()
    for order_id, body, status in cases:
        response = httpx.post(f"{server.url}/orders/{order_id}/hold", json=body, headers=manager)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"], body
        if status == 422:
            assert "until" in response.json()["error"]["fields"], body
    assert httpx.get(f"{server.url}/health", headers=manager).json()["bus"]["last_event_id"] == before
    assert httpx.get(f"{server.url}/orders", headers=manager).json() == orders_before
    assert httpx.post(f"{server.url}/orders/{order['id']}/hold", json={"until": _at(3600)}).status_code == 401
    assert _events(server.db, order["id"]) == []


# Exactly once


def test_a_release_due_while_the_server_is_down_happens_once_at_start_up(tmp_path: Path) -> None:
    srv = Server(tmp_path / "forkflow.db").start()
    try:
        made = create_menu(srv)
        order = _schedule(srv, [made["Classic Burger"], made["Fries"]], release_in=2)
        srv.stop()
        time.sleep(3)  # due while nothing runs
        assert _released_events(srv.db) == []
        srv.start()
        released = _wait_released(srv, order["id"], within=5)  # at start-up, not at the 30 s safety check
        assert released["released_at"] >= released["release_at"]
        srv.stop()
        srv.start()  # and a second start-up releases nothing again
        time.sleep(1)
        assert _released_events(srv.db) == [order["id"]]
    finally:
        if srv.process is not None:
            srv.stop()


async def test_two_postgres_workers_release_each_order_exactly_once(postgres_pair: tuple[Server, Server]) -> None:
    first, second = postgres_pair
    made = create_menu(first)
    menu = [made["Classic Burger"], made["Fries"]]
    # Both workers hear each new order (LISTEN/NOTIFY) and wake for the same moments.
    orders = [_schedule(first if n % 2 else second, menu, release_in=2 + (n % 3) * 0.5) for n in range(12)]
    for order in orders:
        await asyncio.to_thread(_wait_released, second, order["id"], 10)
    await asyncio.sleep(1)
    assert first.database_url is not None
    conn = await asyncpg.connect(first.database_url.replace("postgresql+asyncpg:", "postgresql:", 1))
    try:
        rows = await conn.fetch("SELECT payload::json->>'id' AS id FROM events WHERE type = 'order.released'")
    finally:
        await conn.close()
    assert sorted(int(row["id"]) for row in rows) == sorted(order["id"] for order in orders)


# Bad input: 422 naming the field, nothing written


def test_bad_pickup_times_prep_values_and_hours_are_refused_and_write_nothing(server: Server) -> None:
    made = create_menu(server)
    menu = [made["Classic Burger"], made["Fries"]]
    manager = server.auth("manager")
    bad_pickups = {
        "in the past": _at(-3600),
        "beyond the limit": _at(8 * 24 * 3600),
        "no offset": datetime.now().replace(microsecond=0).isoformat(),
        "a number": int(time.time()) + 3600,
        "not a time": "tonight",
    }
    for why, pickup in bad_pickups.items():
        before = httpx.get(f"{server.url}/health", headers=manager).json()["bus"]["last_event_id"]
        response = httpx.post(f"{server.url}/orders", json=order_body(menu, pickup_at=pickup), headers=manager)
        assert response.status_code == 422, why
        assert "pickup_at" in response.json()["error"]["fields"], why
        assert httpx.get(f"{server.url}/health", headers=manager).json()["bus"]["last_event_id"] == before, why
    assert httpx.get(f"{server.url}/orders", headers=manager).json() == []

    fields = {k: made["Fries"][k] for k in ("name", "price_cents", "category", "station")}
    for name, value in [
        ("prep_minutes", -1),
        ("prep_minutes", 241),
        ("prep_minutes", "10"),
        ("prep_minutes", 1.5),
        ("prep_load", -1),
        ("prep_load", 101),
        ("prep_load", True),
    ]:
        for method, path in (("POST", "/menu"), ("PUT", f"/menu/{made['Fries']['id']}")):
            response = httpx.request(method, f"{server.url}{path}", json={**fields, name: value}, headers=manager)
            assert response.status_code == 422, (name, value, method)
            assert name in response.json()["error"]["fields"], (name, value, method)
    assert httpx.get(f"{server.url}/menu/{made['Fries']['id']}").json()["prep_minutes"] == 10  # the default

    week = httpx.get(f"{server.url}/settings/hours").json()
    assert week == {day: [["00:00", "24:00"]] for day in ALL_WEEK}  # open all the time until set
    bad_weeks = {
        "monday": {day: week[day] for day in ALL_WEEK if day != "monday"},  # a day left out
        "tuesday": {**week, "tuesday": [["25:00", "26:00"]]},
        "wednesday": {**week, "wednesday": [["12:00", "11:00"]]},
        "thursday": {**week, "thursday": [["11:00", "15:00"], ["14:00", "22:00"]]},
        "friday": {**week, "friday": [["11:00", "15:00", "18:00"]]},
        "saturday": {**week, "saturday": [["9:00", "15:00"]]},
    }
    for day, body in bad_weeks.items():
        response = httpx.put(f"{server.url}/settings/hours", json=body, headers=manager)
        assert response.status_code == 422, day
        assert any(field.startswith(day) for field in response.json()["error"]["fields"]), (day, response.text)
    assert httpx.get(f"{server.url}/settings/hours").json() == week


def test_a_pickup_outside_the_opening_hours_is_refused_naming_the_day(server: Server) -> None:
    made = create_menu(server)
    menu = [made["Classic Burger"], made["Fries"]]
    manager = server.auth("manager")
    closed = {day: [] for day in ALL_WEEK}
    assert httpx.put(f"{server.url}/settings/hours", json=closed, headers=manager).json() == closed
    response = httpx.post(f"{server.url}/orders", json=order_body(menu, pickup_at=_at(3 * 3600)), headers=manager)
    assert response.status_code == 422 and "closed" in response.json()["error"]["fields"]["pickup_at"]
    # ASAP orders are not refused by the opening hours.
    assert httpx.post(f"{server.url}/orders", json=order_body(menu), headers=manager).status_code == 201


# Migration 0012


async def test_migration_0012_upgrades_a_database_made_at_0010(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_database(db, "0010")

    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    try:
        burger = await services.get_menu_item(store, 1)
        assert (burger["prep_minutes"], burger["prep_load"]) == (10, 1)
        order = await services.get_order(store, 1)
        assert (order["pickup_at"], order["release_at"], order["released_at"], order["held"]) == (None,) * 3 + (False,)
        assert order["lines"][0]["prep_minutes"] is None
        assert [o["id"] for o in await services.kitchen_orders(store)] == [1]  # still on the kitchen
        assert [(item.name, item.count) for item in await waiting_counts(store)] == [("Burger", 1)]
        assert await get_hours(store) == {day: [["00:00", "24:00"]] for day in ALL_WEEK}
    finally:
        await store.close()
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):  # the database checks the bounds too
            conn.execute(sa.text("UPDATE menu_items SET prep_minutes = 241 WHERE id = 1"))
    with sa.create_engine(f"sqlite:///{db}").begin() as conn:
        command.downgrade(_alembic_config(conn), "0010")
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0010"
