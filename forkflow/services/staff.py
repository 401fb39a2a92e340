"""Staff accounts, sign-in with lockout, API tokens, and the app's own secrets."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from ..auth.passwords import DUMMY_HASH, hash_password, verify_password
from ..auth.roles import Principal
from ..errors import Conflict, NotFound, TooManyRequests, Unauthorized
from ..models import StaffIn, StaffPatch
from ..schema import api_tokens, staff, utcnow
from ..schema import secrets as secrets_table
from ..store import Store, Tx
from .representation import iso, iso_or_none

log = logging.getLogger("forkflow.auth")

LOCK_AFTER_FAILURES = 5
LOCK_FOR = timedelta(minutes=1)
FAILED_SIGN_IN_DELAY = 1.0  # seconds added to every failed sign-in

StaffMember = dict[str, Any]


def staff_out(row: Row[Any]) -> StaffMember:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "active": bool(row.active),
        "created_at": iso(row.created_at),
    }


def session_marker(password_hash: str) -> str:
    """Stored in the session cookie: a password change signs every old session out."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _row_by_name(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(staff).where(staff.c.name == name)).first()


def _row_by_id(conn: Connection, staff_id: int) -> Row[Any]:
    row = conn.execute(select(staff).where(staff.c.id == staff_id)).first()
    if row is None:
        raise NotFound(f"staff member {staff_id} does not exist")
    return row


async def add_staff(store: Store, data: StaffIn) -> StaffMember:
    password_hash = await asyncio.to_thread(hash_password, data.password)

    def unit(tx: Tx) -> StaffMember:
        if _row_by_name(tx.conn, data.name) is not None:
            raise Conflict(f"there is already a staff member called {data.name!r}", {"name": "taken"})
        values = {
            "name": data.name,
            "role": data.role,
            "password_hash": password_hash,
            "active": True,
            "failed_logins": 0,
            "created_at": tx.now,
        }
        staff_id = tx.conn.execute(insert(staff).values(values).returning(staff.c.id)).scalar_one()
        return staff_out(_row_by_id(tx.conn, staff_id))

    return await store.write(unit)


def _all(conn: Connection) -> list[StaffMember]:
    return [staff_out(row) for row in conn.execute(select(staff).order_by(staff.c.name))]


async def list_staff(store: Store) -> list[StaffMember]:
    return await store.query(_all)


async def staff_id_by_name(store: Store, name: str) -> int:
    row = await store.query(_row_by_name, name)
    if row is None:
        raise NotFound(f"no staff member called {name!r}")
    return row.id


async def change_staff(store: Store, staff_id: int, data: StaffPatch) -> StaffMember:
    changes: dict[str, Any] = data.model_dump(exclude_none=True, exclude={"password"})
    if data.password is not None:
        changes["password_hash"] = await asyncio.to_thread(hash_password, data.password)
        changes["failed_logins"] = 0
        changes["locked_until"] = None

    def unit(tx: Tx) -> StaffMember:
        before = _row_by_id(tx.conn, staff_id)
        if changes:
            tx.conn.execute(update(staff).where(staff.c.id == staff_id).values(changes))
        _keep_a_manager(tx.conn, before, "active" if changes.get("active") is False else "role")
        return staff_out(_row_by_id(tx.conn, staff_id))

    try:
        return await store.write(unit)
    finally:
        forget_tokens()


def _keep_a_manager(conn: Connection, before: Row[Any], field: str) -> None:
    """Refuse a change that leaves no active manager (nobody could manage staff any more). Checked
    after the change, in its write unit: writes run one after another (one writer; on PostgreSQL
    one lock), so two managers demoting each other at once cannot both succeed."""
    if before.role != "manager" or not before.active:
        return  # the change cannot have removed a manager
    remaining = conn.execute(
        select(func.count()).select_from(staff).where(staff.c.role == "manager", staff.c.active)
    ).scalar_one()
    if remaining == 0:
        raise Conflict(
            f"{before.name} is the last active manager: make another account a manager first",
            {field: "the last active manager"},
        )


async def sign_in(store: Store, name: str, password: str, client: str) -> tuple[Principal, str]:
    """Check a name and password; returns the principal and its session marker.

    Every failure is logged and answered a second late; five in a row lock the account for a
    minute, during which even the right password is refused.
    """
    row = await store.query(_row_by_name, name)
    now = utcnow()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        retry_after = max(1, int((row.locked_until - now).total_seconds()) + 1)
        log.warning("sign-in refused for locked account %r from %s", name, client)
        raise TooManyRequests("too many failed sign-ins; try again in a minute", retry_after)
    good = await asyncio.to_thread(verify_password, password, row.password_hash if row else DUMMY_HASH)
    if row is not None and good and row.active:
        if row.failed_logins:
            await store.write(
                lambda tx: tx.conn.execute(update(staff).where(staff.c.id == row.id).values(failed_logins=0))
            )
        return Principal(row.id, row.name, row.role, "session"), session_marker(row.password_hash)

    log.warning("failed sign-in for %r from %s", name, client)
    if row is not None:
        await store.write(lambda tx: _count_failure(tx, row.id))
    await asyncio.sleep(FAILED_SIGN_IN_DELAY)
    raise Unauthorized("wrong name or password")


