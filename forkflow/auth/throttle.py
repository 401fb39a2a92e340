"""How many failed sign-ins are allowed, and by whom: decided and recorded in one write.

Attempts are rows of `sign_in_attempts`. An attempt is recorded as `pending` in the same write
unit that counts the recent ones (the single writer, or PostgreSQL's write lock, runs these one
after another), and pending attempts count as failures: forty guesses sent at once are counted
like forty sent in a row, and only the first few are ever checked.

The limits follow OWASP's "Slow Down Online Guessing Attacks with Device Cookies": a client with a
valid device cookie for the name it types is judged only by that cookie's own failures, so an
attacker's failures (from other addresses, or from the same one) never keep the rightful user out.
Every other client is limited per (name as typed, address), per address, and per name across all
such clients. Names are counted as typed, whether or not they exist, so a 429 reveals nothing.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, update

from ..config import Settings
from ..errors import TooManyRequests
from ..schema import sign_in_attempts as attempts
from ..store import Tx

log = logging.getLogger("forkflow.auth")

TOO_MANY = "too many failed sign-ins; try again later"


@dataclass(frozen=True)
class Limits:
    window: timedelta
    per_name_and_address: int
    per_address: int
    per_device: int
    per_name_untrusted: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            timedelta(seconds=settings.sign_in_window_seconds),
            settings.sign_in_failures_per_name_and_address,
            settings.sign_in_failures_per_address,
            settings.sign_in_failures_per_device,
            settings.sign_in_failures_per_name_untrusted,
        )


def _held_back(
    conn: Connection, where: list[ColumnElement[bool]], limit: int, now: datetime, window: timedelta, *, resets: bool
) -> int | None:
    """Seconds until this key may try again, or None. `limit` failures (or pending attempts) in the
    window hold it back until the oldest of the last `limit` leaves the window. With `resets`, a
    success for the key (which needs the password) forgets the failures before it."""
    if limit <= 0:
        return None
    since = now - window
    counted = [*where, attempts.c.created_at >= since, attempts.c.outcome != "ok"]
    if resets:
        last_ok = conn.execute(
            select(func.max(attempts.c.created_at)).where(
                *where, attempts.c.created_at >= since, attempts.c.outcome == "ok"
            )
        ).scalar()
        if last_ok is not None:
            counted.append(attempts.c.created_at > last_ok)
    recent = (
        conn.execute(select(attempts.c.created_at).where(*counted).order_by(attempts.c.created_at.desc()).limit(limit))
        .scalars()
        .all()
    )
    if len(recent) < limit:
        return None
    oldest: datetime = recent[-1]
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def admit(tx: Tx, limits: Limits, name: str, address: str, device: str | None) -> int:
    """A write unit's step: check the limits for this attempt, then record it as pending.
    Returns the attempt's id; raises TooManyRequests (and records nothing) when held back."""
    now = tx.now
    by_name = attempts.c.username == name
    if device is not None:
        checks: list[tuple[str, list[ColumnElement[bool]], int, bool]] = [
            ("device", [attempts.c.device == device], limits.per_device, True)
        ]
    else:
        checks = [
            ("name and address", [by_name, attempts.c.address == address], limits.per_name_and_address, True),
            ("address", [attempts.c.address == address], limits.per_address, False),
            ("name, untrusted clients", [by_name, attempts.c.device.is_(None)], limits.per_name_untrusted, True),
        ]
    waits = {
        what: _held_back(tx.conn, where, limit, now, limits.window, resets=resets)
        for what, where, limit, resets in checks
    }
    held = {what: wait for what, wait in waits.items() if wait is not None}
    if held:
        log.warning("sign-in for %r from %s held back (limit per %s)", name, address, ", per ".join(held))
        raise TooManyRequests(TOO_MANY, retry_after=max(held.values()))
    values: dict[str, Any] = {
        "username": name,
        "address": address,
        "device": device,
        "outcome": "pending",
        "created_at": now,
    }
    attempt_id: int = tx.conn.execute(insert(attempts).values(values).returning(attempts.c.id)).scalar_one()
    return attempt_id


def settle(tx: Tx, attempt_id: int, ok: bool) -> None:
    """Record how a checked attempt ended."""
    tx.conn.execute(update(attempts).where(attempts.c.id == attempt_id).values(outcome="ok" if ok else "failed"))


def purge(tx: Tx, older_than: timedelta = timedelta(days=1)) -> int:
    """Attempts older than a day count for nothing any more (every window is shorter)."""
    return tx.conn.execute(attempts.delete().where(attempts.c.created_at < tx.now - older_than)).rowcount
