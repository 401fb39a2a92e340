"""`forkflow serve` and `forkflow migrate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence

import uvicorn

from .config import Settings, sqlite_url
from .events import Bus
from .store import Store


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(database_url=sqlite_url(args.db) if args.db else None)


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite database file (default: FORKFLOW_DATABASE_URL, else ./forkflow.db)",
    )


def serve(args: argparse.Namespace) -> int:
    from .app import create_app

    app = create_app(_settings(args), demo=args.demo)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        # Streams end on shutdown (sse-starlette watches uvicorn's exit flag); this bounds the
        # wait for anything else still open.
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
    return 0


def migrate(args: argparse.Namespace) -> int:
    async def run() -> None:
        store = Store(_settings(args), Bus())
        try:
            await store.migrate()
        finally:
            await store.close()

    asyncio.run(run())
    print("database is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forkflow", description="ForkFlow, a restaurant's live order system.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="run the web server")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    _add_db_option(serve_cmd)
    serve_cmd.add_argument("--demo", action="store_true", help="fill an empty database with a demo menu and stock")
    serve_cmd.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve_cmd.set_defaults(handler=serve)

    migrate_cmd = commands.add_parser("migrate", help="bring the database schema up to date")
    _add_db_option(migrate_cmd)
    migrate_cmd.set_defaults(handler=migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.handler(args)
