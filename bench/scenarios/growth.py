"""Growth: the order burst on a database that already holds a restaurant's history.

For each size (0, 100,000, 1,000,000 orders), a database made by `forkflow migrate` is pre-filled
with raw sqlite3 (bench/prefill.py: orders, lines, events, recent idempotency keys; the same
`growth_active` orders on the line in every size, the empty one included), the server is started
on it, and after the usual menu and warm-up round:

* `GET /kitchen/orders` is timed 50 times in a row with the kitchen quiet (only what history
  adds can make it slower: the tickets on the line are the same in every size);
* the burst runs while one more client times `GET /kitchen/orders` every 0.25 s (the line grows
  by the burst's orders meanwhile, alike in every size).

The slowdown of each size is against the empty database of the same run.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ..client import Client, make_client
from ..cpu import CpuMeter
from ..pg import create_database, drop_database, prefill_postgres
from ..prefill import prefill
from ..servers import HOST, forkflow_server, migrate, workdir
from ..stats import summary
from ..workload import burst, make_orders
from . import Config
from .burst import Burst, get_json, order_checks, prepare, speed

QUIET_SAMPLES = 50
SAMPLE_EVERY_S = 0.25


async def _timed_get(client: Client, path: str) -> float:
    started = time.perf_counter()
    resp = await client.request("GET", path)
    if resp.status != 200:
        raise RuntimeError(f"GET {path} answered {resp.status}")
    return (time.perf_counter() - started) * 1000


async def _sample_while(client: Client, path: str, running: asyncio.Event) -> list[float]:
    samples = []
    while not running.is_set():
        samples.append(await _timed_get(client, path))
        await asyncio.sleep(SAMPLE_EVERY_S)
    return samples


async def one_size(cfg: Config, size: int) -> dict[str, Any]:
    db = workdir(f"growth-{size}") / "bench.db"
    if cfg.backend == "postgres":
        # The same history, made inside PostgreSQL with set-based SQL (bench/pg.py); the server
        # drops the database when it stops.
        url = await asyncio.to_thread(create_database)
        try:
            await asyncio.to_thread(migrate, Path(cfg.source_dir), url)
            filled = await asyncio.to_thread(prefill_postgres, url, size, cfg.growth_active, cfg.seed)
        except BaseException:
            await asyncio.to_thread(drop_database, url)
            raise
        server = forkflow_server(
            Path(cfg.source_dir), cfg.server_cpus, db_path=db, backend="postgres", database_url=url
        )
    else:
        await asyncio.to_thread(migrate, Path(cfg.source_dir), db)
        filled = await asyncio.to_thread(prefill, db, size, cfg.growth_active, cfg.seed)
        server = forkflow_server(Path(cfg.source_dir), cfg.server_cpus, db_path=db)
    concurrency = cfg.concurrency
    started = time.perf_counter()
    with server:
        start_s = time.perf_counter() - started
        client = make_client(cfg.client, HOST, server.port, concurrency)
        sampler = make_client(cfg.client, HOST, server.port, 1)
        try:
            menu, warmup = await prepare(server, client, cfg, f"growth{size}", concurrency)
            sampler.headers.update(client.headers)
            quiet = [await _timed_get(sampler, "/kitchen/orders") for _ in range(QUIET_SAMPLES)]
            orders = make_orders(menu, cfg.growth_orders, cfg.seed, f"growth{size}")
            done_flag = asyncio.Event()
            sampling = asyncio.create_task(_sample_while(sampler, "/kitchen/orders", done_flag))
            meter = CpuMeter(server)
            outcome = await burst(client, orders, concurrency)
            figures = speed(outcome, meter.percent())
            done_flag.set()
            during = await sampling
            kitchen = await get_json(client, "/kitchen/orders")
        finally:
            await client.aclose()
            await sampler.aclose()
    done = Burst(menu, warmup, orders, outcome, figures)
    checks = order_checks(done, kitchen, cfg.growth_orders)
    checks["kitchen_expected"] += cfg.growth_active  # the pre-filled orders still on the line
    return figures | {
        "history_orders": size,
        "orders": cfg.growth_orders,
        "concurrency": concurrency,
        "prefill": filled,
        "server_start_s": start_s,
        "kitchen_quiet_ms": summary(quiet),
        "kitchen_during_ms": summary(during),
        "checks": checks,
    }


async def run(cfg: Config) -> dict[str, Any]:
    runs = [await one_size(cfg, size) for size in cfg.growth_sizes]
    base = runs[0]
    for r in runs:
        r["slowdown"] = {
            "orders_per_s": 1 - r["orders_per_s"] / base["orders_per_s"] if base["orders_per_s"] else None,
            "kitchen_quiet_p50": r["kitchen_quiet_ms"]["p50"] / base["kitchen_quiet_ms"]["p50"] - 1,
            "kitchen_during_p50": r["kitchen_during_ms"]["p50"] / base["kitchen_during_ms"]["p50"] - 1,
        }
    return {"runs": runs}
