"""Proof of sight (issue 16): which screen or printer of each station has each send, and the alarm
for a send nobody has seen. The one owner of these rules.

A kitchen display names itself (`screens.id`, e.g. "grill-1") and reports the last event id it has
rendered, with a heartbeat (`screen_saw`). Event ids are commit-ordered and gapless, so a screen
that rendered event N has every send whose event id is at most N: those of its station are marked
seen ("screen grill-1"), once. A screen of the all-stations or expo view (station "") shows every
line, so it counts for every station: a small kitchen runs one screen. A printer that printed a
send's chit marks it seen too (`printed_jobs`).

The alarm (`sight_worker`, one per process, started in the app's lifespan): a send still unseen
`unseen_seconds` after it was sent gets `alarmed_at` by one conditional UPDATE (`alarmed_at IS
NULL`), so it is alarmed exactly once across processes and restarts (the state is the database's),
with a `sight.unseen` event and the fallback print (`on_unseen`) in the same write. Only sends of
orders still cooking (new or preparing) and on the kitchen are alarmed: an order cancelled, ready,
completed or held again before anyone saw it needs no alarm. A send seen after its alarm clears it
(`sight.seen` says `alarmed`). Screens whose heartbeat stopped are marked offline (`screen.offline`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from ..errors import Invalid, ServiceError
from ..formats import iso, iso_or_none
from ..printing.jobs import WHOLE_ORDER
from ..printing.worker import MEANT_STATIONS
from ..schema import events, orders, screens, sends, utcnow
from ..store import Store, Tx
from ..vocabulary import ACTIVE_STATUSES, COOKING_STATUSES
from .dispatch import Send, send_of_row
from .orders import ON_KITCHEN

log = logging.getLogger("forkflow.sight")

ALL_STATIONS = ""  # a screen of the all-stations or expo view: it sees every station's lines
EXPO = "expo"
SCREEN_ID = re.compile(r"^[a-z0-9_-]{1,40}$")
_STATION = re.compile(r"^[A-Za-z0-9 _-]{1,40}$")  # as the kitchen display's ?station=
USER_AGENT_CHARS = 200
# Sends older than this are never alarmed (a kitchen closed with tickets nobody saw does not ring
# the next morning); it also bounds the alarm's scan of the unseen.
ALARM_WINDOW = timedelta(hours=12)
BATCH = 200  # sends alarmed in one write at most (the rest in the next)

OnUnseen = Callable[[Tx, Send], None]


def screen_station(raw: str) -> str:
    """The station a screen's view counts for: its station, or "" for the all-stations and expo
    views. 422 for a name the display would refuse."""
    if raw in ("", EXPO):
        return ALL_STATIONS
    if not _STATION.match(raw):
        raise Invalid("unknown station", {"station": "letters, digits, spaces, _ and -"})
    return raw


def check_screen_id(raw: str) -> str:
    if not SCREEN_ID.match(raw):
        raise Invalid("a screen's name is 1 to 40 of a-z, 0-9, - and _", {"screen": "1-40 of a-z, 0-9, - and _"})
    return raw


def screen_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "station": row.station,
        "online": bool(row.online),
        "last_seen_at": iso(row.last_seen_at),
        "first_seen_at": iso(row.first_seen_at),
        "last_event_id": row.last_event_id,
        "user_agent": row.user_agent,
    }


_ORDER_COLUMNS = (orders.c.ticket_no, orders.c.table_label, orders.c.channel)  # a sighting's, of its order
_SEND_COLUMNS = (*sends.c, *_ORDER_COLUMNS)


def sighting_out(row: Any) -> dict[str, Any]:
    """A send as the till, the console and the API show it."""
    return {
        "send_id": row.id,
        "order_id": row.order_id,
        "ticket_no": row.ticket_no,
        "table": row.table_label,
        "channel": row.channel,
        "event_id": row.event_id,
        "station": row.station,
        "reason": row.reason,
        "sent_at": iso(row.sent_at),
        "seen_at": iso_or_none(row.seen_at),
        "seen_by": row.seen_by,
        "alarmed_at": iso_or_none(row.alarmed_at),
    }


def _mark_seen(tx: Tx, where: str, parameters: Sequence[Any], by: str) -> list[dict[str, Any]]:
    """Mark seen by `by` the unseen sends that `where` (plain SQL over `sends`, `?` placeholders
    for `parameters`) picks, in one statement; their sightings (empty, and no further read, when
    none is news: the common case, in the busiest write there is)."""
    marked = tx.sql(
        f"UPDATE sends SET seen_at = ?, seen_by = ? WHERE seen_at IS NULL AND ({where}) RETURNING id",
        (tx.stored_now, by, *parameters),
    ).fetchall()
    if not marked:
        return []
    found = tx.conn.execute(
        select(*_SEND_COLUMNS)
        .select_from(sends.join(orders))
        .where(sends.c.id.in_([row[0] for row in marked]))
        .order_by(sends.c.id)
    ).all()
    return [sighting_out(row) for row in found]


def _emit_seen(tx: Tx, seen: list[dict[str, Any]], by: str) -> None:
    if seen:
        tx.emit("sight.seen", {"by": by, "seen": seen})


async def screen_saw(store: Store, screen_id: str, station: str, last_event_id: int, user_agent: str) -> dict[str, Any]:
    """A screen has rendered every event up to `last_event_id` (its heartbeat says the same): it
    is online, and every unseen send of its station(s) up to that id is seen by it (`sight.seen`).
    An event id beyond the log's head is 422 (no screen renders the future). A heartbeat that
    changes nothing writes the heartbeat alone, and no event. Returns the screen."""
    check_screen_id(screen_id)
    viewed = screen_station(station)
    if last_event_id < 0:
        raise Invalid("an event id is 0 or more", {"last_event_id": "0 or more"})
    agent = user_agent[:USER_AGENT_CHARS]

    def unit(tx: Tx) -> dict[str, Any]:
        head = tx.conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()
        if last_event_id > head:
            raise Invalid(
                f"event {last_event_id} has not happened yet (the newest is {head})",
                {"last_event_id": f"at most {head}"},
            )
        row = tx.conn.execute(select(screens).where(screens.c.id == screen_id)).first()
        values = {
            "station": viewed,
            "last_event_id": last_event_id,
            "last_seen_at": tx.now,
            "online": True,
            "user_agent": agent,
        }
        if row is None:
            tx.conn.execute(insert(screens).values(id=screen_id, first_seen_at=tx.now, **values))
        else:
            tx.conn.execute(update(screens).where(screens.c.id == screen_id).values(values))
        screen = tx.conn.execute(select(screens).where(screens.c.id == screen_id)).one()
        if row is None or not row.online:
            tx.emit("screen.online", screen_out(screen))
        # (Within the alarm's window: older sends matter to nobody, and the bound keeps the
        # lookup on the index of the unseen.)
        where, parameters = "event_id <= ? AND sent_at > ?", [last_event_id, tx.stored(tx.now - ALARM_WINDOW)]
        if viewed != ALL_STATIONS:
            where, parameters = f"{where} AND station = ?", [*parameters, viewed]
        by = f"screen {screen_id}"
        _emit_seen(tx, _mark_seen(tx, where, parameters, by), by)
        return screen_out(screen)

    return await store.write(unit)


def printed_jobs(tx: Tx, jobs: Sequence[Mapping[str, Any]], printer_name: str) -> None:
    """The print worker's news, in the write that records them, that a printer printed these jobs
    (app.py wires it): a chit meant for one of the station's own printers (printed there or on that
    printer's backup) means the station has the send, "printer <name>" saw it (one `sight.seen`
    for all that is news). The expo's paper does not, whether its whole-order chit or the NOT SEEN
    ON SCREEN fallback of a station with no printer: that is the pass's, and the alert stays up
    until a screen or printer of the station has the ticket."""
    chits = [job for job in jobs if job["kind"] in ("chit", "unseen") and job["station"] != WHOLE_ORDER]
    own = [job for job in chits if job["station"] in json.loads(job[MEANT_STATIONS])]
    if not own:
        return
    where = " OR ".join(["(event_id = ? AND station = ?)"] * len(own))
    by = f"printer {printer_name}"
    _emit_seen(tx, _mark_seen(tx, where, [v for job in own for v in (job["event_id"], job["station"])], by), by)


# The alarm


def _due(now: datetime, unseen_seconds: float) -> Any:
    return (
        sends.c.seen_at.is_(None),
        sends.c.alarmed_at.is_(None),
        sends.c.sent_at <= now - timedelta(seconds=unseen_seconds),
        sends.c.sent_at > now - ALARM_WINDOW,
        orders.c.status.in_(COOKING_STATUSES),
        ON_KITCHEN,
    )


def _due_ids(conn: Connection, now: datetime, unseen_seconds: float) -> list[int]:
    query = select(sends.c.id).select_from(sends.join(orders)).where(*_due(now, unseen_seconds))
    return list(conn.execute(query.order_by(sends.c.sent_at, sends.c.id).limit(BATCH)).scalars())


def raise_alarms(tx: Tx, unseen_seconds: float, on_unseen: OnUnseen | None = None) -> int:
    """Alarm every send unseen `unseen_seconds` after it was sent (up to BATCH), each exactly once
    (one conditional UPDATE for them all), with its `sight.unseen` event and `on_unseen` (the
    fallback print) in this write. How many were alarmed. A few statements whatever their number:
    a long rush nobody watches alarms every send, and that must not slow the orders down."""
    due = _due_ids(tx.conn, tx.now, unseen_seconds)
    if not due:
        return 0
    alarmed = tx.sql(
        f"UPDATE sends SET alarmed_at = ? WHERE id IN ({', '.join('?' * len(due))}) "
        "AND alarmed_at IS NULL AND seen_at IS NULL RETURNING id",
        (tx.stored_now, *due),
    ).fetchall()
    if not alarmed:
        return 0
    rows = tx.conn.execute(
        select(*_SEND_COLUMNS)
        .select_from(sends.join(orders))
        .where(sends.c.id.in_([row[0] for row in alarmed]))
        .order_by(sends.c.sent_at, sends.c.id)
    ).all()
    for row in rows:
        tx.emit("sight.unseen", sighting_out(row))
        if on_unseen is not None:
            on_unseen(tx, send_of_row(row))
    return len(rows)


def mark_offline(tx: Tx, offline_seconds: float) -> int:
    """Screens whose heartbeat is older than `offline_seconds` go offline (`screen.offline`, once)."""
    stale = (screens.c.online.is_(True), screens.c.last_seen_at < tx.now - timedelta(seconds=offline_seconds))
    found = tx.conn.execute(select(screens.c.id).where(*stale)).scalars().all()
    for screen_id in found:
        done = tx.conn.execute(update(screens).where(screens.c.id == screen_id, *stale).values(online=False))
        if done.rowcount == 1:
            row = tx.conn.execute(select(screens).where(screens.c.id == screen_id)).one()
            tx.emit("screen.offline", screen_out(row))
    return len(found)


def _work_waiting(conn: Connection, now: datetime, unseen_seconds: float, offline_seconds: float) -> bool:
    """Whether the worker has anything to write (read first: most ticks have nothing)."""
    if _due_ids(conn, now, unseen_seconds):
        return True
    stale = select(screens.c.id).where(
        screens.c.online.is_(True), screens.c.last_seen_at < now - timedelta(seconds=offline_seconds)
    )
    return conn.execute(stale.limit(1)).first() is not None


def tick_seconds(unseen_seconds: float, offline_seconds: float) -> float:
    """How often the worker looks: about every second, more often when the times are shorter."""
    return max(0.05, min(1.0, unseen_seconds / 5, offline_seconds / 5))


async def sight_worker(store: Store, on_unseen: OnUnseen | None = None) -> None:
    """Raise the unseen alarm and mark silent screens offline, about every second, until
    cancelled. Whatever came due while the server was down is alarmed at start-up."""
    unseen, offline = store.settings.unseen_seconds, store.settings.screen_offline_seconds
    tick = tick_seconds(unseen, offline)

    def unit(tx: Tx) -> int:
        return raise_alarms(tx, unseen, on_unseen) + mark_offline(tx, offline)

    while True:
        try:
            now = utcnow()
            if await store.query(_work_waiting, now, unseen, offline):
                while await store.write(unit) >= BATCH:
                    pass
        except ServiceError:
            log.warning("could not check the kitchen's sight of its tickets; will try again")
        except Exception:  # the worker must outlive any one failure: the kitchen's guarantee rests on it
            log.exception("checking the kitchen's sight of its tickets failed; will try again")
        await asyncio.sleep(tick)


# What the till, the console and the API read


def _sightings(conn: Connection, order_id: int) -> list[dict[str, Any]]:
    query = select(*_SEND_COLUMNS).select_from(sends.join(orders)).where(sends.c.order_id == order_id)
    return [sighting_out(row) for row in conn.execute(query.order_by(sends.c.id))]


async def sightings(store: Store, order_id: int) -> list[dict[str, Any]]:
    """Every send of the order, oldest first, with who saw it when (`GET /orders/{id}`)."""
    return await store.query(_sightings, order_id)


_RECENT = (
    select(*_SEND_COLUMNS).select_from(sends.join(orders)).where(sends.c.order_id.in_(bindparam("ids", expanding=True)))
)


def _recent(conn: Connection, order_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        for row in conn.execute(_RECENT.order_by(sends.c.id), {"ids": order_ids}):
            found[row.order_id].append(sighting_out(row))
    return found


async def sightings_of(store: Store, order_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The sends of several orders (the till's recent orders), by order id."""
    return await store.query(_recent, order_ids)


