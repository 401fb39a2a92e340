"""The kitchen display in a real browser (Debian's Chromium, headless) against a real server.

Every test also fails on a JS error, a CSP violation or a request off the server (`screens.check()`).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Request, expect

from forkflow import services
from forkflow.config import Settings, sqlite_url
from forkflow.events import Bus
from forkflow.models import OrderIn
from forkflow.store import Store

from .browser import Display, Screens, chromium, run_async, screenshot, serving, watching
from .conftest import MENU, Server, order_body

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
AMBER = "rgb(180, 83, 9)"  # #b45309, .ticket.age-warn header
RED = "rgb(185, 28, 28)"  # #b91c1c, .ticket.age-late header
PLAIN = "rgb(38, 44, 54)"  # #262c36, .ticket header
# Aging thresholds in minutes: 0.05 = 3 s, 0.1 = 6 s.
FAST_AGING = {"FORKFLOW_KITCHEN_WARN_MINUTES": "0.05", "FORKFLOW_KITCHEN_LATE_MINUTES": "0.1"}


def has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


# Fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def screens(browser: Browser) -> Iterator[Screens]:
    yield from watching(Screens, browser)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """Like conftest's `server`, but seeded off the Playwright thread (see tests/browser.py)."""
    yield from serving(tmp_path / "forkflow.db")


@pytest.fixture
def aging_server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path / "forkflow.db", FAST_AGING)


def _menu(srv: Server) -> dict[str, dict]:
    """The conftest MENU, one item per station, keyed by station."""
    made = {}
    for item in MENU:
        response = httpx.post(f"{srv.url}/menu", json=item, headers=srv.auth("manager"), timeout=10)
        assert response.status_code == 201, response.text
        made[item["station"]] = response.json()
    return made


@pytest.fixture
def menu(server: Server) -> dict[str, dict]:
    return _menu(server)


# The API, as the till and the tests use it


def items(menu: dict[str, dict], *spec: tuple[Any, ...]) -> list[dict]:
    """("grill", 2) or ("grill", 2, "no pickles") per line."""
    return [
        {"menu_item_id": menu[s[0]]["id"], "quantity": s[1], **({"notes": s[2]} if len(s) > 2 else {})} for s in spec
    ]


