"""A manager pauses online ordering and resumes it: every open shop page says so live and offers no
checkout meanwhile, without a reload; a checkout sent anyway is refused clearly (real Chromium,
real server). Screenshot: docs/shop-paused.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, expect

from .conftest import Server, create_menu
from .test_shop_browser import DESKTOP, Customers, add, checkout, orders, screenshot

DEFAULTS = {"paused": False, "resume_at": None, "busy_minutes": 0, "slot_orders": None, "slot_load": None}


@pytest.fixture
def customers(browser: Browser, server: Server) -> Iterator[Customers]:
    opened = Customers(browser, server)
    try:
        yield opened
        opened.check()
    finally:
        opened.close()


def _set(server: Server, **body: object) -> None:
    response = httpx.put(f"{server.url}/online", json={**DEFAULTS, **body}, headers=server.auth("manager"))
    assert response.status_code == 200, response.text


def test_a_pause_shows_live_on_open_menus_and_checkouts_and_resuming_reopens_them(
    server: Server, customers: Customers
) -> None:
    burger = create_menu(server)["Classic Burger"]
    browsing = customers.open("/", viewport=DESKTOP)
    add(browsing, burger)
    paying = customers.open("/", viewport=DESKTOP)
    add(paying, burger)
    checkout(paying, "Ada Lovelace")
    for page in (browsing, paying):
        page.wait_for_function("() => window.__kds.open >= 1")
    expect(browsing.locator(".online-paused")).to_have_count(0)
    expect(browsing.get_by_role("link", name="Checkout")).to_be_visible()

    # Every slot full: checkout offers only "as soon as possible" (on its next render).
    _set(server, slot_orders=0)
    paying.reload()
    expect(paying.get_by_label("Pickup time").locator("option")).to_have_text(
        [re.compile(r"^As soon as possible \(ready around \d\d:\d\d\)$")]
    )
    paying.get_by_label("Your name").fill("Ada Lovelace")
    paying.wait_for_function("() => window.__kds.open >= 1")

    resume = datetime.now(UTC) + timedelta(hours=2)
    _set(server, paused=True, resume_at=resume.isoformat())
    banner = f"Online ordering is paused until {resume.strftime('%H:%M')}"  # (the test server's time is UTC)
    for page in (browsing, paying):
        expect(page.locator("#online .online-paused")).to_contain_text(banner)
    expect(browsing.get_by_role("link", name="Checkout")).to_be_hidden()
    expect(paying.get_by_role("button", name="Place order")).to_be_hidden()
    screenshot(browsing, "shop-paused.png")

    # A checkout sent anyway (a page that missed the news) is refused, saying why; nothing is written.
    customers.allow(r"status of 409 \(Conflict\) \(at http://[^ ]+/checkout\)")
    paying.evaluate("document.getElementById('checkout-form').requestSubmit()")
    expect(paying.locator("#checkout-error")).to_contain_text(banner)
    assert orders(server) == []

    _set(server)  # resumed, and no limits
    for page in (browsing, paying):
        expect(page.locator("#online .online-paused")).to_have_count(0)
    expect(browsing.get_by_role("link", name="Checkout")).to_be_visible()
    place = paying.get_by_role("button", name="Place order")
    expect(place).to_be_visible()
    place.click()
    paying.wait_for_url(re.compile(r"/track/[\w-]+$"))
    assert len(orders(server)) == 1
