"""A per-client sliding-window allowance, kept in memory (one process; see README for workers).

Each key may take `limit` units within `window_seconds`: one per request for the public's orders
a minute, a whole order's portions for the public's portions an hour (public_orders.py).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class Taken:
    """Units taken at one moment: what `give_back` returns to the allowance."""

    at: float
    amount: int


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._taken: dict[str, deque[Taken]] = {}

    def hit(self, key: str, now: float | None = None) -> int | None:
        """Count one request; returns None if allowed, else the seconds to wait (Retry-After)."""
        taken = self.take(key, 1, now)
        return taken if isinstance(taken, int) else None

    def take(self, key: str, amount: int, now: float | None = None) -> Taken | int:
        """Take `amount` units for `key`: the record to give back, or the seconds to wait until
        enough of the oldest units have left the window. A limit of 0 or less: no limit."""
        now = time.monotonic() if now is None else now
        record = Taken(now, amount)
        if self.limit <= 0:
            return record  # nothing to count against
        taken = self._taken.setdefault(key, deque())
        while taken and taken[0].at <= now - self.window:
            taken.popleft()
        over = sum(entry.amount for entry in taken) + amount - self.limit
        if over > 0:
            for entry in taken:
                over -= entry.amount
                if over <= 0:
                    return max(1, math.ceil(entry.at + self.window - now))
            return math.ceil(self.window)
        taken.append(record)
        if len(self._taken) > 10_000:
            self._forget_idle(now)
        return record

    def give_back(self, key: str, record: Taken) -> None:
        taken = self._taken.get(key)
        if taken is not None and record in taken:
            taken.remove(record)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, taken in self._taken.items() if not taken or taken[-1].at <= now - self.window]:
            del self._taken[key]
