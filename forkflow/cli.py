"""`forkflow serve` and `forkflow migrate`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import uvicorn
from pydantic import ValidationError

from .config import Settings, sqlite_url
from .errors import ServiceError
from .events import Bus
from .models import StaffIn, StaffPatch, field_errors
from .schema import ROLES
from .services import staff
from .store import Store

T = TypeVar("T")


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The server logs what it does; one-shot commands only say what went wrong.
    logging.basicConfig(
        level=logging.INFO if args.command == "serve" else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except ServiceError as error:
        raise SystemExit(f"forkflow: {error.message}") from None
