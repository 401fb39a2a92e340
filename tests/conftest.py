"""Fixtures: a real ForkFlow server (uvicorn in its own process, real SQLite file) and helpers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from alembic import command

MENU = [
    {"name": "Classic Burger", "price_cents": 1550, "category": "Mains", "station": "grill"},
    {"name": "Fries", "price_cents": 450, "category": "Sides", "station": "fry"},
    {"name": "Caesar Salad", "price_cents": 1200, "category": "Mains", "station": "cold"},
    {"name": "Lemonade", "price_cents": 350, "category": "Drinks", "station": "bar"},
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long` (minutes each) first, the rest in file order: scripts/test's two processes
    take whole files in this order (`--no-loadscope-reorder`), so neither ends the run on one alone."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PASSWORDS = {"kitchen": "kitchen-password", "cashier": "cashier-password", "manager": "manager-password"}

# The test servers hash passwords at scrypt N=2^14 (FORKFLOW_PASSWORD_HASH_COST): the suite makes and
# checks hundreds of passwords, and OWASP's N=2^17, the default, costs about a second each here.
# Tests of the hashing itself start their server with the default (test_signin.py).
TEST_HASH_COST = "14"


# The PostgreSQL server this machine kind runs (trust auth); each test server gets a database of
# its own, made here and dropped afterwards.
POSTGRES = os.environ.get("FORKFLOW_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")


def _in_own_loop(make: Any) -> Any:
    """asyncio.run in a thread of its own, so it works from async tests and Playwright's loop too."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()


def new_postgres_database() -> str:
    """A fresh, empty PostgreSQL database; returns its SQLAlchemy URL."""
    name = f"forkflow_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        admin = await asyncpg.connect(POSTGRES)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    _in_own_loop(create)
    return POSTGRES.rsplit("/", 1)[0].replace("postgresql:", "postgresql+asyncpg:", 1) + f"/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        admin = await asyncpg.connect(POSTGRES)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    _in_own_loop(drop)


def seed_staff(db: Path | str) -> None:
    """One account per role (name = role), through the same service the CLI uses. `db` is a SQLite
    file or a database URL."""
    from forkflow.config import Settings, sqlite_url
    from forkflow.events import Bus
    from forkflow.models import StaffIn
    from forkflow.services.staff import add_staff
    from forkflow.store import Store

    url = db if isinstance(db, str) else sqlite_url(db)

    async def seed() -> None:
        store = Store(Settings(database_url=url, password_hash_cost=int(TEST_HASH_COST)), Bus())
        await store.open()
        try:
            for role, password in PASSWORDS.items():
                await add_staff(store, StaffIn(name=role, role=role, password=password))
        finally:
            await store.close()

    _in_own_loop(seed)


class Server:
    """`python -m forkflow serve` on a free loopback port; can be stopped and started again.

    A new database gets one staff account per role; `tokens[role]` holds a bearer token for each.
    """

    def __init__(
        self, db: Path, port: int | None = None, env: dict[str, str] | None = None, database_url: str | None = None
    ) -> None:
        """On SQLite the database is the file `db`; with `database_url` (PostgreSQL) it is that
        database, and `db` only names where the log goes."""
        self.db = db
        self.database_url = database_url
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "FORKFLOW_SSE_PING_SECONDS": "1",
            "FORKFLOW_PASSWORD_HASH_COST": TEST_HASH_COST,
            # Most tests place orders that no kitchen screen shows: proof of sight's alarm (a write and
            # an event 10 s after each such ticket) is left to the tests that set it (test_sight*).
            "FORKFLOW_UNSEEN_SECONDS": "3600",
            **(env or {}),
        }
        self.env.pop("FORKFLOW_DATABASE_URL", None)
        if database_url is not None:
            self.env["FORKFLOW_DATABASE_URL"] = database_url
        self._seeded = False
        self.process: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".log")
        self.tokens: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def start(self, *extra: str, staff: bool = True) -> Server:
        if self.database_url is None:
            if staff and not self.db.exists():
                seed_staff(self.db)
            where = ["--db", str(self.db)]
        else:
            if staff and not self._seeded:
                seed_staff(self.database_url)
            where = []
        self._seeded = True
        command = [sys.executable, "-m", "forkflow", "serve", "--port", str(self.port), *where, *extra]
        self.process = subprocess.Popen(command, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    if staff and not self.tokens:
                        self.tokens = {role: self._token(role) for role in PASSWORDS}
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def execute(self, statement: str, *parameters: Any) -> None:
        """Plain SQL (`?` placeholders) on the server's database behind its back, for tests that
        need a state the API cannot make (an order completed long ago). Datetimes are UTC."""
        from forkflow.schema import stored_timestamp

        if self.database_url is None:
            stored = [stored_timestamp(p) if isinstance(p, datetime) else p for p in parameters]
            with sqlite3.connect(self.db) as db:
                db.execute(statement, stored)
            return
        numbered = statement
        for i in range(1, len(parameters) + 1):
            numbered = numbered.replace("?", f"${i}", 1)
        dsn = self.database_url.replace("postgresql+asyncpg:", "postgresql:", 1)

        async def run() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(numbered, *parameters)
            finally:
                await conn.close()

        _in_own_loop(run)

    def _token(self, role: str) -> str:
        response = httpx.post(f"{self.url}/auth/token", json={"username": role, "password": PASSWORDS[role]})
        response.raise_for_status()
        return response.json()["token"]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15) -> float:
        """Stop the server the way Ctrl-C does; returns how long it took."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self.process = None
        return time.monotonic() - started


@contextmanager
def running_server(directory: Path, backend: str = "sqlite", **options: Any) -> Iterator[Server]:
    """A started server on SQLite (a file in `directory`) or on a fresh PostgreSQL database."""
    url = new_postgres_database() if backend == "postgres" else None
    srv = Server(directory / "forkflow.db", database_url=url, **options)
    try:
        yield srv.start()
    finally:
        if srv.process is not None:
            srv.stop()
        if url is not None:
            drop_postgres_database(url)


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """SQLite, unless a module asks for both backends with `on_both_backends`."""
    with running_server(tmp_path, getattr(request, "param", "sqlite")) as srv:
        yield srv


# `pytestmark = on_both_backends` runs a module's tests that use `server` on SQLite and PostgreSQL.
on_both_backends = pytest.mark.parametrize("server", BACKENDS, indirect=True)


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("manager")) as c:
        yield c


@pytest.fixture
def menu(client: httpx.Client) -> list[dict]:
    items = []
    for item in MENU:
        response = client.post("/menu", json=item)
        assert response.status_code == 201, response.text
        items.append(response.json())
    return items


def pooled(max_connections: int) -> httpx.Limits:
    """A client pool for many concurrent requests. Idle connections are dropped after 2 s, before
    uvicorn's 5 s keep-alive timeout: a request on a pooled connection the server is just closing
    fails with ReadError (httpx's default expiry is also 5 s, so on a loaded machine they race)."""
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=2)


