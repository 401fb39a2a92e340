"""Who used the CPU during a timed part: the server, this load generator, and everything else.

The machine has two cores and may be shared (someone's test run, a build): "other" is the busy
time of the whole machine less ours, so a figure taken on a busy machine says so.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .pg import postgres_cpu_seconds
from .servers import ServerProcess

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (user, nice, system, irq, softirq, steal)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class CpuMeter:
    """Start before the timed part, `percent()` after it: % of one core for each party."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.postgres = server.database_url is not None
        self._start = self._now()

    def _now(self) -> tuple[float, ...]:
        pg = postgres_cpu_seconds() if self.postgres else 0.0
        return (time.perf_counter(), *self.server.cpu_times(), time.process_time(), machine_busy_seconds(), pg)

    def percent(self) -> dict[str, float]:
        wall, user, system, driver, machine, pg = (b - a for a, b in zip(self._start, self._now(), strict=True))
        server = user + system
        figures = {
            # ForkFlow's own processes: on PostgreSQL the uvicorn supervisor and its workers, summed.
            "server_cpu_pct": 100 * server / wall,
            "server_sys_cpu_pct": 100 * system / wall,  # of which in the kernel: syscalls, thread wake-ups
            "driver_cpu_pct": 100 * driver / wall,
            "other_cpu_pct": max(0.0, 100 * (machine - server - driver - pg) / wall),
        }
        if self.postgres:
            # Every `postgres` process on the machine (other databases' backends too), not pinned.
            figures["postgres_cpu_pct"] = 100 * pg / wall
        return figures


def wait_until_quiet(most_seconds: float, threshold_pct: float = 15.0) -> float:
    """Wait, up to `most_seconds`, for a one-second window in which the whole machine is busy
    less than `threshold_pct` of one core; returns the last window's figure."""
    deadline = time.monotonic() + most_seconds
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        busy = 100 * (machine_busy_seconds() - before)
        if busy < threshold_pct or time.monotonic() >= deadline:
            return busy


def calibrate() -> float:
    """Milliseconds for a fixed bit of pure-Python work (best of 5). This machine is a VM whose
    speed drifts with its neighbours: compare this figure across runs before comparing theirs."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total, table = 0, {}
        for i in range(300_000):
            total += i * i % 7
        for i in range(100_000):
            table[i] = str(i)
        best = min(best, time.perf_counter() - started)
    return best * 1000
