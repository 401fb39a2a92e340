"""Order service: pricing from the menu, idempotent creation, and the status machine."""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, Select, bindparam, func, select, update

from ..config import Settings
from ..errors import Conflict, Invalid, NotFound
from ..idempotency import KeyReused
from ..models import OrderIn
from ..schema import order_lines, orders
from ..store import Store, Tx
from ..vocabulary import ACTIVE_STATUSES, COOKING_STATUSES, TRANSITIONS
from .representation import Encoded, order_out
from .stock import OutOfStock, return_for_order, take_for_order

Order = dict[str, Any]

# A completed order may be recalled (completed -> ready, forkflow/vocabulary.py's TRANSITIONS) this long.
RECALL_WINDOW = timedelta(minutes=10)


def business_date(moment: datetime, settings: Settings) -> str:
    """The local service day a moment belongs to; it starts at `day_starts_at`, not midnight."""
    local = moment.astimezone(settings.timezone)
    start = settings.day_starts_at
    shifted = local - timedelta(hours=start.hour, minutes=start.minute)
    return shifted.date().isoformat()


def request_fingerprint(data: OrderIn) -> str:
    """Same validated order, same fingerprint: whitespace or key order in the JSON do not matter."""
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


# Built once: making a statement costs more than running it.
_LINES_OF = (
    select(order_lines).where(order_lines.c.order_id.in_(bindparam("ids", expanding=True))).order_by(order_lines.c.id)
)
_ORDER_BY_ID = select(orders).where(orders.c.id == bindparam("id"))


def _lines_by_order(conn: Connection, order_ids: list[int]) -> dict[int, list[Row[Any]]]:
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    if order_ids:
        for line in conn.execute(_LINES_OF, {"ids": order_ids}):
            grouped[line.order_id].append(line)
    return grouped


def _orders_out(conn: Connection, rows: list[Row[Any]]) -> list[Order]:
    lines = _lines_by_order(conn, [row.id for row in rows])
    return [order_out(row, lines[row.id]) for row in rows]


def _load(conn: Connection, order_id: int) -> Order:
    row = conn.execute(_ORDER_BY_ID, {"id": order_id}).first()
    if row is None:
        raise NotFound(f"order {order_id} does not exist")
    return _orders_out(conn, [row])[0]


# Creating an order is the hottest write of a rush, so its statements are plain SQL run on the
# driver's connection (`Tx.sql`): SQLAlchemy's execution costs about three times SQLite's own work
# per statement. The SQL names the same tables and columns as schema.py.
_KEY_SQL = "SELECT request_hash, order_id FROM idempotency_keys WHERE key = ?"
_NEXT_TICKET_SQL = "SELECT COALESCE(MAX(ticket_no), 0) + 1 FROM orders WHERE business_date = ?"
_INSERT_ORDER_SQL = (
    "INSERT INTO orders (business_date, ticket_no, customer_name, channel, table_label, notes, status,"
    " total_cents, created_at, updated_at, tracking_token) VALUES (?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?) RETURNING id"
)
_INSERT_LINE_SQL = (
    "INSERT INTO order_lines (order_id, menu_item_id, name, unit_price_cents, quantity, notes, station)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_INSERT_KEY_SQL = "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)"


class MenuRow(NamedTuple):
    id: int
    name: str
    price_cents: int
    station: str
    available: bool


def _replay(tx: Tx, key: str, fingerprint: str) -> Order | None:
    row = tx.sql(_KEY_SQL, (key,)).fetchone()
    if row is None:
        return None
    request_hash, order_id = row
    if request_hash != fingerprint:
        raise KeyReused()
    return _load(tx.conn, order_id)


