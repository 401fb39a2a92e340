"""Proof of sight (issue 16, part C): the sends each change records per station, screens'
acknowledgements, the unseen alarm (once, across restarts and two PostgreSQL processes), screens
going offline, and migration 0016."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from forkflow import schemas_out as out
from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.services.dispatch import Send
from forkflow.services.sight import alerts, raise_alarms, screen_saw, sight_worker, sightings
from forkflow.store import Store, Tx, migrations_head

from .conftest import Server, _in_own_loop, create_menu, old_database, postgres_servers, running_server, wait_until
from .test_courses import item, set_courses, two_courses

QUIET = {"FORKFLOW_UNSEEN_SECONDS": "600"}  # tests of sends alone: no alarm rings meanwhile


def _rows(server: Server, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
    """Rows straight from the server's database (SQLite file or PostgreSQL)."""
    if server.database_url is None:
        with sqlite3.connect(server.db) as conn:
            return conn.execute(sql, parameters).fetchall()
    numbered = sql
    for i in range(1, len(parameters) + 1):
        numbered = numbered.replace("?", f"${i}", 1)
    dsn = server.database_url.replace("postgresql+asyncpg:", "postgresql:", 1)

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [tuple(row) for row in await conn.fetch(numbered, *parameters)]
        finally:
            await conn.close()

    return _in_own_loop(run)


def _sends(server: Server, order_id: int) -> list[tuple[str, str, list[int], list[int]]]:
    """The order's sends in order: (reason, station, line ids, voided ids)."""
    rows = _rows(
        server, "SELECT reason, station, line_ids, voided_ids FROM sends WHERE order_id = ? ORDER BY id", order_id
    )
    return [(reason, station, json.loads(lines), json.loads(voids)) for reason, station, lines, voids in rows]


def _events(server: Server, kind: str) -> list[dict[str, Any]]:
    rows = _rows(server, "SELECT payload FROM events WHERE type = ? ORDER BY id", kind)
    return [json.loads(payload) for (payload,) in rows]


def _head(server: Server) -> int:
    return _rows(server, "SELECT COALESCE(MAX(id), 0) FROM events")[0][0]


def _seen(server: Server, screen: str, station: str, last_event_id: int, role: str = "kitchen") -> httpx.Response:
    return httpx.post(
        f"{server.url}/kitchen/screens/{screen}/seen",
        json={"station": station, "last_event_id": last_event_id},
        headers=server.auth(role),
    )


