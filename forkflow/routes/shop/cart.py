"""An online customer's cart: kept in the browser in a signed cookie, priced by the server.

The cookie holds only what the customer chose (menu item, quantity, notes, the options chosen on it),
the cart's random id
(the scope of its idempotency keys: forkflow/idempotency.py), the idempotency key of the checkout
they started, and the link of the last order they placed; never a price: every render
prices the cart from the menu as it is now, and the order itself is priced again by the order
service.

It is a cookie of its own rather than the session's: the session cookie is sent back with every
response (pages, static files, event streams), so a slow response carrying an older session could
put back an older cart. Only the shop's own answers set this one.

A line is its dish, its options and its notes: adding the same three again adds to its quantity,
anything else is a line of its own. Its `key` (a digest of the three) names it in the cart's forms,
so two burgers with different options are changed and removed apart.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ... import choices, idempotency, numbers
from ...errors import Invalid
from ...models import MAX_CHOICES, MAX_GROUPS, refused_character
from ...public_orders import Limits, portions

COOKIE = "forkflow_cart"
MAX_AGE_SECONDS = 12 * 3600
MAX_LINES = 30
MAX_QUANTITY = 99
MAX_NOTES = 200
MAX_KEY = idempotency.MAX_LENGTH
MAX_MODIFIERS = MAX_GROUPS * MAX_CHOICES  # option ids on one line, repeats counted (as OrderLineIn)
# Browsers keep cookies up to about 4 KB, name and attributes included.
MAX_COOKIE_CHARS = 3800
# A cart change leaves room for the checkout key and the last order's link to join it later.
CHECKOUT_HEADROOM = 300


@dataclass(frozen=True)
class CartLine:
    menu_item_id: int
    quantity: int
    notes: str = ""
    modifiers: tuple[int, ...] = ()  # option ids, sorted, an option repeated as often as chosen

    @property
    def key(self) -> str:
        """The line's name in forms: the same dish, options and notes are the same line."""
        made = f"{self.menu_item_id}|{','.join(map(str, self.modifiers))}|{self.notes}"
        return hashlib.sha256(made.encode()).hexdigest()[:16]

    def same_as(self, other: CartLine) -> bool:
        return self.key == other.key


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


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _line(entry: object) -> CartLine | None:
    """[item, quantity, notes] or [item, quantity, notes, [option ids]], if every field is in bounds."""
    if not (isinstance(entry, list) and len(entry) in (3, 4)):
        return None
    item_id, quantity, notes, *rest = entry
    mods = rest[0] if rest else []
    valid = (
        _whole(item_id, 1, numbers.MAX_ID)
        and _whole(quantity, 1, MAX_QUANTITY)
        and isinstance(notes, str)
        and len(notes) <= MAX_NOTES
        and isinstance(mods, list)
        and len(mods) <= MAX_MODIFIERS
        and all(_whole(m, 1, numbers.MAX_ID) for m in mods)
    )
    return CartLine(item_id, quantity, notes, tuple(sorted(mods))) if valid else None


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
        line = _line(entry)
        if line is not None:
            lines.append(line)
    return ShopState(
        lines=lines,
        cart_id=_text(raw.get("id"), 64),
        checkout_key=_text(raw.get("key"), MAX_KEY),
        placed_key=_text(raw.get("placed_key"), MAX_KEY),
        placed_url=_text(raw.get("placed_url"), 300),
    )


def _entry(line: CartLine) -> list[Any]:
    entry: list[Any] = [line.menu_item_id, line.quantity, line.notes]
    return [*entry, list(line.modifiers)] if line.modifiers else entry


def dump(state: ShopState, secret: str, headroom: int = 0) -> str:
    """The cookie's value; Invalid (nothing is kept) when the cart has grown too big for a cookie."""
    raw: dict[str, Any] = {"lines": [_entry(line) for line in state.lines]}
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
        raise Invalid(
            "the cart is full: remove something, or shorten the notes or the options", {"_": "cart too large"}
        )
    return value


def new_id() -> str:
    return secrets.token_urlsafe(16)


def within(lines: list[CartLine], limits: Limits, changed: int) -> list[CartLine]:
    """`lines`, if they keep to the public order limits (the cart never grows past what checkout
    would refuse); else Invalid about the dish changed (`changed`), counted over all its lines."""
    counted = portions([(line.menu_item_id, line.quantity) for line in lines])
    if counted[changed] > limits.per_item:
        raise Invalid(
            f"an online order holds at most {limits.per_item} of one dish",
            {"quantity": f"at most {limits.per_item}"},
        )
    if sum(counted.values()) > limits.per_order:
        raise Invalid(
            f"an online order holds at most {limits.per_order} portions in all",
            {"quantity": f"at most {limits.per_order} in all"},
        )
    return lines