def latest_by_station(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per station, its newest send: what "seen by grill 19:42:03" is about."""
    newest: dict[str, dict[str, Any]] = {}
    for sighting in found:
        newest[sighting["station"]] = sighting
    return [newest[station] for station in sorted(newest)]


def _alerts(conn: Connection) -> list[dict[str, Any]]:
    query = (
        select(*_SEND_COLUMNS)
        .select_from(sends.join(orders))
        .where(
            sends.c.alarmed_at.is_not(None),
            sends.c.seen_at.is_(None),
            orders.c.status.in_(ACTIVE_STATUSES),
            ON_KITCHEN,
        )
        .order_by(sends.c.alarmed_at, sends.c.id)
    )
    return [sighting_out(row) for row in conn.execute(query)]


RAIL_SHOWN = 40  # the console's "seen by" list: the newest tickets on the rail at most


def _on_the_rail(conn: Connection) -> list[dict[str, Any]]:
    """Each ticket on the rail, its stations' newest sends: the newest RAIL_SHOWN tickets."""
    query = (
        select(*_SEND_COLUMNS)
        .select_from(sends.join(orders))
        .where(orders.c.status.in_(ACTIVE_STATUSES), ON_KITCHEN, sends.c.order_id.in_(_NEWEST_ON_THE_RAIL))
        .order_by(sends.c.order_id.desc(), sends.c.id)
    )
    by_order: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        by_order.setdefault(row.order_id, []).append(sighting_out(row))
    return [{"order_id": order_id, "stations": latest_by_station(found)} for order_id, found in by_order.items()]


_NEWEST_ON_THE_RAIL = (
    select(orders.c.id)
    .where(orders.c.status.in_(ACTIVE_STATUSES), ON_KITCHEN)
    .order_by(orders.c.id.desc())
    .limit(RAIL_SHOWN)
    .scalar_subquery()
)


async def on_the_rail(store: Store) -> list[dict[str, Any]]:
    """The console's list: per ticket on the rail (newest first), each station's newest send and who
    saw it when ("seen by grill 19:42:03")."""
    return await store.query(_on_the_rail)


async def alerts(store: Store) -> list[dict[str, Any]]:
    """Sends alarmed and still unseen, of orders still on the rail, oldest alarm first."""
    return await store.query(_alerts)


def _screens(conn: Connection) -> list[dict[str, Any]]:
    return [screen_out(row) for row in conn.execute(select(screens).order_by(screens.c.id))]


async def list_screens(store: Store) -> list[dict[str, Any]]:
    return await store.query(_screens)
