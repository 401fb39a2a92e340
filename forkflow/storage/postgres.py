"""PostgreSQL: the write path for several processes, and the event bus fed by LISTEN/NOTIFY.

On SQLite one process owns the database and publishes its own events after each commit. On
PostgreSQL any number of processes (uvicorn workers, hosts) write to one database, so:

- **Event ids are strictly increasing in commit order, across processes.** Every write
  transaction begins by taking one transaction-scoped advisory lock (`pg_advisory_xact_lock`),
  held until it commits or rolls back. So write transactions of all processes follow one
  another, like SQLite's single writer: a transaction can only take event ids (from the events
  table's sequence) after every earlier one has committed, and its ids are all larger than
  theirs. A listener that has seen id N has therefore seen every event committed before N, and
  `Last-Event-ID` replay (`id > N`) works on any process. (Ids may skip a number where a
  transaction rolled back; they never go backwards.)
- **Idempotency and stock hold across processes** on the database's own guarantees: the lock
  above, the idempotency key's primary key, and stock updates conditional on the quantity read.
- **Events reach every process through NOTIFY.** `PgTx.emit` sends `pg_notify` in the same
  transaction as the event row, so PostgreSQL delivers it exactly when the commit happens, in
  commit order, to every listening process (this one too). Each process's `PgListener` forwards
  them to its own bus; an event too big for a notification is sent by id and read back. When the
  listening connection drops it is made again, and whatever was committed meanwhile is read from
  the events table, so no listener misses an event.

`PgWriter` is the Store's `WritePath` here; it starts and stops this process's `PgListener`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..errors import StoreUnavailable
from ..events import ALL_TOPICS, Bus, Event
from .units import STOP, GroupCommit, Job, Outcome, Tx, WriteUnit

log = logging.getLogger("forkflow.pg")

T = TypeVar("T")
# Any fixed numbers: the keys of the advisory locks every write transaction, and every migration, takes first.
WRITE_LOCK = 7_263_001
MIGRATION_LOCK = 7_263_002
# Waiting for our own events to come back through LISTEN before answering; if the listener is
# down, the answer goes out anyway after this long and the events follow when it is back.
ECHO_TIMEOUT_SECONDS = 5.0
RECONNECT_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
CLOSE_TIMEOUT_SECONDS = 2.0

NOTIFY_CHANNEL = "forkflow_events"
# PostgreSQL refuses NOTIFY payloads from 8000 bytes; a bigger event is sent by id and read back.
NOTIFY_LIMIT = 7900

# Reads the events after an id, of these topics, at most this many, in id order (Store.events_after).
ReadAfter = Callable[[int, Iterable[str], int], Awaitable[list[Event]]]


def driver_dsn(url: str) -> str:
    """SQLAlchemy's `postgresql+asyncpg://...` as the plain URL asyncpg itself takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def notification(event: Event) -> str:
    """The NOTIFY payload of an event: all of it when it fits, else only its id."""
    created = event.created_at.isoformat()
    whole = f'{{"id":{event.id},"type":"{event.type}","created_at":"{created}","data":{event.data}}}'
    return whole if len(whole.encode()) <= NOTIFY_LIMIT else f'{{"id":{event.id}}}'


