"""ForkFlow's closed word lists: roles, order statuses, channels, stock reasons, allergens, diets,
modifier kinds, weekdays, why lines reached a kitchen station.

Each list is written once, here, as a `Literal` type; its tuple is read from that type. Everything
else derives from them: the input and output models (forkflow/models.py, schemas_out.py), the
tables' CHECK constraints (schema.py), the permission table (auth/roles.py), the CLI's choices and
the console's select options. Migrations are history and keep their own copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

# Who a staff member is; each role has its screen and its permissions (auth/roles.py).
Role = Literal["kitchen", "cashier", "manager"]
ROLES: tuple[Role, ...] = get_args(Role)

# Where an order was taken: the till takes counter and table orders, the shop online ones.
Channel = Literal["counter", "online", "table"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)

# An order's life, and the moves services/orders.py allows between its statuses.
OrderStatus = Literal["new", "preparing", "ready", "completed", "cancelled"]
ORDER_STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)
TRANSITIONS: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    "new": ("preparing", "cancelled"),
    "preparing": ("ready", "cancelled"),
    "ready": ("completed", "preparing"),  # ready -> preparing sends it back to the line
    "completed": ("ready",),  # a recall, within services/orders.py's RECALL_WINDOW of completion
    "cancelled": (),
}
# On the kitchen's rail (and in the kitchen's queue): not yet handed over or cancelled.
ACTIVE_STATUSES: tuple[OrderStatus, ...] = ("new", "preparing", "ready")
# Still being made: what the kitchen has waiting, and what a tracking page estimates.
COOKING_STATUSES: tuple[OrderStatus, ...] = ("new", "preparing")

# Why a person changed stock; orders take stock and cancels give it back on their own.
StockReason = Literal["restock", "count", "waste"]
STOCK_REASONS: tuple[StockReason, ...] = get_args(StockReason)
# Every stock movement's kind: a person's reason, or an order's own.
MovementKind = Literal["order", "cancel", StockReason]
MOVEMENT_KINDS: tuple[MovementKind, ...] = get_args(MovementKind)

# Why lines reached a kitchen station (a send, services/dispatch.py): placed, a held order released,
# a course fired, lines added after sending, or a line voided on it. Chits and screens say it.
SendReason = Literal["new", "released", "fired", "added", "void"]
SEND_REASONS: tuple[SendReason, ...] = get_args(SendReason)

# The fourteen allergens EU food law (Regulation 1169/2011, Annex II) makes a menu declare, as stable
# words for the API and the database, each with the label screens show.
Allergen = Literal[
    "celery",
    "gluten",
    "crustaceans",
    "eggs",
    "fish",
    "lupin",
    "milk",
    "molluscs",
    "mustard",
    "tree_nuts",
    "peanuts",
    "sesame",
    "soya",
    "sulphites",
]
ALLERGENS: tuple[Allergen, ...] = get_args(Allergen)
ALLERGEN_LABELS: dict[Allergen, str] = {
    "celery": "Celery",
    "gluten": "Cereals containing gluten",
    "crustaceans": "Crustaceans",
    "eggs": "Eggs",
    "fish": "Fish",
    "lupin": "Lupin",
    "milk": "Milk",
    "molluscs": "Molluscs",
    "mustard": "Mustard",
    "tree_nuts": "Tree nuts",
    "peanuts": "Peanuts",
    "sesame": "Sesame",
    "soya": "Soya",
    "sulphites": "Sulphur dioxide and sulphites",
}

# What a dish is suitable for, besides its allergens.
Dietary = Literal["vegetarian", "vegan"]
DIETARY: tuple[Dietary, ...] = get_args(Dietary)
DIETARY_LABELS: dict[Dietary, str] = {"vegetarian": "Vegetarian", "vegan": "Vegan"}

# What a modifier group is to the kitchen: a choice answers a question (Doneness, Size, Sauce), an
# addition puts something on (Add-ons: ADD bacon), a removal takes something off (Remove: NO onions).
# The kitchen display writes each differently; the all-day panel counts the choices.
ModifierKind = Literal["choice", "add", "remove"]
MODIFIER_KINDS: tuple[ModifierKind, ...] = get_args(ModifierKind)
MODIFIER_KIND_LABELS: dict[ModifierKind, str] = {
    "choice": "Choice (Doneness, Size)",
    "add": "Additions (ADD bacon)",
    "remove": "Removals (NO onions)",
}

# The days of the opening hours (services/hours.py), Monday first as Python's `weekday()` counts.
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)

# How a recorded sign-in attempt ended (auth/throttle.py); pending ones count as failures.
SignInOutcome = Literal["pending", "failed", "ok"]
SIGN_IN_OUTCOMES: tuple[SignInOutcome, ...] = get_args(SignInOutcome)


# Kitchen printers (issue 16, forkflow/printing/): what a printer prints, what a print job is, and
# where a job stands. A kitchen printer with no stations is an expo printer (the whole order).
PrinterRole = Literal["kitchen", "receipt"]
PRINTER_ROLES: tuple[PrinterRole, ...] = get_args(PrinterRole)
# "unseen": proof of sight's fallback chit for a send no screen showed in time (NOT SEEN ON SCREEN);
# "report": a service day's X/Z report on a receipt printer.
PrintKind = Literal["chit", "unseen", "receipt", "test", "report"]
PRINT_KINDS: tuple[PrintKind, ...] = get_args(PrintKind)
PrintStatus = Literal["queued", "printed", "failed"]
PRINT_STATUSES: tuple[PrintStatus, ...] = get_args(PrintStatus)


# The money side (issue 17, forkflow/money/ and services/payments.py, drawers.py, discounts.py).
# How a payment was taken: the card terminal is a separate device, ForkFlow records its reference.
Tender = Literal["cash", "card", "other"]
TENDERS: tuple[Tender, ...] = get_args(Tender)
# A discount takes a percent of what it applies to, or a fixed amount off it (a comp: 100 %).
DiscountKind = Literal["percent", "amount"]
DISCOUNT_KINDS: tuple[DiscountKind, ...] = get_args(DiscountKind)
# Where taxes are rounded to the cent: on each line, or once per rate on the whole order.
TaxRounding = Literal["line", "order"]
TAX_ROUNDINGS: tuple[TaxRounding, ...] = get_args(TaxRounding)
# Cash put into or taken out of an open drawer, not for an order (change bought, a supplier paid).
DrawerMovementKind = Literal["paid_in", "paid_out"]
DRAWER_MOVEMENT_KINDS: tuple[DrawerMovementKind, ...] = get_args(DrawerMovementKind)


def spoken(words: Sequence[str]) -> str:
    """Words as a person says a choice between them: "new, preparing or ready"."""
    return " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
