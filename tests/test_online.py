"""Online capacity (issue 15): `GET/PUT /online` and its refusals, the pause (public orders refused,
staff's not), the busy delay, pickup slots (`GET /online/slots`), the capacity race on SQLite and on
two PostgreSQL workers, and migration 0014."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.services.online import get_online, slot_of
from forkflow.store import Store, _alembic_config

from .conftest import Server, create_menu, order_body, pooled, postgres_servers

# Public orders all come from 127.0.0.1 here: room for a race of them.
OPEN_LIMITS = {"FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "10000", "FORKFLOW_PUBLIC_PORTIONS_PER_HOUR": "10000"}
DEFAULTS = {"paused": False, "resume_at": None, "busy_minutes": 0, "slot_orders": None, "slot_load": None}


def _set(server: Server, **body: Any) -> httpx.Response:
    return httpx.put(f"{server.url}/online", json={**DEFAULTS, **body}, headers=server.auth("manager"))


def _future_slot(minutes: int = 60) -> datetime:
    """A slot start at least `minutes` ahead."""
    return slot_of(datetime.now(UTC) + timedelta(minutes=minutes + 15))


def _public(server: Server, dish: dict[str, Any], quantity: int = 1, **body: Any) -> httpx.Response:
    order = {"customer_name": "Web", "channel": "online", "items": [{"menu_item_id": dish["id"], "quantity": quantity}]}
    return httpx.post(f"{server.url}/orders", json={**order, **body})


def _orders(server: Server) -> int:
    return len(httpx.get(f"{server.url}/orders", headers=server.auth("manager")).json())


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "forkflow.db", env=OPEN_LIMITS)
    try:
        yield srv.start()
    finally:
        if srv.process is not None:
            srv.stop()


def test_the_settings_are_read_by_anyone_set_by_managers_and_each_change_is_an_event(server: Server) -> None:
    assert httpx.get(f"{server.url}/online").json() == DEFAULTS
    resume = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    body = {"paused": True, "resume_at": resume.isoformat(), "busy_minutes": 20, "slot_orders": 5, "slot_load": 12}
    assert httpx.put(f"{server.url}/online", json=body).status_code == 401
    assert httpx.put(f"{server.url}/online", json=body, headers=server.auth("cashier")).status_code == 403
    response = httpx.put(f"{server.url}/online", json=body, headers=server.auth("manager"))
    assert response.status_code == 200, response.text
    expected = {**body, "resume_at": resume.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    assert response.json() == expected == httpx.get(f"{server.url}/online").json()
    assert _set(server, **body).status_code == 200  # the same again: no second event
    with sqlite3.connect(server.db) as db:
        events = db.execute("SELECT type, topic FROM events WHERE type = 'menu.online'").fetchall()
    assert events == [("menu.online", "menu")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("busy_minutes", -1),
        ("busy_minutes", 241),
        ("busy_minutes", 2.5),
        ("busy_minutes", "10"),
        ("slot_orders", -1),
        ("slot_orders", 1001),
        ("slot_load", -5),
        ("slot_load", 100_001),
        ("paused", "yes"),
        ("resume_at", "19:30"),
        ("resume_at", "2020-01-01T19:30:00+00:00"),  # in the past
        ("resume_at", "2999-01-01T19:30:00+00:00"),  # too far ahead
    ],
)
def test_bad_values_are_422_and_write_nothing(server: Server, field: str, value: Any) -> None:
    response = _set(server, **{"paused": True, field: value})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert httpx.get(f"{server.url}/online").json() == DEFAULTS


def test_a_resume_time_without_a_pause_is_refused(server: Server) -> None:
    response = _set(server, resume_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert response.status_code == 422 and "resume_at" in response.json()["error"]["fields"]


def test_paused_refuses_public_orders_with_nothing_written_and_never_staff_orders(server: Server) -> None:
    dish = create_menu(server)["Classic Burger"]
    resume = datetime.now(UTC) + timedelta(hours=2)
    assert _set(server, paused=True, resume_at=resume.isoformat()).status_code == 200
    response = _public(server, dish)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["reason"] == "online_paused" and error["resume_at"].startswith(resume.strftime("%Y-%m-%dT%H:%M"))
    assert "paused until" in error["message"]
    assert _orders(server) == 0
    staff = httpx.post(
        f"{server.url}/orders", json=order_body([dish, dish], channel="online"), headers=server.auth("cashier")
    )
    assert staff.status_code == 201, staff.text
    assert _set(server, paused=False).status_code == 200
    assert _public(server, dish).status_code == 201


def test_a_pause_whose_resume_time_has_passed_is_over(server: Server) -> None:
    dish = create_menu(server)["Classic Burger"]
    soon = datetime.now(UTC) + timedelta(seconds=2)
    assert _set(server, paused=True, resume_at=soon.isoformat()).status_code == 200
    assert _public(server, dish).status_code == 409
    assert httpx.get(f"{server.url}/online").json()["paused"] is True
    asyncio.run(asyncio.sleep(2.2))
    assert httpx.get(f"{server.url}/online").json() == {**DEFAULTS, "paused": False}
    assert _public(server, dish).status_code == 201


def test_a_full_slot_refuses_the_public_but_not_staff_and_disappears_from_the_offer(server: Server) -> None:
    dish = create_menu(server)["Classic Burger"]
    slot = _future_slot()
    day = slot.astimezone(Settings().timezone).date().isoformat()
    offered = httpx.get(f"{server.url}/online/slots", params={"date": day}).json()
    starts = [datetime.fromisoformat(s["start"]) for s in offered["slots"]]
    assert slot in starts and offered["date"] == day
    assert all(s["start"] == s["start"] and len(s["time"]) == 5 for s in offered["slots"])
    assert _set(server, slot_orders=2, slot_load=3).status_code == 200
    assert _public(server, dish, 2, pickup_at=slot.isoformat()).status_code == 201
    too_heavy = _public(server, dish, 2, pickup_at=(slot + timedelta(minutes=7)).isoformat())  # same slot
    assert too_heavy.status_code == 409
    error = too_heavy.json()["error"]
    assert error["reason"] == "slot_full" and "pickup_at" in error["fields"] and "full" in error["message"]
    assert _public(server, dish, 1, pickup_at=slot.isoformat()).status_code == 201  # 3 of 3 portions
    staff = {"customer_name": "Phone", "channel": "counter", "pickup_at": slot.isoformat()}
    staff["items"] = [{"menu_item_id": dish["id"], "quantity": 5}]
    assert httpx.post(f"{server.url}/orders", json=staff, headers=server.auth("cashier")).status_code == 201
    assert _orders(server) == 3
    offered = httpx.get(f"{server.url}/online/slots", params={"date": day}).json()["slots"]
    assert slot not in [datetime.fromisoformat(s["start"]) for s in offered]
    assert slot + timedelta(minutes=15) in [datetime.fromisoformat(s["start"]) for s in offered]


def test_asap_orders_count_in_the_slot_of_their_quoted_ready_time(server: Server) -> None:
    dish = create_menu(server)["Classic Burger"]
    assert _set(server, busy_minutes=30, slot_orders=1).status_code == 200
    placed = datetime.now(UTC)
    assert _public(server, dish).status_code == 201
    with sqlite3.connect(server.db) as db:
        (slot_at, load) = db.execute("SELECT slot_at, kitchen_load FROM orders").fetchone()
    slot = datetime.fromisoformat(slot_at).replace(tzinfo=UTC)
    ready = placed + timedelta(minutes=30 + dish["prep_minutes"])
    assert slot == slot_of(ready) or slot == slot_of(ready + timedelta(seconds=5)), (slot, ready)
    assert load == 1
    second = _public(server, dish)  # the same quoted slot (unless the clock just crossed a quarter hour)
    if slot_of(datetime.now(UTC) + timedelta(minutes=30 + dish["prep_minutes"])) == slot:
        assert second.status_code == 409 and second.json()["error"]["reason"] == "slot_full"


def test_the_busy_delay_moves_the_earliest_slot_offered(server: Server) -> None:
    before = httpx.get(f"{server.url}/online/slots").json()["slots"]
    assert _set(server, busy_minutes=60).status_code == 200
    after = httpx.get(f"{server.url}/online/slots").json()["slots"]
    earliest = datetime.now(UTC) + timedelta(minutes=75)
    assert all(datetime.fromisoformat(s["start"]) >= earliest - timedelta(seconds=5) for s in after)
    assert len(after) <= len(before) - 4 or not before


def test_slots_bad_date_is_422_and_paused_offers_none(server: Server) -> None:
    for bad in ("tomorrow", "2026-13-01", "20261201"):
        response = httpx.get(f"{server.url}/online/slots", params={"date": bad})
        assert response.status_code == 422 and response.json()["error"]["fields"] == {"date": "expected YYYY-MM-DD"}
    assert _set(server, paused=True).status_code == 200
    assert httpx.get(f"{server.url}/online/slots").json()["slots"] == []


# The capacity race


async def _race(urls: list[str], dish: dict[str, Any], slot: datetime, n: int = 100) -> Counter[int]:
    async with httpx.AsyncClient(timeout=60, limits=pooled(n)) as client:

        async def checkout(i: int) -> httpx.Response:
            body = {
                "customer_name": f"Web {i}",
                "channel": "online",
                "pickup_at": slot.isoformat(),
                "items": [{"menu_item_id": dish["id"], "quantity": 1}],
            }
            return await client.post(f"{urls[i % len(urls)]}/orders", json=body)

        answers = await asyncio.gather(*(checkout(i) for i in range(n)))
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["reason"] == "slot_full"
    return Counter(answer.status_code for answer in answers)


def _slot_orders(server: Server, slot: datetime) -> int:
    orders = httpx.get(f"{server.url}/orders", params={"limit": 1000}, headers=server.auth("manager")).json()
    pickups = [datetime.fromisoformat(order["pickup_at"]) for order in orders if order["pickup_at"]]
    return sum(1 for pickup in pickups if slot_of(pickup) == slot)


def test_100_checkouts_racing_for_10_portions_get_exactly_10_orders_on_sqlite(open_server: Server) -> None:
    dish = create_menu(open_server)["Classic Burger"]
    assert _set(open_server, slot_load=10).status_code == 200
    slot = _future_slot()
    counts = asyncio.run(_race([open_server.url], dish, slot))
    assert counts == Counter({201: 10, 409: 90})
    assert _slot_orders(open_server, slot) == 10


def test_100_checkouts_racing_across_two_postgres_workers_get_exactly_10_orders(tmp_path: Path) -> None:
    with postgres_servers(tmp_path, OPEN_LIMITS) as (first, second):  # room for a race of public orders
        dish = create_menu(first)["Classic Burger"]
        assert _set(first, slot_load=10).status_code == 200
        slot = _future_slot()
        counts = asyncio.run(_race([first.url, second.url], dish, slot))
        assert counts == Counter({201: 10, 409: 90})
        assert _slot_orders(second, slot) == 10


# Migration 0014


async def test_migration_0014_adds_the_settings_row_and_leaves_old_orders_in_no_slot(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    now = "2026-01-01 12:00:00.000000"
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0013")
        conn.execute(
            sa.text(
                "INSERT INTO orders (id, business_date, ticket_no, customer_name, channel, notes, status, "
                "total_cents, created_at, updated_at, tracking_token, pickup_at) "
                "VALUES (1, '2026-01-01', 1, 'Ada', 'online', '', 'new', 4500, :t, :t, 'tok', :t)"
            ),
            {"t": now},
        )
    engine.dispose()
    store = Store(Settings(database_url=sqlite_url(db)), Bus())
    await store.open()  # migrates to the head
    try:
        online = await get_online(store)
        assert online.out(datetime.now(UTC)) == DEFAULTS
        order = await services.get_order(store, 1)
        assert order["customer_name"] == "Ada"
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT slot_at, kitchen_load FROM orders").fetchall() == [(None, None)]
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0013")
    engine.dispose()


# The console's form

HX = {"HX-Request": "true"}


def test_the_console_pauses_until_a_time_resumes_and_sets_the_limits(server: Server) -> None:
    manager = {**HX, **server.auth("manager")}
    form = {"until": "", "busy_minutes": "15", "slot_orders": "8", "slot_load": ""}
    page = httpx.get(f"{server.url}/manage", headers=server.auth("manager"))
    assert 'id="online-panel"' in page.text and "Online ordering is open" in page.text
    saved = httpx.post(f"{server.url}/manage/online", data={**form, "action": "save"}, headers=manager)
    assert saved.status_code == 200, saved.text
    assert httpx.get(f"{server.url}/online").json() == {**DEFAULTS, "busy_minutes": 15, "slot_orders": 8}
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%H:%M")  # (the test server's time is UTC)
    paused = httpx.post(
        f"{server.url}/manage/online", data={**form, "until": until, "action": "pause"}, headers=manager
    )
    assert paused.status_code == 200 and f"Online ordering is paused until {until}" in paused.text
    assert "Resume now" in paused.text
    state = httpx.get(f"{server.url}/online").json()
    assert state["paused"] and state["resume_at"] is not None and state["busy_minutes"] == 15
    kept = httpx.post(
        f"{server.url}/manage/online", data={**form, "busy_minutes": "5", "action": "save"}, headers=manager
    )
    assert kept.status_code == 200 and httpx.get(f"{server.url}/online").json()["paused"] is True
    resumed = httpx.post(f"{server.url}/manage/online", data={**form, "action": "resume"}, headers=manager)
    assert resumed.status_code == 200 and "Online ordering is open" in resumed.text
    assert httpx.get(f"{server.url}/online").json() == {**DEFAULTS, "busy_minutes": 15, "slot_orders": 8}


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"busy_minutes": "300"}, "busy_minutes", "240"),
        ({"busy_minutes": "soon"}, "busy_minutes", ""),
        ({"slot_orders": "-1"}, "slot_orders", ""),
        ({"slot_load": "100001"}, "slot_load", ""),
        ({"until": "7pm", "action": "pause"}, "until", "19:30"),
    ],
)
def test_console_form_errors_are_inline_and_write_nothing(
    server: Server, typed: dict[str, str], field: str, message: str
) -> None:
    body = {"until": "", "busy_minutes": "0", "slot_orders": "", "slot_load": "", "action": "save", **typed}
    refused = httpx.post(f"{server.url}/manage/online", data=body, headers={**HX, **server.auth("manager")})
    assert refused.status_code == 422
    assert f'id="online-{field}-error"' in refused.text and message in refused.text
    assert httpx.get(f"{server.url}/online").json() == DEFAULTS
    assert (
        httpx.post(f"{server.url}/manage/online", data=body, headers={**HX, **server.auth("cashier")}).status_code
        == 403
    )


def test_the_till_shows_the_load_of_each_scheduled_orders_slot_and_staff_are_never_refused(server: Server) -> None:
    dish = create_menu(server)["Classic Burger"]
    assert _set(server, slot_orders=1, slot_load=3).status_code == 200
    slot = _future_slot(120)
    assert _public(server, dish, 2, pickup_at=slot.isoformat()).status_code == 201
    phone = {"customer_name": "Phone", "channel": "counter", "pickup_at": slot.isoformat()}
    phone["items"] = [{"menu_item_id": dish["id"], "quantity": 4}]  # over both limits: taken all the same
    assert httpx.post(f"{server.url}/orders", json=phone, headers=server.auth("cashier")).status_code == 201
    till = httpx.get(f"{server.url}/pos", headers={**server.auth("cashier"), "accept": "text/html"})
    clock = slot.strftime("%H:%M")  # (the test server's time is UTC)
    assert till.text.count(f"Slot {clock}: load 6/3 · 1/1 online orders") == 2, till.text


def test_a_public_pickup_sooner_than_the_busy_delay_is_refused_and_staff_are_not(server: Server) -> None:
    dish = create_menu(server)["Classic Burger"]
    assert _set(server, busy_minutes=45).status_code == 200
    soon = (datetime.now(UTC) + timedelta(minutes=20)).isoformat()
    refused = _public(server, dish, pickup_at=soon)
    assert refused.status_code == 422 and "the earliest pickup is" in refused.json()["error"]["fields"]["pickup_at"]
    assert _orders(server) == 0
    staff = {"customer_name": "Phone", "channel": "counter", "pickup_at": soon}
    staff["items"] = [{"menu_item_id": dish["id"], "quantity": 1}]
    assert httpx.post(f"{server.url}/orders", json=staff, headers=server.auth("cashier")).status_code == 201
    later = (datetime.now(UTC) + timedelta(minutes=50)).isoformat()
    assert _public(server, dish, pickup_at=later).status_code == 201
