"""Staff accounts, API tokens, and the app's own secrets. (Signing in is services/signin.py.)"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from ..auth.credentials import credential_hash
from ..auth.passwords import hash_password
from ..errors import Conflict, NotFound
from ..events import STAFF_CHANGED, TOKEN_REVOKED
from ..formats import iso, iso_or_none
from ..models import StaffIn, StaffPatch
from ..schema import api_tokens, staff
from ..schema import secrets as secrets_table
from ..store import Store, Tx
from .sessions import revoke_sessions_of

log = logging.getLogger("forkflow.auth")

StaffMember = dict[str, Any]


def staff_out(row: Row[Any]) -> StaffMember:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "active": bool(row.active),
        "created_at": iso(row.created_at),
    }


def _row_by_name(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(staff).where(staff.c.name == name)).first()


def _row_by_id(conn: Connection, staff_id: int) -> Row[Any]:
    row = conn.execute(select(staff).where(staff.c.id == staff_id)).first()
    if row is None:
        raise NotFound(f"staff member {staff_id} does not exist")
    return row


async def add_staff(store: Store, data: StaffIn) -> StaffMember:
    password_hash = await asyncio.to_thread(hash_password, data.password, store.settings.password_hash_cost)

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
    staff_id: int = row.id
    return staff_id


async def change_staff(store: Store, staff_id: int, data: StaffPatch) -> StaffMember:
    changes: dict[str, Any] = data.model_dump(exclude_none=True, exclude={"password"})
    if data.password is not None:
        changes["password_hash"] = await asyncio.to_thread(
            hash_password, data.password, store.settings.password_hash_cost
        )

    def unit(tx: Tx) -> StaffMember:
        before = _row_by_id(tx.conn, staff_id)
        if changes:
            tx.conn.execute(update(staff).where(staff.c.id == staff_id).values(changes))
        _keep_a_manager(tx.conn, before, "active" if changes.get("active") is False else "role")
        disabled = before.active and data.active is False
        if disabled or data.password is not None:
            revoke_sessions_of(tx, staff_id)
        if disabled or data.password is not None or data.role not in (None, before.role):
            # Ends every open stream of theirs on every process; caches forget their credentials.
            tx.emit(STAFF_CHANGED, {"staff_id": staff_id})
        return staff_out(_row_by_id(tx.conn, staff_id))

    return await store.write(unit)


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


async def issue_token(store: Store, staff_id: int, expires_in: int | None = None) -> tuple[int, str, datetime | None]:
    """A new API token (id, token, expiry); only its hash is stored, so this is the one time it is
    seen. With `expires_in` (seconds) it stops working then, like a revoked one."""
    token = "ff_" + secrets.token_urlsafe(32)

    def unit(tx: Tx) -> tuple[int, str, datetime | None]:
        expires_at = None if expires_in is None else tx.now + timedelta(seconds=expires_in)
        values = {"staff_id": staff_id, "token_hash": credential_hash(token), "created_at": tx.now}
        values["expires_at"] = expires_at
        token_id = tx.conn.execute(insert(api_tokens).values(values).returning(api_tokens.c.id)).scalar_one()
        return token_id, token, expires_at

    return await store.write(unit)


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
                "expires_at": iso_or_none(row.expires_at),
                "last_used_at": iso_or_none(row.last_used_at),
            }
            for row in await conn.execute(query)
        ]


async def revoke_token(store: Store, token_id: int | None = None, token: str | None = None) -> None:
    """Revoke a token; its open streams end on every process (`auth.token_revoked`)."""
    where = api_tokens.c.id == token_id if token is None else api_tokens.c.token_hash == credential_hash(token)

    def unit(tx: Tx) -> None:
        columns = (api_tokens.c.id, api_tokens.c.staff_id, api_tokens.c.revoked_at)
        row = tx.conn.execute(select(*columns).where(where)).first()
        if row is None:
            if token is None:
                raise NotFound(f"token {token_id} does not exist")
            return
        if row.revoked_at is None:
            tx.conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(revoked_at=tx.now))
            tx.emit(TOKEN_REVOKED, {"staff_id": row.staff_id, "token_id": row.id})

    await store.write(unit)


async def app_secret(store: Store, name: str) -> str:
    """A random secret made once and kept in the database, so every worker and restart agrees."""
    async with store.read() as conn:
        value: str | None = (
            await conn.execute(select(secrets_table.c.value).where(secrets_table.c.name == name))
        ).scalar()
    if value is not None:
        return value

    def unit(tx: Tx) -> str:
        existing: str | None = tx.conn.execute(
            select(secrets_table.c.value).where(secrets_table.c.name == name)
        ).scalar()
        if existing is not None:
            return existing
        fresh = secrets.token_urlsafe(48)
        tx.conn.execute(insert(secrets_table).values(name=name, value=fresh))
        return fresh

    return await store.write(unit)
