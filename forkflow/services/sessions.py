"""Browser sessions, kept server-side so that signing out ends exactly that session.

The session cookie carries a random secret; the `staff_sessions` table keeps only its sha256 (a
stolen database hands out no working sessions). Every request checks the row (auth/credentials.py):
not signed out, not expired, the account active. Signing out revokes the row and emits
`auth.session_ended`, which ends that session's open streams on every process; disabling an
account or changing its password revokes all of its sessions (services/staff.py,
`auth.staff_changed`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, insert, or_, select, update

from ..auth.credentials import credential_hash
from ..events import SESSION_ENDED
from ..schema import staff_sessions, utcnow
from ..store import Store, Tx

SESSION_LIFETIME = timedelta(hours=12)
# Ended sessions are kept a day (for a look at who was signed in), then purged.
KEEP_ENDED = timedelta(days=1)


async def start_session(store: Store, staff_id: int) -> str:
    """A new session for a staff member whose password was just checked; returns the secret the
    cookie keeps (seen only here)."""
    secret = secrets.token_urlsafe(32)

    def unit(tx: Tx) -> None:
        values = {
            "staff_id": staff_id,
            "secret_hash": credential_hash(secret),
            "created_at": tx.now,
            "expires_at": tx.now + SESSION_LIFETIME,
        }
        tx.conn.execute(insert(staff_sessions).values(values))

    await store.write(unit)
    return secret


async def end_session(store: Store, secret: str) -> None:
    """Sign out: this session only (the same person's other browsers stay signed in)."""
    hashed = credential_hash(secret)

    def unit(tx: Tx) -> None:
        where = (staff_sessions.c.secret_hash == hashed, staff_sessions.c.revoked_at.is_(None))
        row = tx.conn.execute(select(staff_sessions.c.id, staff_sessions.c.staff_id).where(*where)).first()
        if row is None:
            return
        tx.conn.execute(update(staff_sessions).where(staff_sessions.c.id == row.id).values(revoked_at=tx.now))
        tx.emit(SESSION_ENDED, {"staff_id": row.staff_id, "session_id": row.id})

    await store.write(unit)


def revoke_sessions_of(tx: Tx, staff_id: int) -> None:
    """Every open session of a staff member (disabled, or the password changed); the caller emits
    `auth.staff_changed` in the same transaction."""
    tx.conn.execute(
        update(staff_sessions)
        .where(staff_sessions.c.staff_id == staff_id, staff_sessions.c.revoked_at.is_(None))
        .values(revoked_at=tx.now)
    )


async def purge_sessions(store: Store) -> int:
    """Delete sessions that ended (signed out or expired) more than a day ago."""
    cutoff = utcnow() - KEEP_ENDED

    def purge(tx: Tx) -> int:
        ended = or_(staff_sessions.c.expires_at < cutoff, staff_sessions.c.revoked_at < cutoff)
        return tx.conn.execute(delete(staff_sessions).where(ended)).rowcount

    return await store.write(purge)