def _count_failure(tx: Tx, staff_id: int) -> None:
    tx.conn.execute(update(staff).where(staff.c.id == staff_id).values(failed_logins=staff.c.failed_logins + 1))
    failures = tx.conn.execute(select(staff.c.failed_logins).where(staff.c.id == staff_id)).scalar_one()
    if failures >= LOCK_AFTER_FAILURES:
        log.warning("staff member %d locked for %s after %d failed sign-ins", staff_id, LOCK_FOR, failures)
        tx.conn.execute(
            update(staff).where(staff.c.id == staff_id).values(failed_logins=0, locked_until=tx.now + LOCK_FOR)
        )


async def session_principal(store: Store, staff_id: int, marker: str) -> Principal | None:
    async with store.read() as conn:
        row = (await conn.execute(select(staff).where(staff.c.id == staff_id))).first()
    if row is None or not row.active or session_marker(row.password_hash) != marker:
        return None
    return Principal(row.id, row.name, row.role, "session")


# Bearer tokens already checked, by hash: a till sending hundreds of orders a minute is not looked
# up in the database each time. Any change to accounts or tokens in this process empties it; other
# processes (several workers) see a revocation within TOKEN_CACHE_SECONDS.
TOKEN_CACHE_SECONDS = 5.0
# Keyed by the token itself, which the request holds in memory anyway: no hash per request.
_known_tokens: dict[str, tuple[Principal | None, float]] = {}


def forget_tokens() -> None:
    _known_tokens.clear()


async def token_principal(store: Store, token: str) -> Principal | None:
    known = _known_tokens.get(token)
    if known is not None and known[1] > time.monotonic():
        return known[0]
    token_hash = _token_hash(token)
    query = (
        select(staff.c.id, staff.c.name, staff.c.role)
        .select_from(api_tokens.join(staff))
        .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None), staff.c.active)
    )
    async with store.read() as conn:
        row = (await conn.execute(query)).first()
    principal = None if row is None else Principal(row.id, row.name, row.role, "token")
    if len(_known_tokens) > 10_000:
        forget_tokens()
    _known_tokens[token] = (principal, time.monotonic() + TOKEN_CACHE_SECONDS)
    return principal


async def issue_token(store: Store, staff_id: int) -> tuple[int, str]:
    """A new API token; only its hash is stored, so this is the one time it is seen."""
    token = "ff_" + secrets.token_urlsafe(32)

    def unit(tx: Tx) -> int:
        return (
            tx.conn.execute(
                insert(api_tokens)
                .values(staff_id=staff_id, token_hash=_token_hash(token), created_at=tx.now)
                .returning(api_tokens.c.id)
            )
        ).scalar_one()

    return await store.write(unit), token


async def list_tokens(store: Store) -> list[dict[str, Any]]:
    query = select(api_tokens, staff.c.name, staff.c.role).select_from(api_tokens.join(staff)).order_by(api_tokens.c.id)
    async with store.read() as conn:
        return [
            {
                "id": row.id,
                "staff": row.name,
                "role": row.role,
                "created_at": iso(row.created_at),
                "revoked_at": iso_or_none(row.revoked_at),
            }
            for row in await conn.execute(query)
        ]


async def revoke_token(store: Store, token_id: int | None = None, token: str | None = None) -> None:
    where = api_tokens.c.id == token_id if token is None else api_tokens.c.token_hash == _token_hash(token)

    def unit(tx: Tx) -> None:
        result = tx.conn.execute(
            update(api_tokens).where(where, api_tokens.c.revoked_at.is_(None)).values(revoked_at=tx.now)
        )
        if result.rowcount == 0 and token is None:
            exists = tx.conn.execute(select(api_tokens.c.id).where(where)).first()
            if exists is None:
                raise NotFound(f"token {token_id} does not exist")

    try:
        await store.write(unit)
    finally:
        forget_tokens()


async def app_secret(store: Store, name: str) -> str:
    """A random secret made once and kept in the database, so every worker and restart agrees."""
    async with store.read() as conn:
        value = (await conn.execute(select(secrets_table.c.value).where(secrets_table.c.name == name))).scalar()
    if value is not None:
        return value

    def unit(tx: Tx) -> str:
        existing = tx.conn.execute(select(secrets_table.c.value).where(secrets_table.c.name == name)).scalar()
        if existing is not None:
            return existing
        fresh = secrets.token_urlsafe(48)
        tx.conn.execute(insert(secrets_table).values(name=name, value=fresh))
        return fresh

    return await store.write(unit)
