"""Sessions and bearer tokens already checked, remembered for a few seconds per app.

A till sending hundreds of orders a minute, or a kitchen display tapping away, is not looked up
in the database on every request. Every `auth` event (a sign-out, a revoked token, a disabled
account, a changed password or role) empties the cache at once; it reaches every process through
the events path (NOTIFY on PostgreSQL), so a revocation shuts plain requests out everywhere
immediately. CACHE_SECONDS only bounds how long a missed notification could matter.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from .roles import Principal

CACHE_SECONDS = 5.0
MAX_ENTRIES = 10_000

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
