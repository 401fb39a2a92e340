"""The print worker's claim is a lease (forkflow/printing/__init__.py, point 2): it sends no job once
the lease may have lapsed, and its "printed" writes renew the lease only once half of it has passed
(a renewal is a statement in the writer's busiest write). The writes are stood in for: what is
checked is what the worker asks of them and what it concludes from their answers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any

from forkflow.config import Settings
from forkflow.printing.worker import Claimed, _lease, _Records
from forkflow.schema import utcnow

SETTINGS = Settings(printer_timeout_seconds=5.0)  # a lease of 12 s
LEASE = _lease(SETTINGS)


class Writes:
    """A store whose writes answer at once: every job printed, the claim renewed on what was asked."""

    settings = SETTINGS

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    async def write(self, unit: partial[Any]) -> tuple[int, set[int] | None]:
        self.asked.append(unit.keywords)
        renewing = unit.keywords["renewing"]
        return len(unit.keywords["jobs"]), None if renewing is None else set(renewing)


def claimed(ids: list[int], claimed_ago: timedelta, failing: bool = False) -> list[Claimed]:
    until = utcnow() - claimed_ago + LEASE
    return [Claimed(i, {"claimed_until": until}, "", "127.0.0.1", 9100, "Grill", failing) for i in ids]


def printing(jobs: list[Claimed]) -> tuple[Writes, _Records, list[int]]:
    store = Writes()
    left = [job.id for job in jobs]
    return store, _Records(store, "me", jobs, left, None), left  # type: ignore[arg-type]


def test_a_fresh_claim_is_recorded_without_renewing_and_the_printer_is_back_once() -> None:
    async def main() -> None:
        jobs = claimed([1, 2, 3], claimed_ago=timedelta(seconds=1), failing=True)
        store, records, left = printing(jobs)
        for job in jobs:
            assert records.holds(job)
            left.remove(job.id)
            records.add(job)
            await records.settle()
        assert [asked["renewing"] for asked in store.asked] == [None, None, None]
        assert [asked["back"] for asked in store.asked] == [True, False, False]  # one printer.status

    asyncio.run(main())


def test_past_half_the_lease_a_write_renews_the_claim_on_the_jobs_left() -> None:
    async def main() -> None:
        jobs = claimed([1, 2, 3], claimed_ago=LEASE * 0.6)
        store, records, left = printing(jobs)
        left.remove(1)
        records.add(jobs[0])
        await records.settle()
        assert store.asked[0]["renewing"] == [2, 3]
        assert records.until > utcnow() + LEASE * 0.9  # renewed from when it was asked
        left.remove(2)
        records.add(jobs[1])
        await records.settle()
        assert store.asked[1]["renewing"] is None  # fresh again

    asyncio.run(main())


def test_no_job_is_sent_once_the_claim_may_have_lapsed() -> None:
    jobs = claimed([1, 2], claimed_ago=LEASE + timedelta(milliseconds=1))
    _, records, _ = printing(jobs)
    assert not records.holds(jobs[0]) and not records.holds(jobs[1])
    # and a job this worker no longer holds (taken over after a lapse) is never sent either
    fresh = claimed([1, 2], claimed_ago=timedelta(0))
    _, records, _ = printing(fresh)
    records.renewed({2}, utcnow())
    assert not records.holds(fresh[0]) and records.holds(fresh[1])
