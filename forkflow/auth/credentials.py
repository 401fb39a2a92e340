"""Who a session cookie or a bearer token signs in: looked up, and remembered a few seconds per app.

Both credentials are stored as their sha256 only (a stolen database hands out none that work);
a lookup checks the row: not revoked, not expired, the account active. The middleware asks here
for every request, the stream guard for every open stream; the services that make and end
credentials (services/sessions.py, staff.py) store them with `credential_hash`.

A till sending hundreds of orders a minute, or a kitchen display tapping away, is not looked up
in the database on every request. Every `auth` event (a sign-out, a revoked token, a disabled
account, a changed password or role) empties the cache at once; it reaches every process through
the events path (NOTIFY on PostgreSQL), so a revocation shuts plain requests out everywhere
immediately. CACHE_SECONDS only bounds how long a missed notification could matter.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update

from ..errors import ServiceError
from ..schema import api_tokens, staff, staff_sessions, utcnow
from ..store import Store, Tx
from .roles import Principal

CACHE_SECONDS = 5.0
MAX_ENTRIES = 10_000
LAST_USE_EVERY = timedelta(minutes=1)  # a token's last use is written at most this often

Key = tuple[str, str]  # ("token", the token) or ("session", the cookie's secret)


class CredentialCache:
    def __init__(self) -> None:
        self._known: dict[Key, tuple[Principal | None, float]] = {}
        # Bumped by every clear: a lookup that started before a revocation must not put its
        # (now stale) answer back after the clear.
        self.generation = 0
        # Tokens whose last use this process wrote lately (monotonic time), and those writes.
        self.used: dict[int, float] = {}
        self.tasks: set[Any] = set()

    def get(self, key: Key) -> tuple[bool, Principal | None]:
        """(known, principal): a cached principal past its credential's expiry is refused."""
        known = self._known.get(key)
        if known is None or known[1] <= time.monotonic():
            return False, None
        principal = known[0]
        if principal is not None and expired(principal):
            return True, None
        return True, principal

    def put(self, key: Key, principal: Principal | None, generation: int) -> None:
        if generation != self.generation:
            return
        if len(self._known) >= MAX_ENTRIES:
            self._known.clear()
        self._known[key] = (principal, time.monotonic() + CACHE_SECONDS)

    def clear(self, _event: Any = None) -> None:
        self.generation += 1
        self._known.clear()


def expired(principal: Principal) -> bool:
    return principal.expires_at is not None and principal.expires_at <= datetime.now(UTC)


def credential_hash(secret: str) -> str:
    """How a session's secret or an API token is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def session_principal(store: Store, secret: str, cache: CredentialCache) -> Principal | None:
    """The staff member a session cookie's secret signs in: not signed out, not expired, the account active."""
    key = ("session", secret)
    known, principal = cache.get(key)
    if known:
        return principal
    generation = cache.generation
    session = staff_sessions.c
    columns = (staff.c.id, staff.c.name, staff.c.role, session.id.label("session"), session.expires_at)
    query = (
        select(*columns)
        .select_from(staff_sessions.join(staff))
        .where(
            staff_sessions.c.secret_hash == credential_hash(secret),
            staff_sessions.c.revoked_at.is_(None),
            staff_sessions.c.expires_at > utcnow(),
            staff.c.active,
        )
    )
    async with store.read() as conn:
        row = (await conn.execute(query)).first()
    if row is not None:
        principal = Principal(row.id, row.name, row.role, "session", row.session, row.expires_at)
    cache.put(key, principal, generation)
    return principal


def valid_sessions(conn: Connection, ids: list[int], now: datetime) -> dict[int, str]:
    """Of these sessions, the ones still valid, with their staff member's role now."""
    query = (
        select(staff_sessions.c.id, staff.c.role)
        .select_from(staff_sessions.join(staff))
        .where(
            staff_sessions.c.id.in_(ids),
            staff_sessions.c.revoked_at.is_(None),
            staff_sessions.c.expires_at > now,
            staff.c.active,
        )
    )
    return {row.id: row.role for row in conn.execute(query)}


async def token_principal(store: Store, token: str, cache: CredentialCache) -> Principal | None:
    """The staff member a bearer token signs in: not revoked, not expired, the account active."""
    key = ("token", token)
    known, principal = cache.get(key)
    if not known:
        generation = cache.generation
        now = utcnow()
        query = (
            select(staff.c.id, staff.c.name, staff.c.role, api_tokens.c.id.label("token_id"), api_tokens.c.expires_at)
            .select_from(api_tokens.join(staff))
            .where(api_tokens.c.token_hash == credential_hash(token), *_token_valid(now))
        )
        async with store.read() as conn:
            row = (await conn.execute(query)).first()
        if row is not None:
            principal = Principal(row.id, row.name, row.role, "token", row.token_id, row.expires_at)
        cache.put(key, principal, generation)
    if principal is not None:
        _note_use(store, cache, principal)
    return principal


def _token_valid(now: datetime) -> tuple[Any, ...]:
    return (
        api_tokens.c.revoked_at.is_(None),
        or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
        staff.c.active,
    )


def valid_tokens(conn: Connection, ids: list[int], now: datetime) -> dict[int, str]:
    """Of these tokens, the ones still valid, with their staff member's role now."""
    query = (
        select(api_tokens.c.id, staff.c.role)
        .select_from(api_tokens.join(staff))
        .where(api_tokens.c.id.in_(ids), *_token_valid(now))
    )
    return {row.id: row.role for row in conn.execute(query)}


def _note_use(store: Store, cache: CredentialCache, principal: Principal) -> None:
    """Record the token's last use, at most once a minute per token per process (and the update
    itself skips a row written less than a minute ago by another): no event, off the request's path."""
    token_id = principal.credential_id
    assert token_id is not None
    now = time.monotonic()
    if cache.used.get(token_id, -math.inf) > now - LAST_USE_EVERY.total_seconds():
        return
    if len(cache.used) >= 10_000:
        cache.used.clear()
    cache.used[token_id] = now

    def unit(tx: Tx) -> None:
        recent = tx.now - LAST_USE_EVERY
        tx.conn.execute(
            update(api_tokens)
            .where(
                api_tokens.c.id == token_id,
                or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at <= recent),
            )
            .values(last_used_at=tx.now)
        )

    async def write() -> None:
        try:
            await store.write(unit)
        except ServiceError:  # shutting down, or the database is away: the next use writes it
            cache.used.pop(token_id, None)

    task = asyncio.ensure_future(write())
    cache.tasks.add(task)
    task.add_done_callback(cache.tasks.discard)
