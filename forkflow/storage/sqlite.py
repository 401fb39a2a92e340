"""SQLite: one process, one writer thread, events published by the writer after each commit.

SQLite allows one writer at a time. Rather than let request handlers race for that lock (the seed
monolith's `database is locked`), the one `SqliteWriter`'s thread owns the only write connection:
it takes every unit that is queued, runs them all in one `BEGIN IMMEDIATE` transaction, commits,
and only then hands the results back to the event loop, which publishes the units' events in
commit order and answers their callers. Reads use the Store's own pool and, thanks to WAL, never
wait for the writer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event

from ..errors import StoreUnavailable
from ..events import Bus
from ..schema import stored_timestamp
from .units import STOP, GroupCommit, Job, Outcome, Tx, WriteUnit

log = logging.getLogger("forkflow.writer")

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000


def set_pragmas(dbapi_connection: Any, query_only: bool) -> None:
    """Every connection's settings, the Store's readers' (`query_only`) and the writer's."""
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
    sync_url = url.replace("sqlite+aiosqlite:", "sqlite+pysqlite:", 1)
    engine = create_engine(sync_url, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN over from the sqlite3 driver (SQLAlchemy's documented recipe) so that we can
        # say BEGIN IMMEDIATE: a deferred read-then-write transaction can fail with SQLITE_BUSY
        # at once, without waiting on the busy timeout.
        dbapi_connection.isolation_level = None
        set_pragmas(dbapi_connection, query_only=False)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SqliteTx(Tx):
    """Plain SQL goes straight to the sqlite3 connection; `now` is stored as SQLAlchemy stores it."""

    def __init__(self, conn: Connection, cache: dict[str, Any] | None = None) -> None:
        super().__init__(conn, cache)
        self.stored_now = stored_timestamp(self.now)
        driver = conn.connection.driver_connection
        assert driver is not None
        self._driver = driver

    def stored(self, moment: datetime | None) -> Any:
        return None if moment is None else stored_timestamp(moment)

    def sql(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        return self._driver.execute(statement, parameters)


class SqliteWriter(GroupCommit):
    """The process's one serialized write path, with group commit, on a thread of its own."""

    tx_type = SqliteTx

    def __init__(self, url: str, bus: Bus, max_batch: int) -> None:
        super().__init__(max_batch)
        self.engine = _make_write_engine(url)
        self._bus = bus
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    async def migrate(self, upgrade: Callable[[Connection], None]) -> None:
        def run() -> None:
            with self.engine.begin() as conn:
                upgrade(conn)

        await asyncio.to_thread(run)

    async def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="forkflow-writer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._jobs.put(STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def close(self) -> None:
        await self.stop()
        self.engine.dispose()

    async def run(self, work: WriteUnit[T]) -> T:
        """Run `work` in the write transaction; return once it is committed and its events published."""
        if self._thread is None or self._loop is None or self._stopping:
            raise StoreUnavailable("the write path is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        job = Job(work, future)
        self._jobs.put(job)
        return await job.future

    @property
    def queued(self) -> int:
        return self._jobs.qsize()

    # In the writer's thread

    def _run(self) -> None:
        conn: Connection | None = None
        stopping = False
        while not stopping:
            batch = [self._jobs.get()]
            while len(batch) < self._max_batch and not self._jobs.empty():
                batch.append(self._jobs.get_nowait())
            if STOP in batch:
                stopping = True
            # A caller that went away before its turn (client disconnected) needs nothing written.
            jobs = [job for job in batch if job is not STOP and not job.future.done()]
            if not jobs:
                continue
            try:
                conn = conn or self.engine.connect()
                outcomes = self._commit(conn, jobs)
            except Exception:
                log.exception("write transaction failed; %d units not committed", len(jobs))
                if conn is not None:
                    conn.invalidate()
                    conn = None
                failed = StoreUnavailable("the database did not accept the write")
                outcomes = [Outcome(job, error=failed) for job in jobs]
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._finish, outcomes)
        if conn is not None:
            conn.close()
        # Anything queued after the stop: refused, never silently dropped.
        leftovers = []
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if job is not STOP:
                leftovers.append(Outcome(job, error=StoreUnavailable("the server is shutting down")))
        if leftovers and self._loop is not None:
            self._loop.call_soon_threadsafe(self._finish, leftovers)

    # Back on the event loop

    def _finish(self, outcomes: list[Outcome]) -> None:
        """Publish in commit order, then answer: a caller sees its result after its events are out."""
        for outcome in outcomes:
            for committed in outcome.events:
                self._bus.publish(committed)
        self._answer(outcomes)
