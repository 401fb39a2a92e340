"""The print worker's claim is a lease (forkflow/printing/__init__.py, point 2): it sends no job once
the lease may have lapsed, and its "printed" writes renew the lease only once half of it has passed
(a renewal is a statement in the writer's busiest write). The writes are stood in for: what is
checked is what the worker asks of them and what it concludes from their answers. One recorder
serves every printer of the worker: their prints since the last write go in one write."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any

from forkflow.config import Settings
from forkflow.printing.worker import Claimed, Printed, _Claim, _lease, _Recorder
from forkflow.schema import utcnow

SETTINGS = Settings(printer_timeout_seconds=5.0)  # a lease of 12 s
LEASE = _lease(SETTINGS)


class Writes:
    """A store whose writes answer at once: every job printed, the claim renewed on what was asked."""

    settings = SETTINGS

    def __init__(self) -> None:
        self.asked: list[Printed] = []  # the batches of every write, in order
        self.writes = 0

    async def write(self, unit: partial[Any]) -> list[tuple[int, set[int] | None]]:
        batches: list[Printed] = unit.keywords["batches"]
        self.writes += 1
        self.asked += batches
        return [(len(b.jobs), None if b.renewing is None else set(b.renewing)) for b in batches]


def claimed(ids: list[int], claimed_ago: timedelta, failing: bool = False, printer: int = 1) -> list[Claimed]:
    until = utcnow() - claimed_ago + LEASE
    row = {"claimed_until": until, "target_printer_id": printer}
    return [Claimed(i, row, "", "127.0.0.1", 9100, "Grill", failing) for i in ids]


def printing(jobs: list[Claimed]) -> tuple[Writes, _Recorder, _Claim]:
    store = Writes()
    return store, _Recorder(store, "me", None), _Claim(jobs)  # type: ignore[arg-type]


def test_a_fresh_claim_is_recorded_without_renewing_and_the_printer_is_back_once() -> None:
    async def main() -> None:
        jobs = claimed([1, 2, 3], claimed_ago=timedelta(seconds=1), failing=True)
        store, records, claim = printing(jobs)
        for job in jobs:
            assert claim.holds(job)
            claim.left.remove(job.id)
            records.add(claim, job)
            await records.settle()
        assert [asked.renewing for asked in store.asked] == [None, None, None]
        assert [asked.back for asked in store.asked] == [True, False, False]  # one printer.status

    asyncio.run(main())


def test_past_half_the_lease_a_write_renews_the_claim_on_the_jobs_left() -> None:
    async def main() -> None:
        jobs = claimed([1, 2, 3], claimed_ago=LEASE * 0.6)
        store, records, claim = printing(jobs)
        claim.left.remove(1)
        records.add(claim, jobs[0])
        await records.settle()
        assert store.asked[0].renewing == [2, 3]
        assert claim.until > utcnow() + LEASE * 0.9  # renewed from when it was asked
        claim.left.remove(2)
        records.add(claim, jobs[1])
        await records.settle()
        assert store.asked[1].renewing is None  # fresh again

    asyncio.run(main())


def test_no_job_is_sent_once_the_claim_may_have_lapsed() -> None:
    jobs = claimed([1, 2], claimed_ago=LEASE + timedelta(milliseconds=1))
    _, _, claim = printing(jobs)
    assert not claim.holds(jobs[0]) and not claim.holds(jobs[1])
    # and a job this worker no longer holds (taken over after a lapse) is never sent either
    fresh = claimed([1, 2], claimed_ago=timedelta(0))
    _, _, claim = printing(fresh)
    claim.renewed({2}, utcnow(), LEASE)
    assert not claim.holds(fresh[0]) and claim.holds(fresh[1])


def test_every_printers_prints_since_the_last_write_go_in_the_next_write() -> None:
    async def main() -> None:
        grill, fryer, bar = (claimed([p * 10 + 1, p * 10 + 2], timedelta(seconds=1), printer=p) for p in (1, 2, 3))
        store, records, _ = printing(grill)
        claims = [_Claim(jobs) for jobs in (grill, fryer, bar)]
        records.add(claims[0], grill[0])  # the first starts a write at once
        for claim, jobs in zip(claims, (grill, fryer, bar), strict=True):  # the rest print meanwhile
            records.add(claim, jobs[-1])
        await records.settle()
        assert store.writes == 2
        assert [[job.id for job in batch.jobs] for batch in store.asked] == [[11], [12], [22], [32]]

    asyncio.run(main())


def test_settling_waits_for_the_jobs_added_so_far_not_for_a_busy_printer_beside_it() -> None:
    async def main() -> None:
        grill, bar = (
            claimed([1], timedelta(seconds=1), printer=1),
            claimed(list(range(100, 10_000)), timedelta(0), printer=2),
        )
        store, records, _ = printing(grill)
        grill_claim, bar_claim = _Claim(grill), _Claim(bar)

        async def busy_bar() -> None:  # a printer that never stops printing
            for job in bar:
                records.add(bar_claim, job)
                await asyncio.sleep(0)

        beside = asyncio.create_task(busy_bar())
        await asyncio.sleep(0)
        records.add(grill_claim, grill[0])
        await asyncio.wait_for(records.settle(), timeout=5)  # the grill's failure may now be written
        assert any(job.id == 1 for batch in store.asked for job in batch.jobs)
        assert not beside.done()
        beside.cancel()

    asyncio.run(main())