def order_body(menu: list[dict], **overrides: object) -> dict:
    body = {
        "customer_name": "Ada",
        "channel": "counter",
        "items": [{"menu_item_id": menu[0]["id"], "quantity": 2}, {"menu_item_id": menu[1]["id"], "quantity": 1}],
    }
    body.update(overrides)
    return body


def create_menu(server: Server) -> dict[str, dict]:
    """MENU made on `server` by its manager, keyed by item name."""
    made = {}
    for item in MENU:
        response = httpx.post(f"{server.url}/menu", json=item, headers=server.auth("manager"), timeout=10)
        assert response.status_code == 201, response.text
        made[item["name"]] = response.json()
    return made


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, once per module of browser tests (tests/browser.py)."""
    from .browser import chromium

    with chromium() as launched:
        yield launched


@contextmanager
def postgres_servers(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[tuple[Server, Server]]:
    """Two server processes on one fresh PostgreSQL database (what several hosts look like)."""
    url = new_postgres_database()
    first = Server(tmp_path / "first.db", database_url=url, env=env)
    second = Server(tmp_path / "second.db", database_url=url, env=env)
    try:
        first.start()
        second._seeded = True  # the same staff accounts, already made for the first
        second.start()
        yield first, second
    finally:
        for srv in (first, second):
            if srv.process is not None:
                srv.stop()
        drop_postgres_database(url)


@pytest.fixture
def postgres_pair(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with postgres_servers(tmp_path) as pair:
        yield pair


def csrf_from(html: str) -> str:
    """The CSRF token a page's form carries."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def page_client(server: Server) -> httpx.Client:
    """An HTTP client that asks for pages as a browser does (and keeps its cookies)."""
    return httpx.Client(base_url=server.url, timeout=10, headers={"accept": "text/html"})


# Migration tests: a database as an earlier release left it.

OLD_NOW = "2026-01-01 12:00:00.000000"  # when the old rows were written, as SQLite stores it


@contextmanager
def database_at(db: Path, revision: str, lines: Sequence[int] = (1,)) -> Iterator[sa.Connection]:
    """A SQLite file at `db` migrated to `revision` (foreign keys on, as the server migrates: a table
    rebuilt by a migration would delete rows that refer to it), holding what every release since
    0007 has: a Burger (1500) in Mains, and order 1 (Ada, counter, new, ticket 1, token `tok`) with a
    line of `lines[i]` burgers each. Yields the connection in its transaction for more rows or
    migrations; the engine is disposed of afterwards."""
    from forkflow.store import _alembic_config

    engine = sa.create_engine(f"sqlite:///{db}")
    sa.event.listen(engine, "connect", lambda connection, _: connection.execute("PRAGMA foreign_keys = ON"))
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
            conn.execute(
                sa.text(
                    "INSERT INTO menu_items (id, name, description, price_cents, category, station, available, "
                    "switched_off, created_at, updated_at, position, allergens, dietary) "
                    "VALUES (1, 'Burger', '', 1500, 'Mains', 'grill', 1, 0, :t, :t, 0, '', '')"
                ),
                {"t": OLD_NOW},
            )
            conn.execute(sa.text("INSERT INTO menu_categories (name, position) VALUES ('Mains', 0)"))
            conn.execute(
                sa.text(
                    "INSERT INTO orders (id, business_date, ticket_no, customer_name, channel, notes, status, "
                    "total_cents, created_at, updated_at, tracking_token) "
                    "VALUES (1, '2026-01-01', 1, 'Ada', 'counter', '', 'new', :total, :t, :t, 'tok')"
                ),
                {"t": OLD_NOW, "total": 1500 * sum(lines)},
            )
            for line_id, quantity in enumerate(lines, start=1):
                conn.execute(
                    sa.text(
                        "INSERT INTO order_lines (id, order_id, menu_item_id, name, unit_price_cents, quantity, "
                        "notes, station) VALUES (:id, 1, 1, 'Burger', 1500, :quantity, '', 'grill')"
                    ),
                    {"id": line_id, "quantity": quantity},
                )
            yield conn
    finally:
        engine.dispose()


def old_database(db: Path, revision: str, lines: Sequence[int] = (1,)) -> None:
    """`database_at` with nothing more in it."""
    with database_at(db, revision, lines):
        return


def wait_until(check: Callable[[], object], timeout: float = 20, what: str = "the condition") -> object:
    """Wait, up to `timeout` seconds, for `check()` to give something true; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
