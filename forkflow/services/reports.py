"""Today at a glance, for the manager's console: read-only queries, no writes.

"Today" is the current service day (`business_date`, starting at FORKFLOW_DAY_STARTS_AT local
time), so a late service past midnight still counts as tonight. Cancelled orders count nowhere.
Hours are local wall-clock hours of the restaurant's time zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from ..config import Settings
from ..schema import order_line_modifiers, order_lines, orders
from ..store import Store
from .orders import business_date

TOP_ITEMS = 5
TOP_MODIFIERS = 5


@dataclass(frozen=True)
class HourBucket:
    start: datetime  # the local hour's start, aware in the restaurant's zone
    orders: int
    revenue_cents: int

    @property
    def label(self) -> str:
        return self.start.strftime("%H:%M")


@dataclass(frozen=True)
class TopItem:
    name: str
    quantity: int
    revenue_cents: int


@dataclass(frozen=True)
class TopModifier:
    """An option as the lines kept it (its group's and its own name when ordered): how many
    portions carried it (double bacon on two burgers: 4), and what it added to the bill."""

    group: str
    name: str
    chosen: int
    revenue_cents: int


@dataclass(frozen=True)
class Today:
    business_date: str
    orders: int
    revenue_cents: int
    hours: list[HourBucket]
    prepared: int  # orders that reached ready, whose prep times follow
    prep_avg_seconds: float | None
    prep_p90_seconds: float | None
    top_items: list[TopItem]
    top_modifiers: list[TopModifier]


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of all values at or
    below it (so p90 of ten times is the 9th fastest). None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _local_hour(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start of the local hour `moment` falls in, as a UTC instant (a key that stays distinct
    across a DST change, when two local hours share a label)."""
    return moment.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def hourly(placed: Iterable[tuple[datetime, int]], zone: ZoneInfo, now: datetime) -> list[HourBucket]:
    """Orders and revenue per local hour, from the first hour with an order to the current hour
    (empty hours in between included, so the chart's time axis is even)."""
    counts: dict[datetime, list[int]] = {}
    for created_at, total_cents in placed:
        bucket = counts.setdefault(_local_hour(created_at, zone), [0, 0])
        bucket[0] += 1
        bucket[1] += total_cents
    if not counts:
        return []
    hour = min(counts)
    last = max(max(counts), _local_hour(now, zone))
    buckets = []
    while hour <= last:
        orders_count, revenue = counts.get(hour, (0, 0))
        buckets.append(HourBucket(hour.astimezone(zone), orders_count, revenue))
        # Next local hour: one hour on in absolute time, floored again (zones off by 30 or 45
        # minutes, and DST changes, still give one bucket per local hour).
        hour = _local_hour(hour + timedelta(hours=1), zone)
    return buckets


_COUNTED = orders.c.status != "cancelled"
_NOT_VOIDED = order_lines.c.voided_at.is_(None)  # a voided line was not sold
_PLACED = select(orders.c.created_at, orders.c.released_at, orders.c.ready_at, orders.c.total_cents).where(_COUNTED)
_SOLD = func.sum(order_lines.c.quantity)
_TOP = (
    select(order_lines.c.name, _SOLD, func.sum(order_lines.c.quantity * order_lines.c.unit_price_cents))
    .join(orders)
    .where(_COUNTED, _NOT_VOIDED)
    .group_by(order_lines.c.name)
    .order_by(_SOLD.desc(), order_lines.c.name)
    .limit(TOP_ITEMS)
)
_TIMES = order_line_modifiers.c.count * order_lines.c.quantity
_CHOSEN = func.sum(_TIMES)
_TOP_MODIFIERS = (
    select(
        order_line_modifiers.c.group_name,
        order_line_modifiers.c.option_name,
        _CHOSEN,
        func.sum(_TIMES * order_line_modifiers.c.price_cents),
    )
    .select_from(order_line_modifiers.join(order_lines).join(orders))
    .where(_COUNTED, _NOT_VOIDED)
    .group_by(order_line_modifiers.c.group_name, order_line_modifiers.c.option_name)
    .order_by(_CHOSEN.desc(), order_line_modifiers.c.group_name, order_line_modifiers.c.option_name)
    .limit(TOP_MODIFIERS)
)


def _today(conn: Connection, day: str, zone: ZoneInfo, now: datetime) -> Today:
    placed = conn.execute(_PLACED.where(orders.c.business_date == day)).all()
    # (A scheduled order's prep time starts at its release.)
    prep = [
        (row.ready_at - (row.released_at or row.created_at)).total_seconds()
        for row in placed
        if row.ready_at is not None
    ]
    top = conn.execute(_TOP.where(orders.c.business_date == day)).all()
    modifiers = conn.execute(_TOP_MODIFIERS.where(orders.c.business_date == day)).all()
    return Today(
        business_date=day,
        orders=len(placed),
        revenue_cents=sum(row.total_cents for row in placed),
        hours=hourly(((row.created_at, row.total_cents) for row in placed), zone, now),
        prepared=len(prep),
        prep_avg_seconds=sum(prep) / len(prep) if prep else None,
        prep_p90_seconds=percentile(prep, 0.9),
        top_items=[TopItem(name, int(quantity), int(revenue)) for name, quantity, revenue in top],
        top_modifiers=[
            TopModifier(group, name, int(chosen), int(revenue)) for group, name, chosen, revenue in modifiers
        ],
    )


async def today(store: Store, now: datetime | None = None) -> Today:
    """The figures of the current service day (of `now`'s, for tests)."""
    settings: Settings = store.settings
    moment = now or datetime.now(UTC)
    return await store.query(_today, business_date(moment, settings), settings.timezone, moment)
