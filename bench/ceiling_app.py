"""Ceilings A and F: the least a Starlette order endpoint can do, to put ForkFlow's figure in scale.

Both parse the same JSON body of `POST /orders` and answer 201 with the order, an id and a
`created_at`, served by uvicorn with the same defaults (uvloop, httptools) in its own process.

* Ceiling A (`--db PATH`) commits one row per request through aiosqlite (autocommit: each INSERT
  is its own transaction), with ForkFlow's SQLite settings.
* Ceiling F, the framework (`--no-db`), stops there: no database at all, ids counted in memory.
  What the framework and the server cost alone, which ForkFlow cannot go below (issue 18).

No validation, no pricing, no events: whatever ForkFlow does beyond this is what its ratio to these
ceilings pays for.

Run: python bench/ceiling_app.py --port 8001 --db /tmp/ceiling.db   (or --no-db)
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)
SCHEMA = """CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""

Endpoint = Callable[[Request], Awaitable[Response]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def read_order(request: Request) -> dict[str, Any] | Response:
    """The order's parsed JSON body, or the answer refusing it: both ceilings read orders alike."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "send application/json"}, status_code=415)
    try:
        data = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "not JSON"}, status_code=400)
    if not isinstance(data, dict) or not data.get("items"):
        return JSONResponse({"error": "no items"}, status_code=422)
    return data


def with_database(db_path: str) -> tuple[Endpoint, Endpoint, Lifespan]:
    """Ceiling A: each order one committed row in SQLite; /health counts the rows."""
    conn: aiosqlite.Connection | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal conn
        conn = await aiosqlite.connect(db_path, isolation_level=None)  # autocommit
        for pragma in PRAGMAS:
            await conn.execute(pragma)
        await conn.execute(SCHEMA)
        try:
            yield
        finally:
            await conn.close()

    async def create_order(request: Request) -> Response:
        data = await read_order(request)
        if isinstance(data, Response):
            return data
        assert conn is not None
        created_at = _now()
        row = await conn.execute_insert(  # one thread hop: INSERT, then last_insert_rowid()
            "INSERT INTO orders (idempotency_key, body, created_at) VALUES (?, ?, ?)",
            (request.headers.get("idempotency-key"), json.dumps(data), created_at),
        )
        assert row is not None
        return JSONResponse({"id": row[0], "created_at": created_at, **data}, status_code=201)

    async def health(request: Request) -> Response:
        assert conn is not None
        async with conn.execute("SELECT count(*) FROM orders") as cursor:
            (rows,) = await cursor.fetchone() or (0,)
        return JSONResponse({"status": "ok", "rows": rows})

    return create_order, health, lifespan


def without_database() -> tuple[Endpoint, Endpoint, None]:
    """Ceiling F: each order parsed and answered, nothing kept but a count; /health gives it."""
    answered = 0  # also the last id given

    async def create_order(request: Request) -> Response:
        nonlocal answered
        data = await read_order(request)
        if isinstance(data, Response):
            return data
        answered += 1
        return JSONResponse({"id": answered, "created_at": _now(), **data}, status_code=201)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "answered": answered})

    return create_order, health, None


def create_app(db_path: str | None) -> Starlette:
    """Ceiling A on the SQLite file `db_path`; ceiling F (no database) when it is None."""
    create_order, health, lifespan = with_database(db_path) if db_path is not None else without_database()
    menu: list[dict[str, object]] = []

    async def create_menu_item(request: Request) -> Response:
        """Only so the same load generator can run unchanged: the menu is kept in memory."""
        item = {"id": len(menu) + 1, **json.loads(await request.body())}
        menu.append(item)
        return JSONResponse(item, status_code=201)

    return Starlette(
        routes=[
            Route("/orders", create_order, methods=["POST"]),
            Route("/menu", create_menu_item, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="ceiling A: the SQLite file each order is committed to")
    where.add_argument("--no-db", action="store_true", help="ceiling F: no database, orders only parsed and answered")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    config = uvicorn.Config(
        create_app(args.db), host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
