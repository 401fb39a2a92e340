"""What a customer's tracking page shows: where their order is, and when it should be ready.

The same function serves the first page load and every fragment sent over the page's stream, so
the status looks the same however it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ...formats import local_time
from ...services.estimates import Kitchen, PrepTime, estimate_for

# The customer's words for the kitchen's statuses, in the order an order moves through them.
STEPS = (("new", "Received"), ("preparing", "Preparing"), ("ready", "Ready"), ("completed", "Collected"))
HEADLINES = {
    "new": "We have your order",
    "preparing": "The kitchen is making your order",
    "ready": "Your order is ready",
    "completed": "Collected: enjoy your meal",
    "cancelled": "This order was cancelled",
}


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    state: str  # "done", "current" or "todo"


@dataclass(frozen=True)
class Clock:
    """A moment shown as the restaurant's local clock time, with its exact UTC value for <time>."""

    local: str
    iso: str


@dataclass(frozen=True)
class TrackStatus:
    status: str
    headline: str
    steps: tuple[Step, ...]
    expected: Clock | None  # expected ready time while it is being made
    overdue: bool
    typical_minutes: int
    from_history: bool
    ready_at: Clock | None
    completed_at: Clock | None
    pickup_at: Clock | None = None  # a scheduled order: when the customer collects it (with the weekday)
    from_queue: bool = False  # the expected time comes from the kitchen's live queue and pace

    def moved_from(self, shown: TrackStatus) -> bool:
        """Is this worth a frame to a page showing `shown`? A time read from the queue drifts by
        seconds with every read (it counts from now), so it has to move by a minute or more;
        anything else that differs is a change."""
        mine = _moment(self.expected.iso if self.expected else None)
        theirs = _moment(shown.expected.iso if shown.expected else None)
        if mine is None or theirs is None:
            return self != shown
        return abs(mine - theirs) >= timedelta(minutes=1) or replace(self, expected=shown.expected) != shown


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _clock(moment: datetime | None, zone: ZoneInfo, shape: Literal["clock", "day"] = "clock") -> Clock | None:
    if moment is None:
        return None
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return Clock(local_time(moment, zone, shape), iso)


def _steps(status: str) -> tuple[Step, ...]:
    keys = [key for key, _ in STEPS]
    reached = keys.index(status) if status in keys else -1
    return tuple(
        Step(key, label, "done" if i < reached or status == "completed" else "current" if i == reached else "todo")
        for i, (key, label) in enumerate(STEPS)
    )


def track_status(
    order: dict[str, Any],
    prep: PrepTime,
    now: datetime,
    zone: ZoneInfo,
    kitchen: Kitchen | None = None,
    busy: timedelta = timedelta(0),
) -> TrackStatus:
    """The status panel of a tracking page for `order` (the full order, as the services return it),
    its expected time read from `kitchen`'s queue when given (`busy`: see `estimate_for`)."""
    status = order["status"]
    estimate = estimate_for(order, prep, now, kitchen, busy)
    return TrackStatus(
        status=status,
        headline=HEADLINES.get(status, status),
        steps=() if status == "cancelled" else _steps(status),
        expected=_clock(estimate.ready_by, zone),
        overdue=estimate.overdue,
        typical_minutes=max(1, round(prep.typical.total_seconds() / 60)),
        from_history=prep.from_history,
        ready_at=_clock(_moment(order.get("ready_at")), zone) if status == "ready" else None,
        completed_at=_clock(_moment(order.get("completed_at")), zone) if status == "completed" else None,
        pickup_at=_clock(_moment(order.get("pickup_at")), zone, "day"),
        from_queue=estimate.from_queue,
    )
