"""The single write path: write units, run one batch at a time in a thread of their own.

SQLite allows one writer at a time. Rather than let request handlers race for that lock (the seed
monolith's `database is locked`), every write of the process is a *write unit*, a plain function of
a `Tx`, handed to the one `Writer`. Its thread owns the only write connection: it takes every unit
that is queued, runs them all in one `BEGIN IMMEDIATE` transaction (a group commit: a unit that
fails rolls back alone, see `Writer._commit`), commits, and only then hands the results back to the
event loop, which publishes the units' events in commit order and answers their callers.

Write units are synchronous on purpose: a whole batch runs in the writer's thread with one hand-off
to and from the event loop, instead of one per statement.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from .errors import StoreUnavailable
from .events import Bus, Event, topic_of
from .schema import stored_timestamp, utcnow

log = logging.getLogger("forkflow.writer")

T = TypeVar("T")


_INSERT_EVENT = "INSERT INTO events (type, topic, payload, created_at) VALUES (?, ?, ?, ?) RETURNING id"


class Tx:
    """A write unit's handle on the write transaction: its connection, its clock, its events."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.now = utcnow()
        self.events: list[Event] = []
        self.postgres = conn.dialect.name == "postgresql"
        # `now` as the database takes it in statements run with `sql`.
        self.stored_now: Any = self.now if self.postgres else stored_timestamp(self.now)
        if not self.postgres:
            driver = conn.connection.driver_connection
            assert driver is not None
            self._driver = driver

    def sql(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        """Run plain SQL (`?` placeholders) inside this transaction: for the hottest statements,
        where SQLAlchemy's execution would cost more than the database's work. On SQLite it goes
        straight to the driver's connection."""
        if self.postgres:
            return self.conn.exec_driver_sql(_numbered(statement), tuple(parameters))
        return self._driver.execute(statement, parameters)

    def emit(self, event_type: str, payload: dict[str, Any]) -> Event:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        row = (event_type, topic_of(event_type), data, self.stored_now)
        event_id = self.sql(_INSERT_EVENT, row).fetchone()[0]
        emitted = Event(event_id, event_type, data, self.now, payload.get("id"))
        if self.postgres:
            # Sent by PostgreSQL exactly when this transaction commits, to every process (pg.py).
            self.sql("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, notification(emitted)))
        self.events.append(emitted)
        return emitted


NOTIFY_CHANNEL = "forkflow_events"
# PostgreSQL refuses NOTIFY payloads from 8000 bytes; a bigger event is sent by id and read back.
NOTIFY_LIMIT = 7900


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


WriteUnit = Callable[[Tx], T]


@dataclass(slots=True)
class _Job(Generic[T]):
    work: WriteUnit[T]
    future: asyncio.Future[T]


@dataclass(slots=True)
class _Outcome:
    job: _Job[Any]
    result: Any = None
    error: BaseException | None = None
    events: tuple[Event, ...] = ()


_STOP = object()


class _BareUnitFailed(Exception):
    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class Writer:
    """The process's one serialized write path, with group commit, on a thread of its own."""

    # Statements that open every write transaction (PostgreSQL's writer takes its lock there).
    on_begin: tuple[str, ...] = ()

    def __init__(self, engine: Engine, bus: Bus, max_batch: int) -> None:
        self._engine = engine
        self._bus = bus
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.batches = 0
        self.units = 0

    async def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="forkflow-writer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def run(self, work: WriteUnit[T]) -> T:
        """Run `work` in the write transaction; return once it is committed and its events published."""
        if self._thread is None or self._loop is None or self._stopping:
            raise StoreUnavailable("the write path is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        job = _Job(work, future)
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
            if _STOP in batch:
                stopping = True
            # A caller that went away before its turn (client disconnected) needs nothing written.
            jobs = [job for job in batch if job is not _STOP and not job.future.done()]
            if not jobs:
                continue
            try:
                conn = conn or self._engine.connect()
                outcomes = self._commit(conn, jobs)
            except Exception:
                log.exception("write transaction failed; %d units not committed", len(jobs))
                if conn is not None:
                    conn.invalidate()
                    conn = None
                failed = StoreUnavailable("the database did not accept the write")
                outcomes = [_Outcome(job, error=failed) for job in jobs]
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._finish, outcomes)
        if conn is not None:
            conn.close()
        # Anything queued after the stop: refused, never silently dropped.
        leftovers = []
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if job is not _STOP:
                leftovers.append(_Outcome(job, error=StoreUnavailable("the server is shutting down")))
        if leftovers and self._loop is not None:
            self._loop.call_soon_threadsafe(self._finish, leftovers)

    def _commit(self, conn: Connection, jobs: list[_Job[Any]]) -> list[_Outcome]:
        """Run a batch in one transaction, each unit all-or-nothing.

        Units first run bare: a SAVEPOINT and its RELEASE around every unit cost about a third of
        an order's write. When a bare unit fails, its error is its outcome, the transaction is rolled
        back, and the batch runs again: the units before it bare (they succeeded on this very state
        before), the failed one skipped, and every unit after it inside a savepoint of its own.
        """
        known: dict[int, _Outcome] = {}
        guarded_from = len(jobs)
        while True:
            try:
                outcomes = self._attempt(conn, jobs, guarded_from, known)
            except _BareUnitFailed as failure:
                known[failure.index] = _Outcome(jobs[failure.index], error=failure.error)
                guarded_from = min(guarded_from, failure.index + 1)
                continue
            self.batches += 1
            self.units += sum(outcome.error is None for outcome in outcomes)
            return outcomes

    def _attempt(
        self, conn: Connection, jobs: list[_Job[Any]], guarded_from: int, known: dict[int, _Outcome]
    ) -> list[_Outcome]:
        outcomes = []
        with conn.begin():
            for statement in self.on_begin:
                conn.exec_driver_sql(statement)
            # Savepoints straight on SQLite's driver connection: SQLAlchemy does not need to know of them.
            driver = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
            raw: Callable[[str], Any] = driver.execute if driver is not None else conn.exec_driver_sql
            for index, job in enumerate(jobs):
                if index in known:
                    outcomes.append(known[index])
                    continue
                tx = Tx(conn)
                if index < guarded_from:
                    try:
                        result = job.work(tx)
                    except Exception as exc:  # rolls the whole transaction back; see _commit
                        raise _BareUnitFailed(index, exc) from exc
                else:
                    raw("SAVEPOINT unit")
                    try:
                        result = job.work(tx)
                    except Exception as exc:  # the unit's own failure: only it is rolled back
                        raw("ROLLBACK TO SAVEPOINT unit")
                        raw("RELEASE SAVEPOINT unit")
                        outcomes.append(_Outcome(job, error=exc))
                        continue
                    raw("RELEASE SAVEPOINT unit")
                outcomes.append(_Outcome(job, result=result, events=tuple(tx.events)))
        return outcomes

    # Back on the event loop

    def _finish(self, outcomes: list[_Outcome]) -> None:
        """Publish in commit order, then answer: a caller sees its result after its events are out."""
        for outcome in outcomes:
            for event in outcome.events:
                self._bus.publish(event)
        self._answer(outcomes)

    @staticmethod
    def _answer(outcomes: list[_Outcome]) -> None:
        for outcome in outcomes:
            future = outcome.job.future
            if future.done():
                continue
            if outcome.error is not None:
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome.result)
