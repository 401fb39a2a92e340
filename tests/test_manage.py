"""The manager's console over HTTP, its figures (services/reports.py), and the low-stock threshold.

The figures are checked on a real SQLite file with orders placed through the services and then
moved to chosen times; the console's routes and stream against a real server.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from alembic import command
from httpx_sse import aconnect_sse
from sqlalchemy import create_engine, text, update

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import MenuItemIn, OrderIn
from forkflow.schema import orders
from forkflow.services import reports
from forkflow.services.orders import business_date
from forkflow.store import Store, Tx, _alembic_config, migrations_head

from .conftest import MENU, PASSWORDS, Server

NEW_YORK = ZoneInfo("America/New_York")
HX = {"HX-Request": "true"}


# The figures


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(Settings(database_url=sqlite_url(tmp_path / "reports.db"), timezone=NEW_YORK), Bus())
    await s.open()
    yield s
    await s.close()


async def _dishes(store: Store) -> dict[str, dict]:
    made = {}
    for item in MENU:
        made[item["name"]] = await services.create_menu_item(store, MenuItemIn(**item))
    return made


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


async def _order(
    store: Store,
    lines: list[tuple[dict, int]],
    placed: datetime,
    prep_seconds: float | None = None,
    status: str | None = None,
) -> dict:
    """An order made through the service, then moved to `placed` (and ready `prep_seconds` later)."""
    body = OrderIn(
        customer_name="Ada",
        channel="counter",
        items=[{"menu_item_id": dish["id"], "quantity": quantity} for dish, quantity in lines],
    )
    order, _ = await services.create_order(store, body)
    values: dict[str, Any] = {
        "created_at": placed,
        "business_date": business_date(placed, store.settings),
        "ticket_no": order["id"],  # unique on any day
    }
    if prep_seconds is not None:
        values.update(status="ready", ready_at=placed + timedelta(seconds=prep_seconds))
    if status is not None:
        values["status"] = status

    def backdate(tx: Tx) -> None:
        tx.conn.execute(update(orders).where(orders.c.id == order["id"]).values(values))

    await store.write(backdate)
    return order


async def test_orders_and_revenue_by_local_hour_of_the_service_day(store: Store) -> None:
    dish = await _dishes(store)
    burger, fries = dish["Classic Burger"], dish["Fries"]  # 15.50, 4.50
    now = local(2026, 7, 10, 20, 30)  # 00:30 UTC on the 11th
    await _order(store, [(burger, 1)], local(2026, 7, 10, 18, 5))
    await _order(store, [(fries, 2)], local(2026, 7, 10, 18, 40))
    await _order(store, [(burger, 2)], local(2026, 7, 10, 20, 15))  # the 11th in UTC: still tonight
    await _order(store, [(burger, 9)], local(2026, 7, 10, 19, 30), status="cancelled")  # counts nowhere
    await _order(store, [(burger, 9)], local(2026, 7, 10, 3, 30))  # before 04:00: last night's service
    await _order(store, [(burger, 9)], local(2026, 7, 9, 18, 0))  # yesterday

    today = await reports.today(store, now)
    assert today.business_date == "2026-07-10"
    assert (today.orders, today.revenue_cents) == (3, 1550 + 900 + 3100)
    assert [(h.label, h.orders, h.revenue_cents) for h in today.hours] == [
        ("18:00", 2, 2450),
        ("19:00", 0, 0),  # an empty hour keeps the time axis even
        ("20:00", 1, 3100),
    ]
    assert all(h.start.tzinfo is NEW_YORK for h in today.hours)

    later = await reports.today(store, local(2026, 7, 10, 23, 10))  # the chart runs up to now
    assert [h.label for h in later.hours] == ["18:00", "19:00", "20:00", "21:00", "22:00", "23:00"]
    next_day = await reports.today(store, local(2026, 7, 11, 12, 0))
    assert (next_day.orders, next_day.hours, next_day.top_items) == (0, [], [])
    assert next_day.prep_avg_seconds is None and next_day.prep_p90_seconds is None


async def test_prep_times_average_and_90th_percentile(store: Store) -> None:
    dish = await _dishes(store)
    now = local(2026, 7, 10, 21, 0)
    for minutes in range(1, 11):  # ready after 1, 2, ... 10 minutes
        await _order(store, [(dish["Fries"], 1)], local(2026, 7, 10, 19, minutes), prep_seconds=60 * minutes)
    await _order(store, [(dish["Fries"], 1)], local(2026, 7, 10, 20, 0))  # not ready yet: no prep time
    await _order(store, [(dish["Fries"], 1)], local(2026, 7, 10, 20, 1), prep_seconds=3600, status="cancelled")

    today = await reports.today(store, now)
    assert today.prepared == 10
    assert today.prep_avg_seconds == pytest.approx(330.0)
    assert today.prep_p90_seconds == pytest.approx(540.0)  # the 9th of 10 (nearest rank)


async def test_top_items_by_quantity_then_name(store: Store) -> None:
    dish = await _dishes(store)
    burger, fries, salad, lemonade = (dish[n] for n in ("Classic Burger", "Fries", "Caesar Salad", "Lemonade"))
    at = local(2026, 7, 10, 19, 0)
    await _order(store, [(fries, 3), (burger, 1)], at)
    await _order(store, [(fries, 2), (lemonade, 3)], at)
    await _order(store, [(salad, 3)], at)
    await _order(store, [(burger, 50)], at, status="cancelled")

    today = await reports.today(store, local(2026, 7, 10, 20, 0))
    assert [(i.name, i.quantity, i.revenue_cents) for i in today.top_items] == [
        ("Fries", 5, 2250),
        ("Caesar Salad", 3, 3600),  # a tie on quantity: by name
        ("Lemonade", 3, 1050),
        ("Classic Burger", 1, 1550),
    ]


def test_percentile_is_nearest_rank() -> None:
    assert reports.percentile([], 0.9) is None
    assert reports.percentile([7.0], 0.9) == 7.0
    assert reports.percentile([float(n) for n in range(10, 0, -1)], 0.9) == 9.0
    assert reports.percentile([float(n) for n in range(1, 21)], 0.9) == 18.0
    assert reports.percentile([1.0, 2.0, 3.0], 0.5) == 2.0


def test_hours_are_local_even_off_the_hour_and_across_dst() -> None:
    kathmandu = ZoneInfo("Asia/Kathmandu")  # UTC+5:45
    placed = [(datetime(2026, 3, 2, 10, 50, tzinfo=UTC), 100), (datetime(2026, 3, 2, 11, 20, tzinfo=UTC), 200)]
    buckets = reports.hourly(placed, kathmandu, datetime(2026, 3, 2, 11, 30, tzinfo=UTC))
    assert [(b.label, b.orders, b.revenue_cents) for b in buckets] == [("16:00", 1, 100), ("17:00", 1, 200)]

    # New York falls back on 1 November 2026: 01:00-02:00 happens twice, and is two hours here.
    placed = [(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), 1), (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), 2)]
    buckets = reports.hourly(placed, NEW_YORK, datetime(2026, 11, 1, 7, 10, tzinfo=UTC))
    assert [(b.label, b.revenue_cents) for b in buckets] == [("01:00", 1), ("01:00", 2), ("02:00", 0)]


# The low-stock threshold


def test_low_stock_threshold_through_the_api(client: httpx.Client) -> None:
    made = client.post("/inventory", json={"item_name": "Potatoes", "quantity": 5, "unit": "kg", "low_stock": 2.5})
    assert made.status_code == 201, made.text
    potatoes = made.json()
    assert (potatoes["low_stock"], potatoes["low"]) == (2.5, False)
    at_threshold = client.patch(f"/inventory/{potatoes['id']}", json={"delta": -2.5}).json()
    assert (at_threshold["quantity"], at_threshold["low"]) == (2.5, True)  # at or below: low
    cleared = client.patch(f"/inventory/{potatoes['id']}", json={"low_stock": None}).json()
    assert (cleared["low_stock"], cleared["low"], cleared["quantity"]) == (None, False, 2.5)
    again = client.patch(f"/inventory/{potatoes['id']}", json={"low_stock": 3}).json()
    assert (again["low_stock"], again["low"]) == (3, True)
    plain = client.post("/inventory", json={"item_name": "Oil", "quantity": 1, "unit": "l"}).json()
    assert (plain["low_stock"], plain["low"]) == (None, False)
    for bad in ({"low_stock": -1}, {"low_stock": "2"}, {"low_stock": 0.0001}):
        refused = client.patch(f"/inventory/{potatoes['id']}", json=bad)
        assert refused.status_code == 422 and "low_stock" in refused.json()["error"]["fields"], bad
    assert client.get(f"/inventory/{potatoes['id']}").json() == again


async def test_migrations_0004_and_0005_carry_an_old_database_over(tmp_path: Path) -> None:
    """Stock gets no threshold; an item that was off was switched off by hand; stock counted so far
    opens each item's movements."""
    url = sqlite_url(tmp_path / "old.db")
    engine = create_engine(url.replace("+aiosqlite", ""))
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0003")
        conn.execute(
            text(
                "INSERT INTO inventory (item_name, quantity_milli, unit, last_updated)"
                " VALUES ('Flour', 2500, 'kg', '2026-01-01 10:00:00.000000')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO menu_items (name, description, price_cents, category, station, available,"
                " created_at, updated_at) VALUES ('Pie', '', 900, 'Mains', 'grill', 0,"
                " '2026-01-01 10:00:00.000000', '2026-01-01 10:00:00.000000')"
            )
        )
    engine.dispose()

    store = Store(Settings(database_url=url), Bus())
    await store.open()  # migrates to the head
    try:
        async with store.read() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        assert version == migrations_head()
        (flour,) = await services.list_inventory(store)
        assert (flour["quantity"], flour["low_stock"], flour["low"]) == (2.5, None, False)
        (pie,) = await services.list_menu(store)
        assert (pie["available"], pie["switched_off"]) == (False, True)
        (opening,) = await services.list_movements(store, flour["id"])
        assert (opening["kind"], opening["delta"], opening["quantity"]) == ("count", 2.5, 2.5)
    finally:
        await store.close()


