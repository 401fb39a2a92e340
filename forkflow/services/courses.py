"""Courses, hold and fire: which of an order's courses go to the kitchen when it is sent, firing a
held one (by hand, or automatically when the course before it is bumped), and the kitchen's
auto-fire setting. The one owner of these rules; services/orders.py applies them in its writes.

The rule at sending, for table orders (courses pace a table's meal; a counter or online order
is packed and handed over at once, so all of its courses are fired at sending): course 0 (as soon
as possible: drinks) and the lowest course above 0 on the order are fired; every later course is
held. So a table's starters (1) go at once and its mains
(2) wait; an order of mains only fires its mains at once (mains are its first course), and so
does drinks with mains. A held line is on its ticket, greyed, but no station cooks it, the
all-day counts leave it out and it cannot be bumped. The order cannot become ready while a course
is held: the ticket stays on the rail until every course was fired and cooked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from ..errors import Conflict
from ..idempotency import KeyReused
from ..models import MAX_COURSE
from ..schema import kitchen_settings, order_lines, orders
from ..store import Store, Tx
from ..vocabulary import ACTIVE_STATUSES, Channel

ASAP = 0  # drinks: always with the first course
DEFAULT_COURSE = 1  # a new category's course
COURSES = range(ASAP, MAX_COURSE + 1)
PACED_CHANNELS: tuple[Channel, ...] = ("table",)  # the orders whose later courses are held


def rail_order(rush: bool, order_id: int) -> tuple[bool, int]:
    """The kitchen's order of tickets: rush first, then oldest. The display sorts by it (and
    kitchen.js places live tickets by the same rule); the ready-time queue is counted in it."""
    return (not rush, order_id)


def fired_at_send(courses: Iterable[int], channel: str) -> set[int]:
    """The courses of a new order that go to the kitchen at once: on a table order, course 0 and
    the first after it; on any other order, all of them."""
    present = set(courses)
    if channel not in PACED_CHANNELS:
        return present
    later = [course for course in present if course > ASAP]
    return (present & {ASAP}) | ({min(later)} if later else set())


def fired_when_added(courses: Iterable[int], held: Iterable[int], channel: str) -> set[int]:
    """The courses of lines added after sending that go to the kitchen at once: all of them, but
    on a table order a course at or after its first still held waits with it (a dessert added
    while the mains are held is held too; one added after every course was fired goes now)."""
    present, waiting = set(courses), sorted(held)
    if channel not in PACED_CHANNELS or not waiting:
        return present
    return {course for course in present if course == ASAP or course < waiting[0]}


def _standing(lines: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The lines still to be cooked or fired: voided ones are neither."""
    return [line for line in lines if line["voided_at"] is None]


def held_courses(lines: Iterable[Mapping[str, Any]]) -> list[int]:
    """The courses still held on an order (lines not voided and not fired yet), lowest first."""
    return sorted({line["course"] for line in _standing(lines) if line["fired_at"] is None})


def next_course(lines: Iterable[Mapping[str, Any]], after: int) -> int | None:
    """The next course present on the order after `after` (fired or not), if any."""
    later = [line["course"] for line in _standing(lines) if line["course"] > after]
    return min(later) if later else None


def fire_fingerprint(order_id: int, course: int) -> str:
    """What an Idempotency-Key of a fire stands for: this course of this order."""
    return hashlib.sha256(f"fire\0{order_id}\0{course}".encode()).hexdigest()


def auto_fire(conn: Connection) -> bool:
    return bool(conn.execute(select(kitchen_settings.c.auto_fire).where(kitchen_settings.c.id == 1)).scalar())


def settings_out(conn: Connection) -> dict[str, Any]:
    return {"auto_fire": auto_fire(conn)}


async def get_kitchen_settings(store: Store) -> dict[str, Any]:
    return await store.query(settings_out)


async def set_kitchen_settings(store: Store, auto: bool) -> dict[str, Any]:
    """Switch auto-fire on or off. Read by every bump's own write, so it applies to the next one.
    (A setting, not an order: no stream shows it, so no event is written.)"""

    def unit(tx: Tx) -> dict[str, Any]:
        tx.conn.execute(update(kitchen_settings).where(kitchen_settings.c.id == 1).values(auto_fire=auto))
        return settings_out(tx.conn)

    return await store.write(unit)


def fire_lines(tx: Tx, order_id: int, course: int) -> None:
    """Fire `course` of the order now (its held lines); the caller emits the order's event."""
    held = (
        order_lines.c.order_id == order_id,
        order_lines.c.course == course,
        order_lines.c.fired_at.is_(None),
        order_lines.c.voided_at.is_(None),
    )
    tx.conn.execute(update(order_lines).where(*held).values(fired_at=tx.now))
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(updated_at=tx.now))


def check_fire(current: Mapping[str, Any], course: int) -> None:
    """409 unless `course` is held on the order, which is still on the rail."""
    order_id = current["id"]
    if current["status"] not in ACTIVE_STATUSES:
        raise Conflict(f"order {order_id} is {current['status']}: nothing to fire", {"course": "order not active"})
    held = held_courses(current["lines"])
    courses = {line["course"] for line in _standing(current["lines"])}
    if course not in courses:
        listed = ", ".join(map(str, sorted(courses)))
        raise Conflict(
            f"order {order_id} has no course {course}",
            {"course": f"the order's courses: {listed}"},
            reason="no_such_course",
            held_courses=held,
        )
    if course not in held:
        raise Conflict(
            f"course {course} of order {order_id} was already fired",
            {"course": "already fired"},
            reason="already_fired",
            held_courses=held,
        )


def replayed_fire(tx: Tx, key: str, order_id: int, course: int) -> bool:
    """Whether this key already fired this course (a retry: answer as before); 422 if it was
    used for anything else."""
    found = tx.sql("SELECT request_hash FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
    if found is None:
        return False
    if found[0] != fire_fingerprint(order_id, course):
        raise KeyReused()
    return True


def remember_fire(tx: Tx, key: str, order_id: int, course: int) -> None:
    tx.sql(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)",
        (key, fire_fingerprint(order_id, course), order_id, tx.stored_now),
    )
