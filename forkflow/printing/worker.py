"""The print worker: claims due jobs, sends them, and records what each printer did.

Started in the app's lifespan, one per process. It wakes when jobs are queued (`print.queued` on
the bus, from any process on PostgreSQL), when a printer's set-up changes, when a retry is due,
and every FORKFLOW_PRINT_POLL_SECONDS whatever happens. The exactly-once rules it keeps are
forkflow/printing/__init__.py's: it claims a printer's due jobs in one write unit (a lease,
`claimed_until`, that a dead process's claim lapses from), sends them one at a time in id order
(several printers at once), and marks each printed only after transport.send returned. The
"printed" writes run beside the next sends (`_Recorder`, one per worker): one write takes every
job printed, on any printer, while the one before it ran, so a backlog or an order's chits at
three stations are recorded in one write, of a handful of statements whatever its number of jobs
(one `print.printed` for them all). A claim renews itself in those writes once half of it has
passed, and no job is sent once the claim may have lapsed.

On failure a job is retried with backoff (FORKFLOW_PRINTER_RETRY_SECONDS doubling up to
FORKFLOW_PRINTER_RETRY_MAX_SECONDS); once its printer has been failing for
FORKFLOW_PRINTER_BACKUP_SECONDS its queued jobs go to its backup, headed "BACKUP FOR <name>"
(`print.rerouted`). Every failure and recovery is a `printer.status` event.

Shutting down (`stop` set): no new job is started; the sends in flight finish (each is bounded by
FORKFLOW_PRINTER_TIMEOUT_SECONDS) and are recorded; the claims not started are let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, select, update

from ..config import Settings
from ..errors import ServiceError
from ..events import Event
from ..schema import events, print_jobs, printers, utcnow
from ..store import Store, Tx
from .jobs import BACKUP_FOR
from .render import render
from .status import load_printer
from .transport import PrinterError, send

log = logging.getLogger("forkflow.printing")

# Told, in the write that records them, that a printer printed jobs (their print_jobs rows, each
# with MEANT_STATIONS, and the name of the printer that printed them): proof of sight counts a
# station's chit as seen (app.py wires it; printing/ imports nothing of services/).
OnPrinted = Callable[[Tx, Sequence[Mapping[str, Any]], str], None]
# A claimed job's row also carries the stations (JSON text) of the printer it was meant for (its
# `printer_id`; `target_printer_id` may be that printer's backup), as the claim read them.
MEANT_STATIONS = "meant_stations"

PER_CLAIM = 20  # a printer's jobs claimed at once at most (its "printed" writes renew the claim on the rest)
_WAKING = ("print.queued", "printer.created", "printer.updated")


@dataclass(slots=True)
class Claimed:
    """One job, claimed, with what sending it needs, and its printer as the claim found it."""

    id: int
    row: Any  # its print_jobs row (a RowMapping), with MEANT_STATIONS
    payload: str
    host: str
    port: int
    printer_name: str
    printer_failing: bool  # the printer had failed and not printed since (a print now says it is back)


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _lease(settings: Settings) -> timedelta:
    """How long a claim holds: a send's bound, twice over. Each job recorded renews the claim on the
    printer's jobs still waiting (`renew`), so a dead process's jobs are taken over this soon."""
    return timedelta(seconds=2 * (settings.printer_timeout_seconds + 1))


# The claim's statements, built once (the claim runs on every wake-up, in the busiest write there is).
_QUEUED = (
    select(print_jobs.c.id, print_jobs.c.target_printer_id, print_jobs.c.next_attempt_at, print_jobs.c.claimed_until)
    .where(print_jobs.c.status == "queued")
    .order_by(print_jobs.c.id)
)
_QUEUED_LOCKED = _QUEUED.with_for_update(skip_locked=True)  # (PostgreSQL: see printing/__init__.py, point 2)
_IDS: BindParameter[int] = bindparam("ids", expanding=True)
_CLAIM = (
    update(print_jobs)
    .where(
        print_jobs.c.id.in_(_IDS),
        print_jobs.c.status == "queued",
        print_jobs.c.claimed_until.is_(None) | (print_jobs.c.claimed_until < bindparam("now")),
    )
    .values(claimed_by=bindparam("me"), claimed_until=bindparam("until"))
)
_meant = printers.alias("meant")
_CLAIMED = (
    select(
        print_jobs,
        events.c.payload,
        printers.c.host,
        printers.c.port,
        printers.c.name.label("printer_name"),
        printers.c.failing_since.label("printer_failing_since"),
        _meant.c.stations.label(MEANT_STATIONS),
    )
    .join(printers, printers.c.id == print_jobs.c.target_printer_id)
    .join(_meant, _meant.c.id == print_jobs.c.printer_id)
    .join(events, events.c.id == print_jobs.c.event_id, isouter=True)
    .where(
        print_jobs.c.id.in_(_IDS),
        print_jobs.c.claimed_by == bindparam("me"),
        print_jobs.c.claimed_until == bindparam("until"),
    )
    .order_by(print_jobs.c.id)
)


def claim(
    tx: Tx, me: str, settings: Settings, skip: frozenset[int]
) -> tuple[dict[int, list[Claimed]], datetime | None]:
    """Claim, per printer not being sent to by anyone (nor in `skip`), its due jobs in id order:
    only if its oldest queued job is due, so a later job never overtakes one waiting to retry.
    Also when the next job not claimed now falls due (a retry's time), if any: the worker sleeps
    until then (a batch's end, and jobs queued, wake it anyway)."""
    now = tx.now
    queued = _QUEUED_LOCKED if tx.conn.dialect.name == "postgresql" else _QUEUED
    by_printer: dict[int, list[Any]] = {}
    for row in tx.conn.execute(queued):
        by_printer.setdefault(row.target_printer_id, []).append(row)
    taken: dict[int, list[int]] = {}
    upcoming: datetime | None = None
    for printer_id, rows in by_printer.items():
        if printer_id in skip:
            continue  # (this worker is sending to it: the batch's end wakes the worker)
        held = [r.claimed_until for r in rows if r.claimed_until is not None and r.claimed_until >= now]
        due: list[int] = []
        for row in [] if held else rows:
            if row.next_attempt_at > now or len(due) == PER_CLAIM:
                break
            due.append(row.id)
        if due:
            taken[printer_id] = due
            continue
        # Another worker's claim may lapse (it died), or the oldest job's retry comes due.
        then = max(held) if held else rows[0].next_attempt_at
        upcoming = then if upcoming is None else min(upcoming, then)
    if not taken:
        return {}, upcoming
    ids = [job_id for due in taken.values() for job_id in due]
    until = now + _lease(settings)
    tx.conn.execute(_CLAIM, {"ids": ids, "now": now, "me": me, "until": until})
    claimed = tx.conn.execute(_CLAIMED, {"ids": ids, "me": me, "until": until}).mappings()
    found: dict[int, list[Claimed]] = {}
    for r in claimed:
        job = Claimed(
            r["id"],
            r,
            r["payload"] or "",
            r["host"],
            r["port"],
            r["printer_name"],
            r["printer_failing_since"] is not None,
        )
        found.setdefault(r["target_printer_id"], []).append(job)
    return found, upcoming


def _mine(job_id: int, me: str) -> tuple[Any, ...]:
    return (print_jobs.c.id == job_id, print_jobs.c.status == "queued", print_jobs.c.claimed_by == me)


def _status_event(tx: Tx, printer_id: int) -> None:
    tx.emit("printer.status", load_printer(tx.conn, printer_id))


def renew(tx: Tx, ids: list[int], me: str, settings: Settings) -> set[int]:
    """Extend this worker's claim on `ids` (its next jobs for one printer); the ids still its own.
    A job whose claim lapsed (and may have been taken over) is never sent by this worker."""
    if not ids:
        return set()
    renewed = tx.conn.execute(
        update(print_jobs)
        .where(print_jobs.c.id.in_(ids), print_jobs.c.claimed_by == me, print_jobs.c.status == "queued")
        .values(claimed_until=tx.now + _lease(settings))
        .returning(print_jobs.c.id)
    )
    return set(renewed.scalars())


Answer = tuple[int, set[int] | None]  # a printer's batch recorded: its jobs still this worker's, the ids renewed


@dataclass(slots=True)
class Printed:
    """One printer's jobs printed since the last write, the claim to renew on its jobs still to
    send (None: not yet), and whether these prints are its recovery (`printer.status`)."""

    jobs: list[Claimed]
    renewing: list[int] | None
    back: bool


def recorded(
    tx: Tx, batches: list[Printed], me: str, settings: Settings, on_printed: OnPrinted | None = None
) -> list[Answer]:
    """`printed` for every printer's batch, and each claim renewed where asked, in one write: per
    batch, how many of its jobs were still this worker's, and the ids it still holds if renewed."""
    back = {batch.jobs[0].row["target_printer_id"] for batch in batches if batch.back}
    done = printed(tx, [job for batch in batches for job in batch.jobs], me, back, on_printed)
    return [
        (
            sum(job.id in done for job in batch.jobs),
            None if batch.renewing is None else renew(tx, batch.renewing, me, settings),
        )
        for batch in batches
    ]


def printed(
    tx: Tx,
    jobs: list[Claimed],
    me: str,
    back: set[int] | frozenset[int] = frozenset(),
    on_printed: OnPrinted | None = None,
) -> set[int]:
    """Record that printers took these jobs (point 3 of the invariant), in a few statements
    whatever their number and printers; the ids that were still this worker's (a job whose claim
    was lost meanwhile was already recorded by whoever took it over). `back`: printers that had
    been failing, so this print is their recovery (`printer.status`).

    A job is printed on the printer it was claimed for (`target_printer_id`): that changes only on
    a reroute, which only the holder of the printer's claim makes, after recording its prints."""
    if not jobs:
        return set()
    ids = [job.id for job in jobs]
    done = {
        row[0]
        for row in tx.sql(
            "UPDATE print_jobs SET status = 'printed', printed_at = ?, printed_on = target_printer_id, "
            f"claimed_by = NULL, claimed_until = NULL, error = NULL WHERE id IN ({', '.join('?' * len(ids))}) "
            "AND status = 'queued' AND claimed_by = ? RETURNING id",
            (tx.stored_now, *ids, me),
        ).fetchall()
    }
    if not done:
        return done
    by_printer: dict[int, list[Claimed]] = {}
    for job in jobs:
        if job.id in done:
            by_printer.setdefault(job.row["target_printer_id"], []).append(job)
    tx.sql(
        f"UPDATE printers SET last_ok_at = ?, failing_since = NULL WHERE id IN ({', '.join('?' * len(by_printer))})",
        (tx.stored_now, *by_printer),
    )
    printed_jobs = [
        {
            "id": job.id,
            "kind": job.row["kind"],
            "order_id": job.row["order_id"],
            "station": job.row["station"],
            "copy": job.row["copy"],
            "printer_id": job.row["printer_id"],
            "printed_on": printer_id,
        }
        for printer_id, ours in by_printer.items()
        for job in ours
    ]
    tx.emit("print.printed", {"jobs": printed_jobs})
    for printer_id, ours in by_printer.items():
        if on_printed is not None:
            on_printed(tx, [job.row for job in ours], ours[0].printer_name)
        if printer_id in back:
            _status_event(tx, printer_id)
    return done


def failed(tx: Tx, job: Claimed, me: str, error: str, settings: Settings) -> None:
    """A send failed: the job waits for its retry; the printer shows as failing (`printer.status`);
    once it has failed for the backup delay, its queued jobs go to its backup (`print.rerouted`)."""
    printer_id = job.row["target_printer_id"]
    attempts = int(job.row["attempts"]) + 1
    delay = min(settings.printer_retry_seconds * 2 ** (attempts - 1), settings.printer_retry_max_seconds)
    tx.conn.execute(
        update(print_jobs)
        .where(*_mine(job.id, me))
        .values(
            attempts=attempts,
            next_attempt_at=tx.now + timedelta(seconds=delay),
            first_failed_at=func.coalesce(print_jobs.c.first_failed_at, tx.now),
            error=error,
            claimed_by=None,
            claimed_until=None,
        )
    )
    tx.conn.execute(
        update(printers)
        .where(printers.c.id == printer_id)
        .values(last_error=error, last_error_at=tx.now, failing_since=func.coalesce(printers.c.failing_since, tx.now))
    )
    printer = tx.conn.execute(select(printers).where(printers.c.id == printer_id)).mappings().one()
    since: datetime = printer["failing_since"]
    backup = printer["backup_printer_id"]
    if backup is not None and tx.now - since >= timedelta(seconds=settings.printer_backup_seconds):
        _reroute(tx, printer_id, printer["name"], backup)
    _status_event(tx, printer_id)


def _reroute(tx: Tx, printer_id: int, name: str, backup: int) -> None:
    """Every queued job of a failing printer goes to its backup, headed BACKUP FOR <name>."""
    moved = tx.conn.execute(
        select(print_jobs.c.id, print_jobs.c.headers).where(
            print_jobs.c.status == "queued", print_jobs.c.target_printer_id == printer_id
        )
    ).all()
    header = BACKUP_FOR + name
    for job_id, headers in moved:
        kept = [h for h in json.loads(headers) if not h.startswith(BACKUP_FOR)]
        tx.conn.execute(
            update(print_jobs)
            .where(print_jobs.c.id == job_id)
            .values(
                target_printer_id=backup,
                headers=json.dumps([header, *kept]),
                next_attempt_at=tx.now,
                first_failed_at=None,
                claimed_by=None,
                claimed_until=None,
            )
        )
    if moved:
        tx.emit(
            "print.rerouted",
            {"id": printer_id, "name": name, "backup_printer_id": backup, "jobs": [j for j, _ in moved]},
        )


def unusable(tx: Tx, job: Claimed, me: str, error: str) -> None:
    """A job that can never print (its event is gone, or it cannot be rendered): failed, for good."""
    tx.conn.execute(
        update(print_jobs)
        .where(*_mine(job.id, me))
        .values(status="failed", error=error, claimed_by=None, claimed_until=None)
    )
    tx.emit("print.failed", {"id": job.id, "order_id": job.row["order_id"], "error": error})


def release(tx: Tx, ids: list[int], me: str) -> None:
    """Let go of claimed jobs not started (a failure before them, or shutting down)."""
    if ids:
        tx.conn.execute(
            update(print_jobs)
            .where(print_jobs.c.id.in_(ids), print_jobs.c.claimed_by == me, print_jobs.c.status == "queued")
            .values(claimed_by=None, claimed_until=None)
        )


class _Claim:
    """One printer's claimed jobs while they print: the ids not started yet (`left`), those still
    this worker's (`mine`), and the claim's end as this process's clock puts it (`until`, never
    later than the database's). A job may be sent only while the claim `holds` it."""

    def __init__(self, jobs: list[Claimed]) -> None:
        self.left = [job.id for job in jobs]
        self.mine = set(self.left)  # just claimed
        self.until: datetime = jobs[0].row["claimed_until"]  # the claim's end, as the claim wrote it
        self.back = jobs[0].printer_failing  # the next print is the printer's recovery

    def holds(self, job: Claimed) -> bool:
        return job.id in self.mine and utcnow() < self.until

    def renewing(self, asked: datetime, lease: timedelta) -> list[int] | None:
        """The jobs to renew the claim on in a write begun at `asked`: once half the lease has passed."""
        return list(self.left) if self.left and asked >= self.until - lease / 2 else None

    def renewed(self, mine: set[int], asked: datetime, lease: timedelta) -> None:
        """The claim on `mine` renewed by a write begun at `asked` (or later: its end is no earlier)."""
        self.mine, self.until = mine, asked + lease


class _Recorder:
    """The worker's printed jobs on their way to the database while the next ones print, every
    printer's together: one write at a time, each taking every job printed (on any printer) since
    the last began, so printers with a backlog, or an order's chits printing at once on three
    stations, cost one write and one `print.printed`, not one per chit, and no send waits on a
    write. A write also renews each claim past half its lease (`_Claim.renewing`).

    A write that fails leaves its jobs unrecorded: their claims lapse and they print again (the one
    window of point "the process loses its database" in printing/__init__.py)."""

    def __init__(self, store: Store, me: str, on_printed: OnPrinted | None) -> None:
        self.store = store
        self.me = me
        self.on_printed = on_printed
        self.waiting: dict[_Claim, list[Claimed]] = {}
        # The write running: its task, its claims with their number of jobs, when it was asked,
        # and `added` when it began (it takes every job waiting: all of those).
        self.writing: tuple[asyncio.Task[list[Answer]], list[tuple[_Claim, int]], datetime, int] | None
        self.writing = None
        self.added = 0  # jobs added so far
        self.through = 0  # of those, the first `through` are written (or their write failed)

    def add(self, claim: _Claim, job: Claimed) -> None:
        self.waiting.setdefault(claim, []).append(job)
        self.added += 1
        if self.writing is None:
            self._write()

    def _write(self) -> None:
        waiting, self.waiting = self.waiting, {}
        settings, asked = self.store.settings, utcnow()
        lease = _lease(settings)
        batches, claims = [], []
        for claim, jobs in waiting.items():
            batches.append(Printed(jobs, claim.renewing(asked, lease), claim.back))
            claims.append((claim, len(jobs)))
            claim.back = False
        unit = partial(recorded, batches=batches, me=self.me, settings=settings, on_printed=self.on_printed)
        self.writing = (asyncio.create_task(self.store.write(unit)), claims, asked, self.added)

    def _written(self) -> None:
        assert self.writing is not None
        task, claims, asked, through = self.writing
        self.writing, self.through = None, through
        if task.cancelled() or task.exception() is not None:
            sent = sum(n for _, n in claims)
            log.error("%d printed jobs could not be recorded: they print again once their claim lapses", sent)
        else:
            lease = _lease(self.store.settings)
            for (claim, sent), (done, mine) in zip(claims, task.result(), strict=True):
                if mine is not None:
                    claim.renewed(mine, asked, lease)
                if done < sent:
                    log.warning(
                        "%d print jobs printed after their claim lapsed (printed by another worker too?)", sent - done
                    )
        if self.waiting:
            self._write()

    def poll(self) -> None:
        """Take a finished write's answer, if there is one, and start the next."""
        if self.writing is not None and self.writing[0].done():
            self._written()

    async def settle(self) -> None:
        """Wait until every job added so far is recorded (or its write has failed): two writes at
        most, however busy the other printers keep the recorder."""
        target = self.added
        while self.through < target and self.writing is not None:
            await asyncio.wait({self.writing[0]})
            self._written()


async def _print_all(store: Store, me: str, jobs: list[Claimed], stop: asyncio.Event, recorder: _Recorder) -> None:
    """One printer's claimed jobs, one at a time, in id order; stops at the first failure, or at
    a job whose claim this worker no longer holds. Every job the printer took is recorded before
    this returns, also when it is cancelled."""
    settings = store.settings
    claim = _Claim(jobs)
    try:
        for job in jobs:
            recorder.poll()
            if stop.is_set() or not claim.holds(job):
                break
            claim.left.remove(job.id)
            try:
                data = render(job.row, job.payload, settings)
            except Exception as exc:  # a job that cannot be rendered never will be
                log.exception("print job %d cannot be rendered", job.id)
                await recorder.settle()
                await store.write(partial(unusable, job=job, me=me, error=f"cannot be rendered: {exc}"))
                asked = utcnow()
                mine = await store.write(partial(renew, ids=list(claim.left), me=me, settings=settings))
                claim.renewed(mine, asked, _lease(settings))
                continue
            try:
                await send(job.host, job.port, data, settings.printer_timeout_seconds)
            except PrinterError as exc:
                reason = f"{job.host}:{job.port}: {exc}"
                log.warning("print job %d: %s", job.id, reason)
                await recorder.settle()
                await store.write(partial(failed, job=job, me=me, error=reason, settings=settings))
                break
            recorder.add(claim, job)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(recorder.settle())
        if claim.left:
            with contextlib.suppress(Exception):
                await asyncio.shield(store.write(partial(release, ids=claim.left, me=me)))


def _finished(sending: dict[int, asyncio.Task[None]], printer_id: int, wake: asyncio.Event, _: object) -> None:
    """A printer's batch is over: its next jobs may be claimed (now: they may be due)."""
    sending.pop(printer_id, None)
    wake.set()


def _waker(wake: asyncio.Event) -> Callable[[Event], None]:
    def heard(event: Event) -> None:
        if event.type in _WAKING:
            wake.set()

    return heard


async def print_worker(store: Store, stop: asyncio.Event, on_printed: OnPrinted | None = None) -> None:
    """Print queued jobs until `stop` is set (then finish the sends in flight) or cancelled."""
    settings = store.settings
    me = worker_name()
    wake = asyncio.Event()
    listener = _waker(wake)
    store.bus.listeners.append(listener)
    sending: dict[int, asyncio.Task[None]] = {}
    recorder = _Recorder(store, me, on_printed)
    stopping = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            wake.clear()
            delay = settings.print_poll_seconds
            try:
                claimed, upcoming = await store.write(partial(claim, me=me, settings=settings, skip=frozenset(sending)))
                for printer_id, jobs in claimed.items():
                    task = asyncio.create_task(_print_all(store, me, jobs, stop, recorder))
                    sending[printer_id] = task
                    task.add_done_callback(partial(_finished, sending, printer_id, wake))
                if upcoming is not None:
                    delay = min(max((upcoming - utcnow()).total_seconds(), 0.05), delay)
            except ServiceError:
                log.warning("could not claim print jobs; will try again")
            except Exception:  # the worker must outlive any one failure: chits wait on it
                log.exception("claiming print jobs failed; will try again")
            waiting = asyncio.create_task(wake.wait())
            await asyncio.wait({waiting, stopping}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
        if sending:
            await asyncio.wait(set(sending.values()), timeout=settings.printer_timeout_seconds + 2)
    finally:
        stopping.cancel()
        for task in sending.values():
            task.cancel()
        store.bus.listeners.remove(listener)
