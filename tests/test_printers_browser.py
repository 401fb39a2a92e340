"""The console's Printers section in a real browser (Chromium): add a printer with an inline error
first, print a test page on a printer that refuses, and watch its row turn failing and then online
live, from the console's stream, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from .browser import serving, watching
from .conftest import Server
from .fake_printer import FakePrinter
from .test_manage_browser import Consoles, still_same_document

ENV = {
    "FORKFLOW_PRINTER_TIMEOUT_SECONDS": "1",
    "FORKFLOW_PRINTER_RETRY_SECONDS": "0.2",
    "FORKFLOW_PRINTER_RETRY_MAX_SECONDS": "0.4",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path / "forkflow.db", ENV)


@pytest.fixture
def consoles(browser: Browser) -> Iterator[Consoles]:
    yield from watching(Consoles, browser)


def test_a_printer_is_added_and_its_status_follows_live(server: Server, consoles: Consoles) -> None:
    printer = FakePrinter("refuse")
    try:
        page = consoles.open(server)
        consoles.expect_refusals()
        form = page.locator("form.printer-form")
        form.locator("input[name=name]").fill("Grill")
        form.locator("input[name=host]").fill("http://grill")
        form.locator("input[name=port]").fill(str(printer.port))
        form.locator("input[name=stations]").fill("grill")
        form.locator("button[type=submit]").click()
        expect(page.locator("#printer-host-error")).to_contain_text("host name or IPv4 address")
        expect(page.locator("form.printer-form input[name=name]")).to_have_value("Grill")  # kept as typed
        page.locator("form.printer-form input[name=host]").fill("127.0.0.1")
        page.locator("form.printer-form button[type=submit]").click()
        row = page.locator("#printer-list tr.printer", has_text="Grill")
        expect(row).to_contain_text("Not used yet")
        row.get_by_role("button", name="Print test page").click()
        expect(row.locator(".printer-status")).to_contain_text("Failing", timeout=10_000)
        expect(row.locator(".printer-status")).to_contain_text("connection refused")
        expect(row.locator(".printer-queued")).to_have_text("1")
        printer.set_mode("ok")
        expect(row.locator(".printer-status")).to_contain_text("Online", timeout=10_000)
        expect(row.locator(".printer-queued")).to_have_text("0")
        assert len(printer.jobs) == 1
        still_same_document(page)
        consoles.check()
    finally:
        printer.close()
