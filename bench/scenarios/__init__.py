"""Scenarios: each is an async function from the run's settings to a JSON-able dict of figures.

To add one, write a module with `async def run(cfg: Config) -> dict`, add it to SCENARIOS in
bench/run.py, and teach bench/report.py to print it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Config:
    quick: bool
    client: str  # "raw" or "httpx", see bench/client.py
    source_dir: str  # where `python -m forkflow` runs from: see servers.forkflow_source
    server_cpus: tuple[int, ...]  # CPUs the servers are pinned to; () lets the kernel place them
    orders: int  # burst size
    concurrency: int
    menu_items: int
    listeners: int
    sse_rate: float  # orders/s
    sse_seconds: float
    sse_senders: int
    seed: int

    @classmethod
    def make(cls, quick: bool, client: str, source_dir: str, server_cpus: tuple[int, ...], **overrides: Any) -> Config:
        cfg = cls(
            quick=quick,
            client=client,
            source_dir=source_dir,
            server_cpus=server_cpus,
            orders=1000 if quick else 5000,
            concurrency=50,
            menu_items=20,
            listeners=20,
            sse_rate=100.0,
            sse_seconds=5.0 if quick else 10.0,
            sse_senders=4,
            seed=20261126,
        )
        return cls(**(asdict(cfg) | {k: v for k, v in overrides.items() if v is not None}))
