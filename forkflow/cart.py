"""An online customer's cart: kept in their signed session cookie, priced by the server.

The session holds only what the customer chose (menu item, quantity, notes), never a price: every
render prices the cart from the menu as it is now, so a price change or a sold-out item shows at
once, and the order itself is priced again by the order service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .errors import Invalid

SESSION_KEY = "cart"
MAX_LINES = 30
MAX_QUANTITY = 99
MAX_NOTES = 200
# A cookie holds about 4 KB, and the session signs and base64-encodes the cart with the rest of it.
MAX_STORED_BYTES = 2400


@dataclass(frozen=True)
class CartLine:
    menu_item_id: int
    quantity: int
    notes: str = ""


def load(session: MutableMapping[str, Any]) -> list[CartLine]:
    """The cart in the session; anything malformed in it is dropped rather than trusted."""
    lines: list[CartLine] = []
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, list):
        return lines
    for entry in raw[:MAX_LINES]:
        if not (isinstance(entry, list) and len(entry) == 3):
            continue
        item_id, quantity, notes = entry
        valid = isinstance(item_id, int) and item_id >= 1 and isinstance(quantity, int) and isinstance(notes, str)
        if valid and 1 <= quantity <= MAX_QUANTITY and len(notes) <= MAX_NOTES:
            lines.append(CartLine(item_id, quantity, notes))
    return lines


def save(session: MutableMapping[str, Any], lines: Iterable[CartLine]) -> None:
    stored = [[line.menu_item_id, line.quantity, line.notes] for line in lines]
    if len(json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_STORED_BYTES:
        raise Invalid("the cart is full: remove something or shorten the notes", {"_": "cart too large"})
    if stored:
        session[SESSION_KEY] = stored
    else:
        session.pop(SESSION_KEY, None)


def add(lines: list[CartLine], menu_item_id: int, quantity: int) -> list[CartLine]:
    """One line per dish: adding a dish already in the cart adds to its quantity."""
    for i, line in enumerate(lines):
        if line.menu_item_id == menu_item_id:
            total = line.quantity + quantity
            if total > MAX_QUANTITY:
                raise Invalid(f"at most {MAX_QUANTITY} of one dish", {"quantity": f"at most {MAX_QUANTITY}"})
            return [*lines[:i], CartLine(menu_item_id, total, line.notes), *lines[i + 1 :]]
    if len(lines) >= MAX_LINES:
        raise Invalid(f"a cart holds at most {MAX_LINES} different dishes", {"_": "too many lines"})
    return [*lines, CartLine(menu_item_id, quantity)]


def replace(lines: list[CartLine], changed: CartLine) -> list[CartLine]:
    return [changed if line.menu_item_id == changed.menu_item_id else line for line in lines]


def remove(lines: list[CartLine], menu_item_id: int) -> list[CartLine]:
    return [line for line in lines if line.menu_item_id != menu_item_id]


def whole_number(raw: object, field: str, low: int, high: int) -> int:
    """A form field that must be a whole number in [low, high]; Invalid names the field otherwise."""
    text = str(raw if raw is not None else "").strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise Invalid(f"{field} must be a whole number from {low} to {high}", {field: f"{low} to {high}"})
    return int(text)


def notes_field(raw: object) -> str:
    text = str(raw if raw is not None else "").strip()
    if len(text) > MAX_NOTES:
        raise Invalid(f"notes are at most {MAX_NOTES} characters", {"notes": f"at most {MAX_NOTES} characters"})
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
