"""Commit-to-event latency: L listeners on /events?topics=orders while orders arrive at a steady rate.

For every listener and every order.created it computes receipt time minus the payload's created_at,
which the server stamps when the order's write unit starts, so the figure is an upper bound on
commit-to-delivery time (it also holds the unit's own work, the rest of its group commit, and
this process's event loop). Every listener must see every order exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..client import make_client
from ..cpu import CpuMeter
from ..servers import HOST, forkflow_server
from ..sse_client import listen
from ..stats import summary
from ..workload import create_menu, make_orders, paced, sign_in
from . import Config


@dataclass
class Listener:
    """One stream. Raw frames are kept and parsed after the run, to keep work off the hot path."""

    ready: asyncio.Event = field(default_factory=asyncio.Event)
    created: list[tuple[float, str]] = field(default_factory=list)  # (received, data)
    event_ids: list[int] = field(default_factory=list)
    ended: str | None = None  # why the stream stopped before we stopped it

    async def run(self, port: int, headers: dict[str, str]) -> None:
        try:
            async for event in listen(HOST, port, "/events?topics=orders", headers):
                if event.event == "order.created":
                    self.created.append((event.received, event.data))
                    self.event_ids.append(int(event.id or 0))
                elif event.event == "stream.ready":
                    self.ready.set()
            self.ended = "server ended the stream"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.ended = f"{type(exc).__name__}: {exc}"


def _epoch(iso_utc: str) -> float:
    return datetime.fromisoformat(iso_utc).timestamp()  # "...Z" parses on Python 3.11+


async def run(cfg: Config) -> dict[str, Any]:
    count = int(cfg.sse_rate * cfg.sse_seconds)
    server = forkflow_server(Path(cfg.source_dir), cfg.server_cpus, backend=cfg.backend)
    server.start()
    client = make_client(cfg.client, HOST, server.port, cfg.sse_senders)
    listeners = [Listener() for _ in range(cfg.listeners)]
    tasks: list[asyncio.Task[None]] = []
    try:
        headers = await sign_in(client, server.credentials)
        tasks = [asyncio.create_task(lst.run(server.port, headers)) for lst in listeners]
        menu = await create_menu(client, cfg.menu_items, cfg.seed)
        orders = make_orders(menu, count, cfg.seed, "sse")
        await asyncio.wait_for(asyncio.gather(*(lst.ready.wait() for lst in listeners)), 15)
        meter = CpuMeter(server)
        outcome = await paced(client, orders, cfg.sse_rate)
        cpu = meter.percent()
        # Give the last events time to arrive (but do not wait forever for lost ones).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(len(lst.created) < len(outcome.ok) for lst in listeners):
            await asyncio.sleep(0.02)
        ended_early = [lst.ended for lst in listeners if lst.ended]
        # Stop the server with every stream still open: shutdown must not wait on them.
        await client.aclose()
        await asyncio.to_thread(server.stop)
        await asyncio.wait(tasks, timeout=5)
        ended_at_shutdown = sum(1 for lst in listeners if lst.ended == "server ended the stream")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
        server.stop()

    created_ids = {s.order["id"] for s in outcome.ok if s.order}
    delays_ms: list[float] = []
    missing = duplicates = out_of_order = 0
    for lst in listeners:
        seen: set[int] = set()
        for received, data in lst.created:
            order = json.loads(data)
            if order["id"] in seen:
                duplicates += 1
                continue
            seen.add(order["id"])
            if order["id"] in created_ids:
                delays_ms.append((received - _epoch(order["created_at"])) * 1000)
        missing += len(created_ids - seen)
        out_of_order += sum(1 for a, b in zip(lst.event_ids, lst.event_ids[1:], strict=False) if b <= a)
    wall = outcome.wall_seconds
    return {
        "listeners": cfg.listeners,
        "rate": cfg.sse_rate,
        "seconds": cfg.sse_seconds,
        "senders": cfg.sse_senders,
        "sent": len(outcome.sent),
        "ok": len(outcome.ok),
        "errors": len(outcome.sent) - len(outcome.ok),
        "error_samples": outcome.error_samples(),
        "achieved_rate": len(outcome.sent) / wall if wall else 0.0,
        "post_latency_ms": summary([s.latency_ms for s in outcome.sent]),
        "delivery_ms": summary(delays_ms),
        "expected_deliveries": len(created_ids) * cfg.listeners,
        "missing": missing,
        "duplicates": duplicates,
        "out_of_order": out_of_order,
        "streams_ended_early": ended_early,
        "streams_ended_by_shutdown": ended_at_shutdown,
        **cpu,
        "shutdown_s": server.shutdown_seconds,
        "killed_at_shutdown": server.killed,
    }
