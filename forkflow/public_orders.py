"""What an anonymous visitor may order, so that the public cannot empty the kitchen.

Staff orders keep the order model's limits (99 of a line, 100 lines): a till serves parties. A
public order (anonymous `POST /orders`, the shop's checkout) is held to `Limits`: at most
`per_item` portions of one dish and `per_order` portions in all. Per-order limits alone still let
one address send many orders, so each client address also has a budget of portions per hour.

The budget is kept in memory, per process, like the per-minute `RateLimiter`: portions are taken
before the order is written and given back if it is refused or was a replay. Nothing awaits
between reading the budget and taking from it, so within one process parallel orders count like
sequential ones. With `--workers N` each worker keeps its own budget, so one address may order up
to N budgets' worth, when the load balancer spreads it over them.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from starlette.requests import Request

from . import services
from .config import Settings
from .errors import Invalid, TooManyRequests
from .models import OrderIn
from .services.orders import Order

WINDOW_SECONDS = 3600.0


@dataclass(frozen=True)
class Limits:
    per_item: int
    per_order: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.public_max_per_item, settings.public_max_per_order)


def portions(lines: list[tuple[int, int]]) -> dict[int, int]:
    """{menu item id: portions} of (menu item id, quantity) lines: a dish may be on several lines."""
    counted: dict[int, int] = defaultdict(int)
    for item_id, quantity in lines:
        counted[item_id] += quantity
    return counted


def check(data: OrderIn, limits: Limits) -> None:
    """422 naming the lines when a public order holds too much of a dish, or too much in all."""
    lines = [(line.menu_item_id, line.quantity) for line in data.items]
    counted = portions(lines)
    fields = {
        f"items.{i}.quantity": f"at most {limits.per_item} of one dish"
        for i, (item_id, _) in enumerate(lines)
        if counted[item_id] > limits.per_item
    }
    if sum(counted.values()) > limits.per_order:
        too_many = f"at most {limits.per_order} portions in one order"
        fields = {f"items.{i}.quantity": fields.get(f"items.{i}.quantity", too_many) for i in range(len(lines))}
        fields["items"] = too_many
    if fields:
        raise Invalid(
            f"an online order holds at most {limits.per_item} of one dish and {limits.per_order} portions in all",
            fields,
        )


@dataclass
class _Taken:
    at: float
    amount: int


class PortionBudget:
    """Portions per client address over a sliding window (in memory, one process)."""

    def __init__(self, limit: int, window_seconds: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window_seconds
        self._taken: dict[str, deque[_Taken]] = {}

    def take(self, key: str, amount: int, now: float | None = None) -> _Taken | int:
        """Take `amount` portions for `key`: the record to give back, or the seconds to wait."""
        now = time.monotonic() if now is None else now
        taken = self._taken.setdefault(key, deque())
        while taken and taken[0].at <= now - self.window:
            taken.popleft()
        if self.limit > 0:
            over = sum(entry.amount for entry in taken) + amount - self.limit
            if over > 0:
                for entry in taken:  # the wait until enough of the oldest portions leave the window
                    over -= entry.amount
                    if over <= 0:
                        return max(1, math.ceil(entry.at + self.window - now))
                return math.ceil(self.window)
        record = _Taken(now, amount)
        taken.append(record)
        if len(self._taken) > 10_000:
            self._forget_idle(now)
        return record

    def give_back(self, key: str, record: _Taken) -> None:
        taken = self._taken.get(key)
        if taken is not None and record in taken:
            taken.remove(record)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, taken in self._taken.items() if not taken or taken[-1].at <= now - self.window]:
            del self._taken[key]


async def place(request: Request, data: OrderIn, stored_key: str | None, address: str) -> tuple[Order, bool]:
    """Place an anonymous online order: its limits (422), the address's budget (429), then the
    order service, which tells the public which dishes ran out but not how much stock is left."""
    store = request.app.state.store
    check(data, Limits.of(store.settings))
    budget: PortionBudget = request.app.state.public_portions
    amount = sum(line.quantity for line in data.items)
    taken = budget.take(address, amount)
    if isinstance(taken, int):
        raise TooManyRequests(
            f"this address has ordered as many portions as an hour allows; try again in {taken} s", retry_after=taken
        )
    try:
        order, replayed = await services.create_order(store, data, stored_key, public=True)
    except BaseException:
        budget.give_back(address, taken)
        raise
    if replayed:
        budget.give_back(address, taken)
    return order, replayed
