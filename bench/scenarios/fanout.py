"""Fan-out scale: how many open event streams one server process holds while still getting every
event to every client within a second, and what each connection costs in memory.

Connections to the public `GET /events?topics=menu` are opened in steps (kept open from one step
to the next). At each step the dish's availability is toggled a few times; a step passes when all
its connections are open and every client got every toggle within 1 s of the write (receipt minus
the item's `updated_at`, which the server stamps when the write starts). The ramp stops at the
first step that fails. Memory per connection is the server's VmRSS growth since before the first
connection, divided by the connections open.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import Client, make_client
from ..cpu import CpuMeter
from ..servers import HOST, ServerProcess, forkflow_server
from ..sse_client import listen
from ..stats import epoch, summary
from ..workload import sign_in
from . import Config

WITHIN_S = 1.0
OPEN_BATCH = 100  # connections opened at once: the listen backlog is finite
SETTLE_S = 0.5


@dataclass
class Listener:
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    got: dict[str, float] = field(default_factory=dict)  # the payload's updated_at -> receipt time
    ended: str | None = None

    async def run(self, port: int) -> None:
        try:
            async for ev in listen(HOST, port, "/events?topics=menu"):
                if ev.event == "stream.ready":
                    self.ready.set()
                elif ev.event == "menu.availability":
                    self.got[json.loads(ev.data)["updated_at"]] = ev.received
            self.ended = "server ended the stream"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.ended = f"{type(exc).__name__}: {exc}"


async def _open(listeners: list[Listener], port: int, tasks: list[asyncio.Task[None]]) -> float:
    """Open the listeners a batch at a time, each batch waited for (ready or failed); seconds taken."""
    started = time.perf_counter()
    for i in range(0, len(listeners), OPEN_BATCH):
        batch = listeners[i : i + OPEN_BATCH]
        tasks += [asyncio.create_task(lst.run(port)) for lst in batch]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(lst.ready.is_set() or lst.ended for lst in batch):
            await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def _step(
    server: ServerProcess, client: Client, item_id: int, listeners: list[Listener], events: int, available: list[bool]
) -> dict[str, Any]:
    """Toggle `events` times, each time waiting (up to 3 s) for every client to have it."""
    open_now = [lst for lst in listeners if lst.ready.is_set() and not lst.ended]
    delays: list[float] = []
    late = missing = 0
    meter = CpuMeter(server)
    for _ in range(events):
        available[0] = not available[0]
        resp = await client.request(
            "PUT", f"/menu/{item_id}/availability", json.dumps({"available": available[0]}).encode()
        )
        if resp.status != 200:
            raise RuntimeError(f"PUT availability answered {resp.status}: {resp.body[:200]!r}")
        stamp = json.loads(resp.body)["updated_at"]
        deadline = time.monotonic() + 3 * WITHIN_S
        while time.monotonic() < deadline and not all(stamp in lst.got for lst in open_now):
            await asyncio.sleep(0.01)
        written = epoch(stamp)
        for lst in open_now:
            if stamp in lst.got:
                delay = lst.got[stamp] - written
                delays.append(delay * 1000)
                late += delay > WITHIN_S
            else:
                missing += 1
        await asyncio.sleep(0.1)
    return {
        "connections": len(listeners),
        "open": len(open_now),
        "failed_to_open": sum(1 for lst in listeners if not lst.ready.is_set()),
        "ended_early": sum(1 for lst in listeners if lst.ready.is_set() and lst.ended),
        "events": events,
        "deliveries": len(delays),
        "late": late,
        "missing": missing,
        "delivery_ms": summary(delays),
        **meter.percent(),
    }


async def run(cfg: Config) -> dict[str, Any]:
    server = forkflow_server(Path(cfg.source_dir), cfg.server_cpus, backend=cfg.backend)
    listeners: list[Listener] = []
    tasks: list[asyncio.Task[None]] = []
    steps: list[dict[str, Any]] = []
    with server:
        client = make_client(cfg.client, HOST, server.port, 1)
        try:
            await sign_in(client, server.credentials)
            body = {"name": "Fan-out special", "price_cents": 990, "category": "specials", "station": "grill"}
            resp = await client.request("POST", "/menu", json.dumps(body).encode())
            item_id = json.loads(resp.body)["id"]
            available = [True]
            # Warm up the stream path once (imports, caches) before taking the baseline.
            warm = [Listener() for _ in range(10)]
            await _open(warm, server.port, tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            tasks.clear()
            await asyncio.sleep(SETTLE_S)
            rss0 = server.rss_kib()
            for target in cfg.fanout_steps:
                added = [Listener() for _ in range(target - len(listeners))]
                listeners += added
                open_s = await _open(added, server.port, tasks)
                await asyncio.sleep(SETTLE_S)
                rss = server.rss_kib()
                step = await _step(server, client, item_id, listeners, cfg.fanout_events, available)
                step |= {
                    "open_s": open_s,
                    "rss_mib": rss / 1024,
                    "rss_growth_mib": (rss - rss0) / 1024,
                    "kib_per_connection": (rss - rss0) / max(1, step["open"]),
                }
                step["passed"] = (
                    step["open"] == target and step["late"] == 0 and step["missing"] == 0 and step["ended_early"] == 0
                )
                steps.append(step)
                print(
                    f"  fanout {target}: open {step['open']}, late {step['late']}, missing {step['missing']},"
                    f" max {step['delivery_ms']['max']:.0f} ms, {step['kib_per_connection']:.1f} KiB/conn",
                    file=sys.stderr,
                    flush=True,
                )
                if not step["passed"]:
                    break
            health = json.loads((await client.request("GET", "/health")).body)
        finally:
            await client.aclose()
            server_stop_started = time.perf_counter()
            await asyncio.to_thread(server.stop)
            stop_s = time.perf_counter() - server_stop_started
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    passed = [s for s in steps if s["passed"]]
    largest = passed[-1] if passed else None
    return {
        "steps": steps,
        "targets": list(cfg.fanout_steps),
        "within_s": WITHIN_S,
        "largest_passed": largest["connections"] if largest else 0,
        "kib_per_connection": (largest or (steps[-1] if steps else {})).get("kib_per_connection"),
        "baseline_rss_mib": rss0 / 1024,
        "dropped_subscribers": health["bus"].get("dropped_subscribers"),
        "shutdown_s": stop_s,
        "killed_at_shutdown": server.killed,
    }
