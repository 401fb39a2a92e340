"""Give a database made by `forkflow migrate` a restaurant's history, fast: raw sqlite3 executemany.

Orders at 1,000 a day up to yesterday, almost all completed (2 % cancelled), each with 1 to 3
lines and its `order.created` event (the payload ForkFlow writes: the order as the API returns
it, lines included), then `active` orders placed in the last half hour and still on the line.
Idempotency keys only for the last 36 hours' orders, as the server purges older ones.

Columns are the migrated database's own (PRAGMA table_info): a NOT NULL column this module does
not know makes it fail loudly rather than fill a database the server would not have written.
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from forkflow.services.representation import pickup_code

PER_DAY = 1000
BATCH = 20_000
STATIONS = ("grill", "fryer", "cold", "bar")
MENU = 20


def _db_time(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite (naive, microseconds always written).
    Times here are naive UTC throughout: isoformat is several times faster than strftime."""
    return moment.isoformat(" ", "microseconds")


def _api_time(moment: datetime) -> str:
    return moment.isoformat("T", "milliseconds") + "Z"


class _Table:
    """INSERT for the columns a table has, from rows given as dicts."""

    def __init__(self, conn: sqlite3.Connection, name: str, known: Iterable[str]) -> None:
        known = set(known)
        columns = []
        for _cid, column, _type, notnull, default, pk in conn.execute(f"PRAGMA table_info({name})"):
            if column in known:
                columns.append(column)
            elif notnull and default is None and not pk:
                raise RuntimeError(f"{name}.{column} is NOT NULL and bench/prefill.py does not fill it")
        self.columns = columns
        self.sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

    def insert(self, conn: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> None:
        conn.executemany(self.sql, ([row[c] for c in self.columns] for row in rows))


def _batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _menu(now: datetime) -> list[dict[str, Any]]:
    rng = random.Random(1)
    return [
        {
            "id": i,
            "name": f"House dish {i}",
            "description": "on the menu for years",
            "price_cents": rng.randrange(200, 3000, 50),
            "category": ("mains", "sides", "salads", "drinks")[i % 4],
            "station": STATIONS[i % len(STATIONS)],
            "available": 1,
            "created_at": _db_time(now - timedelta(days=3000)),
            "updated_at": _db_time(now - timedelta(days=3000)),
        }
        for i in range(1, MENU + 1)
    ]


def _orders(count: int, active: int, now: datetime, seed: int) -> Iterator[tuple[dict, list[dict], str]]:
    """(order row, line rows, event payload) for each order, oldest first."""
    rng = random.Random(seed)
    menu = {m["id"]: m for m in _menu(now)}
    today = (now - timedelta(hours=4)).date()
    days = -(-count // PER_DAY)
    line_id = 0
    for i in range(count + active):
        if i < count:
            day = today - timedelta(days=days - i // PER_DAY)
            ticket = i % PER_DAY + 1
            created = datetime(day.year, day.month, day.day, 11) + timedelta(seconds=ticket * 39.6)
            status = "cancelled" if rng.random() < 0.02 else "completed"
        else:
            day, ticket = today, i - count + 1  # today's first tickets; the history ends yesterday
            created = now - timedelta(minutes=30) + timedelta(seconds=(i - count) * 60)
            status = rng.choice(("new", "new", "preparing", "ready"))
        ready = created + timedelta(seconds=360 + 840 * rng.random()) if status in ("ready", "completed") else None
        ready = min(ready, now) if ready else None
        completed = ready + timedelta(seconds=60 + 240 * rng.random()) if status == "completed" and ready else None
        updated = completed or ready or (created + timedelta(minutes=4) if status != "new" else created)
        lines = []
        done_at = _db_time(ready) if ready else None
        for _ in range(1 + int(3 * rng.random())):
            line_id += 1
            item = menu[1 + int(MENU * rng.random())]
            lines.append(
                {
                    "id": line_id,
                    "order_id": i + 1,
                    "menu_item_id": item["id"],
                    "name": item["name"],
                    "unit_price_cents": item["price_cents"],
                    "quantity": 1 + int(4 * rng.random()),
                    "notes": "no onions" if rng.random() < 0.2 else "",
                    "station": item["station"],
                    "done_at": done_at,
                }
            )
        channel = rng.choice(("counter", "online", "table"))
        order = {
            "id": i + 1,
            "business_date": day.isoformat(),
            "ticket_no": ticket,
            "customer_name": f"Guest {i}",
            "channel": channel,
            "table_label": f"T{1 + int(30 * rng.random())}" if channel == "table" else None,
            "notes": "",
            "status": status,
            "total_cents": sum(line["unit_price_cents"] * line["quantity"] for line in lines),
            "created_at": _db_time(created),
            "updated_at": _db_time(updated),
            "ready_at": _db_time(ready) if ready else None,
            "completed_at": _db_time(completed) if completed else None,
            "tracking_token": secrets.token_urlsafe(24),
        }
        yield order, lines, _payload(order, lines, created)


def _payload(order: dict[str, Any], lines: list[dict[str, Any]], created: datetime) -> str:
    """The order.created event's payload: the order as the API returns it, when it was new."""
    stamp = _api_time(created)
    out = {
        "id": order["id"],
        "ticket_no": order["ticket_no"],
        "business_date": order["business_date"],
        "customer_name": order["customer_name"],
        "channel": order["channel"],
        "table": order["table_label"],
        "notes": order["notes"],
        "status": "new",
        "total_cents": order["total_cents"],
        "created_at": stamp,
        "updated_at": stamp,
        "ready_at": None,
        "completed_at": None,
        "tracking_url": f"/track/{order['tracking_token']}",
        "pickup_code": pickup_code(order["tracking_token"]),
        "lines": [
            {
                "id": line["id"],
                "menu_item_id": line["menu_item_id"],
                "name": line["name"],
                "unit_price_cents": line["unit_price_cents"],
                "quantity": line["quantity"],
                "line_total_cents": line["unit_price_cents"] * line["quantity"],
                "notes": line["notes"],
                "station": line["station"],
                "done_at": None,
            }
            for line in lines
        ],
    }
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def prefill(db: Path, orders: int, active: int, seed: int) -> dict[str, Any]:
    """Fill `db` (migrated, empty) with `orders` orders of history and `active` live ones."""
    started = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")  # a bulk load into a file nobody else has open yet
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=ON")
    tables = {
        "menu_items": _Table(conn, "menu_items", _menu(now)[0]),
        "orders": _Table(conn, "orders", next(_orders(1, 0, now, seed))[0]),
        "order_lines": _Table(conn, "order_lines", next(_orders(1, 0, now, seed))[1][0]),
        "events": _Table(conn, "events", ("id", "type", "topic", "payload", "created_at")),
        "idempotency_keys": _Table(conn, "idempotency_keys", ("key", "request_hash", "order_id", "created_at")),
    }
    keys_since = now - timedelta(hours=36)
    counts = dict.fromkeys(tables, 0)
    conn.execute("BEGIN")
    tables["menu_items"].insert(conn, _menu(now))
    counts["menu_items"] = MENU
    for batch in _batches(_orders(orders, active, now, seed), BATCH):
        tables["orders"].insert(conn, (order for order, _, _ in batch))
        tables["order_lines"].insert(conn, (line for _, lines, _ in batch for line in lines))
        events = [
            {"id": o["id"], "type": "order.created", "topic": "orders", "payload": p, "created_at": o["created_at"]}
            for o, _, p in batch
        ]
        tables["events"].insert(conn, events)
        keys = [
            {"key": f"history-{o['id']}", "request_hash": "0" * 64, "order_id": o["id"], "created_at": o["created_at"]}
            for o, _, _ in batch
            if o["created_at"] >= _db_time(keys_since)
        ]
        tables["idempotency_keys"].insert(conn, keys)
        counts["orders"] += len(batch)
        counts["order_lines"] += sum(len(lines) for _, lines, _ in batch)
        counts["events"] += len(batch)
        counts["idempotency_keys"] += len(keys)
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")  # as ForkFlow keeps it
    conn.close()
    return {
        "orders": orders,
        "active": active,
        "rows": counts,
        "seconds": time.perf_counter() - started,
        "db_mib": db.stat().st_size / 2**20,
    }
