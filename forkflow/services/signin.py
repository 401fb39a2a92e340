"""Signing in with a name and password: throttled, recorded, the same for every name.

One attempt is three steps: admit (count the recent failures and record this attempt as pending,
in one write, see auth/throttle.py), check the password off the event loop, settle (record the
outcome). A name that does not exist goes through exactly the same steps, against a dummy hash,
and is answered the same way, so neither status, body nor timing tells whether it exists.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, update

from ..auth import throttle
from ..auth.devices import DeviceCookies
from ..auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from ..auth.roles import Principal
from ..errors import Unauthorized
from ..schema import staff
from ..store import Store, Tx
from .staff import _row_by_name

log = logging.getLogger("forkflow.auth")

FAILED_SIGN_IN_DELAY = 1.0  # seconds added to every failed sign-in
WRONG = "wrong name or password"


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    device_cookie: str  # the renewed device cookie, to set on the answer


async def sign_in(
    store: Store, name: str, password: str, address: str, devices: DeviceCookies, device_cookie: str | None = None
) -> SignedIn:
    """Check a name and password from `address`, which sent `device_cookie` (if any).

    Raises TooManyRequests (429, Retry-After) when the limits hold this attempt back, before any
    password is checked, and Unauthorized, a second late, for a wrong name or password.
    """
    settings = store.settings
    device = devices.nonce_for(device_cookie, name)
    limits = throttle.Limits.of(settings)
    attempt = await store.write(lambda tx: throttle.admit(tx, limits, name, address, device))
    ok = False
    try:
        row = await store.query(_row_by_name, name)
        stored = row.password_hash if row is not None else dummy_hash(settings.password_hash_cost)
        good = await asyncio.to_thread(verify_password, password, stored)
        ok = row is not None and good and bool(row.active)
        if ok:
            assert row is not None
            await _settle_success(store, attempt, row, password, settings.password_hash_cost)
            principal = Principal(row.id, row.name, row.role, "session")
            return SignedIn(principal, devices.renewed(device_cookie, name))
    finally:
        if not ok:
            await store.write(lambda tx: throttle.settle(tx, attempt, ok=False))
    log.warning("failed sign-in for %r from %s", name, address)
    await asyncio.sleep(FAILED_SIGN_IN_DELAY)
    raise Unauthorized(WRONG)


async def _settle_success(store: Store, attempt: int, row: Row[Any], password: str, cost: int) -> None:
    """Record the success; a hash made at a lower cost than today's is replaced now that the
    password is known (unless the password was changed meanwhile)."""
    fresh = None
    if needs_rehash(row.password_hash, cost):
        fresh = await asyncio.to_thread(hash_password, password, cost)

    def unit(tx: Tx) -> None:
        throttle.settle(tx, attempt, ok=True)
        if fresh is None:
            return
        changed = tx.conn.execute(
            update(staff)
            .where(staff.c.id == row.id, staff.c.password_hash == row.password_hash)
            .values(password_hash=fresh)
        )
        if changed.rowcount:
            log.info("re-hashed the password of %r at today's cost", row.name)

    await store.write(unit)
