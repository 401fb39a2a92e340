"""Ceilings: what the same load reaches without ForkFlow's code, to put its figure in scale.

A: bench/ceiling_app.py (bare Starlette + aiosqlite, one row per request) in its own uvicorn
   process, hit by the same load generator at the same concurrency.
F: the framework: the same app with --no-db (the order parsed and answered, nothing stored),
   served and hit the same way. The burst is judged against it (issue 18).
B: plain sqlite3 in this process, no HTTP at all, one transaction per order, twice: the row
   ceiling A writes, and the rows ForkFlow writes and reads back for an order (in ForkFlow's own
   schema, made by `forkflow migrate`).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from ..client import make_client
from ..cpu import machine_busy_seconds
from ..servers import HOST, ServerProcess, ceiling_server, workdir
from ..workload import OrderRequest, make_orders
from . import Config
from .burst import get_json, timed_burst

PRAGMAS = (  # ForkFlow's settings for SQLite
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


async def ceiling_a(cfg: Config) -> dict[str, Any]:
    """Ceiling A, checked by the rows its database holds afterwards."""
    return await _http_ceiling(cfg, ceiling_server(cfg.server_cpus), "ceiling", "rows")


async def ceiling_f(cfg: Config) -> dict[str, Any]:
    """Ceiling F (framework), checked by the orders it says it answered (it keeps nothing else)."""
    return await _http_ceiling(cfg, ceiling_server(cfg.server_cpus, database=False), "ceiling-f", "answered")


async def _http_ceiling(cfg: Config, server: ServerProcess, tag: str, counted: str) -> dict[str, Any]:
    """The burst's warm-up and timed orders at the first concurrency, against a ceiling server;
    `counted` is the /health figure that should equal the orders answered."""
    with server:
        client = make_client(cfg.client, HOST, server.port, cfg.concurrency)
        try:
            done = await timed_burst(server, client, cfg, tag)
            count = (await get_json(client, "/health"))[counted]
        finally:
            await client.aclose()
    ids = {s.order["id"] for s in done.outcome.ok if s.order}
    return done.figures | {
        "orders": cfg.orders,
        "concurrency": cfg.concurrency,
        "client": cfg.client,
        "checks": {
            "distinct_ids": len(ids),
            counted: count,
            f"{counted}_expected": cfg.orders + len(done.warmup.ok),
        },
        "shutdown_s": server.shutdown_seconds,
    }


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)  # we say BEGIN/COMMIT ourselves
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def _clocks() -> tuple[float, float, float]:
    return time.perf_counter(), time.process_time(), machine_busy_seconds()


def _timed(name: str, count: int, start: tuple[float, float, float]) -> dict[str, Any]:
    wall, cpu, machine = (now - then for now, then in zip(_clocks(), start, strict=True))
    return {
        "name": name,
        "orders": count,
        "wall_s": wall,
        "orders_per_s": count / wall,
        "cpu_pct": 100 * cpu / wall,
        "other_cpu_pct": max(0.0, 100 * (machine - cpu) / wall),
    }


def ceiling_b_row(orders: list[OrderRequest]) -> dict[str, Any]:
    """Ceiling A's row, one autocommit INSERT per order, with no server in between."""
    conn = _connect(str(workdir("ceiling-b") / "rows.db"))
    conn.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, idempotency_key TEXT UNIQUE,"
        " body TEXT NOT NULL, created_at TEXT NOT NULL)"
    )
    start = _clocks()
    for order in orders:
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        conn.execute(
            "INSERT INTO orders (idempotency_key, body, created_at) VALUES (?, ?, ?)",
            (order.key, json.dumps(json.loads(order.body)), created_at),
        )
    result = _timed("1 row per tx", len(orders), start)
    conn.close()
    return result


