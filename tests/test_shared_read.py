"""The displays' shared read (live.SharedRead): one read serves every stream that needs the state
as of an event it shows, a read never serves an event newer than it can show, reads start at most
every `every` seconds, a stream that may not wait is nudged when its read is done, and a failed read
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


class Log:
    """The newest event published, as the bus would say."""

    def __init__(self, head: int) -> None:
        self.head = head

    def __call__(self) -> int:
        return self.head


async def test_streams_at_events_a_running_read_shows_share_it() -> None:
    reads = Reads()
    shared = SharedRead(reads, Log(9))
    # Asked at event 5 when the process had published 9: the read shows at least event 9.
    first = asyncio.ensure_future(shared.as_of(5))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(shared.as_of(event_id)) for event_id in (5, 7, 9)]
    await asyncio.sleep(0)
    reads.release.set()
    assert await first == (9, 1)
    assert await asyncio.gather(*others) == [(9, 1)] * 3
    assert reads.calls == 1
    # Finished, it still serves any event it shows, without reading again.
    assert await shared.as_of(8) == (9, 1)
    assert reads.calls == 1


async def test_a_newer_event_than_the_read_shows_starts_a_new_read() -> None:
    reads, log = Reads(), Log(3)
    shared = SharedRead(reads, log)
    reads.release.set()
    assert await shared.as_of(3) == (3, 1)
    log.head = 4
    assert await shared.as_of(4) == (4, 2)  # event 4 committed after read 1 began
    assert await shared.as_of(3) == (4, 2)  # the newest read serves the older event too
    assert reads.calls == 2


async def test_a_stream_that_may_not_wait_is_nudged_when_a_read_that_shows_its_event_is_done() -> None:
    reads, log = Reads(), Log(5)
    shared = SharedRead(reads, log, every=0.2)
    nudged: list[str] = []
    assert shared.ready(5, lambda: nudged.append("grill")) is None  # a read starts now
    assert shared.ready(4, lambda: nudged.append("bar")) is None  # shares it
    await asyncio.sleep(0)
    assert reads.calls == 1
    reads.release.set()
    await asyncio.sleep(0.01)
    assert sorted(nudged) == ["bar", "grill"]
    assert shared.ready(5, nudged.append) == (5, 1)
    # A newer event within `every` of the last read's start waits for the interval: no read yet.
    log.head = 6
    nudged.clear()
    assert shared.ready(6, lambda: nudged.append("grill")) is None
    assert shared.ready(6, lambda: nudged.append("fry")) is None
    await asyncio.sleep(0.05)
    assert reads.calls == 1 and nudged == []
    await asyncio.sleep(0.25)
    assert reads.calls == 2 and sorted(nudged) == ["fry", "grill"]
    assert shared.ready(6, nudged.append) == (6, 2)


async def test_a_read_asked_for_while_another_runs_follows_it() -> None:
    reads, log = Reads(), Log(1)
    shared = SharedRead(reads, log)
    nudges: list[int] = []
    assert shared.ready(1, lambda: nudges.append(1)) is None
    log.head = 2  # event 2 commits while read 1 runs: read 1 may not show it
    assert shared.ready(2, lambda: nudges.append(2)) is None
    reads.release.set()
    await asyncio.sleep(0.01)
    assert reads.calls == 2  # the second read began as soon as the first was done
    assert shared.ready(2, nudges.append) == (2, 2)


async def test_a_failed_read_fails_its_streams_and_is_not_kept() -> None:
    reads = Reads()
    shared = SharedRead(reads, Log(2))
    reads.fail = True
    reads.release.set()
    nudged: list[bool] = []
    waiting = [asyncio.ensure_future(shared.as_of(2)) for _ in range(3)]
    assert shared.ready(2, lambda: nudged.append(True)) is None
    for outcome in await asyncio.gather(*waiting, return_exceptions=True):
        assert isinstance(outcome, RuntimeError)
    assert reads.calls == 1 and nudged == [True]  # told to ask again
    reads.fail = False
    assert await shared.as_of(2) == (2, 2)  # read again, not served the failure