# The console over HTTP: who may see it


def test_the_console_is_for_managers_only(server: Server) -> None:
    page = {"accept": "text/html"}
    anonymous = httpx.get(f"{server.url}/manage", headers=page)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/manage"
    assert httpx.get(f"{server.url}/manage").status_code == 401
    for role in ("kitchen", "cashier"):
        refused = httpx.get(f"{server.url}/manage", headers={**page, **server.auth(role)})
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
        assert f"you are signed in as {role}" in refused.text
    shown = httpx.get(f"{server.url}/manage", headers={**page, **server.auth("manager")})
    assert shown.status_code == 200
    for section in ('id="charts"', 'id="menu-list"', 'id="stock-list"', 'id="staff-panel"', "sse-connect"):
        assert section in shown.text

    assert httpx.get(f"{server.url}/manage/stream").status_code == 401
    assert httpx.get(f"{server.url}/manage/stream", headers=server.auth("cashier")).status_code == 403


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/manage/menu", {"name": "X", "price": "1", "category": "C", "station": "s"}),
        ("/manage/menu/1/availability", {"available": "0"}),
        ("/manage/inventory/1/adjust", {"amount": "1", "direction": "add"}),
        ("/manage/staff", {"name": "intruder", "role": "manager", "password": "intruder-password"}),
        ("/manage/staff/1/active", {"active": "0"}),
    ],
)
def test_other_roles_change_nothing(
    server: Server, client: httpx.Client, menu: list[dict], path: str, data: dict
) -> None:
    client.post("/inventory", json={"item_name": "Flour", "quantity": 1, "unit": "kg"}).raise_for_status()
    before = world(client)
    # (Anonymous form posts are refused even before that: they carry no CSRF token.)
    for role, refused in (("cashier", {403}), ("kitchen", {403}), (None, {401, 403})):
        headers = {**HX, **(server.auth(role) if role else {})}
        assert httpx.post(f"{server.url}{path}", data=data, headers=headers).status_code in refused
    assert world(client) == before