def ceiling_b_forkflow_rows(cfg: Config) -> dict[str, Any]:
    """ForkFlow's statements for one order, in its schema, one BEGIN IMMEDIATE..COMMIT per order:
    key check, menu lookup, next ticket number, order + lines + key rows, read-back, event row."""
    path = str(workdir("ceiling-b") / "forkflow.db")
    subprocess.run(
        [sys.executable, "-m", "forkflow", "migrate", "--db", path], cwd=cfg.source_dir, check=True, capture_output=True
    )
    conn = _connect(path)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    conn.execute("BEGIN")
    menu = {}
    for i in range(cfg.menu_items):
        price = 500 + 50 * i
        cur = conn.execute(
            "INSERT INTO menu_items (name, description, price_cents, category, station, available, created_at,"
            " updated_at) VALUES (?, '', ?, 'mains', 'grill', 1, ?, ?)",
            (f"Dish {i}", price, now, now),
        )
        menu[int(cur.lastrowid or 0)] = price
    conn.execute("COMMIT")
    orders = make_orders(menu, cfg.orders, cfg.seed, "ceiling-b")
    start = _clocks()
    for order in orders:
        body = json.loads(order.body)
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        day = now[:10]
        conn.execute("SELECT request_hash, order_id FROM idempotency_keys WHERE key = ?", (order.key,)).fetchone()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SELECT request_hash, order_id FROM idempotency_keys WHERE key = ?", (order.key,)).fetchone()
        wanted = sorted({line["menu_item_id"] for line in body["items"]})
        items = {
            row[0]: row
            for row in conn.execute(
                f"SELECT id, name, price_cents, available FROM menu_items WHERE id IN ({','.join('?' * len(wanted))})",
                wanted,
            )
        }
        ticket = conn.execute(
            "SELECT coalesce(max(ticket_no), 0) + 1 FROM orders WHERE business_date = ?", (day,)
        ).fetchone()[0]
        total = sum(items[line["menu_item_id"]][2] * line["quantity"] for line in body["items"])
        order_id = conn.execute(
            "INSERT INTO orders (business_date, ticket_no, customer_name, channel, table_label, notes, status,"
            " total_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, '', 'new', ?, ?, ?) RETURNING id",
            (day, ticket, body["customer_name"], body["channel"], body.get("table"), total, now, now),
        ).fetchone()[0]
        conn.executemany(
            "INSERT INTO order_lines (order_id, menu_item_id, name, unit_price_cents, quantity, notes)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    order_id,
                    line["menu_item_id"],
                    items[line["menu_item_id"]][1],
                    items[line["menu_item_id"]][2],
                    line["quantity"],
                    line.get("notes", ""),
                )
                for line in body["items"]
            ],
        )
        conn.execute(
            "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)",
            (order.key, "0" * 64, order_id, now),
        )
        row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        lines = conn.execute("SELECT * FROM order_lines WHERE order_id IN (?) ORDER BY id", (order_id,)).fetchall()
        payload = json.dumps({"order": list(row), "lines": [list(line) for line in lines]}, separators=(",", ":"))
        conn.execute(
            "INSERT INTO events (type, topic, payload, created_at) VALUES ('order.created', 'orders', ?, ?)"
            " RETURNING id",
            (payload, now),
        ).fetchone()
        conn.execute("COMMIT")
    result = _timed("ForkFlow's rows per tx", len(orders), start)
    conn.close()
    return result


async def run(cfg: Config) -> dict[str, Any]:
    result: dict[str, Any] = {"a": await ceiling_a(cfg), "f": await ceiling_f(cfg)}
    orders = make_orders({i: 100 * i for i in range(1, cfg.menu_items + 1)}, cfg.orders, cfg.seed, "ceiling-b")
    b = [ceiling_b_row(orders)]
    try:
        b.append(ceiling_b_forkflow_rows(cfg))
    except (sqlite3.Error, subprocess.CalledProcessError, KeyError) as exc:
        # It follows ForkFlow's schema by hand: if the schema moved on, say so rather than crash.
        b.append({"name": "ForkFlow's rows per tx", "error": f"{type(exc).__name__}: {exc}"})
    result["b"] = b
    return result
