"""How wrong the quoted ready time is: a simulated service with a controlled clock.

A seeded evening (a quiet start, a rush well over the kitchen's capacity, a calm end) is cooked
by a simulated kitchen: each station has a few cooks, each portion takes its dish's prep time
give or take a quarter, first come first served. At each order's arrival the kitchen is turned
into the snapshot the server reads (its queue and the last hour's done lines) and the order is
quoted by forkflow/services/estimates.py; the quote is compared with when the simulation finishes
it. The old quote (the median of the last 20 orders) is measured on the same evening beside it.
The README states the figures this prints (`pytest -s tests/test_estimate_error.py`).
"""

from __future__ import annotations

import heapq
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from forkflow.services.estimates import (
    PACE_WINDOW,
    SAMPLE_SIZE,
    Done,
    Kitchen,
    Waiting,
    estimate_for,
    station_pace,
    typical_prep,
)

OPEN = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
COOKS = {"grill": 6, "cold": 3}
DISHES = (("grill", 12), ("grill", 8), ("grill", 4), ("cold", 5), ("cold", 3))  # (station, prep minutes)
# (minutes from opening, orders per minute): quiet, the rush, calm again
PHASES = ((0, 0.2), (40, 0.6), (90, 0.25), (150, 0.0))
SEEDS = 10


@dataclass
class Line:
    station: str
    prep: int
    quantity: int
    done_at: datetime = OPEN


@dataclass
class Order:
    id: int
    placed: datetime
    lines: list[Line]

    @property
    def ready(self) -> datetime:
        return max(line.done_at for line in self.lines)


def evening(seed: int) -> list[Order]:
    """The orders and when each line is done: per station, the cooks take portions in order."""
    rng = random.Random(seed)
    orders: list[Order] = []
    for (start, rate), (end, _) in zip(PHASES, PHASES[1:], strict=False):
        t = float(start)
        while rate and (t := t + rng.expovariate(rate)) < end:
            lines = [Line(*rng.choice(DISHES), rng.choice((1, 1, 1, 2))) for _ in range(rng.randint(1, 3))]
            orders.append(Order(len(orders) + 1, OPEN + timedelta(minutes=t), lines))
    free = {station: [OPEN] * cooks for station, cooks in COOKS.items()}
    for order in orders:
        for line in order.lines:
            cooks = free[line.station]
            for _ in range(line.quantity):
                start = max(order.placed, heapq.heappop(cooks))
                end = start + timedelta(minutes=line.prep * rng.uniform(0.75, 1.25))
                heapq.heappush(cooks, end)
                line.done_at = max(line.done_at, end)
    return orders


def kitchen_at(orders: list[Order], now: datetime) -> Kitchen:
    """What the server would read at `now`: the work waiting per order and station, the done lines."""
    waiting: list[Waiting] = []
    done: list[Done] = []
    for order in orders:
        if order.placed > now:
            break
        for station in COOKS:
            left = [line for line in order.lines if line.station == station and line.done_at > now]
            if left and order.ready > now:
                work = sum(line.prep * line.quantity for line in left)
                waiting.append(Waiting(order.id, False, order.placed, station, work, max(line.prep for line in left)))
        done += [
            Done(line.station, line.done_at, line.prep * line.quantity, line.prep)
            for line in order.lines
            if now - PACE_WINDOW <= line.done_at <= now
        ]
    return Kitchen(now, tuple(waiting), station_pace(done))


def errors(orders: list[Order]) -> tuple[list[float], list[float]]:
    """Per order, |quoted - actual| in minutes: the queue's quote, and the old median's."""
    queue_errors, median_errors = [], []
    for order in orders:
        now = order.placed
        readied = sorted((o for o in orders if o.ready <= now), key=lambda o: o.ready)[-SAMPLE_SIZE:]
        prep = typical_prep([o.ready - o.placed for o in readied])
        created = now.isoformat().replace("+00:00", "Z")
        as_served = {"id": order.id, "status": "new", "created_at": created}
        quoted = estimate_for(as_served, prep, now, kitchen_at(orders, now)).ready_by
        median = estimate_for(as_served, prep, now).ready_by
        assert quoted is not None and median is not None
        queue_errors.append(abs((quoted - order.ready).total_seconds()) / 60)
        median_errors.append(abs((median - order.ready).total_seconds()) / 60)
    return queue_errors, median_errors


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def test_the_quoted_ready_time_is_measured_against_a_simulated_service() -> None:
    queue_errors: list[float] = []
    median_errors: list[float] = []
    for seed in range(SEEDS):
        served = evening(seed)
        assert len(served) > 30
        ours, old = errors(served)
        queue_errors += ours
        median_errors += old
    ours_median, ours_p90 = statistics.median(queue_errors), p90(queue_errors)
    old_median, old_p90 = statistics.median(median_errors), p90(median_errors)
    print(
        f"\n{len(queue_errors)} orders over {SEEDS} simulated evenings, |quoted - actual| in minutes:"
        f"\n  queue and pace: median {ours_median:.1f}, p90 {ours_p90:.1f}"
        f"\n  median of the last 20: median {old_median:.1f}, p90 {old_p90:.1f}"
    )
    assert ours_median < old_median and ours_p90 < old_p90, "the queue's quote beats the old median"
    assert ours_median < 2.5 and ours_p90 < 12
