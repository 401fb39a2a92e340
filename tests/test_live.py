"""The live-stream toolkit itself (forkflow/live.py): `open_stream` subscribes before it reads and
never leaves a subscription behind when it fails; each app has its own frame caches; one htmx check."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request

import forkflow
from forkflow.app import create_app
from forkflow.config import Settings, sqlite_url
from forkflow.errors import Busy, NotFound
from forkflow.events import Subscription
from forkflow.limits import HoldingSlot
from forkflow.live import FrameCache, Start, frame_cache, open_stream
from forkflow.request import is_htmx, store_of
from forkflow.routes.http import wants_page


def request_to(app: Starlette, headers: dict[str, str] | None = None, path: str = "/stream") -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    scope = {"type": "http", "app": app, "method": "GET", "path": path, "headers": raw, "query_string": b""}
    scope["client"] = ("192.0.2.1", 50000)
    return Request(scope)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    """An app with its lifespan run (its store, stream slots and frame caches on `app.state`)."""
    made = create_app(Settings(database_url=sqlite_url(tmp_path / "live.db")))
    async with made.router.lifespan_context(made):
        yield made


async def nothing(event: object, settled: bool) -> list[bytes]:
    return []


# open_stream


async def test_a_failing_snapshot_read_leaves_no_subscription(app: Starlette) -> None:
    bus = store_of(request_to(app)).bus
    seen: list[bool] = []

    async def snapshot(sub: Subscription) -> Start:
        seen.append(sub in bus.subscriptions())  # subscribed before the view is read
        raise NotFound("no such order")

    with pytest.raises(NotFound):
        await open_stream(request_to(app), {"orders"}, snapshot)
    assert seen == [True]
    assert bus.subscriber_count == 0
    assert app.state.stream_slots.open == 0


async def test_a_cancelled_snapshot_read_leaves_no_subscription(app: Starlette) -> None:
    """A client gone mid-read cancels the handler: a BaseException, not an Exception."""
    bus = store_of(request_to(app)).bus

    async def snapshot(sub: Subscription) -> Start:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await open_stream(request_to(app), {"orders"}, snapshot)
    assert bus.subscriber_count == 0


async def test_a_refused_stream_slot_leaves_no_subscription(app: Starlette) -> None:
    bus = store_of(request_to(app)).bus
    app.state.stream_slots.total = 1
    held = app.state.stream_slots.claim(None)  # the only slot
    read: list[int] = []

    async def snapshot(sub: Subscription) -> Start:
        read.append(1)
        return Start(0, nothing)

    try:
        with pytest.raises(Busy):
            await open_stream(request_to(app), {"orders"}, snapshot)
    finally:
        held()
    assert read == [1] and bus.subscriber_count == 0 and app.state.stream_slots.open == 0


async def test_an_opened_stream_holds_its_subscription_and_slot_until_it_ends(app: Starlette) -> None:
    bus = store_of(request_to(app)).bus

    async def snapshot(sub: Subscription) -> Start:
        return Start(0, nothing)

    response = await open_stream(request_to(app), ["orders", "menu"], snapshot)
    assert isinstance(response, HoldingSlot) and response.status_code == 200
    assert [sub.topics for sub in bus.subscriptions()] == [frozenset({"orders", "menu"})]
    assert app.state.stream_slots.open == 1
    ending = response.inner.background
    assert ending is not None
    await ending()  # what runs when the response ends, even if its body never starts
    response.release()
    assert bus.subscriber_count == 0 and app.state.stream_slots.open == 0


# Frame caches


async def test_two_apps_in_one_process_share_no_frame_cache(tmp_path: Path) -> None:
    first = create_app(Settings(database_url=sqlite_url(tmp_path / "first.db")))
    second = create_app(Settings(database_url=sqlite_url(tmp_path / "second.db")))
    renders: list[str] = []

    def render(text: str) -> Callable[[], Awaitable[bytes]]:
        async def encoded() -> bytes:
            renders.append(text)
            return text.encode()

        return encoded

    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        mine = frame_cache(request_to(first), "kitchen")
        assert frame_cache(request_to(first), "kitchen") is mine  # one per page within an app
        theirs = frame_cache(request_to(second), "kitchen")
        assert theirs is not mine
        assert frame_cache(request_to(first), "pos", 256) is not mine

        # Event 1 of one database is not event 1 of the other.
        assert await mine.get((1, "all", "ticket"), render("first")) == b"first"
        assert await theirs.get((1, "all", "ticket"), render("second")) == b"second"
        assert await mine.get((1, "all", "ticket"), render("again")) == b"first"
        assert renders == ["first", "second"]


def test_no_module_holds_a_frame_cache() -> None:
    """Frame caches live on `app.state`, never in a module shared by every app in the process."""
    for info in pkgutil.walk_packages(forkflow.__path__, "forkflow."):
        if ".migrations" in info.name or info.name.endswith("__main__"):  # (running it starts the CLI)
            continue
        module = importlib.import_module(info.name)
        held = [name for name, value in vars(module).items() if isinstance(value, FrameCache)]
        assert held == [], f"{info.name} holds {held}"


# htmx


def test_is_htmx_is_the_hx_request_header() -> None:
    app = Starlette()
    assert is_htmx(request_to(app, {"HX-Request": "true"}))
    assert is_htmx(request_to(app, {"hx-request": "true"}))
    assert not is_htmx(request_to(app))
    assert not is_htmx(request_to(app, {"Accept": "text/html"}))


def test_a_page_is_for_a_browser_navigating_not_for_htmx() -> None:
    app = Starlette()
    assert wants_page(request_to(app, {"Accept": "text/html"}))
    assert not wants_page(request_to(app, {"Accept": "text/html", "HX-Request": "true"}))
    assert not wants_page(request_to(app, {"Accept": "application/json"}))
