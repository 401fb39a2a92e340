"""The database: engines set up for a busy restaurant, the single write path, and event replay.

SQLite allows one writer at a time. Instead of letting request handlers race for that lock (the
seed monolith's `database is locked`), every write of the process is a *write unit* handed to one
`Writer` task that owns the only write connection. The writer takes whatever units are queued,
runs each in its own SAVEPOINT inside one `BEGIN IMMEDIATE` transaction (a group commit: a unit
that fails rolls back alone), commits, and only then publishes the units' events and answers
their callers. Reads use a separate pool and, thanks to WAL, never wait for the writer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, delete, event, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .config import Settings
from .errors import StoreUnavailable
from .events import Bus, Event, topic_of
from .schema import events, idempotency_keys, utcnow

log = logging.getLogger("forkflow.store")

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000


class Tx:
    """A write unit's handle on the write transaction: its connection and the events it emits."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.now = utcnow()
        self.events: list[Event] = []

    async def emit(self, event_type: str, payload: dict[str, Any]) -> Event:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        result = await self.conn.execute(
            insert(events)
            .values(type=event_type, topic=topic_of(event_type), payload=data, created_at=self.now)
            .returning(events.c.id)
        )
        emitted = Event(result.scalar_one(), event_type, data, self.now)
        self.events.append(emitted)
        return emitted


WriteUnit = Callable[[Tx], Awaitable[T]]


@dataclass
class _Job:
    work: WriteUnit[Any]
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Writer:
    """The process's one serialized write path, with group commit."""

    def __init__(self, engine: AsyncEngine, bus: Bus, max_batch: int) -> None:
        self._engine = engine
        self._bus = bus
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._conn: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.units = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="forkflow-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(StoreUnavailable("the server is shutting down"))
        await self._close_connection()

    async def run(self, work: WriteUnit[T]) -> T:
        """Run `work` inside the write transaction; return once it is committed and published."""
        if self._task is None or self._task.done():
            raise StoreUnavailable("the write path is not running")
        job = _Job(work)
        self._queue.put_nowait(job)
        return await job.future

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            # A caller that went away before its turn (client disconnected) needs nothing written.
            batch = [job for job in batch if not job.future.done()]
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Job]) -> None:
        done: list[tuple[_Job, Any, list[Event]]] = []
        try:
            conn = await self._connection()
            async with conn.begin():
                for job in batch:
                    tx = Tx(conn)
                    try:
                        async with conn.begin_nested():
                            result = await job.work(tx)
                    except Exception as exc:  # the unit's own failure: only it is rolled back
                        if not job.future.done():
                            job.future.set_exception(exc)
                        continue
                    done.append((job, result, tx.events))
        except Exception:
            log.exception("write transaction failed; %d units not committed", len(done))
            await self._close_connection()
            for job, _, _ in done:
                if not job.future.done():
                    job.future.set_exception(StoreUnavailable("the database did not accept the write"))
            return
        self.batches += 1
        self.units += len(done)
        for job, result, emitted in done:
            for ev in emitted:
                self._bus.publish(ev)
            if not job.future.done():
                job.future.set_result(result)

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._engine.connect()
        return self._conn

    async def _close_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close()
            except Exception:
                log.exception("closing the write connection failed")


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _make_engines(url: str) -> tuple[AsyncEngine, AsyncEngine]:
    """One engine for the single write connection, one pool for reads."""
    if not _is_sqlite(url):
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        return engine, engine

    write_engine = create_async_engine(url, pool_size=1, max_overflow=0)
    read_engine = create_async_engine(url, pool_size=8, max_overflow=8)

    def set_pragmas(dbapi_connection: Any, query_only: bool) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if query_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(write_engine.sync_engine, "connect")
    def _writer_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN over from the sqlite3 driver (SQLAlchemy's documented recipe) so that we can
        # say BEGIN IMMEDIATE: a deferred read-then-write transaction can fail with SQLITE_BUSY
        # at once, without waiting on the busy timeout.
        dbapi_connection.isolation_level = None
        set_pragmas(dbapi_connection, query_only=False)

    @event.listens_for(write_engine.sync_engine, "begin")
    def _writer_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(read_engine.sync_engine, "connect")
    def _reader_connect(dbapi_connection: Any, _record: Any) -> None:
        set_pragmas(dbapi_connection, query_only=True)

    return write_engine, read_engine


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
        self.write_engine, self.read_engine = _make_engines(self.url)
        self.writer = Writer(self.write_engine, bus, settings.max_batch)

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.url.split("///", 1)[-1]) if _is_sqlite(self.url) else None

    async def open(self, migrate: bool = True) -> None:
        if self.sqlite_file is not None:
            self.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            await self.migrate()
        self.bus.last_event_id = await self.last_event_id()
        await self.writer.start()

    async def close(self) -> None:
        await self.writer.stop()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()

    async def migrate(self) -> None:
        async with self.write_engine.begin() as conn:
            await conn.run_sync(lambda sync_conn: command.upgrade(_alembic_config(sync_conn), "head"))

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

    async def last_event_id(self, conn: AsyncConnection | None = None) -> int:
        query = select(func.coalesce(func.max(events.c.id), 0))
        if conn is not None:
            return (await conn.execute(query)).scalar_one()
        async with self.read() as own:
            return (await own.execute(query)).scalar_one()

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

    async def purge_idempotency_keys(self, older_than: timedelta = timedelta(hours=48)) -> int:
        cutoff: datetime = utcnow() - older_than

        async def purge(tx: Tx) -> int:
            result = await tx.conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff))
            return result.rowcount

        return await self.write(purge)
