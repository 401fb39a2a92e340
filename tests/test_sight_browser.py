"""Proof of sight in a real browser (Debian's Chromium, headless) against a real server: a grill
display that is up acknowledges what it painted and raises no alert and no fallback print; once its
network is cut, the next ticket raises the alert on the till within the configured time, its chit
comes out of the expo printer (a fake ESC/POS printer) marked NOT SEEN ON SCREEN, and the console
shows the screen offline; back online, it catches up and the alert clears."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from .browser import Screens, screenshot, serving
from .conftest import Server
from .fake_printer import FakePrinter, wait_until
from .test_manage_browser import Consoles, consoles
from .test_pos_browser import Tills, menu, screens, tills

__all__ = ["consoles", "menu", "screens", "tills"]  # (the fixtures, shared with the other browser tests)

UNSEEN_SECONDS = 3
OFFLINE_SECONDS = 3
ENV = {
    "FORKFLOW_UNSEEN_SECONDS": str(UNSEEN_SECONDS),
    "FORKFLOW_SCREEN_OFFLINE_SECONDS": str(OFFLINE_SECONDS),
    "FORKFLOW_SCREEN_HEARTBEAT_SECONDS": "1",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path / "forkflow.db", ENV)


def _alarms(server: Server) -> list[dict]:
    with sqlite3.connect(server.db) as conn:
        rows = conn.execute("SELECT payload FROM events WHERE type = 'sight.unseen' ORDER BY id").fetchall()
    return [json.loads(payload) for (payload,) in rows]


def _burger(server: Server, menu: dict) -> dict:
    body = {
        "customer_name": "Ada",
        "channel": "counter",
        "items": [{"menu_item_id": menu["Classic Burger"]["id"], "quantity": 1}],
    }
    response = httpx.post(f"{server.url}/orders", json=body, headers=server.auth("cashier"))
    assert response.status_code == 201, response.text
    return response.json()


def _not_seen_chits(printer: FakePrinter) -> list[str]:
    return [chit.text for chit in printer.chits() if "NOT SEEN ON SCREEN" in chit.text]


def _seen_by(server: Server, order_id: int) -> list[str | None]:
    order = httpx.get(f"{server.url}/orders/{order_id}", headers=server.auth("manager")).json()
    return [sighting["seen_by"] for sighting in order["sightings"]]


def test_a_display_that_goes_offline_raises_the_alert_and_shows_offline(
    server: Server, menu: dict, screens: Screens, tills: Tills, consoles: Consoles
) -> None:
    expo = FakePrinter()  # the kitchen's fallback: no grill printer, an expo printer for the pass
    body = {"name": "Expo", "host": "127.0.0.1", "port": expo.port, "role": "kitchen", "stations": []}
    added = httpx.post(f"{server.url}/printers", json=body, headers=server.auth("manager"))
    assert added.status_code == 201, added.text
    grill = screens.open(server, "grill", screen="grill-1")
    expect(grill.page.locator("#screen-name")).to_have_value("grill-1")
    till = tills.open(server)
    console = consoles.open(server)
    expect(console.locator("#screen-grill-1 .screen-status")).to_have_text("Online")

    # Up: the display acknowledges what it painted, and no alert is raised.
    seen = _burger(server, menu)
    expect(grill.ticket(seen["id"])).to_be_visible()
    deadline = time.monotonic() + 10
    while _seen_by(server, seen["id"]) != ["screen grill-1"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _seen_by(server, seen["id"]) == ["screen grill-1"]
    expect(till.recent(seen["id"]).locator(".sighting.seen")).to_contain_text("seen by grill")
    console_row = console.locator(".sightings .sighting.seen")
    expect(console_row).to_contain_text("seen by screen grill-1")
    expect(console_row).to_contain_text(f"#{seen['ticket_no']}")  # (one station: its row names the ticket)
    time.sleep(UNSEEN_SECONDS + 1)
    assert _alarms(server) == []
    expect(till.page.locator(".sight-alert")).to_have_count(0)
    expo.wait_for(1)  # the pass's own whole-order chit, and no fallback
    assert _not_seen_chits(expo) == []

    # The network cut: the next ticket reaches no screen, and the alarm rings within the time.
    grill.watch.allow(r"ERR_INTERNET_DISCONNECTED|Failed to load resource|net::ERR_")
    grill.page.context.set_offline(True)
    unseen = _burger(server, menu)
    started = time.monotonic()
    alert = till.page.locator(".sight-alert")
    expect(alert).to_contain_text(
        f"Ticket {unseen['ticket_no']} not seen by grill", timeout=(UNSEEN_SECONDS + 8) * 1000
    )
    assert time.monotonic() - started < UNSEEN_SECONDS + 8
    assert [(a["order_id"], a["station"]) for a in _alarms(server)] == [(unseen["id"], "grill")]
    wait_until(lambda: _not_seen_chits(expo), timeout=UNSEEN_SECONDS + 8, what="the fallback chit")
    assert time.monotonic() - started < UNSEEN_SECONDS + 8
    [fallback] = _not_seen_chits(expo)
    assert f"#{unseen['ticket_no']}" in fallback and "Classic Burger" in fallback
    expect(till.recent(unseen["id"]).locator(".sighting.alarmed")).to_have_text("grill: not seen yet")
    expect(console.locator("#screen-grill-1 .screen-status")).to_have_text("Offline")
    expect(console.locator(".sight-alert")).to_contain_text(f"Ticket {unseen['ticket_no']} not seen by grill")
    screenshot(till.page, "pos-sight-alert.png")
    console.locator("#sight").scroll_into_view_if_needed()
    screenshot(console, "console-screens.png")

    # Back online: the display catches up, reports, and the alert clears everywhere.
    grill.page.context.set_offline(False)
    expect(grill.ticket(unseen["id"])).to_be_visible(timeout=20_000)
    expect(till.page.locator(".sight-alert")).to_have_count(0, timeout=20_000)
    expect(console.locator("#screen-grill-1 .screen-status")).to_have_text("Online")
    assert _seen_by(server, unseen["id"]) == ["screen grill-1"]
    assert len(_alarms(server)) == 1  # once
    assert len(_not_seen_chits(expo)) == 1
    expo.close()
