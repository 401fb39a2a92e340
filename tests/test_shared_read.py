"""The displays' shared read (live.SharedRead): one read serves every stream that needs the state
as of an event it shows, a read never serves an event newer than it can show, and a failed read
is never kept."""

from __future__ import annotations

import asyncio

from forkflow.live import SharedRead


class Reads:
    """A read that counts its calls and finishes when told."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.fail = False

    async def __call__(self) -> int:
        self.calls += 1
        call = self.calls
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the database went away")
        return call


async def test_streams_at_events_a_running_read_shows_share_it() -> None:
    reads = Reads()
    shared = SharedRead(reads)
    # Asked at event 5 when the process had published 9: the read shows at least event 9.
    first = asyncio.ensure_future(shared.as_of(5, 9))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(shared.as_of(event_id, 9)) for event_id in (5, 7, 9)]
    await asyncio.sleep(0)
    reads.release.set()
    assert await first == (9, 1)
    assert await asyncio.gather(*others) == [(9, 1)] * 3
    assert reads.calls == 1
    # Finished, it still serves any event it shows, without reading again.
    assert await shared.as_of(8, 12) == (9, 1)
    assert reads.calls == 1


async def test_a_newer_event_than_the_read_shows_starts_a_new_read() -> None:
    reads = Reads()
    shared = SharedRead(reads)
    reads.release.set()
    assert await shared.as_of(3, 3) == (3, 1)
    assert await shared.as_of(4, 4) == (4, 2)  # event 4 committed after read 1 began
    # While a read for event 6 runs, one for event 5 takes it; the newest finished read is kept.
    reads.release.clear()
    at_six = asyncio.ensure_future(shared.as_of(6, 6))
    await asyncio.sleep(0)
    at_five = asyncio.ensure_future(shared.as_of(5, 6))
    await asyncio.sleep(0)
    reads.release.set()
    assert await asyncio.gather(at_six, at_five) == [(6, 3), (6, 3)]
    assert reads.calls == 3
    assert await shared.as_of(6, 6) == (6, 3)


async def test_a_failed_read_fails_its_streams_and_is_not_kept() -> None:
    reads = Reads()
    shared = SharedRead(reads)
    reads.fail = True
    reads.release.set()
    waiting = [asyncio.ensure_future(shared.as_of(2, 2)) for _ in range(3)]
    for outcome in await asyncio.gather(*waiting, return_exceptions=True):
        assert isinstance(outcome, RuntimeError)
    assert reads.calls == 1
    reads.fail = False
    assert await shared.as_of(2, 2) == (2, 2)  # read again, not served the failure