@functools.lru_cache(maxsize=256)
def _numbered(statement: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (our plain SQL has no `?` in literals)."""
    parts = statement.split("?")
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, start=1))


class PgTx(Tx):
    """Plain SQL through SQLAlchemy's connection, with numbered placeholders; every event also
    goes out as a notification, sent by PostgreSQL exactly when this transaction commits."""

    def sql(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        return self.conn.exec_driver_sql(_numbered(statement), tuple(parameters))

    def emit(self, event_type: str, payload: dict[str, Any]) -> Event:
        emitted = super().emit(event_type, payload)
        self.sql("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, notification(emitted)))
        return emitted


class PgWriter(GroupCommit):
    """The write path on PostgreSQL: batches run on the event loop (asyncpg through SQLAlchemy's
    `run_sync`), each in one transaction that first takes the write lock; events go out through
    NOTIFY and reach the bus through `PgListener`, so a caller is answered once its events are out."""

    tx_type = PgTx
    on_begin = (f"SELECT pg_advisory_xact_lock({WRITE_LOCK})",)

    def __init__(self, url: str, bus: Bus, max_batch: int, read_after: ReadAfter) -> None:
        super().__init__(max_batch)
        self.engine: AsyncEngine = create_async_engine(url, pool_size=2, max_overflow=2)
        self.listener = PgListener(url, bus, read_after)
        self._bus = bus
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[None]] = set()

    async def migrate(self, upgrade: Callable[[Connection], None]) -> None:
        # Several workers start at once: the first migrates, the others wait on its lock.
        def upgrade_locked(conn: Connection) -> None:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            upgrade(conn)

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade_locked)

    async def start(self) -> None:
        await self.listener.start()
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run_batches(), name="forkflow-pg-writer")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._queue.put_nowait(STOP)
            await self._task
            self._task = None

    async def close(self) -> None:
        await self.stop()
        await self.listener.stop()
        await self.engine.dispose()

    async def run(self, work: WriteUnit[T]) -> T:
        if self._task is None or self._loop is None or self._stopping:
            raise StoreUnavailable("the write path is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        job = Job(work, future)
        self._queue.put_nowait(job)
        return await job.future

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def _answer_when_published(self, outcomes: list[Outcome]) -> None:
        last = max((event.id for outcome in outcomes for event in outcome.events), default=0)
        if last and not await self._bus.published_through(last, ECHO_TIMEOUT_SECONDS):
            log.warning("events up to %d not back through LISTEN yet; answering anyway", last)
        self._answer(outcomes)

    async def _run_batches(self) -> None:
        stopping = False
        while not stopping:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            stopping = STOP in batch
            jobs = [job for job in batch if job is not STOP and not job.future.done()]
            if not jobs:
                continue
            try:
                async with self.engine.connect() as conn:
                    outcomes = await conn.run_sync(self._commit, jobs)
            except Exception:
                log.exception("write transaction failed; %d units not committed", len(jobs))
                failed = StoreUnavailable("the database did not accept the write")
                outcomes = [Outcome(job, error=failed) for job in jobs]
            # The next batch need not wait for this one's events to come back: answer when they do.
            answering = asyncio.create_task(self._answer_when_published(outcomes))
            self._answering.add(answering)
            answering.add_done_callback(self._answering.discard)
        await asyncio.gather(*self._answering)
        while not self._queue.empty():  # anything queued after the stop: refused, never dropped
            job = self._queue.get_nowait()
            if job is not STOP:
                self._answer([Outcome(job, error=StoreUnavailable("the server is shutting down"))])


class PgListener:
    """Forwards committed events from NOTIFY to this process's bus, in commit order, exactly once,
    reading from the events table whatever a notification did not carry or a dropped connection
    missed."""

    def __init__(self, url: str, bus: Bus, read_after: ReadAfter) -> None:
        self._dsn = driver_dsn(url)
        self._bus = bus
        self._read_after = read_after
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.reconnects = 0

    async def start(self) -> None:
        await self._connect()
        self._tasks = [
            asyncio.create_task(self._forward(), name="forkflow-pg-forward"),
            asyncio.create_task(self._keep_connected(), name="forkflow-pg-listen"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._conn is not None and not self._conn.is_closed():
            # A graceful close waits on the server, and on a query the cancelled keep-alive check
            # may have left in flight: bounded, so a busy database cannot hold the shutdown.
            try:
                await asyncio.wait_for(self._conn.close(), CLOSE_TIMEOUT_SECONDS)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                self._conn.terminate()

    @property
    def connection_pid(self) -> int | None:
        """The server process of the LISTEN connection (tests end it with pg_terminate_backend)."""
        return None if self._conn is None else self._conn.get_server_pid()

    async def _connect(self) -> None:
        self._lost.clear()
        conn = await asyncpg.connect(self._dsn)
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        self._conn = conn
        # Whatever committed while no connection was listening is read back from the table.
        self._inbox.put_nowait(None)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        # asyncpg hands every NOTIFY payload over as a str; its listener type says only object.
        self._inbox.put_nowait(str(payload))

    async def _keep_connected(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), timeout=2.0)
            except TimeoutError:  # no news: make sure the connection still answers
                try:
                    assert self._conn is not None
                    await asyncio.wait_for(self._conn.fetchval("SELECT 1"), timeout=2.0)
                    continue
                except Exception:
                    log.warning("the LISTEN connection stopped answering")
            await self._reconnect()

    async def _reconnect(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
        for attempt in range(10_000):
            try:
                await self._connect()
                self.reconnects += 1
                log.info("LISTEN connection made again")
                return
            except Exception as exc:
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                log.warning("cannot LISTEN (%s); trying again in %.2f s", exc, delay)
                await asyncio.sleep(delay)

    async def _forward(self) -> None:
        while True:
            payload = await self._inbox.get()
            try:
                await self._handle(payload)
            except Exception:
                # Nothing is lost: the next notification's gap, or the next reconnect, reads it back.
                log.exception("could not forward an event notification")

    async def _handle(self, payload: str | None) -> None:
        if payload is None:
            await self._catch_up()
            return
        message = json.loads(payload)
        event_id = message["id"]
        if event_id <= self._bus.last_event_id:
            return  # already published (read back during a catch-up)
        if event_id > self._bus.last_event_id + 1 or "data" not in message:
            await self._catch_up(through=event_id)  # fills any gap, and reads a too-big event
            return
        data = json.dumps(message["data"], separators=(",", ":"), ensure_ascii=False)
        created_at = datetime.fromisoformat(message["created_at"])
        self._bus.publish(Event(event_id, message["type"], data, created_at))

    async def _catch_up(self, through: int | None = None) -> None:
        while True:
            # Every topic, the internal one too: the gap check counts on seeing every id.
            missed = await self._read_after(self._bus.last_event_id, ALL_TOPICS, 500)
            for event in missed:
                if through is not None and event.id > through:
                    return  # later ones come with their own notifications
                self._bus.publish(event)
            if len(missed) < 500:
                return
