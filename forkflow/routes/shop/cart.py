"""An online customer's cart: kept in the browser in a signed cookie, priced by the server.

The cookie holds only what the customer chose (menu item, quantity, notes), the cart's random id
(the scope of its idempotency keys: forkflow/idempotency.py), the idempotency key of the checkout
they started, and the link of the last order they placed; never a price: every render
prices the cart from the menu as it is now, and the order itself is priced again by the order
service.

It is a cookie of its own rather than the session's: the session cookie is sent back with every
response (pages, static files, event streams), so a slow response carrying an older session could
put back an older cart. Only the shop's own answers set this one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ... import idempotency, numbers
from ...errors import Invalid
from ...models import refused_character
from ...public_orders import Limits

COOKIE = "forkflow_cart"
MAX_AGE_SECONDS = 12 * 3600
MAX_LINES = 30
MAX_QUANTITY = 99
MAX_NOTES = 200
MAX_KEY = idempotency.MAX_LENGTH
# Browsers keep cookies up to about 4 KB, name and attributes included.
MAX_COOKIE_CHARS = 3800
# A cart change leaves room for the checkout key and the last order's link to join it later.
CHECKOUT_HEADROOM = 300


@dataclass(frozen=True)
class CartLine:
    menu_item_id: int
    quantity: int
    notes: str = ""


@dataclass
class ShopState:
    """Everything the shop remembers for one browser."""

    lines: list[CartLine] = field(default_factory=list)
    checkout_key: str | None = None  # made when checkout starts, kept until an order goes through
    placed_key: str | None = None  # the key of the last order placed, and its tracking link
    placed_url: str | None = None
    cart_id: str | None = None  # random, made when checkout starts: whose idempotency keys these are


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="forkflow.cart")


def _text(value: object, most: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= most else None


def load(cookie: str | None, secret: str) -> ShopState:
    """The state in the cookie; a cookie that is forged, expired or malformed counts as empty."""
    if not cookie:
        return ShopState()
    try:
        raw = _serializer(secret).loads(cookie, max_age=MAX_AGE_SECONDS)
    except (BadSignature, ValueError):
        return ShopState()
    if not isinstance(raw, dict):
        return ShopState()
    lines: list[CartLine] = []
    entries = raw.get("lines")
    for entry in entries[:MAX_LINES] if isinstance(entries, list) else []:
        if not (isinstance(entry, list) and len(entry) == 3):
            continue
        item_id, quantity, notes = entry
        valid = isinstance(item_id, int) and item_id >= 1 and isinstance(quantity, int) and isinstance(notes, str)
        if valid and 1 <= quantity <= MAX_QUANTITY and len(notes) <= MAX_NOTES:
            lines.append(CartLine(item_id, quantity, notes))
    return ShopState(
        lines=lines,
        cart_id=_text(raw.get("id"), 64),
        checkout_key=_text(raw.get("key"), MAX_KEY),
        placed_key=_text(raw.get("placed_key"), MAX_KEY),
        placed_url=_text(raw.get("placed_url"), 300),
    )


def dump(state: ShopState, secret: str, headroom: int = 0) -> str:
    """The cookie's value; Invalid (nothing is kept) when the cart has grown too big for a cookie."""
    raw: dict[str, Any] = {"lines": [[line.menu_item_id, line.quantity, line.notes] for line in state.lines]}
    for name, value in (
        ("id", state.cart_id),
        ("key", state.checkout_key),
        ("placed_key", state.placed_key),
        ("placed_url", state.placed_url),
    ):
        if value:
            raw[name] = value
    value = _serializer(secret).dumps(raw)
    if len(value) > MAX_COOKIE_CHARS - headroom:
        raise Invalid("the cart is full: remove something or shorten the notes", {"_": "cart too large"})
    return value


def new_id() -> str:
    return secrets.token_urlsafe(16)


