"""Scenarios: each is an async function from the run's settings to a JSON-able dict of figures.

To add one, write a module with `async def run(cfg: Config) -> dict`, add it to SCENARIOS in
bench/run.py, teach bench/report.py to print it, and bench/targets.py to judge it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Config:
    quick: bool
    smoke: bool  # tiny sizes; only correctness is judged (see bench/targets.py)
    client: str  # "raw" or "httpx", see bench/client.py
    source_dir: str  # where `python -m forkflow` runs from: see servers.forkflow_source
    server_cpus: tuple[int, ...]  # CPUs the servers are pinned to; () lets the kernel place them
    backend: str  # "sqlite" (one process) or "postgres" (a fresh database, 2 uvicorn workers)
    orders: int  # burst size
    concurrencies: tuple[int, ...]  # burst clients, each on a fresh server; ceilings A and F run at the first
    menu_items: int
    # sse: commit-to-event latency
    listeners: int
    sse_rate: float  # orders/s
    sse_seconds: float
    sse_senders: int
    # retry: every key sent twice at once, then once more after a random delay
    retry_keys: int
    retry_concurrencies: tuple[int, ...]
    retry_max_delay_s: float
    # rush: steady orders, kitchen displays, tracking pages, status changes, availability toggles
    rush_seconds: float
    rush_rate: float  # orders/s
    rush_displays: int
    rush_trackers: int
    rush_status_rate: float  # PATCH /orders/{id} per second
    rush_toggle_rate: float  # PUT /menu/{id}/availability per second
    rush_courses: int  # table orders placed with a held course, each fired during the run
    rush_scheduled: int  # orders placed during the run for a pickup a second later, released by the server
    rush_printers: bool  # a fake ESC/POS printer per station (bench/printers.py): chit latency and count
    # fanout: open SSE connections held, in steps
    fanout_steps: tuple[int, ...]
    fanout_events: int  # availability toggles per step
    # idle: one kitchen display with nothing happening, against a display polling every poll_seconds
    idle_seconds: float
    poll_seconds: float
    idle_active_orders: int
    # growth: the burst on a database already holding this many orders
    growth_sizes: tuple[int, ...]
    growth_orders: int
    growth_active: int  # orders still on the line in the pre-filled database
    seed: int

    @property
    def concurrency(self) -> int:
        """The concurrency ceilings A and F are measured at, and the ratios are taken at."""
        return self.concurrencies[0]

    @classmethod
    def make(cls, size: str, client: str, source_dir: str, server_cpus: tuple[int, ...], **overrides: Any) -> Config:
        """`size` is "full", "quick" or "smoke"."""
        quick, smoke = size == "quick", size == "smoke"
        cfg = cls(
            quick=quick,
            smoke=smoke,
            client=client,
            source_dir=source_dir,
            server_cpus=server_cpus,
            backend="sqlite",
            orders=300 if smoke else 1000 if quick else 5000,
            concurrencies=(50, 200),
            menu_items=20,
            listeners=5 if smoke else 20,
            sse_rate=50.0 if smoke else 100.0,
            sse_seconds=2.0 if smoke else 5.0 if quick else 10.0,
            sse_senders=4,
            retry_keys=50 if smoke else 1000 if quick else 5000,
            retry_concurrencies=(50,) if smoke else (50, 200),
            retry_max_delay_s=0.5,
            rush_seconds=3.0 if smoke else 8.0 if quick else 30.0,
            rush_rate=20.0 if smoke else 50.0,
            rush_displays=5 if smoke else 50,
            rush_trackers=10 if smoke else 200,
            rush_status_rate=5.0 if smoke else 10.0,
            rush_toggle_rate=1.0,
            rush_courses=5 if smoke else 20 if quick else 60,
            rush_scheduled=5 if smoke else 20 if quick else 60,
            rush_printers=not (smoke or quick),  # the full run prints; --printers / --no-printers decide
            fanout_steps=(100,) if smoke else (250, 500, 1000) if quick else (500, 1000, 2000, 3000, 5000),
            fanout_events=2 if smoke else 3,
            idle_seconds=3.0 if smoke else 10.0 if quick else 60.0,
            poll_seconds=2.0,
            idle_active_orders=5 if smoke else 30,
            growth_sizes=(0, 1000) if smoke else (0, 100_000) if quick else (0, 100_000, 1_000_000),
            growth_orders=100 if smoke else 1000 if quick else 5000,
            growth_active=30,
            seed=20261126,
        )
        return cls(**(asdict(cfg) | {k: v for k, v in overrides.items() if v is not None}))