def _priced_menu(tx: Tx, data: OrderIn) -> dict[int, MenuRow]:
    """The menu rows the order names; unknown items are 422, unavailable ones 409."""
    wanted = sorted({line.menu_item_id for line in data.items})
    query = (
        f"SELECT id, name, price_cents, station, available FROM menu_items WHERE id IN ({', '.join('?' * len(wanted))})"
    )
    found = {row[0]: MenuRow(*row) for row in tx.sql(query, wanted)}
    unknown = {
        f"items.{i}.menu_item_id": f"no menu item {line.menu_item_id}"
        for i, line in enumerate(data.items)
        if line.menu_item_id not in found
    }
    if unknown:
        raise Invalid("the order names items that are not on the menu", unknown)
    sold_out = [found[item_id] for item_id in wanted if not found[item_id].available]
    if sold_out:
        names = ", ".join(row.name for row in sold_out)
        raise Conflict(
            f"not available right now: {names}",
            {
                f"items.{i}.menu_item_id": "not available"
                for i, line in enumerate(data.items)
                if not found[line.menu_item_id].available
            },
            unavailable=[{"id": row.id, "name": row.name} for row in sold_out],
        )
    return found


def _unavailable(data: OrderIn, menu: dict[int, MenuRow], item_ids: list[int]) -> Conflict:
    """The public's 409: which dishes cannot be had, never how much stock is left."""
    names = ", ".join(menu[item_id].name for item_id in item_ids)
    return Conflict(
        f"not available right now: {names}",
        {
            f"items.{i}.menu_item_id": "not available"
            for i, line in enumerate(data.items)
            if line.menu_item_id in item_ids
        },
        unavailable=[{"id": item_id, "name": menu[item_id].name} for item_id in item_ids],
    )


async def create_order(
    store: Store, data: OrderIn, idempotency_key: str | None = None, *, public: bool = False
) -> tuple[Order, bool]:
    """Create an order; returns (order, replayed). A known key with the same body replays.

    `idempotency_key` is the key as stored, already scoped to its caller (forkflow/idempotency.py).
    A `public` order that stock cannot cover is refused naming its dishes, not the stock left."""
    fingerprint = request_fingerprint(data)

    def unit(tx: Tx) -> tuple[Order, bool]:
        if idempotency_key is not None:
            # Checked inside the write: a twin request committed before this one is found here.
            replayed = _replay(tx, idempotency_key, fingerprint)
            if replayed is not None:
                return replayed, True
        menu = _priced_menu(tx, data)
        day = business_date(tx.now, store.settings)
        ticket_no = tx.sql(_NEXT_TICKET_SQL, (day,)).fetchone()[0]
        total = sum(menu[line.menu_item_id].price_cents * line.quantity for line in data.items)
        now = tx.stored_now
        row = {
            "business_date": day,
            "ticket_no": ticket_no,
            "customer_name": data.customer_name,
            "channel": data.channel,
            "table_label": data.table,
            "notes": data.notes,
            "status": "new",
            "total_cents": total,
            "created_at": tx.now,
            "updated_at": tx.now,
            "ready_at": None,
            "completed_at": None,
            "tracking_token": secrets.token_urlsafe(24),
        }
        order_values = (day, ticket_no, data.customer_name, data.channel, data.table, data.notes, total)
        row["id"] = tx.sql(_INSERT_ORDER_SQL, (*order_values, now, now, row["tracking_token"])).fetchone()[0]
        lines = []
        for line in data.items:
            dish = menu[line.menu_item_id]
            values = (row["id"], dish.id, dish.name, dish.price_cents, line.quantity, line.notes, dish.station)
            line_id = tx.sql(_INSERT_LINE_SQL, values).fetchone()[0]
            lines.append(
                {
                    "id": line_id,
                    "menu_item_id": dish.id,
                    "name": dish.name,
                    "unit_price_cents": dish.price_cents,
                    "quantity": line.quantity,
                    "notes": line.notes,
                    "station": dish.station,
                    "done_at": None,
                }
            )
        if idempotency_key is not None:
            tx.sql(_INSERT_KEY_SQL, (idempotency_key, fingerprint, row["id"], now))
        # Built from what was just written, not read back: the same shape as order_out of the rows.
        order = order_out(SimpleNamespace(**row), [SimpleNamespace(**line) for line in lines])
        created = tx.emit("order.created", order)
        portions: dict[int, int] = defaultdict(int)
        for line in data.items:
            portions[line.menu_item_id] += line.quantity
        try:
            take_for_order(tx, row["id"], portions)  # 409 if stock cannot cover it: then nothing is written
        except OutOfStock as short:
            if public:
                raise _unavailable(data, menu, short.menu_item_ids) from None
            raise
        return Encoded(order, created.data), False

    return await store.write(unit)


