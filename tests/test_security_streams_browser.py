"""Issue 12, finding 1, in Chromium: the kitchen display comes back by itself when its stream
ends at its lifetime, and goes to the sign-in page when its session was signed out elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from .browser import Screens, serving
from .conftest import Server


@pytest.fixture
def screens(browser: object) -> Iterator[Screens]:
    opened = Screens(browser)  # type: ignore[arg-type]
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path / "forkflow.db", {"FORKFLOW_STREAM_MAX_SECONDS": "2"})


def test_the_display_reconnects_after_its_lifetime_and_signs_in_after_a_sign_out(
    server: Server, screens: Screens
) -> None:
    menu = httpx.post(
        f"{server.url}/menu",
        json={"name": "Fries", "price_cents": 450, "category": "Sides", "station": "fry"},
        headers=server.auth("manager"),
    ).json()
    display = screens.open(server)
    page = display.page
    page.evaluate("window.__sameDocument = true")
    display.wait_stream_open(3)  # the stream ended twice at its 2 s lifetime, and came back each time
    body = {"customer_name": "After-Reconnect", "channel": "counter", "items": [{"menu_item_id": menu["id"]}]}
    body["items"][0]["quantity"] = 1
    assert httpx.post(f"{server.url}/orders", json=body, headers=server.auth("manager")).status_code == 201
    expect(page.locator("#rail .ticket .customer")).to_contain_text("After-Reconnect")
    assert page.evaluate("window.__sameDocument") is True, "came back without a reload"

    # Signed out elsewhere: the same session, from another client.
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "forkflow_session")
    with httpx.Client(base_url=server.url, cookies={"forkflow_session": cookie}) as other:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/login").text)
        assert csrf
        assert other.post("/logout", data={"csrf_token": csrf.group(1)}).status_code == 303
    page.wait_for_url(re.compile(r"/login\?next=%2Fkitchen%2Fdisplay"), timeout=10_000)
    expect(page.locator("form.login")).to_be_visible()
    # The refused stream and htmx's log of it are expected here, nothing else.
    display.watch.allow(r"^console\.error: \[object Event\]")
    display.watch.allow(r"Failed to load resource: the server responded with a status of 401")
    screens.check()
