"""Online ordering's pace: the one owner of "is online ordering paused", "how busy are we" and "is
this pickup slot full".

Managers set it all at once (`PUT /online`, the console): a pause (until `resume_at`, or until
resumed), a busy delay added to every quoted time, and the capacity of a 15-minute pickup slot as
online orders and as kitchen load. Paused is computed, not switched off by a job: online ordering
is paused while `paused and (resume_at is null or now < resume_at)`.

**Slots.** A slot is a SLOT_MINUTES window of pickup time, from the hour (services/hours.py). An
order is counted in the slot its pickup falls in: a scheduled order's `pickup_at`; an order for as
soon as possible, its quoted ready time: placed + the busy delay + its longest line's prep minutes.
Its kitchen load is the sum of its lines' `prep_load × quantity`. Both are fixed when it is placed
(`orders.slot_at`, `orders.kitchen_load`); a cancelled order frees its room, a voided line does not.
`slot_orders` caps the slot's online orders, `slot_load` the load of all its orders, staff's too.

**Capacity is taken in the order's own write.** `for_order` and `take_room` run inside
services/orders.py's write unit: the slot's orders and load are read in the same transaction as
the new order's insert. Writes never overlap: on SQLite one writer thread runs them; on PostgreSQL
every write transaction of every process first takes one advisory lock (storage/postgres.py), so
the second of two racing orders reads the first's row. The last room in a slot is taken once.

Staff orders are never refused for pause or capacity: they count toward the slot's load, and the
till shows it (`rooms_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select, update

from ..config import Settings
from ..errors import Conflict, Invalid
from ..formats import iso, local_time
from ..models import OnlineIn
from ..schema import online_settings, orders
from ..store import Store, Tx
from .hours import PICKUP_GRACE, SLOT_MINUTES, day_times, pickup_times, read_hours

ONLINE_PAUSED = "online_paused"  # the 409's `reason` while online ordering is paused
SLOT_FULL = "slot_full"  # the 409's `reason` when the order's pickup slot has no room for it
SLOT = timedelta(minutes=SLOT_MINUTES)
LEAD = SLOT  # the earliest slot offered is at least this (plus the busy delay) from now


@dataclass(frozen=True)
class Online:
    """The settings as stored (row 1 of `online_settings`)."""

    paused: bool
    resume_at: datetime | None
    busy_minutes: int
    slot_orders: int | None
    slot_load: int | None

    def paused_at(self, now: datetime) -> bool:
        return self.paused and (self.resume_at is None or now < self.resume_at)

    def out(self, now: datetime) -> dict[str, Any]:
        """As the API and the event show it: paused as it is now (a passed `resume_at` is not paused)."""
        paused = self.paused_at(now)
        return {
            "paused": paused,
            "resume_at": iso(self.resume_at) if paused and self.resume_at is not None else None,
            "busy_minutes": self.busy_minutes,
            "slot_orders": self.slot_orders,
            "slot_load": self.slot_load,
        }


def slot_of(moment: datetime) -> datetime:
    """The start of the slot `moment` falls in. Counted in UTC: every time zone's offset is a whole
    number of quarter hours, so these are the local quarter hours too."""
    minutes = int(moment.timestamp() // 60)
    return datetime.fromtimestamp((minutes - minutes % SLOT_MINUTES) * 60, UTC)


def read_online(conn: Connection) -> Online:
    row = conn.execute(select(online_settings).where(online_settings.c.id == 1)).one()
    return Online(bool(row.paused), row.resume_at, row.busy_minutes, row.slot_orders, row.slot_load)


async def get_online(store: Store) -> Online:
    return await store.query(read_online)


async def busy_delay(store: Store) -> timedelta:
    """The busy delay now: what every quoted time (checkout, estimates) adds."""
    return timedelta(minutes=(await get_online(store)).busy_minutes)


def paused_text(online: dict[str, Any], settings: Settings) -> str | None:
    """ "Online ordering is paused until 19:30" (or only "paused"), from `Online.out`; None while open."""
    if not online["paused"]:
        return None
    until = online["resume_at"]
    return "Online ordering is paused" + (f" until {local_time(until, settings.timezone)}" if until else "")


async def set_online(store: Store, data: OnlineIn) -> dict[str, Any]:
    """Replace the settings; `menu.online` tells every open menu. 422 for a `resume_at` in the past,
    too far ahead, or given without a pause; nothing is written then."""

    def unit(tx: Tx) -> dict[str, Any]:
        resume_at = data.resume_at
        if resume_at is not None:  # (compared before it is converted: year 1 in UTC+5 has no UTC)
            problem = None
            if not data.paused:
                problem = "only a pause resumes: leave it out when not paused"
            elif resume_at <= tx.now:
                problem = "the time has passed"
            elif resume_at > tx.now + timedelta(days=store.settings.max_schedule_days):
                problem = f"at most {store.settings.max_schedule_days} days ahead"
            if problem is not None:
                raise Invalid(f"resume_at: {problem}", {"resume_at": problem})
            resume_at = resume_at.astimezone(UTC)
        new = Online(data.paused, resume_at, data.busy_minutes, data.slot_orders, data.slot_load)
        if read_online(tx.conn) == new:
            return new.out(tx.now)  # nothing changed: nothing to tell anyone
        values = {
            "paused": new.paused,
            "resume_at": new.resume_at,
            "busy_minutes": new.busy_minutes,
            "slot_orders": new.slot_orders,
            "slot_load": new.slot_load,
        }
        tx.conn.execute(update(online_settings).where(online_settings.c.id == 1).values(values))
        out = new.out(tx.now)
        tx.emit("menu.online", out)
        return out

    return await store.write(unit)


# In the order's write: plain SQL (`Tx.sql`), as the rest of services/orders.py's create_order.
_FOR_ORDER_SQL = (
    "SELECT paused AND (resume_at IS NULL OR resume_at > ?), resume_at, busy_minutes, slot_orders, slot_load"
    " FROM online_settings WHERE id = 1"
)
_SLOT_TAKEN_SQL = (
    "SELECT COUNT(CASE WHEN channel = 'online' THEN 1 END), COALESCE(SUM(kitchen_load), 0)"
    " FROM orders WHERE slot_at = ? AND status <> 'cancelled'"
)


@dataclass(frozen=True)
class ForOrder:
    """The settings as an order's write reads them."""

    paused: bool  # now
    resume_at: datetime | None
    busy_minutes: int
    slot_orders: int | None
    slot_load: int | None


