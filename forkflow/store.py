"""The database: the facade every service uses for reads, writes, snapshots and event replay.

Writes go through the backend's one `WritePath` (storage/): on SQLite a writer thread owning the
only write connection (storage/sqlite.py), on PostgreSQL a writer behind an advisory lock with its
LISTEN/NOTIFY listener (storage/postgres.py). Reads use a separate async pool and, on SQLite
thanks to WAL, never wait for the writer.
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
from sqlalchemy import Connection, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .config import Settings, is_sqlite
from .errors import StoreUnavailable
from .events import Bus, Event
from .schema import events
from .storage.postgres import PgWriter
from .storage.sqlite import SqliteWriter, set_pragmas
from .storage.units import Tx, WritePath, WriteUnit

__all__ = ["Store", "Tx", "WriteUnit"]

log = logging.getLogger("forkflow.store")

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"


def _make_read_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=8, max_overflow=8)
    if is_sqlite(url):

        @event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            set_pragmas(dbapi_connection, query_only=True)

    return engine


def _alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrations_head() -> str:
    """The newest migration's revision: what `open()` and `forkflow migrate` bring a database to."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


class Store:
    def __init__(self, settings: Settings, bus: Bus) -> None:
        self.settings = settings
        self.url = settings.database_url
        self.bus = bus
        self.read_engine = _make_read_engine(self.url)
        self.writer: WritePath
        if is_sqlite(self.url):
            self.writer = SqliteWriter(self.url, bus, settings.max_batch)
        else:
            self.writer = PgWriter(self.url, bus, settings.max_batch, self.events_after)

    @property
    def postgres(self) -> bool:
        """Several processes share the database, and each hears every process's events."""
        return not is_sqlite(self.url)

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.url.split("///", 1)[-1]) if is_sqlite(self.url) else None

    async def open(self, migrate: bool = True) -> None:
        if self.sqlite_file is not None:
            self.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            await self.migrate()
        self.bus.last_event_id = await self.last_event_id()
        await self.writer.start()

    async def close(self) -> None:
        await self.writer.close()
        await self.read_engine.dispose()

    async def migrate(self) -> None:
        def upgrade(conn: Connection) -> None:
            command.upgrade(_alembic_config(conn), "head")

        await self.writer.migrate(upgrade)

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
            if is_sqlite(self.url):
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
