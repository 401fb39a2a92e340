"""Ceiling A: the least a Starlette + aiosqlite order endpoint can do, to put ForkFlow's figure in scale.

POST /orders parses the JSON body and commits one row per request (autocommit: each INSERT is its
own transaction), with ForkFlow's SQLite settings, served by uvicorn with the same defaults
(uvloop, httptools) in its own process. No validation, no pricing, no events: whatever ForkFlow
does beyond this is what its ratio to this ceiling pays for.

Run: python bench/ceiling_app.py --port 8001 --db /tmp/ceiling.db
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

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


def create_app(db_path: str) -> Starlette:
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
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send application/json"}, status_code=415)
        try:
            data = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        if not isinstance(data, dict) or not data.get("items"):
            return JSONResponse({"error": "no items"}, status_code=422)
        assert conn is not None
        created_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        row = await conn.execute_insert(  # one thread hop: INSERT, then last_insert_rowid()
            "INSERT INTO orders (idempotency_key, body, created_at) VALUES (?, ?, ?)",
            (request.headers.get("idempotency-key"), json.dumps(data), created_at),
        )
        assert row is not None
        return JSONResponse({"id": row[0], "created_at": created_at, **data}, status_code=201)

    menu: list[dict[str, object]] = []

    async def create_menu_item(request: Request) -> Response:
        """Only so the same load generator can run unchanged: the menu is kept in memory."""
        item = {"id": len(menu) + 1, **json.loads(await request.body())}
        menu.append(item)
        return JSONResponse(item, status_code=201)

    async def health(request: Request) -> Response:
        assert conn is not None
        async with conn.execute("SELECT count(*) FROM orders") as cursor:
            (rows,) = await cursor.fetchone() or (0,)
        return JSONResponse({"status": "ok", "rows": rows})

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
    parser.add_argument("--db", required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    config = uvicorn.Config(
        create_app(args.db), host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