def for_order(tx: Tx, public: bool, settings: Settings) -> ForOrder:
    """The settings, read in the order's write; a `public` order while paused is 409 `online_paused`."""
    paused, resume_at, busy, slot_orders, slot_load = tx.sql(_FOR_ORDER_SQL, (tx.stored_now,)).fetchone()
    if isinstance(resume_at, str):  # SQLite's plain SQL gives the stored text back
        resume_at = datetime.fromisoformat(resume_at).replace(tzinfo=UTC)
    if public and paused:
        until = f" until {local_time(resume_at, settings.timezone)}" if resume_at is not None else ""
        raise Conflict(
            f"online ordering is paused{until}: please try again later",
            reason=ONLINE_PAUSED,
            resume_at=None if resume_at is None else iso(resume_at),
        )
    return ForOrder(bool(paused), resume_at, busy, slot_orders, slot_load)


def order_slot(now: datetime, pickup_at: datetime | None, prep_minutes: int, online: ForOrder) -> datetime:
    """The slot an order is counted in: its pickup's, or for as soon as possible its quoted ready time's."""
    ready = pickup_at if pickup_at is not None else now + timedelta(minutes=online.busy_minutes + prep_minutes)
    return slot_of(ready)


def check_lead(tx: Tx, pickup_at: datetime, online: ForOrder, settings: Settings) -> None:
    """422 naming `pickup_at` when a public order asks for a pickup sooner than the busy delay allows
    (the slots offered start later still: see `_offered`)."""
    earliest = tx.now + timedelta(minutes=online.busy_minutes)
    if online.busy_minutes and pickup_at < earliest - PICKUP_GRACE:
        problem = f"we are busy: the earliest pickup is {local_time(earliest, settings.timezone)}"
        raise Invalid(f"the order cannot be picked up then: {problem}", {"pickup_at": problem})


