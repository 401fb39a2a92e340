"""PostgreSQL for the bench: a fresh database per server (dropped afterwards), the CPU time of the
PostgreSQL processes, and the growth scenario's history filled with set-based SQL.

The server is the one at 127.0.0.1:5432 (trust auth; `FORKFLOW_BENCH_POSTGRES` names another),
whose maintenance database `test` is where databases are created from.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg

ADMIN = os.environ.get("FORKFLOW_BENCH_POSTGRES", "postgresql://127.0.0.1:5432/test")
WORKERS = 2  # uvicorn workers per ForkFlow server on PostgreSQL
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _in_thread(run)


def _in_thread(make: Any) -> Any:
    """asyncio.run in a thread of its own: callers may be inside the bench's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()


def create_database() -> str:
    """A fresh, empty database; returns its SQLAlchemy URL (asyncpg driver)."""
    name = f"forkflow_bench_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    return ADMIN.rsplit("/", 1)[0].replace("postgresql:", "postgresql+asyncpg:", 1) + f"/{name}"


def drop_database(url: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def driver_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg:", "postgresql:", 1)


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by every process named `postgres` on this machine (the postmaster,
    its background workers and every backend, of every database: other people's included)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        if comm == "postgres" or comm.startswith("postgres:"):
            fields = text.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


# The growth scenario's history, as bench/prefill.py makes it for SQLite (same shapes, same rates,
# same event payloads), but generated inside PostgreSQL from generate_series: random() is seeded, so
# a size is the same each run. Only integers are formatted into the SQL.
KNOWN = {
    "menu_items": {"id", "name", "description", "price_cents", "category", "station", "available", "created_at",
                   "updated_at", "switched_off"},
    "orders": {"id", "business_date", "ticket_no", "customer_name", "channel", "table_label", "notes", "status",
               "total_cents", "created_at", "updated_at", "ready_at", "completed_at", "tracking_token"},
    "order_lines": {"id", "order_id", "menu_item_id", "name", "unit_price_cents", "quantity", "notes", "station",
                    "done_at"},
    "events": {"id", "type", "topic", "payload", "created_at"},
    "idempotency_keys": {"key", "request_hash", "order_id", "created_at"},
}  # fmt: skip

FILL = """
SET TIME ZONE 'UTC';
SELECT setseed({seed});
INSERT INTO menu_items (id, name, description, price_cents, category, station, available, switched_off,
                        created_at, updated_at)
SELECT i, 'House dish ' || i, 'on the menu for years', 200 + 50 * floor(random() * 56)::int,
       (ARRAY['mains', 'sides', 'salads', 'drinks'])[i % 4 + 1], (ARRAY['grill', 'fryer', 'cold', 'bar'])[i % 4 + 1],
       true, false, now() - interval '3000 days', now() - interval '3000 days'
FROM generate_series(1, 20) AS i;

CREATE TEMP TABLE gen ON COMMIT DROP AS
SELECT i, i + 1 AS id, random() AS r_status, random() AS r_ready, random() AS r_done, random() AS r_channel,
       random() AS r_table, 1 + floor(3 * random())::int AS nlines
FROM generate_series(0, {total} - 1) AS i;

CREATE TEMP TABLE gl ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY g.id, k) AS id, g.id AS order_id, 1 + floor(20 * random())::int AS menu_item_id,
       1 + floor(4 * random())::int AS quantity, CASE WHEN random() < 0.2 THEN 'no onions' ELSE '' END AS notes
FROM gen AS g, generate_series(1, g.nlines) AS k;

CREATE TEMP TABLE g1 ON COMMIT DROP AS
SELECT g.*, d.day, d.ticket_no,
       CASE WHEN g.i < {orders}
            THEN (d.day::timestamp + interval '11 hours' + d.ticket_no * 39.6 * interval '1 second') AT TIME ZONE 'UTC'
            ELSE now() - interval '30 minutes' + (g.i - {orders}) * interval '1 minute' END AS created,
       CASE WHEN g.i < {orders} THEN CASE WHEN g.r_status < 0.02 THEN 'cancelled' ELSE 'completed' END
            ELSE (ARRAY['new', 'new', 'preparing', 'ready'])[1 + floor(4 * g.r_status)::int] END AS status,
       (ARRAY['counter', 'online', 'table'])[1 + floor(3 * g.r_channel)::int] AS channel
FROM gen AS g,
     LATERAL (SELECT CASE WHEN g.i < {orders} THEN today - ({days} - g.i / 1000) ELSE today END AS day,
                     CASE WHEN g.i < {orders} THEN g.i % 1000 + 1 ELSE g.i - {orders} + 1 END AS ticket_no
              FROM (SELECT (now() AT TIME ZONE 'UTC' - interval '4 hours')::date AS today) AS t) AS d;

CREATE TEMP TABLE g2 ON COMMIT DROP AS
SELECT g1.*, r.ready_at,
       CASE WHEN g1.status = 'completed' THEN r.ready_at + (60 + 240 * g1.r_done) * interval '1 second' END
           AS completed_at
FROM g1, LATERAL (SELECT CASE WHEN g1.status IN ('ready', 'completed')
                              THEN least(g1.created + (360 + 840 * g1.r_ready) * interval '1 second', now())
                         END AS ready_at) AS r;

INSERT INTO orders (id, business_date, ticket_no, customer_name, channel, table_label, notes, status, total_cents,
                    created_at, updated_at, ready_at, completed_at, tracking_token)
SELECT g2.id, g2.day::text, g2.ticket_no, 'Guest ' || g2.i, g2.channel,
       CASE WHEN g2.channel = 'table' THEN 'T' || (1 + floor(30 * g2.r_table)::int) END, '', g2.status, t.total,
       g2.created,
       coalesce(g2.completed_at, g2.ready_at,
                CASE WHEN g2.status <> 'new' THEN g2.created + interval '4 minutes' ELSE g2.created END),
       g2.ready_at, g2.completed_at, replace(gen_random_uuid()::text, '-', '')
FROM g2 JOIN (SELECT gl.order_id, sum(m.price_cents * gl.quantity) AS total
              FROM gl JOIN menu_items AS m ON m.id = gl.menu_item_id GROUP BY gl.order_id) AS t ON t.order_id = g2.id
ORDER BY g2.id;

INSERT INTO order_lines (id, order_id, menu_item_id, name, unit_price_cents, quantity, notes, station, done_at)
SELECT gl.id, gl.order_id, gl.menu_item_id, m.name, m.price_cents, gl.quantity, gl.notes, m.station, o.ready_at
FROM gl JOIN menu_items AS m ON m.id = gl.menu_item_id JOIN orders AS o ON o.id = gl.order_id
ORDER BY gl.id;

INSERT INTO events (id, type, topic, payload, created_at)
SELECT o.id, 'order.created', 'orders',
       json_build_object(
           'id', o.id, 'ticket_no', o.ticket_no, 'business_date', o.business_date,
           'customer_name', o.customer_name, 'channel', o.channel, 'table', o.table_label, 'notes', o.notes,
           'status', 'new', 'total_cents', o.total_cents,
           'created_at', to_char(o.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'updated_at', to_char(o.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'ready_at', NULL, 'completed_at', NULL, 'tracking_url', '/track/' || o.tracking_token,
           'lines', l.lines)::text,
       o.created_at
FROM orders AS o
JOIN (SELECT order_id, json_agg(json_build_object(
          'id', id, 'menu_item_id', menu_item_id, 'name', name, 'unit_price_cents', unit_price_cents,
          'quantity', quantity, 'line_total_cents', unit_price_cents * quantity, 'notes', notes,
          'station', station, 'done_at', NULL) ORDER BY id) AS lines
      FROM order_lines GROUP BY order_id) AS l ON l.order_id = o.id
ORDER BY o.id;

INSERT INTO idempotency_keys (key, request_hash, order_id, created_at)
SELECT 'history-' || id, repeat('0', 64), id, created_at FROM orders WHERE created_at >= now() - interval '36 hours';

SELECT setval('menu_items_id_seq', 20);
SELECT setval('orders_id_seq', {total});
SELECT setval('order_lines_id_seq', (SELECT max(id) FROM order_lines));
SELECT setval('events_id_seq', {total});
"""


async def _fill(url: str, orders: int, active: int, seed: int) -> dict[str, Any]:
    conn = await asyncpg.connect(driver_dsn(url))
    try:
        # A NOT NULL column without a default that this filler does not know: fail rather than
        # write rows the server never would.
        for table, known in KNOWN.items():
            rows = await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1"
                " AND is_nullable = 'NO' AND column_default IS NULL",
                table,
            )
            unknown = {r["column_name"] for r in rows} - known
            if unknown:
                raise RuntimeError(f"{table}.{sorted(unknown)} NOT NULL and bench/pg.py does not fill them")
        seed_value = (seed % 1000) / 1000  # setseed takes -1..1
        sql = FILL.format(seed=seed_value, total=orders + active, orders=orders, days=-(-orders // 1000))
        async with conn.transaction():
            await conn.execute(sql)
        await conn.execute("ANALYZE")
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in KNOWN}
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return {"rows": counts, "db_mib": size / 2**20}


def prefill_postgres(url: str, orders: int, active: int, seed: int) -> dict[str, Any]:
    """Fill the migrated, empty database at `url` with `orders` orders of history and `active` live
    ones; the same figures as bench/prefill.py returns."""
    started = time.perf_counter()
    filled = _in_thread(lambda: _fill(url, orders, active, seed))
    return {"orders": orders, "active": active, **filled, "seconds": time.perf_counter() - started}
