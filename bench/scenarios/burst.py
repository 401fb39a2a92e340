"""Order burst: N orders from C concurrent clients, as fast as the server answers them, once per
concurrency (50 and 200), each on a fresh server and database.

Besides speed it checks the engine's promises under load: one order per Idempotency-Key, no
replays of fresh keys, every order on the kitchen screen, ticket numbers unique, totals priced
from the menu.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import Client, make_client
from ..cpu import CpuMeter
from ..servers import HOST, ServerProcess, forkflow_server
from ..stats import summary
from ..workload import OrderRequest, Outcome, burst, create_menu, make_orders, sign_in
from . import Config


async def get_json(client: Client, path: str) -> Any:
    resp = await client.request("GET", path)
    if resp.status != 200:
        raise RuntimeError(f"GET {path} answered {resp.status}: {resp.body[:300]!r}")
    return json.loads(resp.body)


def speed(outcome: Outcome, cpu: dict[str, float]) -> dict[str, Any]:
    """The figures every burst-like run reports, whatever server it hit."""
    ok = outcome.ok
    wall = outcome.wall_seconds
    return {
        "sent": len(outcome.sent),
        "ok": len(ok),
        "errors": len(outcome.sent) - len(ok),
        "statuses": outcome.statuses(),
        "error_samples": outcome.error_samples(),
        "wall_s": wall,
        "orders_per_s": len(ok) / wall if wall else 0.0,
        "latency_ms": summary([s.latency_ms for s in outcome.sent]),
        # CPU used over the timed part, in % of one core: near 100 means that process was the limit.
        **cpu,
    }


@dataclass
class Burst:
    menu: dict[int, int]
    warmup: Outcome
    orders: list[OrderRequest]
    outcome: Outcome
    figures: dict[str, Any]


async def prepare(
    server: ServerProcess, client: Client, cfg: Config, tag: str, concurrency: int
) -> tuple[dict[int, int], Outcome]:
    """Sign in, the menu, and a warm-up round (one order per client: opens every connection,
    fills the server's statement caches). Not timed."""
    await sign_in(client, server.credentials)
    menu = await create_menu(client, cfg.menu_items, cfg.seed)
    warmup = await burst(client, make_orders(menu, concurrency, cfg.seed + 1, f"{tag}-warm"), concurrency)
    return menu, warmup


async def timed_burst(
    server: ServerProcess, client: Client, cfg: Config, tag: str, concurrency: int | None = None
) -> Burst:
    """`prepare`, then the timed burst of cfg.orders. Only the burst is in the figures."""
    concurrency = concurrency or cfg.concurrency
    menu, warmup = await prepare(server, client, cfg, tag, concurrency)
    orders = make_orders(menu, cfg.orders, cfg.seed, tag)
    meter = CpuMeter(server)
    outcome = await burst(client, orders, concurrency)
    figures = speed(outcome, meter.percent())
    return Burst(menu, warmup, orders, outcome, figures)


def order_checks(done: Burst, kitchen: list[dict[str, Any]], expected_n: int) -> dict[str, Any]:
    """The engine's promises, from what the clients were answered and what the kitchen shows."""
    expected = {o.key: o.expected_total_cents for o in done.orders}
    ok = done.outcome.ok
    ids = [s.order["id"] for s in ok if s.order]
    tickets = Counter((s.order["business_date"], s.order["ticket_no"]) for s in ok if s.order)
    kitchen_ids = {order["id"] for order in kitchen}
    return {
        "distinct_ids": len(set(ids)),
        "distinct_ids_equals_n": len(set(ids)) == expected_n,
        "duplicates": len(ids) - len(set(ids)),
        "replayed": sum(s.replayed for s in ok),
        "duplicate_ticket_numbers": sum(n - 1 for n in tickets.values() if n > 1),
        "wrong_totals": sum(1 for s in ok if s.order and s.order["total_cents"] != expected[s.key]),
        "kitchen_orders": len(kitchen),
        "kitchen_expected": expected_n + len(done.warmup.ok),
        "missing_from_kitchen": len(set(ids) - kitchen_ids),
    }


async def one_burst(cfg: Config, concurrency: int) -> dict[str, Any]:
    """cfg.orders orders from `concurrency` clients, on a fresh server and database."""
    server = forkflow_server(Path(cfg.source_dir), cfg.server_cpus, backend=cfg.backend)
    with server:
        client = make_client(cfg.client, HOST, server.port, concurrency)
        try:
            await sign_in(client, server.credentials)  # /health's details are for managers
            health0 = await get_json(client, "/health")  # before the menu: writer counts include it
            done = await timed_burst(server, client, cfg, f"burst{concurrency}", concurrency)
            kitchen = await get_json(client, "/kitchen/orders")
            health1 = await get_json(client, "/health")
        finally:
            await client.aclose()
    batches = health1["writer"]["batches"] - health0["writer"]["batches"]
    units = health1["writer"]["units"] - health0["writer"]["units"]
    return done.figures | {
        "orders": cfg.orders,
        "concurrency": concurrency,
        "client": cfg.client,
        "warmup_errors": len(done.warmup.sent) - len(done.warmup.ok),
        "checks": order_checks(done, kitchen, cfg.orders),
        # Group commit: write units (menu items, warm-up and burst orders) per commit. On PostgreSQL
        # /health answers from one of the workers, each with its own writer: not a server's figure.
        "writer": None
        if cfg.backend == "postgres"
        else {"commits": batches, "units": units, "units_per_commit": units / batches if batches else 0.0},
        "shutdown_s": server.shutdown_seconds,
        "killed_at_shutdown": server.killed,
    }


async def run(cfg: Config) -> dict[str, Any]:
    return {"runs": [await one_burst(cfg, concurrency) for concurrency in cfg.concurrencies]}
