"""Write units, their `Tx`, group commit, and the `WritePath` every backend offers the Store.

Every write of the process is a *write unit*: a plain, synchronous function of a `Tx`, handed to
the backend's write path. The write path takes every unit that is queued, runs them all in one
transaction (a group commit: a unit that fails rolls back alone, see `GroupCommit._commit`),
commits, and only then answers their callers, once the units' events are out on the bus, in
commit order.

Write units are synchronous on purpose: a whole batch runs with one hand-off to and from the
event loop, instead of one per statement.

What differs between databases lives in each backend's module, behind `WritePath`:
`storage/sqlite.py` (one writer thread, `BEGIN IMMEDIATE`, events published after the commit) and
`storage/postgres.py` (the write lock, NOTIFY, and the listener that feeds the bus).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection

from ..events import Event, topic_of
from ..schema import utcnow

T = TypeVar("T")

INSERT_EVENT = "INSERT INTO events (type, topic, payload, created_at) VALUES (?, ?, ?, ?) RETURNING id"
# An event's JSON, made once per event in the writer (and sent as the answer too: `Encoded`). One
# encoder for all: `json.dumps` with options builds a new one per call. Payloads are fresh trees of
# plain values, so the check for cycles (a lookup per list and dict) is skipped.
_EVENT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode


class Tx:
    """A write unit's handle on the write transaction: its connection, its clock, its events.

    Each backend has its own kind: how plain SQL reaches the database, how `now` is stored, and
    what else an emitted event needs."""

    def __init__(self, conn: Connection, cache: dict[str, Any] | None = None) -> None:
        self.conn = conn
        # The write path's own memory between units (one per Store, see `GroupCommit.cache`).
        self.cache: dict[str, Any] = {} if cache is None else cache
        self.now = utcnow()
        self.events: list[Event] = []
        # `now` as the database takes it in statements run with `sql`.
        self.stored_now: Any = self.now

    def stored(self, moment: datetime | None) -> Any:
        """A UTC moment as the database takes it in statements run with `sql` (as `stored_now`)."""
        return moment

    def sql(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        """Run plain SQL (`?` placeholders) inside this transaction: for the hottest statements,
        where SQLAlchemy's execution would cost more than the database's work."""
        raise NotImplementedError

    def emit(self, event_type: str, payload: dict[str, Any]) -> Event:
        """Write an event in this transaction; the bus gets it once the transaction commits."""
        data = _EVENT_JSON(payload)
        row = (event_type, topic_of(event_type), data, self.stored_now)
        event_id = self.sql(INSERT_EVENT, row).fetchone()[0]
        emitted = Event(event_id, event_type, data, self.now, payload.get("id"))
        self.events.append(emitted)
        return emitted


WriteUnit = Callable[[Tx], T]


@dataclass(slots=True)
class Job(Generic[T]):
    work: WriteUnit[T]
    future: asyncio.Future[T]


@dataclass(slots=True)
class Outcome:
    job: Job[Any]
    result: Any = None
    error: BaseException | None = None
    events: tuple[Event, ...] = ()


STOP = object()  # queued by `stop`: the batch it lands in is the last


class _BareUnitFailed(Exception):
    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class GroupCommit:
    """Runs batches of write units, one transaction each, every unit all-or-nothing. Each backend's
    writer builds on it; where batches run and how their events reach the bus are its own."""

    tx_type: type[Tx]
    # Statements that open every write transaction (PostgreSQL's writer takes its lock there).
    on_begin: tuple[str, ...] = ()

    def __init__(self, max_batch: int) -> None:
        self._max_batch = max_batch
        # What units keep between transactions (the order writer's menu rows, services/orders.py),
        # each entry checked by its user against the database. Emptied whenever a transaction or a
        # savepoint is rolled back: what a unit read there may never have been committed.
        self.cache: dict[str, Any] = {}
        self.batches = 0
        self.units = 0

    def _commit(self, conn: Connection, jobs: list[Job[Any]]) -> list[Outcome]:
        """Run a batch in one transaction, each unit all-or-nothing.

        Units first run bare: a SAVEPOINT and its RELEASE around every unit cost about a third of
        an order's write. When a bare unit fails, its error is its outcome, the transaction is rolled
        back, and the batch runs again: the units before it bare (they succeeded on this very state
        before), the failed one skipped, and every unit after it inside a savepoint of its own.
        """
        known: dict[int, Outcome] = {}
        guarded_from = len(jobs)
        while True:
            try:
                outcomes = self._attempt(conn, jobs, guarded_from, known)
            except _BareUnitFailed as failure:
                self.cache.clear()
                known[failure.index] = Outcome(jobs[failure.index], error=failure.error)
                guarded_from = min(guarded_from, failure.index + 1)
                continue
            except BaseException:  # the transaction did not commit
                self.cache.clear()
                raise
            self.batches += 1
            self.units += sum(outcome.error is None for outcome in outcomes)
            return outcomes

    def _attempt(
        self, conn: Connection, jobs: list[Job[Any]], guarded_from: int, known: dict[int, Outcome]
    ) -> list[Outcome]:
        outcomes = []
        with conn.begin():
            for statement in self.on_begin:
                conn.exec_driver_sql(statement)
            for index, job in enumerate(jobs):
                if index in known:
                    outcomes.append(known[index])
                    continue
                tx = self.tx_type(conn, self.cache)
                if index < guarded_from:
                    try:
                        result = job.work(tx)
                    except Exception as exc:  # rolls the whole transaction back; see _commit
                        raise _BareUnitFailed(index, exc) from exc
                else:
                    # Savepoints through `Tx.sql`: SQLAlchemy does not need to know of them.
                    tx.sql("SAVEPOINT unit")
                    try:
                        result = job.work(tx)
                    except Exception as exc:  # the unit's own failure: only it is rolled back
                        tx.sql("ROLLBACK TO SAVEPOINT unit")
                        tx.sql("RELEASE SAVEPOINT unit")
                        self.cache.clear()
                        outcomes.append(Outcome(job, error=exc))
                        continue
                    tx.sql("RELEASE SAVEPOINT unit")
                outcomes.append(Outcome(job, result=result, events=tuple(tx.events)))
        return outcomes

    @staticmethod
    def _answer(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            future = outcome.job.future
            if future.done():
                continue
            if outcome.error is not None:
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome.result)


class WritePath(Protocol):
    """What the Store asks of a backend: its one write path, and its events delivered to the bus.

    `run` answers once the unit is committed and its events are published on this process's bus."""

    batches: int  # transactions committed
    units: int  # units committed in them

    @property
    def queued(self) -> int:
        """Units waiting for their batch."""
        ...

    async def migrate(self, upgrade: Callable[[Connection], None]) -> None:
        """Bring the schema up to date with `upgrade`, run on a write connection in a transaction."""
        ...

    async def start(self) -> None: ...

    async def run(self, work: WriteUnit[T]) -> T: ...

    async def close(self) -> None:
        """Answer every unit queued, stop, and let go of the write connections."""
        ...