def within(lines: list[CartLine], limits: Limits, changed: int) -> list[CartLine]:
    """`lines`, if they keep to the public order limits (the cart never grows past what checkout
    would refuse); else Invalid about the dish changed (`changed`)."""
    for line in lines:
        if line.menu_item_id == changed and line.quantity > limits.per_item:
            raise Invalid(
                f"an online order holds at most {limits.per_item} of one dish",
                {"quantity": f"at most {limits.per_item}"},
            )
    if sum(line.quantity for line in lines) > limits.per_order:
        raise Invalid(
            f"an online order holds at most {limits.per_order} portions in all",
            {"quantity": f"at most {limits.per_order} in all"},
        )
    return lines


def add(lines: list[CartLine], menu_item_id: int, quantity: int, limits: Limits) -> list[CartLine]:
    """One line per dish: adding a dish already in the cart adds to its quantity."""
    for i, line in enumerate(lines):
        if line.menu_item_id == menu_item_id:
            grown = CartLine(menu_item_id, line.quantity + quantity, line.notes)
            return within([*lines[:i], grown, *lines[i + 1 :]], limits, menu_item_id)
    if len(lines) >= MAX_LINES:
        raise Invalid(f"a cart holds at most {MAX_LINES} different dishes", {"_": "too many lines"})
    return within([*lines, CartLine(menu_item_id, quantity)], limits, menu_item_id)


def replace(lines: list[CartLine], changed: CartLine, limits: Limits) -> list[CartLine]:
    replaced = [changed if line.menu_item_id == changed.menu_item_id else line for line in lines]
    return within(replaced, limits, changed.menu_item_id)


def remove(lines: list[CartLine], menu_item_id: int) -> list[CartLine]:
    return [line for line in lines if line.menu_item_id != menu_item_id]


def whole_number(raw: object, field: str, low: int, high: int) -> int:
    """A form field that must be a whole number in [low, high]; Invalid names the field otherwise."""
    number = numbers.whole_number(str(raw if raw is not None else "").strip(), low, high)
    if number is None:
        raise Invalid(f"{field} must be a whole number from {low} to {high}", {field: f"{low} to {high}"})
    return number


def notes_field(raw: object) -> str:
    text = str(raw if raw is not None else "").strip()
    if len(text) > MAX_NOTES:
        raise Invalid(f"notes are at most {MAX_NOTES} characters", {"notes": f"at most {MAX_NOTES} characters"})
    problem = refused_character(text)  # the same rule as an order line's notes
    if problem is not None:
        raise Invalid(f"notes: {problem}", {"notes": problem})
    return text


# Pricing


@dataclass(frozen=True)
class PricedLine:
    menu_item_id: int
    name: str
    quantity: int
    notes: str
    unit_price_cents: int
    on_menu: bool  # the dish still exists
    available: bool  # and is not sold out

    @property
    def line_total_cents(self) -> int:
        return self.unit_price_cents * self.quantity

    @property
    def orderable(self) -> bool:
        return self.on_menu and self.available


@dataclass(frozen=True)
class PricedCart:
    lines: tuple[PricedLine, ...]

    @property
    def total_cents(self) -> int:
        """What the orderable lines cost at today's prices (a sold-out line is not counted)."""
        return sum(line.line_total_cents for line in self.lines if line.orderable)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines if line.orderable)

    @property
    def blocked(self) -> list[PricedLine]:
        """Lines that stop the order going through: sold out, or gone from the menu."""
        return [line for line in self.lines if not line.orderable]


def price(lines: Iterable[CartLine], menu: Iterable[dict[str, Any]]) -> PricedCart:
    by_id = {item["id"]: item for item in menu}
    priced = []
    for line in lines:
        item = by_id.get(line.menu_item_id)
        if item is None:
            name, unit_price, on_menu, available = "A dish no longer on the menu", 0, False, False
        else:
            name, unit_price, on_menu, available = item["name"], item["price_cents"], True, item["available"]
        priced.append(PricedLine(line.menu_item_id, name, line.quantity, line.notes, unit_price, on_menu, available))
    return PricedCart(tuple(priced))