def take_room(tx: Tx, slot: datetime, load: int, online: ForOrder, settings: Settings) -> None:
    """409 `slot_full` when a public order does not fit its slot: one more online order than
    `slot_orders`, or more load than `slot_load` left. Read in the order's own write (see above)."""
    if online.slot_orders is None and online.slot_load is None:
        return
    taken_orders, taken_load = tx.sql(_SLOT_TAKEN_SQL, (tx.stored(slot),)).fetchone()
    fits_orders = online.slot_orders is None or taken_orders + 1 <= online.slot_orders
    fits_load = online.slot_load is None or taken_load + load <= online.slot_load
    if fits_orders and fits_load:
        return
    clock = local_time(slot, settings.timezone)
    raise Conflict(
        f"the {clock} pickup slot is full: please choose a later pickup time",
        {"pickup_at": f"the {clock} slot is full"},
        reason=SLOT_FULL,
        slot=iso(slot),
    )


# What checkout offers


@dataclass(frozen=True)
class Room:
    """A slot's orders and load so far (staff's counted in the load), and its limits."""

    slot: datetime
    orders: int
    load: int
    slot_orders: int | None
    slot_load: int | None

    @property
    def full(self) -> bool:
        return (self.slot_orders is not None and self.orders >= self.slot_orders) or (
            self.slot_load is not None and self.load >= self.slot_load
        )


def _taken(conn: Connection, first: datetime, last: datetime) -> dict[datetime, tuple[int, int]]:
    """{slot: (online orders, load)} of the slots from `first` to `last`, those with orders."""
    query = (
        select(
            orders.c.slot_at,
            func.count(case((orders.c.channel == "online", 1))),
            func.coalesce(func.sum(orders.c.kitchen_load), 0),
        )
        .where(orders.c.slot_at >= first, orders.c.slot_at <= last, orders.c.status != "cancelled")
        .group_by(orders.c.slot_at)
    )
    return {row[0]: (row[1], row[2]) for row in conn.execute(query)}


def rooms(conn: Connection, online: Online, slots: list[datetime]) -> list[Room]:
    if not slots:
        return []
    taken = _taken(conn, slot_of(slots[0]), slot_of(slots[-1]))
    return [Room(slot, *taken.get(slot_of(slot), (0, 0)), online.slot_orders, online.slot_load) for slot in slots]


def _offered(conn: Connection, now: datetime, settings: Settings, day: date | None) -> list[datetime]:
    online = read_online(conn)
    if online.paused_at(now):
        return []
    week = read_hours(conn)
    lead = LEAD + timedelta(minutes=online.busy_minutes)
    latest = now + timedelta(days=settings.max_schedule_days)
    if day is None:
        times = pickup_times(week, now, settings, lead)
    elif now.astimezone(settings.timezone).date() <= day <= latest.astimezone(settings.timezone).date():
        times = [moment for moment in day_times(week, day, settings) if now + lead <= moment <= latest]
    else:
        times = []  # a day past, or further ahead than orders can be scheduled
    return [room.slot for room in rooms(conn, online, times) if not room.full]


async def offered_slots(store: Store, now: datetime, day: date | None = None) -> list[datetime]:
    """The pickup times still offered (local): in opening hours, at least the lead and the busy
    delay from `now`, not full; none while paused. Of `day`, or else of today and tomorrow."""
    return await store.query(_offered, now, store.settings, day)


async def rooms_at(store: Store, moments: list[datetime]) -> dict[datetime, Room]:
    """For staff (the till's "Slot 19:30: 8/10 portions"): the room of each moment's slot, by slot start."""

    def read(conn: Connection) -> dict[datetime, Room]:
        slots = sorted({slot_of(moment) for moment in moments})
        return {room.slot: room for room in rooms(conn, read_online(conn), slots)}

    return await store.query(read)
