"""The day's report page in a real browser (Debian's Chromium, headless): the X-report of a hand-made
day, closed with the page's confirmation, becomes its Z-report (the README's screenshot); "Print on
receipt printer" says inline whether it was sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from .browser import INIT_SCRIPT, TIMEOUT_MS, Watch, screenshot, serving
from .conftest import PASSWORDS, Server
from .fake_printer import FakePrinter
from .money_day import DAY, write_days
from .test_print_jobs import add_printer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serving(tmp_path / "forkflow.db")


def test_the_x_report_closed_from_the_page_becomes_the_z_report(server: Server, browser: Browser) -> None:
    write_days(server.db, {"day": DAY})
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(INIT_SCRIPT)
    try:
        page = context.new_page()
        watch = Watch(page, server.url)
        page.goto(f"{server.url}/login?next={quote(f'/manage/reports?date={DAY}', safe='')}")
        page.fill("input[name=username]", "manager")
        page.fill("input[name=password]", PASSWORDS["manager"])
        page.click("form.login button[type=submit]")
        expect(page.locator("#report-title")).to_have_text(f"X-report (so far) · {DAY}")
        expect(page.locator("#total-sales")).to_have_text("$69.70")
        expect(page.locator("#close-day-confirm")).to_be_hidden()  # behind "Close the day"
        page.click("#close-day summary")
        page.click("#close-day-confirm")
        expect(page.locator("#report-title")).to_have_text(f"Z-report · {DAY}")
        expect(page.locator("#report-status")).to_contain_text("Day closed by manager")
        expect(page.locator("#close-day")).to_have_count(0)
        expect(page.locator("#tenders tbody tr")).to_have_count(2)
        expect(page.locator("#drawers tbody td").last).to_have_text("-$0.75")
        screenshot(page, "z-report.png", full_page=True)
        page.emulate_media(media="print")  # on paper: no navigation, no buttons
        expect(page.locator(".pick-day")).to_be_hidden()
        expect(page.locator("header.topbar")).to_be_hidden()
        assert not watch.unexpected()
    finally:
        context.close()


def test_print_on_receipt_printer_says_inline_whether_it_was_sent(server: Server, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(INIT_SCRIPT)
    till = FakePrinter()
    try:
        page = context.new_page()
        watch = Watch(page, server.url)
        watch.allow(r"^console\.error: Failed to load resource: .* 409 .*/manage/reports/print\)$")
        page.goto(f"{server.url}/login?next={quote(f'/manage/reports?date={DAY}', safe='')}")
        page.fill("input[name=username]", "manager")
        page.fill("input[name=password]", PASSWORDS["manager"])
        page.click("form.login button[type=submit]")
        page.click("#print-report")
        expect(page.locator("#print-report-error")).to_have_text(
            "No receipt printer is set up: add one in the console first"
        )
        add_printer(server, "Till", till.port, role="receipt")
        page.click("#print-report")
        expect(page.locator("#print-report-sent")).to_have_text("Sent to Till.")
        expect(page.locator("#print-report-error")).to_have_count(0)
        expect(page.locator("#report-title")).to_have_text(f"X-report (so far) · {DAY}")  # still the page
        till.wait_for(1)
        assert "X REPORT — so far" in till.chits()[0].text
        page.emulate_media(media="print")
        expect(page.locator("#print-report")).to_be_hidden()  # not on the printed page
        assert not watch.unexpected()
    finally:
        context.close()
        till.close()
