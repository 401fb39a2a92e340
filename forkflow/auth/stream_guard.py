"""Open event streams end when their caller's credential does, or when their time is up.

A revocation ends streams at once through the bus (`auth` events, events.py). This app-level
task is the safety net and the clock: about once a second it ends the streams past their deadline
(the maximum lifetime, or the token's or session's expiry), and every
`stream_recheck_seconds` it checks every signed-in stream's session or token against the
database, in a few batched queries rather than a timer or a query per stream. A stream that ends
this way ends cleanly; the browser reconnects and is authenticated again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from ..events import AUTH_TOPIC, Bus, Owner, Subscription
from ..schema import utcnow
from ..store import Store
from .credentials import valid_sessions, valid_tokens
from .roles import Principal

log = logging.getLogger("forkflow.auth")

CHUNK = 500  # ids per query


def attach(bus: Bus, sub: Subscription, principal: Principal | None, max_seconds: float) -> None:
    """Give a new stream its owner and deadline. The lifetime is shortened by up to a tenth at
    random, so streams opened together (after a restart) do not all reconnect together."""
    deadline = time.time() + max_seconds * random.uniform(0.9, 1.0)
    owner = None
    if principal is not None and principal.credential_id is not None:
        owner = Owner(principal.staff_id, principal.via, principal.credential_id, principal.role)
        if principal.expires_at is not None:
            deadline = min(deadline, principal.expires_at.timestamp())
    bus.own(sub, owner, deadline)


def end_overdue(bus: Bus) -> int:
    now = time.time()
    overdue = [sub for sub in bus.subscriptions() if sub.deadline <= now]
    for sub in overdue:
        bus.end(sub)
    return len(overdue)


async def recheck(store: Store) -> int:
    """End every signed-in stream whose session or token is no longer valid, or whose staff
    member's role changed; returns how many ended."""
    owned = store.bus.owned()
    checks: dict[str, Callable[[Connection, list[int], datetime], dict[int, str]]] = {
        "session": valid_sessions,
        "token": valid_tokens,
    }
    valid: dict[str, dict[int, str]] = {}
    now = utcnow()
    for via, check in checks.items():
        ids = sorted({sub.owner.credential_id for sub in owned if sub.owner is not None and sub.owner.via == via})
        valid[via] = {}
        for start in range(0, len(ids), CHUNK):
            valid[via].update(await store.query(check, ids[start : start + CHUNK], now))
    ended = 0
    for sub in owned:
        owner = sub.owner
        if owner is not None and valid[owner.via].get(owner.credential_id) != owner.role:
            store.bus.end(sub)
            ended += 1
    return ended


class ForeignRevocations:
    """On SQLite, `forkflow users disable` (or any other process) writes its `auth` event into the
    table, but only the server's own writer publishes on the server's bus. Reading the `auth`
    events after the last one seen, once a tick (an indexed query that finds nothing almost
    always), ends those streams within a second too. On PostgreSQL every process already gets
    every event through LISTEN/NOTIFY."""

    def __init__(self) -> None:
        self.seen: int | None = None

    async def apply(self, store: Store) -> None:
        if self.seen is None:
            self.seen = await store.last_event_id()
            return
        for event in await store.events_after(self.seen, [AUTH_TOPIC], CHUNK):
            store.bus.credential_ended(event)
            self.seen = event.id


async def guard_streams(store: Store) -> None:
    """Runs for the life of the app."""
    settings = store.settings
    tick = min(1.0, settings.stream_recheck_seconds, settings.stream_max_seconds / 4)
    next_check = time.monotonic() + settings.stream_recheck_seconds
    foreign = None if store.postgres else ForeignRevocations()
    if foreign is not None:  # from now on: a revocation written before the first tick is not skipped
        try:
            await foreign.apply(store)
        except Exception:  # the database is away: the first tick starts from there instead
            log.warning("could not read the event log's head for foreign revocations", exc_info=True)
    while True:
        await asyncio.sleep(tick)
        try:
            end_overdue(store.bus)
            if foreign is not None:
                await foreign.apply(store)
            if time.monotonic() < next_check:
                continue
            next_check = time.monotonic() + settings.stream_recheck_seconds
            ended = await recheck(store)
            if ended:
                log.info("ended %d event streams whose credentials are no longer valid", ended)
        except Exception:  # the database is away: the next round tries again
            log.warning("could not re-check the event streams' credentials", exc_info=True)