def _move(tx: Tx, current: Order, status: str) -> Order:
    """Move an order, read inside the write transaction, to `status`, and emit `order.updated`."""
    order_id = current["id"]
    allowed = TRANSITIONS[current["status"]]
    if current["status"] == "completed" and tx.now - datetime.fromisoformat(current["completed_at"]) > RECALL_WINDOW:
        allowed = ()
    if status not in allowed:
        raise Conflict(
            f"order {order_id} is {current['status']}; it cannot move to {status}",
            {"status": f"allowed from {current['status']}: {', '.join(allowed) or 'none'}"},
            allowed=list(allowed),
        )
    values: dict[str, Any] = {"status": status, "updated_at": tx.now}
    if status == "ready":
        values["ready_at"] = tx.now
    if status == "completed":
        values["completed_at"] = tx.now
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(values))
    if status == "cancelled" and current["status"] == "new":
        return_for_order(tx, order_id)  # nothing was cooked yet: its stock goes back on the shelf
    order = _load(tx.conn, order_id)
    return Encoded(order, tx.emit("order.updated", order).data)


async def change_status(store: Store, order_id: int, status: str) -> Order:
    def unit(tx: Tx) -> Order:
        return _move(tx, _load(tx.conn, order_id), status)

    return await store.write(unit)


async def recall_last(store: Store) -> Order:
    """Bring back the most recently completed order, if that was within the recall window."""

    def unit(tx: Tx) -> Order:
        query = (
            select(orders.c.id)
            .where(orders.c.status == "completed", orders.c.completed_at >= tx.now - RECALL_WINDOW)
            .order_by(orders.c.completed_at.desc(), orders.c.id.desc())
            .limit(1)
        )
        row = tx.conn.execute(query).first()
        if row is None:
            raise NotFound("nothing was bumped in the last 10 minutes")
        return _move(tx, _load(tx.conn, row.id), "ready")

    return await store.write(unit)


def _mark_done(tx: Tx, current: Order, done: bool, line_id: int | None = None, station: str | None = None) -> Order:
    order_id = current["id"]
    if current["status"] not in ACTIVE_STATUSES:
        raise Conflict(f"order {order_id} is {current['status']}; its lines can no longer change")
    lines = current["lines"]
    if line_id is not None:
        lines = [line for line in lines if line["id"] == line_id]
        if not lines:
            raise NotFound(f"order {order_id} has no line {line_id}")
    if station is not None:
        lines = [line for line in lines if line["station"] == station]
    changing = [line["id"] for line in lines if (line["done_at"] is not None) != done]
    if not changing:
        return current
    tx.conn.execute(update(order_lines).where(order_lines.c.id.in_(changing)).values(done_at=tx.now if done else None))
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(updated_at=tx.now))
    order = _load(tx.conn, order_id)
    return Encoded(order, tx.emit("order.updated", order).data)


async def mark_lines_done(store: Store, order_id: int, done: bool, line_id: int | None = None) -> Order:
    """Mark one line (`line_id`), or all of them, done or not done."""

    def unit(tx: Tx) -> Order:
        return _mark_done(tx, _load(tx.conn, order_id), done, line_id=line_id)

    return await store.write(unit)