def add(
    lines: list[CartLine], menu_item_id: int, quantity: int, limits: Limits, modifiers: Iterable[int] = ()
) -> list[CartLine]:
    """Adding a dish with the same options as a line without notes adds to that line's quantity."""
    new = CartLine(menu_item_id, quantity, "", tuple(sorted(modifiers)))
    if len(new.modifiers) > MAX_MODIFIERS:
        raise Invalid(f"a dish takes at most {MAX_MODIFIERS} options", {"_": "too many options"})
    for i, line in enumerate(lines):
        if line.same_as(new):
            grown = CartLine(menu_item_id, line.quantity + quantity, line.notes, line.modifiers)
            return within([*lines[:i], grown, *lines[i + 1 :]], limits, menu_item_id)
    if len(lines) >= MAX_LINES:
        raise Invalid(f"a cart holds at most {MAX_LINES} different lines", {"_": "too many lines"})
    return within([*lines, new], limits, menu_item_id)


def find(lines: Sequence[CartLine], key: str) -> CartLine | None:
    return next((line for line in lines if line.key == key), None)


def replace(lines: list[CartLine], key: str, quantity: int, notes: str, limits: Limits) -> list[CartLine]:
    """The line `key` with a new quantity and notes; if it becomes the same as another line (same
    dish, options and notes), the two become one."""
    old = find(lines, key)
    if old is None:
        return lines
    changed = CartLine(old.menu_item_id, quantity, notes, old.modifiers)
    twin = next((line for line in lines if line.key == changed.key and line.key != key), None)
    if twin is None:
        replaced = [changed if line.key == key else line for line in lines]
    else:
        merged = CartLine(twin.menu_item_id, twin.quantity + quantity, twin.notes, twin.modifiers)
        replaced = [merged if line.key == twin.key else line for line in lines if line.key != key]
    return within(replaced, limits, old.menu_item_id)


def remove(lines: list[CartLine], key: str) -> list[CartLine]:
    return [line for line in lines if line.key != key]


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
class ChosenOption:
    group: str
    name: str
    times: int
    price_cents: int  # for all the times chosen, per portion


@dataclass(frozen=True)
class PricedLine:
    key: str
    menu_item_id: int
    name: str
    quantity: int
    notes: str
    unit_price_cents: int  # with its options (choices.check)
    on_menu: bool  # the dish still exists
    available: bool  # and is not sold out
    options: tuple[ChosenOption, ...] = ()
    allergens: tuple[str, ...] = ()  # the dish's and its options', in the law's order
    problem: str | None = None  # its options no longer fit the menu (an option 86'd, a rule changed)

    @property
    def line_total_cents(self) -> int:
        return self.unit_price_cents * self.quantity

    @property
    def orderable(self) -> bool:
        return self.on_menu and self.available and self.problem is None


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
        """Lines that stop the order going through: sold out, gone from the menu, or options that no
        longer fit."""
        return [line for line in self.lines if not line.orderable]

    def flags(self, allergies: Iterable[str]) -> dict[str, list[str]]:
        """{line key: the allergies it contains} for the lines that contain any (choices.flagged)."""
        wanted = list(allergies)
        found = {line.key: choices.flagged(line.allergens, wanted) for line in self.lines}
        return {key: words for key, words in found.items() if words}


def price_line(line: CartLine, item: Mapping[str, Any] | None) -> PricedLine:
    """One line priced from its menu item as it is now (None: gone from the menu)."""
    if item is None:
        return PricedLine(
            line.key, line.menu_item_id, "A dish no longer on the menu", line.quantity, line.notes, 0, False, False
        )
    checked = choices.check(item, line.modifiers)
    options = tuple(
        ChosenOption(choice.group["name"], choice.option["name"], choice.times, choice.price_cents)
        for choice in checked.chosen
    )
    return PricedLine(
        line.key,
        line.menu_item_id,
        item["name"],
        line.quantity,
        line.notes,
        checked.unit_price_cents,
        True,
        bool(item["available"]),
        options,
        tuple(checked.allergens),
        checked.problem,
    )


def price(lines: Iterable[CartLine], menu: Iterable[Mapping[str, Any]]) -> PricedCart:
    by_id = {item["id"]: item for item in menu}
    return PricedCart(tuple(price_line(line, by_id.get(line.menu_item_id)) for line in lines))
