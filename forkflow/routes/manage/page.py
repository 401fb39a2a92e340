"""The console's page and its live stream; `whole_page` is every form's answer without JavaScript.

The stream (`/manage/stream`) opens with the current state of each live section and re-renders a
section when an event touches it: the menu and the stock table as they change, today's charts at
most about once a second however busy the orders are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response

from ... import services
from ...auth.roles import Principal, principal_of, require
from ...errors import BadRequest
from ...events import Event, Subscription
from ...live import Frames, Start, open_stream
from ...numbers import MAX_ID, whole_number
from ...request import store_of
from ...web import templates
from . import view as console
from .forms import Form

# What the console needs: a manager's three permissions.
CONSOLE = ("menu.write", "inventory", "staff")
# A live section is re-rendered at most this often (seconds); the last event of a burst always
# gets its re-render, at the latest this long after the one before.
MIN_INTERVAL = {
    "charts": 1.0,
    "menu": 0.25,
    "inventory": 0.25,
    "schedule": 0.25,
    "sight": 0.25,
    "printers": 0.25,
    "taxes": 0.25,
}


def _is_manager(principal: Principal | None) -> bool:
    return principal is not None and all(principal.can(permission) for permission in CONSOLE)


# The page


def _id_query(request: Request, name: str) -> int | None:
    """`?edit=` / `?movements=`: left out or empty is None; anything but an id is 400."""
    raw = request.query_params.get(name, "")
    if raw == "":
        return None
    value = whole_number(raw, 1)
    if value is None:
        raise BadRequest(f"{name} must be an id", {name: f"a whole number from 1 to {MAX_ID}"})
    return value


async def whole_page(request: Request, status: int = 200, **overrides: Any) -> Response:
    """The whole console; `overrides` replace a section's state (a refused form, with its errors)."""
    store = store_of(request)
    context: dict[str, Any] = {
        **await console.charts_context(store),
        **await console.menu_context(store),
        **await console.inventory_context(store),
        **await console.staff_context(store),
        **await console.schedule_context(store),
        **await console.online_context(store),
        **await console.sight_context(store),
        **await console.printers_context(store),
        **await console.taxes_context(store),
        "menu_form": Form(),
        "editing": None,
        "staff_form": Form(),
    }
    edit = _id_query(request, "edit")
    if edit is not None and "menu_form" not in overrides:  # the editor without JavaScript
        item = await services.get_menu_item(store, edit)
        context.update(menu_form=await console.editor_form(store, item), editing=item["id"])
    moves = _id_query(request, "movements")
    if moves is not None:  # an item's movements without JavaScript
        context.update(await console.movements_context(store, moves))
    context.update(overrides)
    editing = context["editing"]
    if editing is not None and "recipe_item" not in context:
        context.update(await console.recipe_context(store, await services.get_menu_item(store, editing)))
    context.setdefault("stock_choices", context["stock"])  # the editor's options' stock deltas
    return templates.TemplateResponse(request, "manage/page.html", context, status_code=status)


async def console_page(request: Request) -> Response:
    principal = principal_of(request)
    if principal is not None and not _is_manager(principal):
        context = {"message": f"The manager's console is for managers; you are signed in as {principal.role}."}
        return templates.TemplateResponse(request, "manage/forbidden.html", context, status_code=403)
    for permission in CONSOLE:
        require(request, permission)  # not signed in: sent to sign in
    return await whole_page(request)


# The stream


class Sections:
    """Which live sections an event made stale, and when each was last sent: each is re-rendered
    at most every MIN_INTERVAL seconds, and always after the last event of a burst.

    `idle()` says whether no event is waiting: while waiting out an interval the stream reads no
    events, so it waits only as long as none arrives (a newer one takes the re-render over).

    The console's own, not the live toolkit's: it renders each section per stream, on that
    stream's clock, which suits a few managers' consoles. The screens with many streams (kitchen
    displays, tills, menu pages) render each frame once per event for all of them instead
    (`live.FrameCache`), which a per-stream clock would defeat."""

    def __init__(self, idle: Callable[[], bool]) -> None:
        self.idle = idle
        self.stale: set[str] = set()
        self.sent_at = dict.fromkeys(console.LIVE_SECTIONS, float("-inf"))

    def _wait(self, name: str) -> float:
        return self.sent_at[name] + MIN_INTERVAL[name] - time.monotonic()

    async def frames(self, settled: bool, render: Callable[[str], Awaitable[str]]) -> Frames:
        frames: Frames = []
        for name in console.LIVE_SECTIONS:
            if name not in self.stale:
                continue
            if self._wait(name) > 0 and settled:  # the burst is over: send it once the interval is up
                while self._wait(name) > 0 and self.idle():
                    await asyncio.sleep(min(self._wait(name), 0.05))
            if self._wait(name) > 0:
                continue  # more events are queued: a later one re-renders it
            self.stale.discard(name)
            self.sent_at[name] = time.monotonic()
            frames.append(ServerSentEvent(await render(name), event=name))
        return frames


async def console_stream(request: Request) -> Response:
    """The current state of each live section first, so every (re)connect resyncs the page (a new
    EventSource sends no Last-Event-ID), then a section again each time an event touches it."""
    for permission in CONSOLE:
        require(request, permission)
    store = store_of(request)

    async def render_section(name: str) -> str:
        return await console.live_section(request, store, name)

    async def snapshot(sub: Subscription) -> Start:
        # The head first, then the sections: any event after the head is in the replay or the
        # queue, and re-rendering a section twice is harmless.
        sections = Sections(lambda: sub.idle)
        after = await store.last_event_id()
        prelude: Frames = []
        for name in console.LIVE_SECTIONS:
            prelude.append(ServerSentEvent(await render_section(name), event=name))
            sections.sent_at[name] = time.monotonic()

        async def render(event: Event, settled: bool) -> Frames:
            sections.stale.update(console.sections_of(event))
            alert: Frames = []
            if event.type == "inventory.low":  # at once, not throttled: each one is news
                html = console.fragment(request, "low_alert", item=event.payload)
                alert.append(ServerSentEvent(html, event="stock-alert"))
            return alert + await sections.frames(settled, render_section)

        async def caught_up(last_sent: int) -> Frames:
            return await sections.frames(True, render_section)

        return Start(after, render, caught_up, prelude)

    return await open_stream(request, set(console.SECTION_OF_TOPIC), snapshot)
