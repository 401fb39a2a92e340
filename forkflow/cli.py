"""The `forkflow` command: serve, migrate, users, backup."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import logging.config
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from pydantic import ValidationError

from .backup import BackupError, backup_sqlite
from .config import LOG_FORMATS, Settings, is_sqlite, sqlite_url
from .deadlines import http_protocol
from .errors import ServiceError
from .events import Bus
from .logs import logging_config
from .models import StaffIn, StaffPatch, field_errors
from .services import staff
from .store import Store
from .vocabulary import ROLES

T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(database_url=sqlite_url(args.db) if args.db else None)


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite database file (default: FORKFLOW_DATABASE_URL, else ./forkflow.db)",
    )


SQLITE_ONE_WORKER = """\
forkflow: --workers {workers} needs PostgreSQL; this database is SQLite ({url}).
SQLite lets one writer at a time into a database file, and ForkFlow's single write path (with
its group commit) and its event bus live inside one process: several worker processes would
fight over the write lock, and an order committed in one would never reach the event streams
held by the others.
Either run one worker (the default): one process takes a restaurant's rush, thousands of orders
a second (see the Benchmarks in README.md); or move to PostgreSQL:
  FORKFLOW_DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST/forkflow forkflow serve --workers {workers}"""


def serve(args: argparse.Namespace) -> int:
    from .app import create_app

    settings = _settings(args)
    log_config = logging_config(args.log_format or settings.log_format)
    logging.config.dictConfig(log_config)
    if args.workers > 1:
        if is_sqlite(settings.database_url):
            print(SQLITE_ONE_WORKER.format(workers=args.workers, url=settings.database_url), file=sys.stderr)
            return 2
        return _serve_workers(args, settings, log_config)
    app = create_app(settings, demo=args.demo)
    config = uvicorn.Config(app, **_server_options(args, settings, log_config))
    with _stopped_by_signal():
        uvicorn.Server(config).run()
    return 0


def _server_options(args: argparse.Namespace, settings: Settings, log_config: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's options, the same with and without --workers."""
    trusted = args.forwarded_allow_ips if args.forwarded_allow_ips is not None else settings.forwarded_allow_ips
    trusted = ",".join(part.strip() for part in trusted.split(",") if part.strip())
    return {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "log_config": log_config,
        # Streams end on shutdown (sse-starlette watches uvicorn's exit flag); this bounds the
        # wait for anything else still open.
        "timeout_graceful_shutdown": 5,
        # X-Forwarded-For/-Proto are believed only from the proxies named; by default from nobody
        # (uvicorn's own default trusts 127.0.0.1, so any local client could claim any address).
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        # uvicorn's protocol with a deadline on incomplete request headers (slowloris).
        "http": http_protocol(args.http, settings.header_timeout_seconds),
    }


@contextlib.contextmanager
def _stopped_by_signal() -> Iterator[None]:
    """uvicorn shuts down cleanly on Ctrl-C (or SIGINT), then raises it again: the server
    stopped as it was asked to, so end quietly rather than with a traceback (which would also
    break a JSON log into lines that are not JSON)."""
    try:
        yield
    except KeyboardInterrupt:
        pass


def _serve_workers(args: argparse.Namespace, settings: Settings, log_config: dict[str, Any]) -> int:
    """N uvicorn worker processes on one socket, each making its app with `app_from_env`.

    This process prepares the database first (migrations, demo data, the session secret), so
    the workers do not race each other to do it, then hands its options down as FORKFLOW_*
    variables, which the workers read through Settings.from_env().
    """
    from .demo import seed_demo, seed_demo_staff
    from .services.staff import app_secret

    async def prepare(store: Store) -> None:
        if args.demo:
            await seed_demo(store)
            passwords = await seed_demo_staff(store)
            if passwords:
                lines = "\n".join(f"  {name:8} {password}" for name, password in passwords.items())
                print(f"Demo staff accounts (shown this once; name = role):\n{lines}", flush=True)
        await app_secret(store, "session")

    asyncio.run(_with_store(args, prepare))
    os.environ["FORKFLOW_DATABASE_URL"] = settings.database_url
    os.environ["FORKFLOW_LOG_FORMAT"] = args.log_format or settings.log_format
    with _stopped_by_signal():
        uvicorn.run(
            "forkflow.app:app_from_env",
            factory=True,
            workers=args.workers,
            **_server_options(args, settings, log_config),
        )
    return 0


