"""What the load generator sends: a menu, orders with unique Idempotency-Keys, and two ways to send
them (as fast as N clients can, or at a steady rate). Bodies are built before the clock starts."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import Client

STATIONS = ("grill", "fryer", "cold", "bar")
CATEGORIES = ("mains", "sides", "salads", "drinks")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    key: str
    body: bytes
    expected_total_cents: int


@dataclass(slots=True)
class Sent:
    """One POST /orders as the client saw it."""

    key: str
    started: float  # time.perf_counter()
    latency_ms: float
    status: int | None  # None: no HTTP answer at all (connection error)
    order: dict[str, Any] | None = None
    replayed: bool = False
    error: str | None = None


@dataclass
class Outcome:
    """Everything sent in one timed run, in completion order."""

    sent: list[Sent] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def ok(self) -> list[Sent]:
        return [s for s in self.sent if s.status == 201 and s.order is not None]

    def statuses(self) -> dict[str, int]:
        return dict(Counter(str(s.status) if s.status is not None else "no-answer" for s in self.sent))

    def error_samples(self, most: int = 5) -> list[str]:
        return [f"{s.status}: {s.error}" for s in self.sent if s.error][:most]


async def sign_in(client: Client, credentials: tuple[str, str] | None) -> dict[str, str]:
    """Act as staff from now on: get a bearer token, as a till or kitchen screen holds one, and
    send it with every request of `client`. Returns the headers (for the event listeners)."""
    if credentials is None:
        return {}
    name, password = credentials
    resp = await client.request("POST", "/auth/token", json.dumps({"username": name, "password": password}).encode())
    if resp.status != 201:
        raise RuntimeError(f"POST /auth/token answered {resp.status}: {resp.body[:300]!r}")
    headers = {"Authorization": f"Bearer {json.loads(resp.body)['token']}"}
    client.headers.update(headers)
    return headers


async def create_menu(client: Client, count: int, seed: int) -> dict[int, int]:
    """`count` menu items; returns {id: price_cents}."""
    items = await _create_items(client, count, seed, "Bench dish", lambda i: [])
    return {item["id"]: item["price_cents"] for item in items}


@dataclass(frozen=True, slots=True)
class ItemOptions:
    """A bench item's two modifier groups as (option id, price_cents): a line picks one of `required`
    (min 1, max 1) and one of `addons` (min 0, max 2)."""

    required: tuple[tuple[int, int], ...]
    addons: tuple[tuple[int, int], ...]


def modifier_groups(i: int) -> list[dict[str, Any]]:
    """Item i's groups: a required single choice and an add-on group, priced. The bench menu has no
    stock, so the options carry no recipe deltas (neither do its dishes)."""
    return [
        {
            "name": "Size",
            "min": 1,
            "max": 1,
            "options": [
                {"name": "Regular", "price_cents": 0},
                {"name": "Large", "price_cents": 150 + 10 * (i % 5)},
                {"name": "Sharing", "price_cents": 400},
            ],
        },
        {
            "name": "Extras",
            "min": 0,
            "max": 2,
            "options": [
                {"name": "Extra cheese", "price_cents": 120, "allergens": ["milk"]},
                {"name": "Bacon", "price_cents": 200 + 5 * (i % 3)},
                {"name": "Avocado", "price_cents": 180},
            ],
        },
    ]


async def create_modifier_menu(client: Client, count: int, seed: int) -> tuple[dict[int, int], dict[int, ItemOptions]]:
    """`count` menu items, each with the two groups of `modifier_groups`; returns their prices and options."""
    items = await _create_items(client, count, seed, "Bench dish with options", modifier_groups)
    options = {}
    for item in items:
        required, addons = (tuple((o["id"], o["price_cents"]) for o in g["options"]) for g in item["modifier_groups"])
        options[item["id"]] = ItemOptions(required, addons)
    return {item["id"]: item["price_cents"] for item in items}, options


async def _create_items(
    client: Client, count: int, seed: int, name: str, groups: Callable[[int], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    items = []
    for i in range(count):
        body = {
            "name": f"{name} {i}",
            "description": "made up by the benchmark",
            "price_cents": rng.randrange(200, 3000, 50),
            "category": CATEGORIES[i % len(CATEGORIES)],
            "station": STATIONS[i % len(STATIONS)],
        }
        if modifiers := groups(i):
            body["modifier_groups"] = modifiers
        resp = await client.request("POST", "/menu", json.dumps(body).encode())
        if resp.status != 201:
            raise RuntimeError(f"POST /menu answered {resp.status}: {resp.body[:300]!r}")
        items.append(json.loads(resp.body))
    return items


def make_orders(
    menu: dict[int, int],
    count: int,
    seed: int,
    tag: str,
    lines: int | None = None,
    options: dict[int, ItemOptions] | None = None,
) -> list[OrderRequest]:
    """`count` orders of 1 to 3 lines (or exactly `lines`), each with its own Idempotency-Key. With
    `options`, every line picks one option of its item's required group and one add-on, and the
    expected total counts their prices."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:12]
    ids = sorted(menu)
    orders = []
    for i in range(count):
        channel = rng.choice(("counter", "online", "table"))
        n = rng.randint(1, 3) if lines is None else lines
        items: list[dict[str, Any]] = [
            {"menu_item_id": rng.choice(ids), "quantity": rng.randint(1, 4)} for _ in range(n)
        ]
        total = 0
        for line in items:
            unit = menu[line["menu_item_id"]]
            if options is not None:
                own = options[line["menu_item_id"]]
                picked = [rng.choice(own.required), rng.choice(own.addons)]
                line["modifiers"] = [option_id for option_id, _ in picked]
                unit += sum(price for _, price in picked)
            total += unit * line["quantity"]
        if rng.random() < 0.2:
            items[0]["notes"] = "no onions"
        body: dict[str, Any] = {"customer_name": f"Guest {i}", "channel": channel, "items": items}
        if channel == "table":
            body["table"] = f"T{rng.randint(1, 30)}"
        orders.append(OrderRequest(f"bench-{tag}-{run}-{i}", json.dumps(body).encode(), total))
    return orders


