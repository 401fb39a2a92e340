"""The database: engines set up for a busy restaurant, the write path, and event replay.

Writes go through the one `Writer` (see writer.py), whose thread owns the only write connection.
Reads use a separate async pool and, thanks to WAL, never wait for the writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .config import Settings
from .errors import StoreUnavailable
from .events import Bus, Event
from .pg import PgListener, PgWriter
from .schema import events
from .writer import Tx, Writer, WriteUnit

__all__ = ["Store", "Tx", "WriteUnit"]

log = logging.getLogger("forkflow.store")

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
MIGRATION_LOCK = 7_263_002


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sync_url(url: str) -> str:
    return url.replace("sqlite+aiosqlite:", "sqlite+pysqlite:", 1)


def _set_pragmas(dbapi_connection: Any, query_only: bool) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # SQLite's default page cache is 2 MiB. With a year of orders, every order's inserts land on
    # random pages of the unique indexes (tracking tokens, idempotency keys); the writer keeps
    # 64 MiB of them in memory, each reader 16 MiB.
    cursor.execute(f"PRAGMA cache_size={-16_384 if query_only else -65_536}")
    if query_only:
        cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _make_write_engine(url: str) -> Engine:
    """The writer's engine: SQLite through the standard sqlite3 module, used from the writer's thread."""
    engine = create_engine(_sync_url(url), pool_size=1, max_overflow=0, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN over from the sqlite3 driver (SQLAlchemy's documented recipe) so that we can
        # say BEGIN IMMEDIATE: a deferred read-then-write transaction can fail with SQLITE_BUSY
        # at once, without waiting on the busy timeout.
        dbapi_connection.isolation_level = None
        _set_pragmas(dbapi_connection, query_only=False)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _make_read_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=8, max_overflow=8)
    if _is_sqlite(url):

        @event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            _set_pragmas(dbapi_connection, query_only=True)

    return engine


def _alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


class Store:
    def __init__(self, settings: Settings, bus: Bus) -> None:
        self.settings = settings
        self.url = settings.database_url
        self.bus = bus
        self.read_engine = _make_read_engine(self.url)
        self.listener: PgListener | None = None
        self.writer: Writer
        if _is_sqlite(self.url):
            self.write_engine = _make_write_engine(self.url)
            self.writer = Writer(self.write_engine, bus, settings.max_batch)
        else:  # PostgreSQL: see pg.py
            self.async_write_engine = create_async_engine(self.url, pool_size=2, max_overflow=2)
            self.write_engine = self.async_write_engine.sync_engine
            self.writer = PgWriter(self.async_write_engine, bus, settings.max_batch)
            self.listener = PgListener(self.url, bus, self.events_after)

    @property
    def postgres(self) -> bool:
        return self.listener is not None

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.url.split("///", 1)[-1]) if _is_sqlite(self.url) else None

    async def open(self, migrate: bool = True) -> None:
        if self.sqlite_file is not None:
            self.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            await self.migrate()
        self.bus.last_event_id = await self.last_event_id()
        if self.listener is not None:
            await self.listener.start()
        await self.writer.start()

    async def close(self) -> None:
        await self.writer.stop()
        if self.listener is not None:
            await self.listener.stop()
            await self.async_write_engine.dispose()
        else:
            self.write_engine.dispose()
        await self.read_engine.dispose()

    async def migrate(self) -> None:
        if self.postgres:
            # Several workers start at once: the first migrates, the others wait on its lock.
            def upgrade_locked(conn: Connection) -> None:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                command.upgrade(_alembic_config(conn), "head")

            async with self.async_write_engine.begin() as conn:
                await conn.run_sync(upgrade_locked)
            return

        def upgrade() -> None:
            with self.write_engine.begin() as conn:
                command.upgrade(_alembic_config(conn), "head")

        await asyncio.to_thread(upgrade)

    async def write(self, work: WriteUnit[T]) -> T:
        return await self.writer.run(work)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.read_engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            if exc.connection_invalidated or "unable to open" in str(exc.orig):
                raise StoreUnavailable("the database cannot be reached") from exc
            raise

    async def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a plain function of a Connection on a read connection (the same loaders serve
        reads here and write units in the writer's thread)."""
        async with self.read() as conn:
            return await conn.run_sync(fn, *args)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read connection whose queries all see one moment of the database, e.g. the rail of
        tickets and the last event id together, so a page can resume its stream exactly there."""
        async with self.read() as conn:
            if _is_sqlite(self.url):
                await conn.exec_driver_sql("BEGIN")  # a deferred read transaction: one WAL snapshot
            else:
                await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            yield conn

    async def ping(self, timeout: float = 2.0) -> bool:
        # Open SQLite connections keep working on a deleted file; the file itself must be there.
        if self.sqlite_file is not None and not self.sqlite_file.is_file():
            return False
        try:
            async with asyncio.timeout(timeout), self.read() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def last_event_id(self, conn: AsyncConnection | None = None, topics: Iterable[str] | None = None) -> int:
        """The newest event's id (0 if none); with `topics`, the newest of those topics'."""
        query = select(func.coalesce(func.max(events.c.id), 0))
        if topics is not None:
            query = query.where(events.c.topic.in_(list(topics)))
        if conn is not None:
            newest: int = (await conn.execute(query)).scalar_one()
            return newest
        async with self.read() as own:
            newest = (await own.execute(query)).scalar_one()
            return newest

    async def events_after(self, after_id: int, topics: Iterable[str], limit: int = 500) -> list[Event]:
        query = (
            select(events)
            .where(events.c.id > after_id, events.c.topic.in_(list(topics)))
            .order_by(events.c.id)
            .limit(limit)
        )
        async with self.read() as conn:
            rows = (await conn.execute(query)).all()
        return [Event(row.id, row.type, row.payload, row.created_at) for row in rows]
