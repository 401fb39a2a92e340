"""The cashier's ticket: what the till's form holds, what a tap does to it, and what it costs.

The ticket lives in the page as a form. Every change posts the whole form back; the server applies
the tap, prices the lines from the menu as it is at that moment and renders the ticket again. The
form carries no price: a total is only ever computed here. Sending the ticket builds the same
`OrderIn` the JSON API validates, so the same rules (and the same idempotency fingerprint) apply.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from ... import idempotency
from ...errors import BadRequest, Conflict, Invalid, ServiceError
from ...models import OrderIn, field_errors
from ...numbers import whole_number
from ...vocabulary import Channel, spoken

CHANNELS: tuple[Channel, ...] = ("counter", "table")  # the till's; online orders come through the shop
MAX_LINES = 100
MAX_QUANTITY = 99
_QUANTITY = re.compile(r"^[0-9]{1,3}$")
_OP = re.compile(r"^(inc|dec|remove):([0-9a-f]{8})$")
_UID = re.compile(r"^[0-9a-f]{8}$")
# Where the API names a field of an order line, and where the ticket shows it.
_LINE_FIELDS = {"menu_item_id": "item", "quantity": "quantity", "notes": "notes"}

Menu = Mapping[int, dict[str, Any]]


@dataclass
class Line:
    uid: str  # names the line in a tap: a tap queued behind another still finds its line
    item: str  # the menu item id, as the form sent it
    quantity: str  # as typed, so a bad value is shown back rather than lost
    notes: str = ""

    @property
    def item_id(self) -> int | None:
        return whole_number(self.item, 1)

    @property
    def count(self) -> int | None:
        """The quantity, if it is a whole number from 1 to 99."""
        raw = self.quantity.strip()
        if _QUANTITY.match(raw) and 1 <= int(raw) <= MAX_QUANTITY:
            return int(raw)
        return None


@dataclass
class Ticket:
    key: str  # made by the server when the ticket was started; sent with the order
    customer_name: str = ""
    channel: str = "counter"
    table: str = ""
    notes: str = ""
    lines: list[Line] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # "customer_name", "lines.0.quantity", ...
    message: str = ""  # what went wrong with the ticket as a whole

    @classmethod
    def new(cls) -> Ticket:
        return cls(key=idempotency.new_key("till"))

    @classmethod
    def from_form(cls, form: FormData) -> Ticket:
        """The ticket as the page holds it. Lines come as four parallel lists; lists of different
        lengths, or line names that are not ours, mean the form was not made here."""
        uids, items, quantities, notes = (
            [str(value) for value in form.getlist(name)] for name in ("line", "item", "quantity", "line_notes")
        )
        if not len(uids) == len(items) == len(quantities) == len(notes) or not all(map(_UID.match, uids)):
            raise BadRequest("the ticket's lines are garbled; start a new ticket", {"lines": "mismatched"})
        return cls(
            key=str(form.get("idempotency_key") or ""),
            customer_name=str(form.get("customer_name") or ""),
            channel=str(form.get("channel") or "counter"),
            table=str(form.get("table") or ""),
            notes=str(form.get("notes") or ""),
            lines=[Line(*fields) for fields in zip(uids, items, quantities, notes, strict=True)],
        )

    # Taps. Each checks first and changes nothing when it refuses.

    def add(self, raw_id: str, menu: Menu) -> None:
        """One more of a dish: on its line without notes if there is one, else on a new line."""
        item_id = whole_number(raw_id, 1)
        item = menu.get(item_id) if item_id is not None else None
        if item is None:
            raise Invalid("that item is not on the menu", {"add": "unknown item"})
        if not item["available"]:
            raise Conflict(f"{item['name']} is sold out", {"add": "not available"})
        for line in self.lines:
            if line.item_id == item["id"] and not line.notes.strip() and line.count is not None:
                if line.count >= MAX_QUANTITY:
                    raise Invalid(f"at most {MAX_QUANTITY} {item['name']} on one line", {"add": "too many"})
                line.quantity = str(line.count + 1)
                return
        if len(self.lines) >= MAX_LINES:
            raise Invalid(f"a ticket holds at most {MAX_LINES} lines", {"add": "too many lines"})
        uid = secrets.token_hex(4)
        while uid in {line.uid for line in self.lines}:
            uid = secrets.token_hex(4)
        self.lines.append(Line(uid, str(item["id"]), "1"))

    def step(self, op: str) -> None:
        """`inc:LINE` / `dec:LINE` change a line's quantity (down to nothing removes it); `remove:LINE`
        takes it off."""
        match = _OP.match(op)
        index = next((i for i, line in enumerate(self.lines) if match and line.uid == match.group(2)), None)
        if match is None or index is None:
            raise Invalid("that line is no longer on the ticket", {"op": "unknown line"})
        action, line = match.group(1), self.lines[index]
        count = line.count or 0
        if action == "remove" or (action == "dec" and count <= 1):
            del self.lines[index]
        elif action == "dec":
            line.quantity = str(count - 1)
        elif count >= MAX_QUANTITY:
            raise Invalid(f"at most {MAX_QUANTITY} on one line", {f"lines.{index}.quantity": "too many"})
        else:
            line.quantity = str(count + 1)

    # Checks

    def check_lines(self, menu: Menu) -> None:
        """Mark what cannot be sent as it is: a quantity that is not 1 to 99, an item not on the menu."""
        for index, line in enumerate(self.lines):
            if line.count is None:
                self.errors[f"lines.{index}.quantity"] = f"a whole number from 1 to {MAX_QUANTITY}"
            if line.item_id not in menu:
                self.errors[f"lines.{index}.item"] = "not on the menu"
        if self.channel not in CHANNELS:
            self.errors["channel"] = spoken(CHANNELS)

    def order(self) -> OrderIn:
        """The order to send, validated exactly as the JSON API validates one (422 with fields)."""
        problems: dict[str, str] = {}
        if not self.lines:
            raise Invalid("add at least one item to the ticket", {"items": "empty"})
        if not self.customer_name.strip():
            problems["customer_name"] = "enter the customer's name"
        if self.channel == "table" and not self.table.strip():
            problems["table"] = "enter the table"
        if self.channel not in CHANNELS:
            problems["channel"] = spoken(CHANNELS)
        body = {
            "customer_name": self.customer_name,
            "channel": self.channel,
            "table": self.table if self.channel == "table" else None,
            "notes": self.notes,
            "items": [
                {
                    "menu_item_id": line.item_id if line.item_id is not None else line.item,
                    "quantity": line.count if line.count is not None else line.quantity,
                    "notes": line.notes,
                }
                for line in self.lines
            ],
        }
        try:
            data = OrderIn.model_validate(body)
        except ValidationError as exc:
            problems = field_errors(exc) | problems
        if problems:
            raise Invalid("the ticket is not complete", problems)
        return data

    def fail(self, error: ServiceError) -> None:
        """Show a refusal on the ticket: its message on top, its fields next to what they name."""
        self.message = error.message[:1].upper() + error.message[1:]
        for name, problem in (error.fields or {}).items():
            self.errors[_ticket_field(name, self.channel)] = problem


def _ticket_field(name: str, channel: str) -> str:
    """The API's name of a field ("items.2.quantity") as the ticket's ("lines.2.quantity")."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "items" and parts[2] in _LINE_FIELDS:
        return f"lines.{parts[1]}.{_LINE_FIELDS[parts[2]]}"
    if name == "_" and channel == "table":
        return "table"  # the model's only whole-order rule: a table order names its table
    return name


@dataclass(frozen=True)
class BillLine:
    index: int
    line: Line
    name: str
    unit_cents: int | None  # None: not a dish on the menu
    total_cents: int | None  # None: no price, or no valid quantity
    sold_out: bool


@dataclass(frozen=True)
class Bill:
    lines: list[BillLine]
    total_cents: int
    sold_out: list[str]  # names of the dishes on the ticket that cannot be ordered now


def bill(ticket: Ticket, menu: Menu) -> Bill:
    """Price every line from the menu; the total counts the lines that have a price and a quantity."""
    lines = []
    for index, line in enumerate(ticket.lines):
        item = menu.get(line.item_id) if line.item_id is not None else None
        unit = item["price_cents"] if item else None
        count = line.count
        lines.append(
            BillLine(
                index=index,
                line=line,
                name=item["name"] if item else f"Unknown item {line.item[:20]}",
                unit_cents=unit,
                total_cents=unit * count if unit is not None and count is not None else None,
                sold_out=item is not None and not item["available"],
            )
        )
    sold_out = list(dict.fromkeys(row.name for row in lines if row.sold_out))
    return Bill(lines, sum(row.total_cents or 0 for row in lines), sold_out)
