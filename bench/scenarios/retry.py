"""Retry storm: every order sent twice at once (a double tap on the till) and once more after a
random delay (a till that timed out and resent), all three with the same Idempotency-Key and body.

Exactly one order may come of each key: every answer 201 with the same order id, one of the three
unflagged (the one that created it) and the two others flagged `Idempotent-Replayed: true` with the
same order in the body, and the kitchen holding one ticket per key.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..client import Client, make_client
from ..cpu import CpuMeter
from ..servers import HOST, forkflow_server
from ..stats import summary
from ..workload import OrderRequest, Sent, make_orders, send_order
from . import Config
from .burst import get_json, prepare


async def storm(
    client: Client, orders: list[OrderRequest], delays: list[float], concurrency: int
) -> tuple[list[Sent], float]:
    """Closed loop over keys: each of `concurrency` clients sends a key's pair at once, schedules
    its resend `delays[i]` seconds after the pair went out, and moves on to the next key as soon as
    the pair is answered. Returns every answer and the wall time until the last resend's answer."""
    sent: list[Sent] = []
    resends: list[asyncio.Task[None]] = []
    queue = iter(zip(orders, delays, strict=True))

    async def resend(order: OrderRequest, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        sent.append(await send_order(client, order))

    async def worker() -> None:
        for order, delay in queue:  # one shared iterator: each key is taken by exactly one worker
            resends.append(asyncio.create_task(resend(order, time.perf_counter() + delay)))
            sent.extend(await asyncio.gather(send_order(client, order), send_order(client, order)))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await asyncio.gather(*resends)
    return sent, time.perf_counter() - started


def key_checks(orders: list[OrderRequest], sent: list[Sent]) -> dict[str, Any]:
    """Per key: one order id, one unflagged answer, two flagged replays carrying the same order."""
    by_key: dict[str, list[Sent]] = defaultdict(list)
    for s in sent:
        by_key[s.key].append(s)
    several = wrong_flags = bodies_differ = incomplete = 0
    extra_orders = 0
    for order in orders:
        answers = by_key[order.key]
        ok = [s for s in answers if s.status == 201 and s.order is not None]
        if len(ok) != 3:
            incomplete += 1
        ids = {s.order["id"] for s in ok if s.order}
        if len(ids) > 1:
            several += 1
            extra_orders += len(ids) - 1
        created = [s for s in ok if not s.replayed]
        if len(created) != 1:
            wrong_flags += 1
        if created:
            original = created[0].order
            bodies_differ += sum(1 for s in ok if s.replayed and s.order != original)
    return {
        "keys": len(orders),
        "keys_not_answered_201_thrice": incomplete,
        "keys_with_several_orders": several,
        "duplicates": extra_orders,  # orders beyond one per key
        "keys_with_wrong_replay_flags": wrong_flags,  # not exactly one unflagged answer of the three
        "replays_with_different_body": bodies_differ,
    }


async def one_storm(cfg: Config, concurrency: int) -> dict[str, Any]:
    server = forkflow_server(Path(cfg.source_dir), cfg.server_cpus, backend=cfg.backend)
    rng = random.Random(cfg.seed + concurrency)
    with server:
        # A pair per client at once, plus room for the resends waiting on their delay.
        client = make_client(cfg.client, HOST, server.port, 3 * concurrency)
        try:
            menu, warmup = await prepare(server, client, cfg, f"retry{concurrency}", concurrency)
            orders = make_orders(menu, cfg.retry_keys, cfg.seed + 2, f"retry{concurrency}")
            delays = [rng.uniform(0, cfg.retry_max_delay_s) for _ in orders]
            meter = CpuMeter(server)
            sent, wall = await storm(client, orders, delays, concurrency)
            cpu = meter.percent()
            kitchen = await get_json(client, "/kitchen/orders")
        finally:
            await client.aclose()
    ok = [s for s in sent if s.status == 201 and s.order is not None]
    created_ids = {s.order["id"] for s in ok if s.order}
    statuses: dict[str, int] = defaultdict(int)
    for s in sent:
        statuses[str(s.status) if s.status is not None else "no-answer"] += 1
    return {
        "keys": cfg.retry_keys,
        "concurrency": concurrency,
        "max_delay_s": cfg.retry_max_delay_s,
        "requests": len(sent),
        "errors": len(sent) - len(ok),
        "statuses": dict(statuses),
        "error_samples": [f"{s.status}: {s.error}" for s in sent if s.error][:5],
        "wall_s": wall,
        "keys_per_s": cfg.retry_keys / wall if wall else 0.0,
        "requests_per_s": len(sent) / wall if wall else 0.0,
        "latency_ms": summary([s.latency_ms for s in sent]),
        "checks": key_checks(orders, sent)
        | {
            "kitchen_orders": len(kitchen),
            "kitchen_expected": cfg.retry_keys + len(warmup.ok),
            "missing_from_kitchen": len(created_ids - {o["id"] for o in kitchen}),
        },
        **cpu,
        "shutdown_s": server.shutdown_seconds,
    }


async def run(cfg: Config) -> dict[str, Any]:
    return {"runs": [await one_storm(cfg, concurrency) for concurrency in cfg.retry_concurrencies]}