def _place(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"))
    assert response.status_code == 201, response.text
    return response.json()


def _simple(menu: dict[str, dict], *names: str) -> dict[str, Any]:
    items = [{"menu_item_id": menu[name]["id"], "quantity": 1} for name in names]
    return {"customer_name": "Ada", "channel": "counter", "items": items}


# Sends


def test_sends_are_recorded_per_station_for_each_kind_of_change_and_none_for_status_changes(tmp_path: Path) -> None:
    with running_server(tmp_path, env=QUIET) as server:
        manager = server.auth("manager")
        client = httpx.Client(base_url=server.url, headers=manager, timeout=10)
        menu = list(create_menu(server).values())
        set_courses(client)
        order = client.post("/orders", json=two_courses(menu)).json()
        lines = {line["name"]: line["id"] for line in order["lines"]}
        # Placed: the drink (course 0) and the first course go; the mains are held.
        assert _sends(server, order["id"]) == [
            ("new", "bar", [lines["Lemonade"]], []),
            ("new", "fry", [lines["Fries"]], []),
        ]
        # Status changes, rush and acknowledgements send nothing.
        assert client.patch(f"/orders/{order['id']}", json={"status": "preparing"}).status_code == 200
        assert client.patch(f"/orders/{order['id']}", json={"rush": True}).status_code == 200
        assert len(_sends(server, order["id"])) == 2
        # A course fired by hand reaches its station.
        assert client.post(f"/orders/{order['id']}/fire", json={"course": 2}).status_code == 200
        assert _sends(server, order["id"])[2:] == [("fired", "grill", [lines["Classic Burger"]], [])]
        # Lines added: the new line only.
        added = client.post(
            f"/orders/{order['id']}/lines",
            json={"items": [{"menu_item_id": item(menu, "Caesar Salad"), "quantity": 1}]},
        ).json()
        salad = next(line["id"] for line in added["lines"] if line["name"] == "Caesar Salad")
        assert _sends(server, order["id"])[3:] == [("added", "cold", [salad], [])]
        # A line voided: the station that had it is told.
        voided = client.post(f"/orders/{order['id']}/lines/{lines['Fries']}/void", json={"reason": "sent back"})
        assert voided.status_code == 200, voided.text
        assert _sends(server, order["id"])[4:] == [("void", "fry", [], [lines["Fries"]])]
        # GET /orders/{id} shows every send with who saw it (nobody yet).
        shown = client.get(f"/orders/{order['id']}").json()["sightings"]
        assert [(s["reason"], s["station"], s["seen_at"], s["alarmed_at"]) for s in shown] == [
            ("new", "bar", None, None),
            ("new", "fry", None, None),
            ("fired", "grill", None, None),
            ("added", "cold", None, None),
            ("void", "fry", None, None),
        ]
        # Auto-fire on bump: the next course reaches its station when the last one is done.
        assert client.put("/kitchen/settings", json={"auto_fire": True}).status_code == 200
        paced = client.post("/orders", json=two_courses(menu)).json()
        paced_lines = {line["name"]: line["id"] for line in paced["lines"]}
        for name in ("Lemonade", "Fries"):
            client.patch(f"/orders/{paced['id']}", json={"status": "preparing"})
            done = httpx.post(
                f"{server.url}/kitchen/tickets/{paced['id']}/lines/{paced_lines[name]}",
                data={"done": "1"},
                headers={**server.auth("kitchen"), "HX-Request": "true"},
            )
            assert done.status_code == 204, done.text
        assert _sends(server, paced["id"])[-1] == ("fired", "grill", [paced_lines["Classic Burger"]], [])
        client.close()


def test_a_held_order_sends_nothing_until_it_is_released(tmp_path: Path) -> None:
    with running_server(tmp_path, env=QUIET) as server:
        menu = create_menu(server)
        pickup = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        held = _place(server, {**_simple(menu, "Classic Burger", "Fries"), "pickup_at": pickup})
        assert held["held"] is True and _sends(server, held["id"]) == []
        released = httpx.post(f"{server.url}/orders/{held['id']}/release", headers=server.auth("kitchen"))
        assert released.status_code == 200
        ids = {line["station"]: line["id"] for line in held["lines"]}
        assert _sends(server, held["id"]) == [
            ("released", "fry", [ids["fry"]], []),
            ("released", "grill", [ids["grill"]], []),
        ]
        event_id = _rows(server, "SELECT MAX(id) FROM events WHERE type = 'order.released'")[0][0]
        assert {row[0] for row in _rows(server, "SELECT event_id FROM sends WHERE order_id = ?", held["id"])} == {
            event_id
        }


# Screens' acknowledgements


def test_a_screens_ack_marks_exactly_its_stations_sends_up_to_its_id(tmp_path: Path) -> None:
    with running_server(tmp_path, env=QUIET) as server:
        menu = create_menu(server)
        first = _place(server, _simple(menu, "Classic Burger", "Fries"))
        after_first = _head(server)
        second = _place(server, _simple(menu, "Classic Burger"))
        assert _seen(server, "grill-1", "grill", after_first).status_code == 204
        seen = {
            (order_id, station): by
            for order_id, station, by in _rows(server, "SELECT order_id, station, seen_by FROM sends ORDER BY id")
        }
        assert seen == {
            (first["id"], "grill"): "screen grill-1",
            (first["id"], "fry"): None,
            (second["id"], "grill"): None,
        }
        [sight] = _events(server, "sight.seen")
        assert sight["by"] == "screen grill-1"
        assert [(s["order_id"], s["ticket_no"], s["station"]) for s in sight["seen"]] == [
            (first["id"], first["ticket_no"], "grill")
        ]
        assert [screen["id"] for screen in _events(server, "screen.online")] == ["grill-1"]
        # A heartbeat that changes nothing writes no event.
        events_before = _head(server)
        assert _seen(server, "grill-1", "grill", after_first).status_code == 204
        assert _head(server) == events_before
        # An expo screen counts for every station.
        assert _seen(server, "expo-1", "expo", _head(server)).status_code == 204
        assert _rows(server, "SELECT COUNT(*) FROM sends WHERE seen_at IS NULL") == [(0,)]
        screens = httpx.get(f"{server.url}/kitchen/screens", headers=server.auth("kitchen")).json()
        assert [(s["id"], s["station"], s["online"]) for s in screens] == [
            ("expo-1", "", True),
            ("grill-1", "grill", True),
        ]
        order = httpx.get(f"{server.url}/orders/{second['id']}", headers=server.auth("cashier")).json()
        assert [(s["station"], s["seen_by"]) for s in order["sightings"]] == [("grill", "screen expo-1")]


def test_bad_reports_are_refused_and_write_nothing(tmp_path: Path) -> None:
    with running_server(tmp_path, env=QUIET) as server:
        menu = create_menu(server)
        _place(server, _simple(menu, "Classic Burger"))
        head = _head(server)
        future = _seen(server, "grill-1", "grill", head + 1)
        assert future.status_code == 422 and "last_event_id" in future.json()["error"]["fields"]
        for name in ("Grill-1", "a" * 41, "grill 1"):
            bad = _seen(server, name, "grill", head)
            assert bad.status_code in (404, 422), (name, bad.text)
        assert _seen(server, "grill-1", "<b>", head).status_code == 422
        assert _seen(server, "grill-1", "grill", -1).status_code == 422
        anonymous = httpx.post(f"{server.url}/kitchen/screens/grill-1/seen", json={"last_event_id": head})
        assert anonymous.status_code == 401
        assert _rows(server, "SELECT COUNT(*) FROM screens") == [(0,)]
        assert _rows(server, "SELECT COUNT(*) FROM sends WHERE seen_at IS NOT NULL") == [(0,)]
        assert _head(server) == head


# The alarm


def test_the_alarm_rings_once_for_an_unseen_send_and_never_for_one_seen_in_time(tmp_path: Path) -> None:
    with running_server(tmp_path, env={"FORKFLOW_UNSEEN_SECONDS": "1.5"}) as server:
        menu = create_menu(server)
        seen_in_time = _place(server, _simple(menu, "Classic Burger"))
        assert _seen(server, "grill-1", "grill", _head(server)).status_code == 204
        unseen = _place(server, _simple(menu, "Classic Burger", "Fries"))
        cancelled = _place(server, _simple(menu, "Caesar Salad"))
        assert httpx.patch(
            f"{server.url}/orders/{cancelled['id']}", json={"status": "cancelled"}, headers=server.auth("manager")
        ).is_success
        alarms = wait_until(
            lambda: len(_events(server, "sight.unseen")) >= 2 and _events(server, "sight.unseen"), 10, "alarm"
        )
        assert sorted((a["order_id"], a["ticket_no"], a["station"]) for a in alarms) == [
            (unseen["id"], unseen["ticket_no"], "fry"),
            (unseen["id"], unseen["ticket_no"], "grill"),
        ]
        time.sleep(2)  # more ticks of the worker: still exactly once, and none for the others
        assert len(_events(server, "sight.unseen")) == 2
        alerts = httpx.get(f"{server.url}/kitchen/alerts", headers=server.auth("cashier")).json()
        assert sorted(a["station"] for a in alerts) == ["fry", "grill"]
        assert all(a["alarmed_at"] and not a["seen_at"] for a in alerts)
        # Seen late: the alert clears, and sight.seen says it had been alarmed.
        assert _seen(server, "all-1", "", _head(server)).status_code == 204
        late = [s for s in _events(server, "sight.seen")[-1]["seen"] if s["order_id"] == unseen["id"]]
        assert sorted(s["station"] for s in late) == ["fry", "grill"] and all(s["alarmed_at"] for s in late)
        assert httpx.get(f"{server.url}/kitchen/alerts", headers=server.auth("cashier")).json() == []
        assert seen_in_time["id"] not in {a["order_id"] for a in alarms}
        # The events carry what the document says (`x-events`).
        for payload in alarms:
            out.SightingOut.model_validate_json(json.dumps(payload))
        for payload in _events(server, "sight.seen"):
            out.SightSeenOut.model_validate_json(json.dumps(payload))
        for payload in _events(server, "screen.online"):
            out.ScreenOut.model_validate_json(json.dumps(payload))


def test_the_alarm_holds_across_a_server_restart(tmp_path: Path) -> None:
    server = Server(tmp_path / "forkflow.db", env={"FORKFLOW_UNSEEN_SECONDS": "3"})
    server.start()
    try:
        menu = create_menu(server)
        order = _place(server, _simple(menu, "Classic Burger"))
        server.stop()  # before the deadline
        assert _events(server, "sight.unseen") == []
        time.sleep(3.5)  # the deadline passes while the server is down
        server.start()
        wait_until(lambda: _events(server, "sight.unseen"), 10, "alarm after restart")
        time.sleep(1.5)
        alarms = _events(server, "sight.unseen")
        assert [(a["order_id"], a["station"]) for a in alarms] == [(order["id"], "grill")]
    finally:
        if server.process is not None:
            server.stop()


def test_two_postgres_processes_raise_each_alarm_once(tmp_path: Path) -> None:
    with postgres_servers(tmp_path, env={"FORKFLOW_UNSEEN_SECONDS": "1"}) as (first, second):
        menu = create_menu(first)
        orders = [_place(srv, _simple(menu, "Classic Burger", "Fries")) for srv in (first, second) * 4]
        expected = len(orders) * 2
        wait_until(lambda: len(_events(first, "sight.unseen")) >= expected, 15, "every alarm")
        time.sleep(1.5)
        alarms = _events(first, "sight.unseen")
        assert len(alarms) == expected
        assert Counter((a["order_id"], a["station"]) for a in alarms) == Counter(
            {(order["id"], station): 1 for order in orders for station in ("grill", "fry")}
        )


def test_a_screen_goes_offline_when_its_heartbeat_stops(tmp_path: Path) -> None:
    env = {**QUIET, "FORKFLOW_SCREEN_OFFLINE_SECONDS": "1"}
    with running_server(tmp_path, env=env) as server:
        assert _seen(server, "grill-1", "grill", _head(server)).status_code == 204
        wait_until(lambda: _events(server, "screen.offline"), 10, "offline")
        screens = httpx.get(f"{server.url}/kitchen/screens", headers=server.auth("manager")).json()
        assert [(s["id"], s["online"]) for s in screens] == [("grill-1", False)]
        time.sleep(1.5)
        assert len(_events(server, "screen.offline")) == 1
        assert _seen(server, "grill-1", "grill", _head(server)).status_code == 204  # back
        assert [s["id"] for s in _events(server, "screen.online")] == ["grill-1", "grill-1"]


# In-process: the fallback hook, once per send


async def _store_with_order(tmp_path: Path, **settings: Any) -> tuple[Store, dict[str, Any]]:
    store = Store(Settings(database_url=sqlite_url(tmp_path / "sight.db"), **settings), Bus())
    await store.open()
    grill = await services.create_menu_item(
        store, MenuItemIn(name="Burger", price_cents=1500, category="Mains", station="grill")
    )
    fry = await services.create_menu_item(
        store, MenuItemIn(name="Fries", price_cents=400, category="Sides", station="fry")
    )
    body = OrderIn(
        customer_name="Ada",
        channel="counter",
        items=[{"menu_item_id": grill["id"], "quantity": 1}, {"menu_item_id": fry["id"], "quantity": 1}],
    )
    order, _ = await services.create_order(store, body)
    return store, order


async def test_on_unseen_is_called_once_per_send_in_the_alarms_write(tmp_path: Path) -> None:
    store, order = await _store_with_order(tmp_path)
    called: list[tuple[int, str, int]] = []

    def fallback(tx: Tx, send: Send) -> None:
        called.append((send.order_id, send.station, len(send.line_ids)))

    try:
        assert await store.write(lambda tx: raise_alarms(tx, 0.0, fallback)) == 2
        assert await store.write(lambda tx: raise_alarms(tx, 0.0, fallback)) == 0
        assert sorted(called) == [(order["id"], "fry", 1), (order["id"], "grill", 1)]
    finally:
        await store.close()


async def test_the_worker_calls_on_unseen_once_and_not_for_what_a_screen_saw(tmp_path: Path) -> None:
    store, order = await _store_with_order(tmp_path, unseen_seconds=0.5)
    await screen_saw(store, "fry-1", "fry", await store.last_event_id(), "test")
    called: list[str] = []
    worker = asyncio.create_task(sight_worker(store, lambda tx, send: called.append(send.station)))
    try:
        await asyncio.sleep(1.5)
        assert called == ["grill"]
    finally:
        worker.cancel()
        await asyncio.wait([worker])
        await store.close()


# Migration 0016


async def test_migration_0016_upgrades_a_database_made_at_0014_with_orders(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_database(db, "0014")
    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    try:
        order = await services.get_order(store, 1)
        assert order["lines"]
        assert await sightings(store, 1) == []
        await store.write(lambda tx: raise_alarms(tx, 0.0))  # an old order never rings
        assert await alerts(store) == []
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (migrations_head(),)
        assert conn.execute("SELECT COUNT(*) FROM screens").fetchone() == (0,)