def world(client: httpx.Client) -> dict:
    return {
        "menu": client.get("/menu").json(),
        "inventory": client.get("/inventory").json(),
        "staff": client.get("/staff").json(),
        "events": client.get("/health").json()["bus"]["last_event_id"],
    }


# The console's forms


def test_menu_form_errors_are_inline_and_write_nothing(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    before = world(client)
    typed = {"name": "  ", "description": "Crispy <b>", "price": "12.505", "category": "Mains", "station": "grill"}
    refused = client.post("/manage/menu", data=typed, headers=HX)
    assert refused.status_code == 422
    html = refused.text
    assert 'id="menu-name-error">Required<' in html
    assert 'id="menu-price-error">Enter a price like 12.50<' in html
    assert 'value="12.505"' in html and "Crispy &lt;b&gt;</textarea>" in html  # kept, and escaped
    assert 'value="Mains"' in html
    too_long = client.post("/manage/menu", data={**typed, "name": "N" * 81, "price": "1"}, headers=HX)
    assert too_long.status_code == 422 and "At most 80 characters" in too_long.text
    assert world(client) == before

    for price, cents in (("12.50", 1250), ("12,5", 1250), ("7", 700), ("$0.99", 99)):
        added = client.post("/manage/menu", data={**typed, "name": f"Dish {price}", "price": price}, headers=HX)
        assert added.status_code == 200, added.text
        assert f"Added Dish {price}." in added.text
        assert 'hx-swap-oob="innerHTML"' in added.text  # the list comes along
        item = next(i for i in client.get("/menu").json() if i["name"] == f"Dish {price}")
        assert item["price_cents"] == cents


def test_menu_form_edits_an_item_keeping_its_availability(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    fries = menu[1]
    client.put(f"/menu/{fries['id']}/availability", json={"available": False}).raise_for_status()
    form = client.get(f"/manage/menu/{fries['id']}/edit", headers=HX)
    assert form.status_code == 200 and 'value="Fries"' in form.text and 'value="4.50"' in form.text
    data = {"name": "Fries", "description": "Hand cut", "price": "4.75", "category": "Sides", "station": "fry"}
    saved = client.post(f"/manage/menu/{fries['id']}", data=data, headers=HX)
    assert saved.status_code == 200 and "Saved Fries." in saved.text
    item = client.get(f"/menu/{fries['id']}").json()
    assert (item["price_cents"], item["description"], item["available"]) == (475, "Hand cut", False)
    refused = client.post(f"/manage/menu/{fries['id']}", data={**data, "category": ""}, headers=HX)
    assert refused.status_code == 422 and 'id="menu-category-error">Required<' in refused.text
    assert client.get(f"/menu/{fries['id']}").json() == item
    assert client.post("/manage/menu/99999", data=data, headers=HX).status_code == 404
    assert client.get("/manage/menu/99999/edit", headers=HX).status_code == 404


def test_menu_form_sets_an_items_own_tax_rate_or_its_categorys(client: httpx.Client, menu: list[dict]) -> None:
    fries = menu[1]
    reduced = client.post("/tax-rates", json={"name": "Reduced", "percent": 5.5})
    assert reduced.status_code == 201, reduced.text
    rate = reduced.json()["id"]
    form = client.get(f"/manage/menu/{fries['id']}/edit", headers=HX).text
    assert '<select id="menu-tax_rate_id" name="tax_rate_id">' in form
    assert '<option value="" selected>Its category&#39;s rate</option>' in form
    assert f'<option value="{rate}">Reduced (5.5%)</option>' in form
    data = {"name": "Fries", "description": "", "price": "4.50", "category": "Sides", "station": "fry"}

    saved = client.post(f"/manage/menu/{fries['id']}", data={**data, "tax_rate_id": str(rate)}, headers=HX)
    assert saved.status_code == 200 and "Saved Fries." in saved.text
    assert client.get(f"/menu/{fries['id']}").json()["tax_rate_id"] == rate
    form = client.get(f"/manage/menu/{fries['id']}/edit", headers=HX).text
    assert f'<option value="{rate}" selected>Reduced (5.5%)</option>' in form
    # A page from before the editor had the field sends none: the item keeps its rate.
    client.post(f"/manage/menu/{fries['id']}", data=data, headers=HX).raise_for_status()
    assert client.get(f"/menu/{fries['id']}").json()["tax_rate_id"] == rate

    before = world(client)
    for wrong, message in (("99999", "No tax rate 99999"), ("abc", "Input should be a valid integer")):
        refused = client.post(f"/manage/menu/{fries['id']}", data={**data, "tax_rate_id": wrong}, headers=HX)
        assert refused.status_code == 422, refused.text
        assert f'id="menu-tax_rate_id-error">{message}' in refused.text
        assert 'aria-invalid="true" aria-describedby="menu-tax_rate_id-error"' in refused.text
    assert world(client) == before

    back = client.post(f"/manage/menu/{fries['id']}", data={**data, "tax_rate_id": ""}, headers=HX)
    assert back.status_code == 200
    assert client.get(f"/menu/{fries['id']}").json()["tax_rate_id"] is None


def test_availability_switch(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    burger = menu[0]
    off = client.post(f"/manage/menu/{burger['id']}/availability", data={"available": "0"}, headers=HX)
    assert off.status_code == 200
    assert f'id="available-{burger["id"]}" class="switch" role="switch" aria-checked="false"' in off.text
    assert httpx.get(f"{server.url}/menu/{burger['id']}").json()["available"] is False
    client.post(f"/manage/menu/{burger['id']}/availability", data={"available": "1"}, headers=HX).raise_for_status()
    assert httpx.get(f"{server.url}/menu/{burger['id']}").json()["available"] is True


def test_stock_forms(server: Server, client: httpx.Client) -> None:
    flour = client.post("/inventory", json={"item_name": "Flour", "quantity": 2, "unit": "kg", "low_stock": 1}).json()
    path = f"/manage/inventory/{flour['id']}"
    used = client.post(f"{path}/adjust", data={"amount": "1.25", "direction": "remove"}, headers=HX)
    assert used.status_code == 200 and 'class="low"' in used.text and ">Low<" in used.text
    assert client.get(f"/inventory/{flour['id']}").json()["quantity"] == 0.75
    added = client.post(f"{path}/adjust", data={"amount": "0,25"}, headers=HX)  # no direction: add
    assert added.status_code == 200
    assert client.get(f"/inventory/{flour['id']}").json()["quantity"] == 1

    before = world(client)
    too_much = client.post(f"{path}/adjust", data={"amount": "3", "direction": "remove"}, headers=HX)
    assert too_much.status_code == 409
    assert "Only 1 kg of Flour in stock" in too_much.text and 'value="3"' in too_much.text
    for amount in ("-1", "1.0001", "abc", "", "99999999999"):
        refused = client.post(f"{path}/adjust", data={"amount": amount, "direction": "add"}, headers=HX)
        assert refused.status_code == 422, amount
        assert 'class="field-error"' in refused.text
    assert world(client) == before

    set_low = client.post(f"{path}/low", data={"low_stock": "0.5"}, headers=HX)
    assert set_low.status_code == 200 and 'class="ok"' in set_low.text
    assert client.get(f"/inventory/{flour['id']}").json()["low_stock"] == 0.5
    client.post(f"{path}/low", data={"low_stock": ""}, headers=HX).raise_for_status()
    assert client.get(f"/inventory/{flour['id']}").json()["low_stock"] is None
    assert client.post("/manage/inventory/99999/adjust", data={"amount": "1"}, headers=HX).status_code == 404


def test_staff_forms(server: Server, client: httpx.Client) -> None:
    staff = {s["name"]: s for s in client.get("/staff").json()}
    taken = client.post(
        "/manage/staff", data={"name": "kitchen", "role": "kitchen", "password": "long-enough"}, headers=HX
    )
    assert taken.status_code == 409 and "There is already a staff member called kitchen" in taken.text
    assert "long-enough" not in taken.text  # a password is never sent back
    invalid = client.post("/manage/staff", data={"name": "", "role": "chef", "password": "x"}, headers=HX)
    assert invalid.status_code == 422
    assert 'id="staff-name-error">Required<' in invalid.text
    assert 'id="staff-role-error">' in invalid.text
    assert 'id="staff-password-error">At least 8 characters<' in invalid.text
    assert len(client.get("/staff").json()) == 3

    added = client.post(
        "/manage/staff", data={"name": "ines", "role": "cashier", "password": "ines-password"}, headers=HX
    )
    assert added.status_code == 200 and "Added ines (cashier)." in added.text
    ines = next(s for s in client.get("/staff").json() if s["name"] == "ines")
    token = httpx.post(f"{server.url}/auth/token", json={"username": "ines", "password": "ines-password"}).json()[
        "token"
    ]
    disabled = client.post(f"/manage/staff/{ines['id']}/active", data={"active": "0"}, headers=HX)
    assert disabled.status_code == 200 and "ines is disabled." in disabled.text
    assert httpx.get(f"{server.url}/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    client.post(f"/manage/staff/{ines['id']}/active", data={"active": "1"}, headers=HX).raise_for_status()
    assert next(s for s in client.get("/staff").json() if s["name"] == "ines")["active"] is True

    own = client.post(f"/manage/staff/{staff['manager']['id']}/active", data={"active": "0"}, headers=HX)
    assert own.status_code == 409 and "You cannot disable your own account" in own.text
    assert all(s["active"] for s in client.get("/staff").json())


def test_plain_form_posts_work_without_javascript(server: Server, menu: list[dict]) -> None:
    """A signed-in browser without htmx: the forms carry the CSRF token, succeed with a redirect to
    the console, and a refused one gets the whole console back with the errors."""
    with httpx.Client(base_url=server.url, timeout=10, headers={"accept": "text/html"}) as browser:
        login = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
        assert login is not None
        credentials = {"username": "manager", "password": PASSWORDS["manager"], "next": "/manage"}
        signed = browser.post("/login", data={**credentials, "csrf_token": login[1]})
        assert signed.status_code == 303
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/manage").text)
        assert token is not None
        data = {"name": "Soup", "price": "6", "category": "Starters", "station": "cold"}
        assert browser.post("/manage/menu", data=data).status_code == 403  # no token: refused
        done = browser.post("/manage/menu", data={**data, "csrf_token": token[1]})
        assert done.status_code == 303 and done.headers["location"] == "/manage#menu"
        refused = browser.post("/manage/menu", data={**data, "price": "six", "csrf_token": token[1]})
        assert refused.status_code == 422 and "<html" in refused.text and "Enter a price like 12.50" in refused.text
        editing = browser.get(f"/manage?edit={menu[0]['id']}")
        assert "Edit item" in editing.text and 'value="Classic Burger"' in editing.text
    assert [i["name"] for i in httpx.get(f"{server.url}/menu").json()].count("Soup") == 1


# The modifier-group editor, allergens, option 86 and the menu's order


def _item_form(item: dict, **extra: str | list[str]) -> dict[str, Any]:
    """The editor's fields for `item` as the page posts them, plus `extra` (groups, boxes, action)."""
    fields = {name: item[name] for name in ("name", "description", "category", "station")}
    return {**fields, "price": f"{item['price_cents'] / 100:.2f}", "with_modifiers": "1", **extra}


def _group(
    i: int,
    name: str,
    low: str,
    high: str,
    options: list[tuple[str, str, list[str]]],
    ids: Any = None,
    kind: str | None = None,
) -> dict:
    """Group `i`'s inputs as typed; `ids` (group id, option ids) for groups already saved; `kind`
    as its select sends it (left out: a page from before groups had a kind)."""
    group_id, option_ids = ids or ("", [""] * len(options))
    data: dict[str, Any] = {f"group-{i}-id": str(group_id), f"group-{i}-name": name}
    if kind is not None:
        data[f"group-{i}-kind"] = kind
    data |= {f"group-{i}-min": low, f"group-{i}-max": high}
    for j, (option, price, allergens) in enumerate(options):
        where = f"group-{i}-option-{j}"
        data |= {f"{where}-id": str(option_ids[j]), f"{where}-name": option, f"{where}-price": price}
        data[f"{where}-allergens"] = allergens
    return data


def test_modifier_editor_adds_groups_options_and_allergens_keeping_ids(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    burger = menu[0]
    path = f"/manage/menu/{burger['id']}"
    before = world(client)
    # The row buttons work on what was typed and save nothing, with htmx and without it.
    added = client.post(path, data=_item_form(burger, action="add-group", name="Typed burger"), headers=HX)
    assert added.status_code == 200
    assert 'name="group-0-name"' in added.text and 'name="group-0-option-0-id" value=""' in added.text
    assert 'value="Typed burger"' in added.text
    plain = client.post(
        path, data=_item_form(burger, **_group(0, "Size", "1", "1", [("Small", "", [])]), action="add-option-0")
    )
    assert plain.status_code == 200 and "<html" in plain.text
    assert 'name="group-0-option-1-name"' in plain.text and 'value="Size"' in plain.text
    two = _group(0, "Size", "1", "1", [("Small", "", []), ("Large", "2", [])])
    removed = client.post(path, data=_item_form(burger, **two, action="remove-option-0-0"), headers=HX)
    assert 'value="Large"' in removed.text and 'value="Small"' not in removed.text
    assert world(client) == before

    groups = _group(0, "Doneness", "1", "1", [("Rare", "", []), ("Well done", "0", [])])
    groups |= _group(1, "Add-ons", "0", "2", [("Bacon", "2.00", []), ("Cheese", "1,5", ["milk"])], kind="add")
    data = _item_form(burger, allergens=["gluten", "sesame"], dietary=[], **groups)
    saved = client.post(path, data=data, headers=HX)
    assert saved.status_code == 200 and "Saved Classic Burger." in saved.text, saved.text
    assert f'id="tags-{burger["id"]}"' in saved.text and "Contains: Cereals containing gluten, Sesame" in saved.text
    item = client.get(f"/menu/{burger['id']}").json()
    assert item["allergens"] == ["gluten", "sesame"]
    shape = [
        (
            g["name"],
            g["kind"],
            g["min"],
            g["max"],
            [(o["name"], o["price_cents"], o["allergens"]) for o in g["options"]],
        )
        for g in item["modifier_groups"]
    ]
    assert shape == [
        ("Doneness", "choice", 1, 1, [("Rare", 0, []), ("Well done", 0, [])]),  # no kind sent: a choice
        ("Add-ons", "add", 0, 2, [("Bacon", 200, []), ("Cheese", 150, ["milk"])]),
    ]

    # Edited again: the form carries each id, so a renamed option keeps its own.
    form = client.get(f"/manage/menu/{burger['id']}/edit", headers=HX).text
    doneness, addons = item["modifier_groups"]
    assert f'name="group-1-option-1-id" value="{addons["options"][1]["id"]}"' in form
    assert 'id="menu-allergens-gluten" checked' in form and 'value="1.50"' in form
    assert '<option value="add" selected>' in form.split('id="group-1-kind"')[1].split("</select>")[0]
    assert '<option value="choice" selected>' in form.split('id="group-0-kind"')[1].split("</select>")[0]
    ids = (addons["id"], [option["id"] for option in addons["options"]])
    renamed = _group(
        0, "Extras", "0", "3", [("Smoked bacon", "2.50", []), ("Cheese", "1.50", ["milk"])], ids, kind="add"
    )
    client.post(path, data=_item_form(burger, allergens="gluten", **renamed), headers=HX).raise_for_status()
    after = client.get(f"/menu/{burger['id']}").json()
    assert [g["id"] for g in after["modifier_groups"]] == [addons["id"]]  # Doneness left out: deleted
    assert [(o["id"], o["name"], o["price_cents"]) for o in after["modifier_groups"][0]["options"]] == [
        (addons["options"][0]["id"], "Smoked bacon", 250),
        (addons["options"][1]["id"], "Cheese", 150),
    ]
    assert after["allergens"] == ["gluten"] and after["price_cents"] == burger["price_cents"]
    assert doneness["id"] not in {g["id"] for g in after["modifier_groups"]}


def test_modifier_editor_errors_are_inline_keep_what_was_typed_and_write_nothing(
    server: Server, client: httpx.Client, menu: list[dict]
) -> None:
    burger, fries = menu[0], menu[1]
    path = f"/manage/menu/{burger['id']}"
    extras = {"modifier_groups": [{"name": "Dip", "max": 1, "options": [{"name": "Ketchup"}]}]}
    fries = client.put(f"/menu/{fries['id']}", json={**MENU[1], **extras}).json()
    before = world(client)
    bad = _group(0, "Add-ons", "0", "1", [("", "1.00", []), ("Cheese", "one", ["milk"])])
    bad |= _group(1, "Size", "1", "x", [("Large", "-1", [])])
    bad |= _group(2, "Sauce", "2", "1", [("Mayo", "", [])])
    bad |= _group(3, "Remove", "0", "1", [("No onions", "", [])], kind="sideways")  # a tampered select
    refused = client.post(path, data=_item_form(burger, allergens=["gluten"], **bad), headers=HX)
    assert refused.status_code == 422
    html = refused.text
    assert "min must not be more than max" in html.split('id="group-2"')[1]
    assert 'id="group-0-option-0-name-error">Required<' in html
    assert 'id="group-0-option-1-price-error">Enter a price like 12.50<' in html
    assert 'id="group-1-max-error">A whole number from 0 to 20<' in html
    assert 'id="group-1-option-0-price-error">Enter a price like 12.50<' in html
    assert 'id="group-3-kind-error">Choose what the group is: a choice, additions or removals<' in html
    assert '<option value="sideways" selected>' in html and 'value="No onions"' in html
    for typed in ('value="one"', 'value="x"', 'value="-1"', 'value="Add-ons"', 'value="Large"'):
        assert typed in html, typed
    assert 'id="group-0-option-1-allergens-milk" checked' in html and 'id="menu-allergens-gluten" checked' in html

    # No option, an unknown allergen (a tampered post), another item's option id: each at its input.
    empty = {"group-0-id": "", "group-0-name": "Empty", "group-0-min": "0", "group-0-max": "1"}
    assert "at least 1 item" in client.post(path, data=_item_form(burger, **empty), headers=HX).text
    tampered = client.post(path, data=_item_form(burger, allergens=["gluten", "garlic"]), headers=HX)
    assert tampered.status_code == 422 and 'class="checks invalid" id="menu-allergens"' in tampered.text
    dip = fries["modifier_groups"][0]
    stolen = _group(0, "Dip", "0", "1", [("Ketchup", "", [])], (dip["id"], [dip["options"][0]["id"]]))
    foreign = client.post(path, data=_item_form(burger, **stolen), headers=HX)
    assert (
        foreign.status_code == 422
        and f"Group {dip['id']} is not one of this item" in foreign.text.split('id="group-0"')[1]
    )
    assert 'value="Ketchup"' in foreign.text
    assert world(client) == before


def test_option_stock_deltas_from_the_editor(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    burger = menu[0]
    path = f"/manage/menu/{burger['id']}"
    cheese = client.post("/inventory", json={"item_name": "Cheese", "quantity": 2, "unit": "kg"}).json()
    bacon = client.post("/inventory", json={"item_name": "Bacon", "quantity": 40, "unit": "pcs"}).json()

    def with_deltas(*rows: tuple[str, str]) -> dict[str, Any]:
        data = _item_form(burger, **_group(0, "Extras", "0", "2", [("No cheese", "", []), ("Bacon", "2", [])]))
        for k, (stock, quantity) in enumerate(rows):
            data |= {
                f"group-0-option-0-recipe-{k}-inventory_id": stock,
                f"group-0-option-0-recipe-{k}-quantity": quantity,
            }
        data |= {"group-0-option-1-recipe-0-inventory_id": str(bacon["id"]), "group-0-option-1-recipe-0-quantity": "2"}
        return data

    before = world(client)
    for rows, name, message in (
        ([(str(cheese["id"]), "abc")], "0-quantity", "Enter an amount like 0.03, or -0.03 to give stock back"),
        ([(str(cheese["id"]), "0")], "0-quantity", "a stock delta of 0 changes nothing: leave it out"),
        ([("", "-0.03"), ("", "0.1")], "0-inventory_id", "Choose a stock item"),
        ([("", ""), ("99999", "-0.03")], "0-inventory_id", "No inventory item 99999"),  # the blank row is left out
    ):
        refused = client.post(path, data=with_deltas(*rows), headers=HX)
        assert refused.status_code == 422, rows
        assert f'id="group-0-option-0-recipe-{name}-error">{message}<' in refused.text, rows
        assert "name each inventory item once" not in refused.text  # (no stand-ins reach the models)
    assert world(client) == before

    saved = client.post(path, data=with_deltas((str(cheese["id"]), "-0.03")), headers=HX)
    assert saved.status_code == 200, saved.text
    item = client.get(f"/menu/{burger['id']}").json()
    no_cheese, extra_bacon = (option["id"] for option in item["modifier_groups"][0]["options"])
    deltas = {o["option_id"]: o["ingredients"] for o in client.get(f"/menu/{burger['id']}/recipe").json()["options"]}
    assert [(line["inventory_id"], line["quantity"]) for line in deltas[no_cheese]] == [(cheese["id"], -0.03)]
    assert [(line["inventory_id"], line["quantity"]) for line in deltas[extra_bacon]] == [(bacon["id"], 2)]
    form = client.get(f"/manage/menu/{burger['id']}/edit", headers=HX).text
    assert 'name="group-0-option-0-recipe-0-quantity" value="-0.03"' in form
    assert "Stock per portion: -0.03 kg Cheese" in form

    # A row cleared is a delta removed.
    ids = (item["modifier_groups"][0]["id"], [no_cheese, extra_bacon])
    data = _item_form(burger, **_group(0, "Extras", "0", "2", [("No cheese", "", []), ("Bacon", "2", [])], ids))
    client.post(path, data=data, headers=HX).raise_for_status()
    assert client.get(f"/menu/{burger['id']}/recipe").json()["options"] == []


def test_option_switch_from_the_console(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    groups = [
        {"name": "Size", "min": 1, "max": 1, "options": [{"name": "Small"}, {"name": "Large", "price_cents": 100}]}
    ]
    lemonade = client.put(f"/menu/{menu[3]['id']}", json={**MENU[3], "modifier_groups": groups}).json()
    small, large = lemonade["modifier_groups"][0]["options"]
    path = f"/manage/menu/{lemonade['id']}/options/{large['id']}/availability"
    off = client.post(path, data={"available": "0"}, headers=HX)
    assert off.status_code == 200
    assert (
        f'id="option-available-{large["id"]}" class="switch small-switch" role="switch" aria-checked="false"'
        in off.text
    )
    options = client.get(f"/menu/{lemonade['id']}").json()["modifier_groups"][0]["options"]
    assert [(o["available"], o["switched_off"]) for o in options] == [(True, False), (False, True)]
    client.post(
        f"/manage/menu/{lemonade['id']}/options/{small['id']}/availability", data={"available": "0"}, headers=HX
    )
    assert client.get(f"/menu/{lemonade['id']}").json()["available"] is False  # its required group has nothing left
    client.post(path, data={"available": "1"}, headers=HX).raise_for_status()
    assert client.get(f"/menu/{lemonade['id']}").json()["available"] is True
    assert (
        client.post(
            f"/manage/menu/{menu[0]['id']}/options/{large['id']}/availability", data={"available": "0"}, headers=HX
        ).status_code
        == 404
    )


def test_move_categories_and_items_up_and_down(server: Server, client: httpx.Client, menu: list[dict]) -> None:
    def categories() -> list[str]:
        return [c["name"] for c in client.get("/menu/categories").json()["categories"]]

    def names() -> list[str]:
        return [item["name"] for item in client.get("/menu").json()]

    assert categories() == ["Mains", "Sides", "Drinks"]
    moved = client.post("/manage/menu/categories/move", data={"category": "Drinks", "direction": "up"}, headers=HX)
    assert moved.status_code == 200 and moved.text.index("Drinks") < moved.text.index("Sides")
    assert categories() == ["Mains", "Drinks", "Sides"]
    salad = menu[2]
    client.post(f"/manage/menu/{salad['id']}/move", data={"direction": "up"}, headers=HX).raise_for_status()
    assert names() == ["Caesar Salad", "Classic Burger", "Lemonade", "Fries"]
    client.post(f"/manage/menu/{salad['id']}/move", data={"direction": "down"}, headers=HX).raise_for_status()
    assert names() == ["Classic Burger", "Caesar Salad", "Lemonade", "Fries"]

    before = world(client)  # at either end, nothing moves and nothing is written
    client.post(f"/manage/menu/{salad['id']}/move", data={"direction": "down"}, headers=HX).raise_for_status()
    client.post(
        "/manage/menu/categories/move", data={"category": "Mains", "direction": "up"}, headers=HX
    ).raise_for_status()
    assert client.post(f"/manage/menu/{salad['id']}/move", data={"direction": "left"}, headers=HX).status_code == 400
    assert (
        client.post(
            "/manage/menu/categories/move", data={"category": "Soups", "direction": "up"}, headers=HX
        ).status_code
        == 400
    )
    assert client.post("/manage/menu/99999/move", data={"direction": "up"}, headers=HX).status_code == 404
    assert world(client) == before
    plain = client.post("/manage/menu/categories/move", data={"category": "Sides", "direction": "up"})
    assert plain.status_code == 303 and plain.headers["location"] == "/manage#menu"
    assert categories() == ["Mains", "Sides", "Drinks"]


# The console's stream


async def test_sections_are_re_rendered_at_most_once_an_interval() -> None:
    from forkflow.routes.manage.page import MIN_INTERVAL, Sections

    rendered: list[str] = []
    queued = False

    async def render(name: str) -> str:
        rendered.append(name)
        return f"<p>{name}</p>"

    sections = Sections(lambda: not queued)
    sections.stale.add("charts")
    assert len(await sections.frames(False, render)) == 1  # never sent: at once, even mid-burst
    sections.stale.add("charts")
    assert await sections.frames(False, render) == []  # too soon, and more events are coming
    started = time.monotonic()
    frames = await sections.frames(True, render)  # the burst is over: once the interval is up
    assert len(frames) == 1 and time.monotonic() - started >= MIN_INTERVAL["charts"] - 0.1
    assert rendered == ["charts", "charts"] and not sections.stale

    sections.stale.update({"charts", "menu"})
    queued = True  # an event is waiting: it takes over the charts; the menu goes at once
    frames = await sections.frames(True, render)
    assert [frame.event for frame in frames] == ["menu"] and sections.stale == {"charts"}


async def _frames(server: Server, into: list[tuple[str, str, float]], opened: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None), headers=server.auth("manager")) as client:
        async with aconnect_sse(client, "GET", f"{server.url}/manage/stream") as source:
            source.response.raise_for_status()
            opened.set()
            async for sse in source.aiter_sse():
                if sse.event != "message":  # (not the opening `retry:` frame)
                    into.append((sse.event, sse.data, time.monotonic()))


async def _until(frames: list[tuple[str, str, float]], check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out; got {[(e, d[:80]) for e, d, _ in frames]}"
        await asyncio.sleep(0.05)


def _orders_shown(data: str) -> int:
    found = re.search(r'id="stat-orders">(\d+)<', data)
    assert found is not None
    return int(found[1])


async def test_stream_opens_with_each_section_then_follows_events(server: Server, menu: list[dict]) -> None:
    frames: list[tuple[str, str, float]] = []
    opened = asyncio.Event()
    task = asyncio.create_task(_frames(server, frames, opened))
    try:
        await asyncio.wait_for(opened.wait(), 10)
        await _until(frames, lambda: len(frames) >= 3)
        assert [e for e, _, _ in frames[:3]] == ["charts", "menu", "inventory"]  # the current state first
        assert _orders_shown(frames[0][1]) == 0 and "Classic Burger" in frames[1][1]

        async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.auth("manager")) as api:
            await asyncio.sleep(1.1)  # past the prelude's charts, so the first order shows at once
            body = {
                "customer_name": "A",
                "channel": "counter",
                "items": [{"menu_item_id": menu[0]["id"], "quantity": 1}],
            }
            sent = time.monotonic()
            (await api.post("/orders", json=body)).raise_for_status()
            await _until(frames, lambda: any(e == "charts" and _orders_shown(d) == 1 for e, d, _ in frames[3:]))
            first = next(t for e, d, t in frames[3:] if e == "charts")
            assert first - sent < 1.0

            # A burst of orders: the charts are re-rendered at most about once a second, and the
            # last of them shows every order.
            start = len(frames)
            for _ in range(8):
                (await api.post("/orders", json=body)).raise_for_status()
            await _until(frames, lambda: any(e == "charts" and _orders_shown(d) == 9 for e, d, _ in frames[start:]))
            await asyncio.sleep(1.5)
            charts = [t for e, _, t in frames[start:] if e == "charts"]
            assert 1 <= len(charts) <= 3
            assert all(b - a >= 0.9 for a, b in zip(charts, charts[1:], strict=False))
            assert _orders_shown([d for e, d, _ in frames if e == "charts"][-1]) == 9

            # Menu and stock changes re-render their own sections.
            await api.put(f"/menu/{menu[1]['id']}/availability", json={"available": False})
            await _until(frames, lambda: any(e == "menu" and 'aria-checked="false"' in d for e, d, _ in frames[start:]))
            (await api.post("/inventory", json={"item_name": "Salt", "quantity": 1, "unit": "kg"})).raise_for_status()
            await _until(frames, lambda: any(e == "inventory" and "Salt" in d for e, d, _ in frames[start:]))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