async def send_order(client: Client, order: OrderRequest, since: float | None = None) -> Sent:
    """POST one order. Latency counts from `since` (default: now), e.g. from when it was due."""
    started = time.perf_counter() if since is None else since
    try:
        resp = await client.request("POST", "/orders", order.body, {"Idempotency-Key": order.key})
    except Exception as exc:  # a broken connection is a result to report, not a crash
        return Sent(
            order.key, started, (time.perf_counter() - started) * 1000, None, error=f"{type(exc).__name__}: {exc}"
        )
    latency_ms = (time.perf_counter() - started) * 1000
    if resp.status != 201:
        return Sent(order.key, started, latency_ms, resp.status, error=resp.body[:200].decode(errors="replace"))
    replayed = resp.headers.get("idempotent-replayed") == "true"
    return Sent(order.key, started, latency_ms, resp.status, json.loads(resp.body), replayed)


async def burst(client: Client, orders: list[OrderRequest], concurrency: int) -> Outcome:
    """Closed loop: `concurrency` clients each send their next order as soon as the last is answered."""
    outcome = Outcome()
    queue = iter(orders)

    async def worker() -> None:
        for order in queue:  # one shared iterator: each order is taken by exactly one worker
            outcome.sent.append(await send_order(client, order))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.wall_seconds = time.perf_counter() - started
    return outcome


async def paced(client: Client, orders: list[OrderRequest], rate: float, start: float | None = None) -> Outcome:
    """Open loop at `rate` orders/s: order i is sent at start + i/rate whether or not earlier ones
    were answered, over the client's few connections (the pool size is the number of senders).

    Latency counts from when the order was due, so time spent waiting for a free connection
    behind a slow answer is included rather than hidden (no coordinated omission).
    """
    outcome = Outcome()
    start = time.perf_counter() + 0.05 if start is None else start

    async def one(order: OrderRequest, due: float) -> None:
        outcome.sent.append(await send_order(client, order, since=due))

    tasks = []
    for i, order in enumerate(orders):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(order, due)))
    await asyncio.gather(*tasks)
    outcome.wall_seconds = time.perf_counter() - start
    return outcome


@dataclass(slots=True)
class Call:
    """One request of a paced sequence (a status change, a toggle) as the client saw it."""

    method: str
    path: str
    due: float  # time.perf_counter() when it was due to be sent
    latency_ms: float  # from `due` to the whole answer read
    status: int | None  # None: no HTTP answer at all
    body: bytes = b""
    error: str | None = None


async def paced_calls(
    client: Client, calls: list[tuple[str, str, bytes | None]], rate: float, start: float
) -> list[Call]:
    """Open loop like `paced`, for any requests: call i is sent at start + i/rate."""
    done: list[Call] = []

    async def one(method: str, path: str, body: bytes | None, due: float) -> None:
        try:
            resp = await client.request(method, path, body)
        except Exception as exc:
            done.append(Call(method, path, due, (time.perf_counter() - due) * 1000, None, error=repr(exc)))
            return
        error = None if resp.status < 300 else resp.body[:200].decode(errors="replace")
        done.append(Call(method, path, due, (time.perf_counter() - due) * 1000, resp.status, resp.body, error))

    tasks = []
    for i, (method, path, body) in enumerate(calls):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(method, path, body, due)))
    await asyncio.gather(*tasks)
    return done
