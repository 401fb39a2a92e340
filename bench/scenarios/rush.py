"""Rush mix: a Friday service in miniature, measured at every screen.

For `rush_seconds`: orders at a steady rate, status changes (preparing, ready, completed) at 10/s on
orders whose tracking pages are open, and one availability toggle per second; meanwhile kitchen
displays on `GET /kitchen/stream` (spread over the views: all, each station, expo), customers'
tracking pages on `GET /track/{token}/events`, and one reference listener on
`GET /events?topics=orders,menu`. The kitchen is paced too (issue 15): table orders placed before
the run hold a course, each fired during it (`POST /orders/{id}/fire`), and orders placed during
the run for a pickup a second later (a dish of 0 prep minutes, so the release is the pickup time)
are released by the server during the run; fires and releases are order events like the others.
With `rush_printers` (`--printers`, on by default in the full run) a fake ESC/POS printer per
station (bench/printers.py) is registered before any order is placed, and every write that sends
lines to a station must print exactly one chit there; chit latency is measured like a delivery.

Latency of a delivery is its receipt time minus the write's timestamp, read from the reference
listener's payload for that event id (an order's `created_at` or `updated_at`, a menu item's
`updated_at`): the server takes it when the write unit starts, so this is an upper bound on
commit-to-delivery. Missing: an event a client should have had and did not get by the end
(displays: every order event; trackers: every event of their order; the reference: every event).
A scheduled order not released exactly once, or a fire answered without its event, counts too.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..client import Client, make_client
from ..cpu import CpuMeter
from ..printers import FakePrinter, chit_figures, expected_sends, register, start_printers, wait_for_chits
from ..servers import HOST, forkflow_server
from ..sse_client import StreamRefused, listen
from ..stats import epoch, summary
from ..workload import STATIONS, Call, Sent, burst, create_menu, make_orders, paced, paced_calls, sign_in
from . import Config
from .burst import get_json

TICKET_OF = re.compile(r'id="ticket-(\d+)"')
VIEWS = ("", *STATIONS, "expo")  # a kitchen has screens for all, for each station, and for expo
STATUS_STEPS = ("preparing", "ready", "completed")
GROUP = 10  # orders moved together: ten start, then the same ten are ready, then completed
HELD_COURSE = 2  # the course a table order keeps back until the run fires it
PICKUP_AFTER = 1.0  # seconds from placing a scheduled order to its pickup (and release)


@dataclass
class Stream:
    """One SSE client. Keeps (receipt time, event id, what to check) per frame, little else:
    fifty displays get two HTML fragments per event."""

    kind: str  # "display", "tracker" or "reference"
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    order_id: int | None = None  # a tracker's order
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    got: list[tuple[float, int, Any]] = field(default_factory=list)
    ended: str | None = None

    async def run(self, port: int) -> None:
        try:
            async for ev in listen(HOST, port, self.path, self.headers):
                if ev.event == "stream.ready":
                    self.ready.set()
                elif self.kind == "display" and ev.event == "ticket":
                    found = TICKET_OF.search(ev.data)
                    self.got.append((ev.received, int(ev.id or 0), int(found.group(1)) if found else None))
                elif self.kind == "tracker" and ev.event == "order":
                    if not self.ready.is_set():  # the first frame is the order's state now
                        self.ready.set()
                        continue
                    # Tracking frames carry no event id (ids would count the day's events): the
                    # event is found by the order's state, see `_event_ids`.
                    state = json.loads(ev.data)
                    self.got.append((ev.received, 0, (state.get("status"), state.get("updated_at"))))
                elif self.kind == "reference" and ev.id is not None:
                    self.got.append((ev.received, int(ev.id), (ev.event, json.loads(ev.data))))
            self.ended = "server ended the stream"
        except asyncio.CancelledError:
            raise
        except StreamRefused as exc:
            self.ended = f"refused: {exc}"
        except Exception as exc:
            self.ended = f"{type(exc).__name__}: {exc}"


async def _open(streams: list[Stream], port: int, timeout: float = 60) -> list[asyncio.Task[None]]:
    """Start the streams a batch at a time and wait until each is ready or has failed."""
    tasks = []
    for i in range(0, len(streams), 100):
        batch = streams[i : i + 100]
        tasks += [asyncio.create_task(s.run(port)) for s in batch]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(s.ready.is_set() or s.ended for s in batch):
            await asyncio.sleep(0.02)
    return tasks


async def _reference_topics(client: Client) -> str:
    """Every topic the rush writes to: the kitchen's too (print jobs, proof of sight) where the server
    has it (issue 16; an older --ref has not: its document's topic pattern says so)."""
    document = await client.request("GET", "/openapi.json")
    return "orders,menu,kitchen" if b"inventory|kitchen" in document.body else "orders,menu"


async def _settled(client: Client, printing: bool, timeout: float = 30) -> int:
    """The event log's head once the set-up has stopped writing: with printers, the set-up's chits
    are printed first (each a `print.printed` write), so the displays open on a quiet log."""
    deadline = time.monotonic() + timeout
    head = (await get_json(client, "/health"))["bus"]["last_event_id"]
    while printing and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        now = (await get_json(client, "/health"))["bus"]["last_event_id"]
        if now == head and not await get_json(client, "/print-jobs"):
            return int(head)
        head = now
    if printing:
        raise RuntimeError(f"the set-up's chits were not all printed within {timeout:.0f} s")
    return int(head)


def _status_calls(order_ids: list[int], count: int) -> list[tuple[str, str, bytes | None]]:
    calls: list[tuple[str, str, bytes | None]] = []
    for i in range(0, len(order_ids), GROUP):
        for status in STATUS_STEPS:
            body = json.dumps({"status": status}).encode()
            calls += [("PATCH", f"/orders/{order_id}", body) for order_id in order_ids[i : i + GROUP]]
    return calls[:count]


def _toggle_calls(item_id: int, count: int) -> list[tuple[str, str, bytes | None]]:
    return [
        ("PUT", f"/menu/{item_id}/availability", json.dumps({"available": i % 2 == 1}).encode()) for i in range(count)
    ]


def _event_ids(streams: list[Stream], head: int, final: bool = False) -> None:
    """Give each tracker frame the id of the event it shows (the reference listener's event of that
    order with that status and `updated_at`); at the end, a frame matching none gets a negative id
    of its own (before then it may simply have arrived before the reference's copy)."""
    by_state = {
        (payload["id"], payload["status"], payload["updated_at"]): event_id
        for _, event_id, (event_type, payload) in streams[0].got
        if event_id > head and event_type.startswith("order.")
    }
    unknown = 0
    for s in streams:
        if s.kind != "tracker":
            continue
        for n, (received, event_id, detail) in enumerate(s.got):
            if event_id == 0 and isinstance(detail, tuple):
                status, updated_at = detail
                found = by_state.get((s.order_id, status, updated_at))
                if found is not None:
                    s.got[n] = (received, found, status)
                elif final:
                    unknown -= 1
                    s.got[n] = (received, unknown, status)


async def _drain(streams: list[Stream], expected: dict[int, set[int]], last_id: int, head: int) -> None:
    """Wait for the last events: until every stream has what it should, or nothing has arrived for
    3 s (late events count as late, with their latency; only ones that never come are missing)."""
    quiet_since, received = time.monotonic(), -1
    started = time.monotonic()
    while time.monotonic() - quiet_since < 3 and time.monotonic() - started < 120:
        reference_done = any(i >= last_id for _, i, _ in streams[0].got[-5:])
        _event_ids(streams, head)
        if reference_done and all(
            s.ended or {i for _, i, _ in s.got} >= expected.get(id(s), set()) for s in streams[1:]
        ):
            return
        now_received = sum(len(s.got) for s in streams)
        if now_received != received:
            quiet_since, received = time.monotonic(), now_received
        await asyncio.sleep(0.25)


async def run(cfg: Config) -> dict[str, Any]:
    server = forkflow_server(Path(cfg.source_dir), cfg.server_cpus, backend=cfg.backend)
    server.start()
    client = make_client(cfg.client, HOST, server.port, cfg.sse_senders)  # orders
    mover = make_client(cfg.client, HOST, server.port, 4)  # status changes and toggles
    streams: list[Stream] = []
    tasks: list[asyncio.Task[None]] = []
    printers: list[FakePrinter] = []
    chits: dict[str, Any] | None = None
    try:
        headers = await sign_in(client, server.credentials)
        mover.headers.update(headers)
        if cfg.rush_printers:
            printers = await start_printers(STATIONS)
            await register(client, printers)
        menu = await create_menu(client, cfg.menu_items, cfg.seed)
        special = await _toggled_item(client)
        main, plate = await _paced_dishes(client)
        tables = await _table_orders(client, menu, main, cfg.rush_courses)
        tracked = await burst(client, make_orders(menu, cfg.rush_trackers, cfg.seed + 3, "rush-tracked"), 4)
        if len(tracked.ok) != cfg.rush_trackers:
            raise RuntimeError(f"could not place the tracked orders: {tracked.statuses()}")
        tracked_orders = sorted((s.order for s in tracked.ok if s.order), key=lambda o: o["id"])
        head = await _settled(client, cfg.rush_printers)
        streams.append(Stream("reference", f"/events?topics={await _reference_topics(client)}", headers))
        streams += [
            Stream("display", f"/kitchen/stream?station={VIEWS[i % len(VIEWS)]}&last_event_id={head}", headers)
            for i in range(cfg.rush_displays)
        ]
        streams += [
            Stream("tracker", f"/track/{o['tracking_url'].split('/track/', 1)[1]}/events", order_id=o["id"])
            for o in tracked_orders
        ]
        tasks = await _open(streams, server.port)
        # A kind of screen that every stream got 404 for is one this version does not serve
        # (e.g. --ref of a commit from before tracking pages): left out and said so, not failed.
        unserved = sorted(
            {s.kind for s in streams if s.ended and "answered 404" in s.ended}
            - {s.kind for s in streams if not (s.ended and "answered 404" in s.ended)}
        )
        streams = [s for s in streams if s.kind not in unserved]
        failed = [f"{s.kind} {s.path}: {s.ended}" for s in streams if s.ended]
        opened = [s for s in streams if not s.ended]
        if (await get_json(client, "/health"))["bus"]["last_event_id"] != head:
            raise RuntimeError("something was written while the streams were opening")

        orders = make_orders(menu, int(cfg.rush_rate * cfg.rush_seconds), cfg.seed, "rush")
        moves = _status_calls([o["id"] for o in tracked_orders], int(cfg.rush_status_rate * cfg.rush_seconds))
        toggles = _toggle_calls(special, int(cfg.rush_toggle_rate * cfg.rush_seconds))
        fires = [("POST", f"/orders/{t['id']}/fire", json.dumps({"course": HELD_COURSE}).encode()) for t in tables]
        paced_rate = max(cfg.rush_courses, cfg.rush_scheduled, 1) / (0.8 * cfg.rush_seconds)
        meter = CpuMeter(server)
        start = time.perf_counter() + 0.1
        scheduled_calls = _scheduled_calls(plate, cfg.rush_scheduled, start, paced_rate)
        placed, moved, toggled, fired, scheduled = await asyncio.gather(
            paced(client, orders, cfg.rush_rate, start),
            paced_calls(mover, moves, cfg.rush_status_rate, start),
            paced_calls(mover, toggles, cfg.rush_toggle_rate, start + 0.5 / cfg.rush_toggle_rate),
            paced_calls(mover, fires, paced_rate, start + 0.25 / paced_rate),
            paced_calls(client, scheduled_calls, paced_rate, start),
        )
        cpu = meter.percent()
        await _released(client, [json.loads(c.body)["id"] for c in scheduled if c.status == 201])
        last_id = (await get_json(client, "/health"))["bus"]["last_event_id"]
        reference = streams[0]
        await _drain(streams[:1], {}, last_id, head)  # the reference first: it says what the others should get
        await _drain(streams, _expected(streams, head), last_id, head)
        _event_ids(streams, head, final=True)
        ended_early = [f"{s.kind} {s.path}: {s.ended}" for s in opened if s.ended]
        if printers:
            sends = expected_sends([*tables, *tracked_orders], _written(reference, head))
            await wait_for_chits(printers, sends)
            chits = chit_figures(printers, sends)
    finally:
        for printer in printers:
            await printer.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
        await mover.aclose()
        server.stop()

    written = _written(reference, head)
    expected = _expected(streams, head)
    expected[id(reference)] = set(range(head + 1, last_id + 1))  # every event: orders, menu (and kitchen)
    kinds = {kind: _deliveries(streams, kind, written, expected) for kind in ("display", "tracker", "reference")}
    delays = {kind: figures.pop("delays") for kind, figures in kinds.items()}
    everyone = delays["display"] + delays["tracker"]
    answers = [*placed.sent, *moved, *toggled, *fired, *scheduled]
    releases = _releases(scheduled, written)
    return {
        "seconds": cfg.rush_seconds,
        "rate": cfg.rush_rate,
        "displays": cfg.rush_displays,
        "trackers": cfg.rush_trackers,
        "status_rate": cfg.rush_status_rate,
        "toggle_rate": cfg.rush_toggle_rate,
        "orders_sent": len(placed.sent),
        "status_changes_sent": len(moved),
        "toggles_sent": len(toggled),
        "held_orders": len(tables),
        "fires_sent": len(fired),
        "scheduled_sent": len(scheduled),
        "released": sum(1 for count in releases.values() if count == 1),
        "not_released_once": sum(1 for count in releases.values() if count != 1),
        "events": len(written),
        "errors": sum(1 for a in answers if a.status is None or a.status >= 300),
        "error_samples": [_describe(a) for a in answers if a.error][:5],
        "post_latency_ms": summary([s.latency_ms for s in placed.sent]),
        "patch_latency_ms": summary([c.latency_ms for c in moved]),
        "toggle_latency_ms": summary([c.latency_ms for c in toggled]),
        "fire_latency_ms": summary([c.latency_ms for c in fired]),
        "scheduled_latency_ms": summary([c.latency_ms for c in scheduled]),
        "delivery_ms": summary(everyone),
        "missing": sum(k["missing"] for k in kinds.values()),
        "duplicates": sum(k["duplicates"] for k in kinds.values()),
        "wrong": sum(k["wrong"] for k in kinds.values()),
        "by_client": kinds,
        "answered_without_event": _answered_without_event(placed.ok, moved, toggled, written)
        + _fired_without_event(fired, scheduled, written),
        "streams_failed": failed,
        "not_served": unserved,  # kinds of screen this version of ForkFlow has no stream for
        "streams_ended_early": ended_early,
        **cpu,
        "shutdown_s": server.shutdown_seconds,
        "killed_at_shutdown": server.killed,
        **({"chits": chits} if chits is not None else {}),
    }


async def _toggled_item(client: Client) -> int:
    """A dish of its own for the availability toggles, so no order is refused for it."""
    body = {"name": "Bench special", "price_cents": 990, "category": "specials", "station": "grill"}
    resp = await client.request("POST", "/menu", json.dumps(body).encode())
    if resp.status != 201:
        raise RuntimeError(f"POST /menu answered {resp.status}: {resp.body[:300]!r}")
    return int(json.loads(resp.body)["id"])


async def _paced_dishes(client: Client) -> tuple[int, int]:
    """A main for the held courses, and a dish of 0 prep minutes for the scheduled orders (released
    at their pickup time)."""
    made = []
    for name, prep in (("Bench main", 12), ("Bench cold plate", 0)):
        body = {"name": name, "price_cents": 1400, "category": "paced", "station": "cold", "prep_minutes": prep}
        resp = await client.request("POST", "/menu", json.dumps(body).encode())
        if resp.status != 201:
            raise RuntimeError(f"POST /menu answered {resp.status}: {resp.body[:300]!r}")
        made.append(int(json.loads(resp.body)["id"]))
    return made[0], made[1]


async def _table_orders(client: Client, menu: dict[int, int], main: int, count: int) -> list[dict[str, Any]]:
    """`count` table orders with a starter sent now and a main held as course HELD_COURSE."""
    starter = min(menu)
    placed = []
    for i in range(count):
        items = [{"menu_item_id": starter, "quantity": 1}, {"menu_item_id": main, "quantity": 2, "course": HELD_COURSE}]
        body = {"customer_name": f"Table {i}", "channel": "table", "table": f"P{i}", "items": items}
        resp = await client.request("POST", "/orders", json.dumps(body).encode())
        order = json.loads(resp.body) if resp.status == 201 else {}
        if order.get("held_courses") != [HELD_COURSE]:
            raise RuntimeError(f"could not place a table order with a held course: {resp.status} {resp.body[:300]!r}")
        placed.append(order)
    return placed


def _scheduled_calls(plate: int, count: int, start: float, rate: float) -> list[tuple[str, str, bytes | None]]:
    """Orders for a pickup PICKUP_AFTER seconds after each is due to be sent (`paced_calls`' timing)."""
    wall = time.time() - time.perf_counter()
    calls: list[tuple[str, str, bytes | None]] = []
    for i in range(count):
        pickup = datetime.fromtimestamp(wall + start + i / rate + PICKUP_AFTER, UTC)
        body = {
            "customer_name": f"Pickup {i}",
            "channel": "online",
            "items": [{"menu_item_id": plate, "quantity": 1}],
            "pickup_at": pickup.isoformat(timespec="milliseconds"),
        }
        calls.append(("POST", "/orders", json.dumps(body).encode()))
    return calls


async def _released(client: Client, order_ids: list[int], timeout: float = 60) -> None:
    """Wait until the server has released every scheduled order (or `timeout`: then the check
    counts the ones it did not)."""
    deadline = time.monotonic() + timeout
    waiting = list(order_ids)
    while waiting and time.monotonic() < deadline:
        waiting = [i for i in waiting if (await get_json(client, f"/orders/{i}")).get("released_at") is None]
        if waiting:
            await asyncio.sleep(0.2)


def _releases(scheduled: list[Call], written: dict[int, tuple[str, dict[str, Any], float]]) -> dict[int, int]:
    """Per scheduled order placed, how many times it was released (1 is right): its `order.released`
    events, and its `order.created` if it was already due when it arrived (a placing slower than
    PICKUP_AFTER, on a loaded machine: the server sends it to the kitchen at once, `released_at`
    set, and never releases it again)."""
    counts = {json.loads(c.body)["id"]: 0 for c in scheduled if c.status == 201}
    for event_type, payload, _ in written.values():
        if payload.get("id") not in counts:
            continue
        if event_type == "order.released" or (event_type == "order.created" and payload.get("released_at")):
            counts[payload["id"]] += 1
    return counts


def _written(reference: Stream, head: int) -> dict[int, tuple[str, dict[str, Any], float]]:
    """Every event after `head` as the reference listener got it: id -> (type, payload, write time)."""
    written = {}
    for received, event_id, (event_type, payload) in reference.got:
        if event_id > head:
            stamp = payload["created_at"] if event_type == "order.created" else payload.get("updated_at")
            # (The kitchen's events carry no write time: their arrival stands in for it.)
            written[event_id] = (event_type, payload, received if stamp is None else epoch(stamp))
    return written


def _expected(streams: list[Stream], head: int) -> dict[int, set[int]]:
    """Per stream (by id()), the event ids it should get, from what the reference listener got."""
    written = _written(streams[0], head)
    orders = {i for i, (t, _, _) in written.items() if t.startswith("order.")}
    expected: dict[int, set[int]] = {}
    for s in streams:
        if s.kind == "display":
            expected[id(s)] = orders
        elif s.kind == "tracker":
            expected[id(s)] = {i for i in orders if written[i][1]["id"] == s.order_id}
    return expected


def _deliveries(
    streams: list[Stream],
    kind: str,
    written: dict[int, tuple[str, dict[str, Any], float]],
    expected: dict[int, set[int]],
) -> dict[str, Any]:
    delays: list[float] = []
    missing = duplicates = wrong = should = 0
    for s in (s for s in streams if s.kind == kind):
        seen: set[int] = set()
        for received, event_id, detail in s.got:
            if event_id in seen:
                duplicates += 1
                continue
            seen.add(event_id)
            if event_id not in written:
                continue  # before the run, or an event the reference missed (counted there)
            event_type, payload, stamp = written[event_id]
            delays.append((received - stamp) * 1000)
            if kind == "display" and detail != payload["id"]:
                wrong += 1  # a fragment for another order than the event's
            if kind == "tracker" and detail != payload["status"]:
                wrong += 1  # a state other than the event's
        missing += len(expected[id(s)] - seen)
        should += len(expected[id(s)])
    return {
        "streams": sum(1 for s in streams if s.kind == kind),
        "expected": should,
        "missing": missing,
        "duplicates": duplicates,
        "wrong": wrong,
        "latency_ms": summary(delays),
        "delays": delays,
    }


def _answered_without_event(
    placed: list[Any], moved: list[Call], toggled: list[Call], written: dict[int, tuple[str, dict[str, Any], float]]
) -> int:
    """Writes answered as done whose event the reference listener never got."""
    created = {p["id"] for t, p, _ in written.values() if t == "order.created"}
    updates = {(p["id"], p["status"]) for t, p, _ in written.values() if t == "order.updated"}
    toggles = {(p["id"], p["available"]) for t, p, _ in written.values() if t.startswith("menu.")}
    count = sum(1 for s in placed if s.order and s.order["id"] not in created)
    for call in moved:
        if call.status == 200:
            body = json.loads(call.body)
            count += (body["id"], body["status"]) not in updates
    for call in toggled:
        if call.status == 200:
            body = json.loads(call.body)
            count += (body["id"], body["available"]) not in toggles
    return count


def _fired_without_event(
    fired: list[Call], scheduled: list[Call], written: dict[int, tuple[str, dict[str, Any], float]]
) -> int:
    """Fires answered as done with no event showing the course fired, and scheduled orders answered
    as placed with no `order.created`."""
    shown_fired = {
        p["id"]
        for t, p, _ in written.values()
        if t == "order.updated" and HELD_COURSE not in (p.get("held_courses") or ())
    }
    created = {p["id"] for t, p, _ in written.values() if t == "order.created"}
    count = sum(1 for c in fired if c.status == 200 and json.loads(c.body)["id"] not in shown_fired)
    return count + sum(1 for c in scheduled if c.status == 201 and json.loads(c.body)["id"] not in created)


def _describe(answer: Sent | Call) -> str:
    what = f"{answer.method} {answer.path}" if isinstance(answer, Call) else f"POST /orders ({answer.key})"
    return f"{what}: {answer.status}: {answer.error}"
