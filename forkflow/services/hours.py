"""Opening hours, and the pickup times they allow: the one owner of "is the restaurant open then",
"may an order be picked up then" and "which pickup times does checkout offer".

Hours are kept per weekday in local time (settings.timezone), as "HH:MM" intervals ("24:00" ends
the day); a day without intervals is closed. Pickup times offered are on the quarter hour
(`SLOT_MINUTES`): the capacity of a slot (services/online.py) counts the orders whose pickup falls
in it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ..config import Settings
from ..models import HoursIn
from ..schema import opening_hours
from ..store import Store, Tx
from ..vocabulary import WEEKDAYS

Week = dict[str, list[tuple[str, str]]]

SLOT_MINUTES = 15  # pickup times are offered on these steps, from the hour
PICKUP_GRACE = timedelta(minutes=2)  # a pickup this much in the past is taken (a slow checkout)
HOLD_GRACE = timedelta(minutes=1)  # a hold until this much in the past is taken (released at once)
OFFERED_DAYS = 2  # checkout offers today's and tomorrow's times


def read_hours(conn: Connection) -> Week:
    week: Week = {day: [] for day in WEEKDAYS}
    rows = conn.execute(select(opening_hours).order_by(opening_hours.c.weekday, opening_hours.c.opens))
    for row in rows:
        week[WEEKDAYS[row.weekday]].append((row.opens, row.closes))
    return week


def hours_out(week: Week) -> dict[str, Any]:
    return {day: [[opens, closes] for opens, closes in week[day]] for day in WEEKDAYS}


async def get_hours(store: Store) -> dict[str, Any]:
    return hours_out(await store.query(read_hours))


async def set_hours(store: Store, data: HoursIn) -> dict[str, Any]:
    """Replace the week's hours; `menu.hours` tells open menus (and checkouts) they changed."""
    week = data.days()

    def unit(tx: Tx) -> dict[str, Any]:
        if read_hours(tx.conn) == week:
            return hours_out(week)  # nothing changed: nothing to tell anyone
        tx.conn.execute(delete(opening_hours))
        rows = [
            {"weekday": n, "opens": opens, "closes": closes}
            for n, day in enumerate(WEEKDAYS)
            for opens, closes in week[day]
        ]
        if rows:
            tx.conn.execute(insert(opening_hours), rows)
        out = hours_out(week)
        tx.emit("menu.hours", out)
        return out

    return await store.write(unit)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def is_open(week: Week, moment: datetime, settings: Settings) -> bool:
    """Whether `moment` (any zone) falls in an opening interval of its local day: opens <= t < closes."""
    local = moment.astimezone(settings.timezone)
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    return any(_minutes(opens) <= minute < _minutes(closes) for opens, closes in week[WEEKDAYS[local.weekday()]])


def day_text(week: Week, day: str) -> str:
    """A day's hours as people read them: "11:30–14:30, 17:30–22:00", or "closed"."""
    return ", ".join(f"{opens}–{closes}" for opens, closes in week[day]) or "closed"


def ahead_problem(moment: datetime, now: datetime, settings: Settings, grace: timedelta, what: str) -> str | None:
    """Why an order cannot be scheduled for `moment` (past by more than `grace`, or beyond the
    limit), or None when it can: the one owner of how far ahead orders are scheduled or held."""
    if moment < now - grace:
        return f"the {what} has passed"
    if moment > now + timedelta(days=settings.max_schedule_days):
        return f"orders can be scheduled at most {settings.max_schedule_days} days ahead"
    return None


def pickup_problem(week: Week, pickup_at: datetime, now: datetime, settings: Settings) -> str | None:
    """Why an order cannot be picked up at `pickup_at`, or None when it can."""
    problem = ahead_problem(pickup_at, now, settings, PICKUP_GRACE, "pickup time")
    if problem is not None:
        return problem
    if not is_open(week, pickup_at, settings):
        day = WEEKDAYS[pickup_at.astimezone(settings.timezone).weekday()]
        return f"we are not open then ({day.capitalize()}: {day_text(week, day)})"
    return None


def _local(day: date, minute: int, settings: Settings) -> datetime | None:
    """The local moment `minute` minutes into `day`, or None when the clocks skip it (DST)."""
    if minute >= 24 * 60:
        return None
    wall = datetime.combine(day, time(minute // 60, minute % 60), settings.timezone)
    return wall if wall.astimezone(UTC).astimezone(settings.timezone) == wall else None


def day_times(week: Week, day: date, settings: Settings) -> list[datetime]:
    """Every SLOT_MINUTES of `day`'s opening hours (local), in order: the pickup times it can offer."""
    found = []
    for opens, closes in week[WEEKDAYS[day.weekday()]]:
        first = -(-_minutes(opens) // SLOT_MINUTES) * SLOT_MINUTES
        for minute in range(first, _minutes(closes), SLOT_MINUTES):
            moment = _local(day, minute, settings)
            if moment is not None:
                found.append(moment)
    return found


def pickup_times(week: Week, now: datetime, settings: Settings, lead: timedelta) -> list[datetime]:
    """The pickup times checkout offers: every SLOT_MINUTES of the opening hours of today and
    tomorrow (local), at least `lead` from `now` (the time a kitchen needs), in order."""
    earliest = now + lead
    today = now.astimezone(settings.timezone).date()
    days = [today + timedelta(days=offset) for offset in range(OFFERED_DAYS)]
    return [moment for day in days for moment in day_times(week, day, settings) if moment >= earliest]
