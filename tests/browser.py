"""Playwright helpers for browser tests against a real ForkFlow server (`tests.conftest.Server`).

- Only Debian's Chromium at /usr/bin/chromium, headless; never a downloaded browser.
- Every page is watched: console errors (but a favicon 404), uncaught exceptions, CSP violations,
  and any request that leaves the server under test are collected, and `Screens.check()` fails on them.
- Sync Playwright keeps an event loop running in the test's thread, so `asyncio.run` (the store's
  service functions, `seed_staff`) goes through `run_async`, which runs it in a thread of its own.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, Request, expect, sync_playwright

from .conftest import PASSWORDS, Server

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
# The README shows the screenshots kept in docs/; a run with FORKFLOW_UPDATE_DOCS=1 refreshes them.
UPDATE_DOCS = os.environ.get("FORKFLOW_UPDATE_DOCS") == "1"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

T = TypeVar("T")

# Runs in every page before its own scripts: counts the display's stream opening and failing (the
# events kitchen.js also listens to), and turns a CSP violation into a console error we collect.
INIT_SCRIPT = """
window.__kds = { open: 0, errors: 0 };
document.addEventListener("htmx:sseOpen", () => { window.__kds.open += 1; });
document.addEventListener("htmx:sseError", () => { window.__kds.errors += 1; });
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run(make())` in a fresh thread (this one has sync Playwright's loop running)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def start_server(db: Path, env: dict[str, str] | None = None) -> Server:
    """`Server(db, env).start()` (seeding its staff runs in a thread of its own, off Playwright's loop)."""
    return Server(db, env=env).start()


def serving(db: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """For a fixture: a server started on `db` with `env`, stopped afterwards (unless a test did)."""
    srv = start_server(db, env)
    try:
        yield srv
    finally:
        if srv.process is not None:
            srv.stop()


class Watch:
    """What went wrong on one page: console errors, page errors, CSP violations, foreign requests."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.base_url = base_url
        self.problems: list[str] = []
        self.requests: list[Request] = []
        self.allowed: list[re.Pattern[str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("request", lambda request: self.requests.append(request))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        if "/favicon." in where and "404" in message.text:
            return
        self.problems.append(f"console.error: {message.text} (at {where or '?'})")

    def allow(self, pattern: str) -> None:
        """An error this test expects (say, the stream failing while the server is down)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        found = [p for p in self.problems if not any(a.search(p) for a in self.allowed)]
        found += [
            f"request off the server under test: {r.method} {r.url}"
            for r in self.requests
            if not r.url.startswith(self.base_url + "/")
        ]
        return found


class Display:
    """One signed-in kitchen display page."""

    def __init__(self, page: Page, watch: Watch) -> None:
        self.page = page
        self.watch = watch

    @property
    def rail(self) -> Locator:
        return self.page.locator("#rail article.ticket")

    def ticket(self, order_id: int) -> Locator:
        return self.page.locator(f"#rail #ticket-{order_id}")

    def line(self, order_id: int, name: str) -> Locator:
        return self.ticket(order_id).locator("button.line", has=self.page.locator(".item", has_text=name))

    def bump(self, order_id: int) -> Locator:
        return self.ticket(order_id).locator(".bump-button")

    def states(self) -> list[tuple[int, str]]:
        """(order id, status) per ticket on the rail, in rail order."""
        return [
            (int(order_id), status)
            for order_id, status in self.page.eval_on_selector_all(
                "#rail article.ticket",
                """tickets => tickets.map(t => [t.dataset.orderId,
                    [...t.classList].find(c => c.startsWith("status-")).slice(7)])""",
            )
        ]

    def wait_for_states(self, expected: list[tuple[int, str]]) -> None:
        """Until the rail shows exactly these tickets with these statuses, in this order."""
        want = [[order_id, status] for order_id, status in expected]
        try:
            self.page.wait_for_function(
                """want => JSON.stringify([...document.querySelectorAll("#rail article.ticket")].map(t =>
                    [Number(t.dataset.orderId), [...t.classList].find(c => c.startsWith("status-")).slice(7)]))
                    === JSON.stringify(want)""",
                arg=want,
            )
        except Exception as error:
            raise AssertionError(f"rail never showed {expected}; it shows {self.states()}") from error

    def allday(self) -> list[tuple[str, int]]:
        rows = self.page.eval_on_selector_all(
            "#allday li:not(.none)",
            "lis => lis.map(li => [li.querySelector('.name').textContent, li.querySelector('.count').textContent])",
        )
        return [(name, int(count)) for name, count in rows]

    def wait_for_allday(self, expected: list[tuple[str, int]]) -> None:
        texts = [f"{count} {name}" for name, count in expected] or ["Nothing waiting"]
        expect(self.page.locator("#allday li")).to_have_text(texts)

    def wait_stream_open(self, times: int = 1) -> None:
        self.page.wait_for_function("n => window.__kds.open >= n", arg=times)

    def timers(self) -> dict[int, int]:
        """Each ticket's timer, in seconds."""
        shown = self.page.eval_on_selector_all(
            "#rail article.ticket",
            "ts => ts.map(t => [t.dataset.orderId, t.querySelector('[data-timer]').textContent])",
        )
        out = {}
        for order_id, text in shown:
            minutes, seconds = text.split(":")
            out[int(order_id)] = int(minutes) * 60 + int(seconds)
        return out


class Screens:
    """Opens signed-in kitchen displays, each in a browser context of its own, and checks them all."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.displays: list[Display] = []
        self.checked = False

    def open(
        self,
        server: Server,
        station: str | None = None,
        role: str = "kitchen",
        viewport: dict[str, int] | None = None,
        wait_stream: bool = True,
        screen: str | None = None,
    ) -> Display:
        context = self.browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(INIT_SCRIPT)
        self.contexts.append(context)
        page = context.new_page()
        display = Display(page, Watch(page, server.url))
        self.displays.append(display)
        query = [f"station={quote(station)}"] if station else []
        query += [f"screen={quote(screen)}"] if screen else []  # its name, for proof of sight
        target = "/kitchen/display" + ("?" + "&".join(query) if query else "")
        page.goto(f"{server.url}/login?next={quote(target, safe='')}")
        page.fill("input[name=username]", role)
        page.fill("input[name=password]", PASSWORDS[role])
        page.click("form.login button[type=submit]")
        page.wait_for_url(server.url + target)
        if wait_stream:
            display.wait_stream_open()
        return display

    def check(self) -> None:
        """No JS error, no CSP violation, no request elsewhere, on any page opened."""
        self.checked = True
        problems = [f"page {n}: {p}" for n, d in enumerate(self.displays) for p in d.watch.unexpected()]
        assert not problems, "\n".join(problems)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def screenshot(page: Page, name: str, full_page: bool = False, min_bytes: int = 10_000) -> Path:
    """A screenshot in artifacts/ (and in docs/ for the README when FORKFLOW_UPDATE_DOCS=1)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=path, animations="disabled", full_page=full_page)
    assert path.stat().st_size > min_bytes, f"{name} looks empty"
    if UPDATE_DOCS:
        shutil.copyfile(path, ROOT / "docs" / name)
    return path


class Watched(Protocol):
    """Screens, tills, consoles: pages opened in a browser of their own, checked at the end."""

    checked: bool

    def check(self) -> None: ...

    def close(self) -> None: ...


Opened = TypeVar("Opened", bound=Watched)


def watching(kind: Callable[[Browser], Opened], browser: Browser) -> Iterator[Opened]:
    """For a fixture: the pages of `kind`, checked (no JS error, no CSP violation, nothing fetched
    elsewhere) unless the test checked them itself, and closed."""
    opened = kind(browser)
    try:
        yield opened
        if not opened.checked:
            opened.check()
    finally:
        opened.close()
