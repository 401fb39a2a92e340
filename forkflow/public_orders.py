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

from collections import defaultdict
from dataclasses import dataclass

from starlette.requests import Request

from . import services
from .auth.ratelimit import RateLimiter
from .config import Settings
from .errors import Invalid, TooManyRequests
from .models import OrderIn
from .request import store_of
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


class PortionBudget(RateLimiter):
    """Portions per client address over an hour (in memory, one process)."""

    def __init__(self, limit: int, window_seconds: float = WINDOW_SECONDS) -> None:
        super().__init__(limit, window_seconds)


async def place(request: Request, data: OrderIn, stored_key: str | None, address: str) -> tuple[Order, bool]:
    """Place an anonymous online order: its limits (422), the address's budget (429), then the
    order service, which tells the public which dishes ran out but not how much stock is left."""
    store = store_of(request)
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