def place(srv: Server, menu: dict[str, dict], *spec: tuple[Any, ...], **fields: Any) -> dict:
    body = order_body(list(menu.values()), **fields)
    if spec:
        body["items"] = items(menu, *spec)
    response = httpx.post(f"{srv.url}/orders", json=body, headers=srv.auth("cashier"), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def move(srv: Server, order_id: int, *statuses: str) -> dict:
    order: dict = {}
    for status in statuses:
        response = httpx.patch(
            f"{srv.url}/orders/{order_id}", json={"status": status}, headers=srv.auth("manager"), timeout=10
        )
        assert response.status_code == 200, response.text
        order = response.json()
    return order


def line_done(srv: Server, order: dict, station: str) -> None:
    """Mark the order's line for `station` done, through the display's own route."""
    (line,) = [line for line in order["lines"] if line["station"] == station]
    response = httpx.post(
        f"{srv.url}/kitchen/tickets/{order['id']}/lines/{line['id']}",
        data={"done": "1"},
        headers=srv.auth("kitchen"),
        timeout=10,
    )
    assert response.status_code == 303, response.text


def get_order(srv: Server, order_id: int) -> dict:
    response = httpx.get(f"{srv.url}/orders/{order_id}", headers=srv.auth("kitchen"), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def active(srv: Server) -> list[dict]:
    response = httpx.get(f"{srv.url}/kitchen/orders", headers=srv.auth("kitchen"), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def rail_of(orders: list[dict], station: str | None = None) -> list[tuple[int, str]]:
    """What a display's rail should show: (id, status), oldest first; a station's rail only has
    orders with lines of that station not yet done."""
    return [
        (o["id"], o["status"])
        for o in sorted(orders, key=lambda o: o["id"])
        if station is None or any(line["station"] == station and not line["done_at"] for line in o["lines"])
    ]


# The conftest MENU in the menu's order: categories as first made, then items as made within each.
MENU_ORDER = [
    item["name"]
    for category in dict.fromkeys(i["category"] for i in MENU)
    for item in MENU
    if item["category"] == category
]


def allday_of(orders: list[dict], station: str | None = None) -> list[tuple[str, int]]:
    """Per item, the quantity not yet done on new/preparing orders, in the menu's order."""
    counts: Counter[str] = Counter()
    for order in orders:
        if order["status"] in ("new", "preparing"):
            for line in order["lines"]:
                if line["done_at"] is None and (station is None or line["station"] == station):
                    counts[line["name"]] += line["quantity"]
    return sorted(counts.items(), key=lambda kv: MENU_ORDER.index(kv[0]))


# 1. Live arrival


def test_an_order_posted_through_the_api_appears_on_an_open_display(
    server: Server, menu: dict, screens: Screens
) -> None:
    display = screens.open(server)
    expect(display.rail).to_have_count(0)
    display.page.evaluate("window.__sameDocument = true")

    order = place(
        server,
        menu,
        ("grill", 2, "medium rare"),
        ("fry", 3),
        customer_name="Grace Hopper",
        channel="table",
        table="12",
        notes="No onions, please",
    )
    ticket = display.ticket(order["id"])
    expect(ticket).to_be_visible()
    expect(ticket).to_have_class(has_class("status-new"))
    expect(ticket.locator(".ticket-no")).to_have_text(f"#{order['ticket_no']}")
    expect(ticket.locator(".channel")).to_have_text("Table 12")
    expect(ticket.locator(".customer")).to_have_text("Grace Hopper new")
    expect(ticket.locator(".lines .qty")).to_have_text(["2×", "3×"])
    expect(ticket.locator(".lines .item")).to_have_text(["Classic Burger", "Fries"])
    expect(ticket.locator(".lines .line-notes")).to_have_text(["medium rare"])
    expect(ticket.locator(".lines .line.done")).to_have_count(0)
    expect(ticket.locator(".order-notes")).to_have_text("No onions, please")
    expect(ticket.locator(".bump-button")).to_have_text("Start")
    expect(display.page.locator("#allday li")).to_have_text(["2 Classic Burger", "3 Fries"])  # the menu's order

    second = place(server, menu, ("bar", 1), customer_name="Linus")
    display.wait_for_states([(order["id"], "new"), (second["id"], "new")])
    expect(display.ticket(second["id"]).locator(".channel")).to_have_text("Counter")
    expect(display.ticket(second["id"]).locator(".ticket-no")).to_have_text(f"#{order['ticket_no'] + 1}")

    assert display.page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert display.page.evaluate("window.__kds.open") == 1, "the stream was opened once"
    screens.check()


# 2. Two displays


def test_a_tap_on_one_display_shows_on_the_other(server: Server, menu: dict, screens: Screens) -> None:
    a = screens.open(server)
    b = screens.open(server)
    order = place(server, menu, ("grill", 2), ("fry", 1))
    oid = order["id"]
    for d in (a, b):
        expect(d.ticket(oid)).to_have_class(has_class("status-new"))

    a.bump(oid).click()  # Start
    for d in (b, a):
        expect(d.ticket(oid)).to_have_class(has_class("status-preparing"))
        expect(d.bump(oid)).to_have_text("Ready")

    a.line(oid, "Classic Burger").click()
    for d in (b, a):
        expect(d.line(oid, "Classic Burger")).to_have_class(has_class("done"))
    struck = b.line(oid, "Classic Burger").evaluate("e => getComputedStyle(e).textDecorationLine")
    assert "line-through" in struck
    expect(b.line(oid, "Fries")).not_to_have_class(has_class("done"))
    assert b.line(oid, "Fries").evaluate("e => getComputedStyle(e).textDecorationLine") == "none"
    assert get_order(server, oid)["lines"][0]["done_at"] is not None

    a.bump(oid).click()  # Ready
    for d in (b, a):
        expect(d.ticket(oid)).to_have_class(has_class("status-ready"))
        expect(d.bump(oid)).to_have_text("Bump")

    a.bump(oid).click()  # completed: off every rail
    for d in (b, a):
        expect(d.ticket(oid)).to_have_count(0)
        expect(d.rail).to_have_count(0)
    assert get_order(server, oid)["status"] == "completed"
    screens.check()


# 3. No polling


def test_an_idle_display_makes_no_requests_and_counts_on_the_client(
    server: Server, menu: dict, screens: Screens
) -> None:
    first = place(server, menu, ("grill", 1))
    second = place(server, menu, ("fry", 2))
    head = last_event_id(server)  # (the display's reports of what it painted add events after it)
    display = screens.open(server)
    display.wait_for_states([(first["id"], "new"), (second["id"], "new")])
    page = display.page
    page.wait_for_load_state("load")

    requests = display.watch.requests
    document = max(i for i, r in enumerate(requests) if r.resource_type == "document")
    loaded = requests[document:]
    assert requests[document].url == f"{server.url}/kitchen/display"
    streams = [r for r in loaded if r.resource_type == "eventsource"]
    assert [r.url for r in streams] == [f"{server.url}/kitchen/stream?station=&last_event_id={head}"]
    kinds = {r.resource_type for r in loaded[1:] if "/favicon." not in r.url and not _sight_report(r)}
    assert kinds == {"stylesheet", "script", "eventsource"}, [(r.resource_type, r.url) for r in loaded[1:]]

    before_timers = display.timers()
    mark = len(requests)
    page.wait_for_timeout(10_000)  # the point of the test: ten idle seconds
    after_timers = display.timers()

    # Nothing but the screen's heartbeat (proof of sight: a POST that carries no data back).
    idle = [(r.resource_type, r.method, r.url) for r in requests[mark:] if not _sight_report(r)]
    assert idle == [], f"requests while idle: {idle}"
    assert any(_sight_report(r) for r in requests[mark:]), "the heartbeat"
    assert page.evaluate("window.__kds") == {"open": 1, "errors": 0}, "the one stream stayed open"
    resources = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => ['xmlhttprequest', 'fetch'].includes(e.initiatorType))"
        ".map(e => e.name)"
    )
    assert all("/kitchen/screens/" in url for url in resources), "no XHR or fetch but the screen's reports"
    for order_id, seconds in before_timers.items():
        advanced = after_timers[order_id] - seconds
        assert 9 <= advanced <= 12, f"ticket {order_id} timer went {seconds} -> {after_timers[order_id]}"

    # The quiet stream was alive all along: an order now arrives on it, still with no other request.
    third = place(server, menu, ("cold", 1))
    display.wait_for_states([(first["id"], "new"), (second["id"], "new"), (third["id"], "new")])
    assert [r for r in requests[mark:] if not _sight_report(r)] == []
    screens.check()


def _sight_report(request: Request) -> bool:
    """The display's report of what it painted, and its heartbeat (proof of sight, issue 16)."""
    return request.method == "POST" and "/kitchen/screens/" in request.url and request.url.endswith("/seen")


def last_event_id(srv: Server) -> int:
    """The id of the last event committed (the display's page carries it to its stream)."""
    return httpx.get(f"{srv.url}/health", headers=srv.auth("manager"), timeout=10).json()["bus"]["last_event_id"]


# 4. Server restart


def _offline_changes(db: Path, menu: dict[str, dict], ids: dict[str, int]) -> dict[str, int]:
    """With the server down: new orders and status changes, straight through the service layer."""

    async def change() -> dict[str, int]:
        store = Store(Settings(database_url=sqlite_url(db)), Bus())
        await store.open()
        try:
            made = {}
            for key, spec in (("o6", (("cold", 1),)), ("o7", (("grill", 1), ("bar", 2)))):
                body = OrderIn.model_validate(
                    {"customer_name": f"Offline {key}", "channel": "counter", "items": items(menu, *spec)}
                )
                order, _ = await services.create_order(store, body)
                made[key] = order["id"]
            await services.change_status(store, made["o7"], "preparing")
            await services.change_status(store, ids["o1"], "preparing")
            await services.change_status(store, ids["o2"], "ready")
            await services.change_status(store, ids["o3"], "completed")
            await services.change_status(store, ids["o4"], "cancelled")
            o5 = await services.get_order(store, ids["o5"])
            await services.mark_lines_done(store, ids["o5"], True, line_id=o5["lines"][0]["id"])
            return made
        finally:
            await store.close()

    return run_async(change)


def test_after_a_server_restart_the_display_shows_exactly_the_active_orders(
    server: Server, menu: dict, screens: Screens
) -> None:
    ids = {
        "o1": place(server, menu, ("grill", 1))["id"],
        "o2": place(server, menu, ("fry", 2))["id"],
        "o3": place(server, menu, ("cold", 1))["id"],
        "o4": place(server, menu, ("bar", 1))["id"],
        "o5": place(server, menu, ("grill", 1), ("fry", 1))["id"],
    }
    move(server, ids["o2"], "preparing")
    move(server, ids["o3"], "preparing", "ready")
    move(server, ids["o5"], "preparing")
    display = screens.open(server)
    # While the server is down the stream fails: the browser logs each refused reconnect, and htmx
    # logs each htmx:sseError's Event object.
    display.watch.allow(r"^console\.error: \[object Event\] \(at .*/static/vendor/htmx/htmx\.min\.js\)$")
    display.watch.allow(
        r"^console\.error: Failed to load resource: net::ERR_CONNECTION_REFUSED \(at .*/kitchen/stream\?"
    )
    # ... and each report of what the screen painted, or heartbeat, sent while it was down.
    display.watch.allow(
        r"^console\.error: Failed to load resource: net::ERR_CONNECTION_REFUSED \(at .*/kitchen/screens/[^/]+/seen\)"
    )
    page = display.page
    banner = page.locator("#connection")
    display.wait_for_states(rail_of(active(server)))
    expect(banner).to_be_hidden()
    page.evaluate("window.__sameDocument = true")

    server.stop()
    expect(banner).to_be_visible()
    page.wait_for_function("() => window.__kds.errors >= 2")  # a reconnect was refused: really down, not a blip
    expect(banner).to_be_visible()
    expect(banner).to_have_text("Connection lost: reconnecting. Tickets will catch up.")

    made = _offline_changes(server.db, menu, ids)
    server.start()
    expect(banner).to_be_hidden(timeout=20_000)

    expected = active(server)
    assert rail_of(expected) == [
        (ids["o1"], "preparing"),
        (ids["o2"], "ready"),
        (ids["o5"], "preparing"),
        (made["o6"], "new"),
        (made["o7"], "preparing"),
    ]
    display.wait_for_states(rail_of(expected))
    shown = [int(i) for i in page.eval_on_selector_all("#rail article", "ts => ts.map(t => t.dataset.orderId)")]
    assert len(shown) == len(set(shown)) == len(expected), "every active order once, none twice"
    expect(display.line(ids["o5"], "Classic Burger")).to_have_class(has_class("done"))
    expect(display.line(ids["o5"], "Fries")).not_to_have_class(has_class("done"))
    display.wait_for_allday(allday_of(expected))
    assert page.evaluate("window.__sameDocument") is True, "caught up without a reload"

    later = place(server, menu, ("fry", 1), customer_name="After the restart")
    display.wait_for_states(rail_of(active(server)))
    expect(display.ticket(later["id"]).locator(".customer")).to_contain_text("After the restart")
    shown = [int(i) for i in page.eval_on_selector_all("#rail article", "ts => ts.map(t => t.dataset.orderId)")]
    assert len(shown) == len(set(shown)) == len(expected) + 1
    screens.check()


# 5. Aging


def test_tickets_turn_amber_then_red_as_they_age(aging_server: Server, screens: Screens) -> None:
    menu = _menu(aging_server)
    display = screens.open(aging_server)
    page = display.page
    started = time.monotonic()
    order = place(aging_server, menu, ("grill", 1))
    ticket = display.ticket(order["id"])
    header = ticket.locator("header")
    expect(ticket).to_be_visible()
    expect(ticket).not_to_have_class(re.compile(r"age-"))
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == PLAIN

    def wait_class(name: str) -> float:
        page.wait_for_function(
            "([id, name]) => document.getElementById('ticket-' + id).classList.contains(name)",
            arg=[order["id"], name],
            polling=50,
        )
        return time.monotonic() - started

    warned = wait_class("age-warn")
    assert 2.9 <= warned <= 5.0, f"amber after {warned:.1f} s, expected ~3 s"
    expect(ticket).not_to_have_class(has_class("age-late"))
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == AMBER

    late = wait_class("age-late")
    assert 5.9 <= late <= 8.0, f"red after {late:.1f} s, expected ~6 s"
    expect(ticket).not_to_have_class(has_class("age-warn"))
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    screens.check()


# 6. Stations, all-day, expo


def test_station_views_and_the_all_day_count(server: Server, menu: dict, screens: Screens) -> None:
    every = screens.open(server)
    grill = screens.open(server, "grill")
    fry = screens.open(server, "fry")
    a = place(server, menu, ("grill", 2), ("fry", 1))["id"]
    b = place(server, menu, ("fry", 3), ("bar", 1))["id"]  # no grill line
    c = place(server, menu, ("grill", 1), ("cold", 1), notes="Allergy: nuts")["id"]

    every.wait_for_states([(a, "new"), (b, "new"), (c, "new")])
    grill.wait_for_states([(a, "new"), (c, "new")])
    fry.wait_for_states([(a, "new"), (b, "new")])
    for order_id in (a, c):
        expect(grill.ticket(order_id).locator(".line .item")).to_have_text(["Classic Burger"])
    for order_id in (a, b):
        expect(fry.ticket(order_id).locator(".line .item")).to_have_text(["Fries"])
    expect(grill.ticket(a).locator(".bump-button")).to_have_text("Start")

    orders = active(server)
    assert allday_of(orders) == [("Classic Burger", 3), ("Caesar Salad", 1), ("Fries", 4), ("Lemonade", 1)]
    every.wait_for_allday(allday_of(orders))
    grill.wait_for_allday([("Classic Burger", 3)])
    fry.wait_for_allday([("Fries", 4)])

    # Live: an order arrives.
    d = place(server, menu, ("grill", 1), ("bar", 2))["id"]
    every.wait_for_allday([("Classic Burger", 4), ("Caesar Salad", 1), ("Fries", 4), ("Lemonade", 3)])
    grill.wait_for_allday([("Classic Burger", 4)])
    assert allday_of(active(server)) == every.allday()

    # An order with no grill line never reaches the grill rail, but does reach fry's.
    e = place(server, menu, ("cold", 1), ("fry", 1))["id"]
    f = place(server, menu, ("grill", 1))["id"]
    grill.wait_for_states([(a, "new"), (c, "new"), (d, "new"), (f, "new")])
    fry.wait_for_states([(a, "new"), (b, "new"), (e, "new")])
    every.wait_for_states([(x, "new") for x in (a, b, c, d, e, f)])
    fry.wait_for_allday([("Fries", 5)])

    # Live: a line marked done on the all-stations display.
    every.line(a, "Fries").click()
    expect(every.line(a, "Fries")).to_have_class(has_class("done"))
    fry.wait_for_states([(b, "new"), (e, "new")])  # a has no fry line left to do
    fry.wait_for_allday([("Fries", 4)])
    every.wait_for_allday(allday_of(active(server)))
    assert ("Fries", 4) in every.allday()

    # ... and on a station display: the grill ticket leaves the grill rail, the count drops.
    grill.line(c, "Classic Burger").click()
    grill.wait_for_states([(a, "new"), (d, "new"), (f, "new")])
    grill.wait_for_allday([("Classic Burger", 4)])
    expect(every.line(c, "Classic Burger")).to_have_class(has_class("done"))

    # Ready orders no longer count: b's 3 fries and a lemonade drop out.
    move(server, b, "preparing", "ready")
    every.wait_for_allday(allday_of(active(server)))
    assert dict(every.allday())["Fries"] == 1
    fry.wait_for_allday([("Fries", 1)])
    orders = active(server)
    for display, station in ((every, None), (grill, "grill"), (fry, "fry")):
        assert display.allday() == allday_of(orders, station)
        assert display.states() == rail_of(orders, station)
    screens.check()


def test_expo_needs_every_station_done_or_an_override(server: Server, menu: dict, screens: Screens) -> None:
    expo = screens.open(server, "expo")
    grill = screens.open(server, "grill")
    fry = screens.open(server, "fry")
    oid = place(server, menu, ("grill", 1), ("fry", 2))["id"]
    expect(expo.bump(oid)).to_have_text("Start")
    move(server, oid, "preparing")

    blocked = expo.bump(oid)
    expect(blocked).to_have_class(has_class("override"))
    expect(blocked).to_contain_text("Ready anyway")
    expect(blocked).to_contain_text("waiting on fry, grill")
    expect(expo.ticket(oid).locator(".progress li")).to_have_text(["fry 0/1", "grill 0/1"])

    expect(grill.bump(oid)).to_have_text("Done")
    grill.bump(oid).click()
    expect(grill.ticket(oid)).to_have_count(0)
    expect(expo.ticket(oid).locator(".progress li")).to_have_text(["fry 0/1", "grill 1/1"])
    expect(expo.ticket(oid).locator(".progress li.complete")).to_have_text(["grill 1/1"])
    expect(expo.bump(oid)).to_contain_text("waiting on fry")
    expect(expo.bump(oid)).to_have_class(has_class("override"))

    fry.bump(oid).click()
    expect(fry.ticket(oid)).to_have_count(0)
    ready = expo.bump(oid)
    expect(ready).not_to_have_class(has_class("override"))
    expect(ready).to_have_text("Ready")
    assert ready.get_attribute("data-blocked") is None
    ready.click()
    expect(expo.ticket(oid)).to_have_class(has_class("status-ready"))
    assert get_order(server, oid)["status"] == "ready"

    # The override itself: "Ready anyway" moves a ticket on with lines still to do.
    other = place(server, menu, ("cold", 1))["id"]
    move(server, other, "preparing")
    expect(expo.bump(other)).to_contain_text("waiting on cold")
    expo.bump(other).click()
    expect(expo.ticket(other)).to_have_class(has_class("status-ready"))
    assert get_order(server, other)["status"] == "ready"
    screens.check()


# 7. Keyboard


def _two_new_tickets(server: Server, menu: dict, screens: Screens) -> tuple[Display, int, int]:
    display = screens.open(server)
    first = place(server, menu, ("grill", 1))["id"]
    second = place(server, menu, ("fry", 1))["id"]
    display.wait_for_states([(first, "new"), (second, "new")])
    expect(display.ticket(first)).to_have_attribute("data-key", "1")
    expect(display.ticket(second)).to_have_attribute("data-key", "2")
    return display, first, second


def test_number_keys_select_enter_bumps_r_recalls(server: Server, menu: dict, screens: Screens) -> None:
    display, first, second = _two_new_tickets(server, menu, screens)
    page = display.page

    page.keyboard.press("2")
    expect(page.locator(".ticket.selected")).to_have_attribute("id", f"ticket-{second}")
    page.keyboard.press("1")
    expect(page.locator(".ticket.selected")).to_have_attribute("id", f"ticket-{first}")
    page.keyboard.press("Enter")
    display.wait_for_states([(first, "preparing"), (second, "new")])

    # Along to completed.
    for status in ("ready", "completed"):
        page.keyboard.press("1")
        expect(display.ticket(first)).to_have_class(has_class("selected"))
        page.keyboard.press("Enter")
        display.wait_for_states([(first, status), (second, "new")] if status != "completed" else [(second, "new")])
    assert get_order(server, first)["status"] == "completed"
    expect(display.ticket(second)).to_have_attribute("data-key", "1")

    page.keyboard.press("r")
    display.wait_for_states([(first, "ready"), (second, "new")])
    assert get_order(server, first)["status"] == "ready"
    page.keyboard.press("Escape")
    expect(page.locator(".ticket.selected")).to_have_count(0)
    screens.check()


def test_enter_again_bumps_the_ticket_still_shown_selected(server: Server, menu: dict, screens: Screens) -> None:
    display, first, second = _two_new_tickets(server, menu, screens)
    page = display.page
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    display.wait_for_states([(first, "preparing"), (second, "new")])
    expect(display.ticket(first)).to_have_class(has_class("selected"))  # still selected after its update
    page.keyboard.press("Enter")
    expect(display.ticket(first)).to_have_class(has_class("status-ready"), timeout=3_000)


def test_only_one_ticket_is_selected_after_a_bump(server: Server, menu: dict, screens: Screens) -> None:
    display, first, second = _two_new_tickets(server, menu, screens)
    page = display.page
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    display.wait_for_states([(first, "preparing"), (second, "new")])
    page.keyboard.press("2")
    expect(display.ticket(second)).to_have_class(has_class("selected"))
    expect(page.locator(".ticket.selected")).to_have_count(1, timeout=3_000)


# 8. Escaping


HOSTILE = "<img src=x onerror=alert(1)>"


def test_markup_in_names_and_notes_is_shown_as_text(server: Server, menu: dict, screens: Screens) -> None:
    before = place(server, menu, ("grill", 1, HOSTILE), customer_name=HOSTILE, notes=HOSTILE)
    display = screens.open(server)
    page = display.page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    after = place(server, menu, ("fry", 1, HOSTILE), customer_name=HOSTILE, notes=HOSTILE)
    display.wait_for_states([(before["id"], "new"), (after["id"], "new")])

    for order in (before, after):  # first from the page, then from the stream
        ticket = display.ticket(order["id"])
        expect(ticket.locator(".customer")).to_have_text(f"{HOSTILE} new")
        expect(ticket.locator(".order-notes")).to_have_text(HOSTILE)
        expect(ticket.locator(".line-notes")).to_have_text(HOSTILE)
    assert page.locator("img").count() == 0
    assert page.evaluate("document.images.length") == 0
    assert dialogs == []
    assert not [r.url for r in display.watch.requests if r.url.endswith("/x")], "no request for the img src"
    screens.check()


# 9. Screenshots


def test_screenshot_of_a_busy_display(aging_server: Server, screens: Screens) -> None:
    srv = aging_server
    menu = _menu(srv)
    size = {"width": 1400, "height": 900}
    display = screens.open(srv, viewport=size)
    page = display.page

    def aged(order_ids: list[int], name: str) -> None:
        page.wait_for_function(
            "([ids, name]) => ids.every(id => document.getElementById('ticket-' + id)?.classList.contains(name))",
            arg=[order_ids, name],
        )

    # Oldest: four orders that will be red.
    oldest = [
        place(
            srv,
            menu,
            ("grill", 2, "no pickles"),
            ("fry", 2),
            customer_name="Table of four",
            channel="table",
            table="7",
            notes="Birthday: bring the candle",
        ),
        place(srv, menu, ("cold", 1), ("bar", 2), customer_name="Mira"),
        place(srv, menu, ("grill", 1), ("fry", 1), ("bar", 1), customer_name="Jonas", channel="online"),
        place(srv, menu, ("fry", 4), customer_name="Kids' party", channel="table", table="12"),
    ]
    move(srv, oldest[0]["id"], "preparing")
    line_done(srv, oldest[0], "fry")
    move(srv, oldest[1]["id"], "preparing", "ready")
    move(srv, oldest[3]["id"], "preparing")
    aged([o["id"] for o in oldest], "age-late")

    # Middle: four that will be amber.
    middle = [
        place(srv, menu, ("grill", 3, "one well done"), customer_name="Sam", channel="table", table="3"),
        place(srv, menu, ("cold", 2, "dressing on the side"), ("bar", 2), customer_name="Priya", notes="Gluten free"),
        place(srv, menu, ("grill", 1), ("cold", 1), customer_name="Oskar", channel="online"),
        place(srv, menu, ("bar", 3), customer_name="Bar seat 2"),
    ]
    move(srv, middle[0]["id"], "preparing")
    move(srv, middle[2]["id"], "preparing")
    line_done(srv, middle[2], "grill")
    move(srv, middle[3]["id"], "preparing", "ready")
    aged([o["id"] for o in middle], "age-warn")

    # Fresh: five just in.
    fresh = [
        place(srv, menu, ("grill", 1), ("fry", 1), customer_name="Lee"),
        place(
            srv, menu, ("fry", 2), ("bar", 2), customer_name="Ana", channel="table", table="9", notes="Allergy: sesame"
        ),
        place(srv, menu, ("cold", 1), customer_name="Tom", channel="online"),
        place(
            srv, menu, ("grill", 2), ("cold", 1), ("bar", 1), customer_name="Family Park", channel="table", table="15"
        ),
        place(srv, menu, ("bar", 1), customer_name="Walk-in"),
    ]
    move(srv, fresh[0]["id"], "preparing")
    display.wait_for_states(rail_of(active(srv)))
    expect(display.rail).to_have_count(13)
    assert page.locator(".ticket.age-late").count() == 4
    assert page.locator(".ticket.age-warn").count() == 4
    assert page.locator(".ticket.status-preparing").count() == 5
    assert page.locator(".ticket.status-ready").count() == 2

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "kitchen-display.png", animations="disabled")
    page.screenshot(path=ARTIFACTS / "kitchen-display-full.png", animations="disabled", full_page=True)

    grill = screens.open(srv, "grill", viewport=size)
    grill.wait_for_states(rail_of(active(srv), "grill"))
    expect(grill.rail).to_have_count(5)
    expect(grill.page.locator("#rail .line .item")).to_have_text(["Classic Burger"] * 5)
    grill.page.screenshot(path=ARTIFACTS / "kitchen-display-grill.png", animations="disabled")
    for name in ("kitchen-display.png", "kitchen-display-grill.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
    screens.check()


# 8. Allergies (issue 14): a red banner a cook taps to acknowledge; until then Start is refused, with why.


def test_a_ticket_with_allergies_starts_only_once_a_cook_has_acknowledged_them(
    server: Server, menu: dict, screens: Screens
) -> None:
    display = screens.open(server)
    other = screens.open(server)
    display.watch.allow(r"^console\.error: Failed to load resource: .* status of 409 .*/kitchen/tickets/\d+/bump")
    display.watch.allow(r"^console\.error: Response Status Error Code 409 from /kitchen/tickets/\d+/bump")
    order = place(server, menu, ("grill", 1), allergies=["peanuts", "tree_nuts"])
    oid = order["id"]
    banner = display.ticket(oid).locator(".allergy-button")
    expect(banner).to_contain_text("Allergy: Tree nuts, Peanuts")  # in the vocabulary's order
    expect(display.bump(oid)).to_have_text("Start")
    display.bump(oid).click()
    expect(display.page.locator("#toast")).to_contain_text("acknowledge them before starting it")
    expect(display.ticket(oid)).to_have_class(has_class("status-new"))

    banner.click()  # the acknowledgement is an event: every display shows who saw it
    for screen in (display, other):
        expect(screen.ticket(oid).locator(".allergy-alert.seen")).to_contain_text("seen by kitchen")
    recorded = httpx.get(f"{server.url}/orders/{oid}", headers=server.auth("kitchen"), timeout=10).json()
    assert recorded["allergies_acknowledged_by"] == "kitchen" and recorded["allergies_acknowledged_at"]
    display.bump(oid).click()
    expect(display.ticket(oid)).to_have_class(has_class("status-preparing"))
    screens.check()
    screens.check()


# 10. Modifiers (issue 14): NO and ADD under the line, the doneness by the name, all day by choice.

MODIFIED_BURGER: dict[str, Any] = {
    "name": "Classic Burger",
    "price_cents": 1550,
    "category": "Mains",
    "station": "grill",
    "allergens": ["gluten", "sesame"],
    "modifier_groups": [
        {
            "name": "Doneness",
            "min": 1,
            "max": 1,
            "options": [{"name": "Rare"}, {"name": "Medium-rare"}, {"name": "Medium"}, {"name": "Well done"}],
        },
        {
            "name": "Add-ons",
            "kind": "add",
            "max": 5,
            "options": [
                {"name": "Bacon", "price_cents": 200},
                {"name": "Extra cheese", "price_cents": 100, "allergens": ["milk"]},
            ],
        },
        {"name": "Remove", "kind": "remove", "max": 2, "options": [{"name": "No onions"}, {"name": "No pickles"}]},
    ],
}


def test_modifiers_read_no_add_and_the_doneness_by_the_name(server: Server, screens: Screens) -> None:
    manager = server.auth("manager")
    burger = httpx.post(f"{server.url}/menu", json=MODIFIED_BURGER, headers=manager, timeout=10).json()
    fries = httpx.post(f"{server.url}/menu", json=MENU[1], headers=manager, timeout=10).json()
    option = {o["name"]: o["id"] for group in burger["modifier_groups"] for o in group["options"]}
    display = screens.open(server, viewport={"width": 960, "height": 620})
    grill = screens.open(server, "grill")

    def order(*lines: dict[str, Any], **fields: Any) -> dict:
        body = {"customer_name": "Ada", "channel": "counter", "items": list(lines), **fields}
        made = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"), timeout=10)
        assert made.status_code == 201, made.text
        return made.json()

    def burgers(quantity: int, *names: str) -> dict[str, Any]:
        return {"menu_item_id": burger["id"], "quantity": quantity, "modifiers": [option[n] for n in names]}

    first = order(
        burgers(1, "Medium-rare", "Bacon", "No onions"),
        {"menu_item_id": fries["id"], "quantity": 1},
        customer_name="Grace",
        channel="table",
        table="4",
        allergies=["milk"],
    )
    second = order(burgers(2, "Medium", "Bacon", "Bacon", "Extra cheese"), burgers(1, "Well done"))

    ticket = display.ticket(first["id"])
    line = display.line(first["id"], "Classic Burger")
    expect(line.locator(".headline")).to_have_text("— Medium-rare")
    expect(line.locator(".headline")).to_have_css("text-transform", "uppercase")  # MEDIUM-RARE, big
    expect(line.locator(".modifier")).to_have_text(["ADD Bacon", "NO onions"])
    expect(line.locator(".mod-add .mod-word")).to_have_text("ADD")
    expect(line.locator(".mod-remove .mod-word")).to_have_text("NO")
    # Not the same look: red for NO, green for ADD (and the words say it anyway).
    add_colour = line.locator(".mod-add .mod-word").evaluate("e => getComputedStyle(e).backgroundColor")
    no_colour = line.locator(".mod-remove .mod-word").evaluate("e => getComputedStyle(e).backgroundColor")
    assert (add_colour, no_colour) == ("rgb(22, 163, 74)", "rgb(220, 38, 38)")
    expect(ticket.locator(".allergy-button")).to_contain_text("Allergy: Milk")
    expect(display.line(second["id"], "Classic Burger").first.locator(".modifier")).to_have_text(
        ["ADD 2× Bacon", "ADD Extra cheese"]
    )
    expect(display.line(second["id"], "Classic Burger").first.locator(".allergy-flag")).to_have_count(0)

    # The grill's own view shows the line with its options; the fries stay off it.
    expect(grill.ticket(first["id"]).locator(".line .item")).to_have_text(["Classic Burger"])
    expect(grill.line(first["id"], "Classic Burger").locator(".modifier")).to_have_text(["ADD Bacon", "NO onions"])

    # All day, by doneness: 4 burgers waiting.
    expect(display.page.locator("#allday li")).to_have_text(
        ["4 Classic Burger Doneness: 1 Medium-rare, 2 Medium, 1 Well done", "1 Fries"]
    )
    screenshot(display.page, "kitchen-modifiers.png")  # (the README's)

    display.line(second["id"], "Classic Burger").first.click()  # two medium burgers done
    expect(display.page.locator("#allday li .choices")).to_have_text(["Doneness: 1 Medium-rare, 1 Well done"])
    expect(grill.page.locator("#allday li .count")).to_have_text(["2"])
    screens.check()