async def bump(
    store: Store, order_id: int, seen_status: str, station: str | None = None, lines_first: bool = False
) -> Order:
    """One tap on a kitchen ticket. It starts a new order; on a station's display it marks that
    station's lines done; otherwise it moves the order along (preparing -> ready -> completed).
    With `lines_first` (expo), ready needs every line done. `seen_status` is the status the cook
    saw: if another screen moved the order meanwhile, the tap is refused rather than applied twice."""

    def unit(tx: Tx) -> Order:
        current = _load(tx.conn, order_id)
        status = current["status"]
        if status != seen_status:
            raise Conflict(f"ticket {current['ticket_no']} is already {status}", current_status=status)
        if status == "new":
            return _move(tx, current, "preparing")
        if station is not None:
            return _mark_done(tx, current, True, station=station)
        if status == "preparing":
            waiting = sorted({line["station"] or "" for line in current["lines"] if line["done_at"] is None})
            if lines_first and waiting:
                raise Conflict(f"ticket {current['ticket_no']} is waiting on {', '.join(waiting)}", waiting=waiting)
            return _move(tx, current, "ready")
        return _move(tx, current, "completed")

    return await store.write(unit)


def _tracked(conn: Connection, tracking_token: str) -> Order:
    row = conn.execute(select(orders.c.id).where(orders.c.tracking_token == tracking_token)).first()
    if row is None:
        raise NotFound("no order has this tracking link")
    return _load(conn, row.id)


async def get_tracked_order(store: Store, tracking_token: str) -> Order:
    return await store.query(_tracked, tracking_token)


async def tracked_snapshot(store: Store, tracking_token: str) -> tuple[int, Order]:
    """The order behind a tracking link and the id of the last event it reflects, read at one moment."""
    async with store.snapshot() as conn:
        head = await store.last_event_id(conn)
        return head, await conn.run_sync(_tracked, tracking_token)


async def get_order(store: Store, order_id: int) -> Order:
    return await store.query(_load, order_id)


def _matching(conn: Connection, query: Select[Any]) -> list[Order]:
    return _orders_out(conn, list(conn.execute(query)))


async def list_orders(store: Store, status: str | None = None, limit: int = 100) -> list[Order]:
    """The most recent orders first."""
    query = select(orders).order_by(orders.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(orders.c.status == status)
    return await store.query(_matching, query)


_ACTIVE_QUERY = select(orders).where(orders.c.status.in_(ACTIVE_STATUSES)).order_by(orders.c.id)


async def kitchen_orders(store: Store) -> list[Order]:
    """Every order still on the line (not completed or cancelled), oldest first."""
    return await store.query(_matching, _ACTIVE_QUERY)


async def kitchen_snapshot(store: Store) -> tuple[int, list[Order]]:
    """The active orders and the id of the last event they reflect, read at one moment."""
    async with store.snapshot() as conn:
        head = await store.last_event_id(conn)
        return head, await conn.run_sync(_matching, _ACTIVE_QUERY)


_WAITING = func.sum(order_lines.c.quantity)
_WAITING_QUERY = (
    select(order_lines.c.name, _WAITING)
    .join(orders)
    .where(orders.c.status.in_(COOKING_STATUSES), order_lines.c.done_at.is_(None))
    .group_by(order_lines.c.name)
    .order_by(_WAITING.desc(), order_lines.c.name)
)
_WAITING_AT_STATION = _WAITING_QUERY.where(order_lines.c.station == bindparam("station"))


def _waiting(conn: Connection, station: str | None) -> list[tuple[str, int]]:
    if station is None:
        rows = conn.execute(_WAITING_QUERY)
    else:
        rows = conn.execute(_WAITING_AT_STATION, {"station": station})
    return [(row[0], int(row[1])) for row in rows]


async def waiting_counts(store: Store, station: str | None = None) -> list[tuple[str, int]]:
    """The all-day count: per item, how many are waiting (not done) on orders not yet ready."""
    return await store.query(_waiting, station)