def backup(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not is_sqlite(settings.database_url):
        print(
            "forkflow: backup copies SQLite databases; for PostgreSQL use pg_dump, e.g.\n"
            "  pg_dump --format=custom --file=forkflow.dump postgresql://USER@HOST/forkflow",
            file=sys.stderr,
        )
        return 2
    source = Path(settings.database_url.split("///", 1)[-1])
    try:
        result = backup_sqlite(source, Path(args.path), force=args.force)
    except BackupError as error:
        print(f"forkflow: {error}", file=sys.stderr)
        return 1
    print(result.describe())
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


async def _with_store(args: argparse.Namespace, work: Callable[[Store], Awaitable[T]]) -> T:
    store = Store(_settings(args), Bus())
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise SystemExit("the passwords differ")
    return password


def users_add(args: argparse.Namespace) -> int:
    try:
        data = StaffIn(name=args.name, role=args.role, password=_read_password(args))
    except ValidationError as exc:
        raise SystemExit("; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())) from exc
    member = asyncio.run(_with_store(args, lambda store: staff.add_staff(store, data)))
    print(f"added {member['name']} ({member['role']})")
    return 0


def users_list(args: argparse.Namespace) -> int:
    members = asyncio.run(_with_store(args, staff.list_staff))
    for member in members:
        print(f"{member['name']:20} {member['role']:8} {'active' if member['active'] else 'disabled'}")
    return 0


def _users_set_active(active: bool) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        async def work(store: Store) -> dict[str, Any]:
            staff_id = await staff.staff_id_by_name(store, args.name)
            return await staff.change_staff(store, staff_id, StaffPatch(active=active))

        member = asyncio.run(_with_store(args, work))
        print(f"{member['name']} is now {'active' if member['active'] else 'disabled'}")
        return 0

    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forkflow", description="ForkFlow, a restaurant's live order system.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="run the web server")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    _add_db_option(serve_cmd)
    serve_cmd.add_argument("--demo", action="store_true", help="fill an empty database with a demo menu and stock")
    serve_cmd.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve_cmd.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="text (default) or json: one JSON object per line (default: FORKFLOW_LOG_FORMAT)",
    )
    serve_cmd.add_argument(
        "--workers", type=_positive_int, default=1, help="worker processes (more than 1 needs PostgreSQL)"
    )
    serve_cmd.add_argument(
        "--forwarded-allow-ips",
        metavar="ADDRESSES",
        help="reverse proxies whose X-Forwarded-For to believe: addresses or networks, comma-separated, "
        "e.g. 127.0.0.1 or 172.28.0.0/24 (default: FORWARDED_ALLOW_IPS, else none)",
    )
    serve_cmd.add_argument(
        "--http", choices=["auto", "h11", "httptools"], default="auto", help="uvicorn's HTTP implementation"
    )
    serve_cmd.set_defaults(handler=serve)

    migrate_cmd = commands.add_parser("migrate", help="bring the database schema up to date")
    _add_db_option(migrate_cmd)
    migrate_cmd.set_defaults(handler=migrate)

    users_cmd = commands.add_parser("users", help="staff accounts")
    users = users_cmd.add_subparsers(dest="users_command", required=True)
    add_cmd = users.add_parser("add", help="add a staff member")
    add_cmd.add_argument("name")
    add_cmd.add_argument("--role", required=True, choices=ROLES)
    add_cmd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    _add_db_option(add_cmd)
    add_cmd.set_defaults(handler=users_add)
    list_cmd = users.add_parser("list", help="list staff members")
    _add_db_option(list_cmd)
    list_cmd.set_defaults(handler=users_list)
    for name, active in (("disable", False), ("enable", True)):
        toggle_cmd = users.add_parser(name, help=f"{name} a staff member's account")
        toggle_cmd.add_argument("name")
        _add_db_option(toggle_cmd)
        toggle_cmd.set_defaults(handler=_users_set_active(active))

    backup_cmd = commands.add_parser("backup", help="copy the live SQLite database to PATH, safely while serving")
    backup_cmd.add_argument("path", metavar="PATH", help="the file to write")
    backup_cmd.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    _add_db_option(backup_cmd)
    backup_cmd.set_defaults(handler=backup)
    return parser


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The server logs what it does; one-shot commands only say what went wrong.
    logging.basicConfig(
        level=logging.INFO if args.command == "serve" else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.handler(args)
        return code
    except ServiceError as error:
        raise SystemExit(f"forkflow: {error.message}") from None
