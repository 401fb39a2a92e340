"""The cashier's ticket: what the till's form holds, what a tap does to it, and what it costs.

The ticket lives in the page as a form. Every change posts the whole form back; the server applies
the tap, prices the lines from the menu as it is at that moment and renders the ticket again. The
form carries no price: a total is only ever computed here. Sending the ticket builds the same
`OrderIn` the JSON API validates, so the same rules (and the same idempotency fingerprint) apply.

A line's options travel in the form as option ids (`line_modifiers`: "12,15,15" is one of 12 and
two of 15). The picker, open while a dish's options are being chosen, is form state too (`pick_*`),
so a tap in it, or a menu change that 86es an option, re-renders it like the rest of the ticket.
What the options mean (the group rule, the price, the allergens) is `forkflow/choices.py`'s.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.datastructures import FormData

from ... import choices, idempotency
from ...errors import BadRequest, Conflict, Invalid, ServiceError
from ...models import MAX_CHOICES, MAX_COURSE, MAX_GROUPS, LinesIn, OrderIn, field_errors
from ...numbers import whole_number
from ...services.courses import DEFAULT_COURSE
from ...services.orders import ALLERGY_CONFIRMATION_NEEDED
from ...vocabulary import ALLERGENS, Channel, spoken

CHANNELS: tuple[Channel, ...] = ("counter", "table")  # the till's; online orders come through the shop
MAX_LINES = 100
MAX_QUANTITY = 99
MAX_MODIFIERS = MAX_GROUPS * MAX_CHOICES  # option ids on one line, repeats counted (as the API's)
_QUANTITY = re.compile(r"^[0-9]{1,3}$")
_OP = re.compile(r"^(inc|dec|remove):([0-9a-f]{8})$")
_PICK_OP = re.compile(r"^(?:(edit):([0-9a-f]{8})|(choose|unchoose):([0-9]{1,10})|(save|cancel))$")
_ALLERGY_OP = re.compile(r"^allergy:([a-z_]{1,20})$")
_UID = re.compile(r"^[0-9a-f]{8}$")
_COURSE = re.compile(rf"^(?:[0-{MAX_COURSE}])?$")  # a line's course, or "" for its category's
_IDS = re.compile(rf"^(?:[1-9][0-9]{{0,9}}(?:,[1-9][0-9]{{0,9}}){{0,{MAX_MODIFIERS - 1}}})?$")
# Where the API names a field of an order line, and where the ticket shows it.
_LINE_FIELDS = {"menu_item_id": "item", "quantity": "quantity", "notes": "notes", "modifiers": "modifiers"}

Menu = Mapping[int, dict[str, Any]]
_UTC = ZoneInfo("UTC")


def _ids(raw: str) -> list[int]:
    """Option ids written "12,15,15" as [12, 15, 15] (the form's are checked by `_well_formed`)."""
    return [number for part in raw.split(",") if (number := whole_number(part, 1)) is not None]


def _well_formed(raw: str) -> bool:
    """Option ids as the page writes them: none, or ids joined by commas, each a valid id."""
    return not raw or (bool(_IDS.match(raw)) and len(_ids(raw)) == raw.count(",") + 1)


def _joined(checked: choices.Choices) -> str:
    """A line's options in the item's order, each as often as chosen: equal choices, equal text."""
    return ",".join(str(choice.option["id"]) for choice in checked.chosen for _ in range(choice.times))


@dataclass
class Line:
    uid: str  # names the line in a tap: a tap queued behind another still finds its line
    item: str  # the menu item id, as the form sent it
    quantity: str  # as typed, so a bad value is shown back rather than lost
    notes: str = ""
    modifiers: str = ""  # the chosen option ids, comma-separated, repeats allowed
    course: str = ""  # "" : its category's course (services/courses.py); else the course chosen

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

    @property
    def option_ids(self) -> list[int]:
        return _ids(self.modifiers)


@dataclass
class Pick:
    """The picker, open on one dish: its options chosen so far, for a new line or to change `line`."""

    item: str  # the menu item id
    line: str = ""  # the uid of the line being changed; empty for a new line
    modifiers: str = ""  # as Line.modifiers

    @property
    def item_id(self) -> int | None:
        return whole_number(self.item, 1)

    @property
    def option_ids(self) -> list[int]:
        return _ids(self.modifiers)


@dataclass
class Ticket:
    key: str  # made by the server when the ticket was started; sent with the order
    customer_name: str = ""
    channel: str = "counter"
    table: str = ""
    guests: str = ""  # at a table, as typed ("" not given): the service charge may depend on it
    notes: str = ""
    pickup_at: str = ""  # a phone order for later: the local date and time typed ("2026-05-01T19:30"); "" ASAP
    lines: list[Line] = field(default_factory=list)
    allergies: list[str] = field(default_factory=list)  # the customer's, in the vocabulary's order
    pick: Pick | None = None
    errors: dict[str, str] = field(default_factory=dict)  # "customer_name", "lines.0.quantity", "pick.3" ...
    message: str = ""  # what went wrong with the ticket as a whole
    confirm: dict[int, str] = field(default_factory=dict)  # line index -> "contains milk": the 409 to confirm
    amend: str = ""  # the id of a sent order this ticket adds lines to ("Add / void"); empty: a new order

    @property
    def guest_count(self) -> int | None:
        """The guests typed at a table order, if a whole number (the order's validation checks the range)."""
        return whole_number(self.guests, 1) if self.channel == "table" and self.guests else None

    @property
    def amend_id(self) -> int | None:
        return whole_number(self.amend, 1) if self.amend else None

    @classmethod
    def new(cls) -> Ticket:
        return cls(key=idempotency.new_key("till"))

    @classmethod
    def from_form(cls, form: FormData) -> Ticket:
        """The ticket as the page holds it. Lines come as five parallel lists; lists of different
        lengths, line names or option lists that are not ours, or unknown allergens, mean the form
        was not made here. (No `line_modifiers` at all is a page from before options: none chosen.)"""
        uids, items, quantities, notes, modifiers, courses = (
            [str(value) for value in form.getlist(name)]
            for name in ("line", "item", "quantity", "line_notes", "line_modifiers", "line_course")
        )
        if "line_modifiers" not in form:
            modifiers = [""] * len(uids)
        if "line_course" not in form:  # (a page from before courses: each line in its category's)
            courses = [""] * len(uids)
        if (
            not len(uids) == len(items) == len(quantities) == len(notes) == len(modifiers) == len(courses)
            or not all(map(_UID.match, uids))
            or not all(map(_well_formed, modifiers))
            or not all(map(_COURSE.match, courses))
        ):
            raise BadRequest("the ticket's lines are garbled; start a new ticket", {"lines": "mismatched"})
        amend = str(form.get("amend") or "")
        if amend and whole_number(amend, 1) is None:
            raise BadRequest("the ticket's order is garbled; start a new ticket", {"amend": "not an order id"})
        allergies = {str(word) for word in form.getlist("allergies")}
        if not allergies <= set(ALLERGENS):
            raise BadRequest("the ticket's allergies are garbled; start a new ticket", {"allergies": "unknown"})
        return cls(
            key=str(form.get("idempotency_key") or ""),
            customer_name=str(form.get("customer_name") or ""),
            channel=str(form.get("channel") or "counter"),
            table=str(form.get("table") or ""),
            guests=str(form.get("guests") or "").strip(),
            notes=str(form.get("notes") or ""),
            pickup_at=str(form.get("pickup_at") or "").strip(),
            lines=[Line(*fields) for fields in zip(uids, items, quantities, notes, modifiers, courses, strict=True)],
            allergies=[word for word in ALLERGENS if word in allergies],
            pick=_pick_of(form),
            amend=amend,
        )

    # Taps. Each checks first and changes nothing when it refuses.

    def add(self, raw_id: str, menu: Menu) -> None:
        """One more of a dish: on its line without notes if there is one, else on a new line. A dish
        with options opens the picker instead (`save` then adds the line)."""
        item = self._dish(raw_id, menu, "add")
        if item.get("modifier_groups"):
            self.pick = Pick(str(item["id"]))
            return
        self._add_line(item, "")

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

    def apply(self, op: str, menu: Menu) -> None:
        """A tap named by `op`: a line's +, − or Remove (`step`), or one of the picker's: `edit:LINE`
        opens it on a line, `choose:OPTION` / `unchoose:OPTION` one more or one fewer of an option,
        `save` puts the choice on the ticket, `cancel` closes it; `allergy:WORD` sets or clears one
        of the customer's allergies. `back` changes nothing (the allergy confirmation's "Go back":
        the ticket is simply shown again)."""
        if op == "back":
            return
        allergy = _ALLERGY_OP.match(op)
        if allergy:
            self.toggle_allergy(allergy.group(1))
            return
        match = _PICK_OP.match(op)
        if match is None:
            self.step(op)
        elif match.group(1):
            self.edit(match.group(2), menu)
        elif match.group(3):
            self.choose(match.group(4), menu, more=match.group(3) == "choose")
        elif match.group(5) == "save":
            self.save(menu)
        else:
            self.pick = None

    def toggle_allergy(self, word: str) -> None:
        """The customer has this allergy, or (a second tap) not after all."""
        if word not in ALLERGENS:
            raise Invalid("that is not one of the fourteen allergens", {"allergies": "unknown allergen"})
        chosen = set(self.allergies) ^ {word}
        self.allergies = [known for known in ALLERGENS if known in chosen]

    # The picker

    def edit(self, uid: str, menu: Menu) -> None:
        """Open the picker on a line, with its options as they are."""
        line = next((line for line in self.lines if line.uid == uid), None)
        if line is None:
            raise Invalid("that line is no longer on the ticket", {"op": "unknown line"})
        item = menu.get(line.item_id) if line.item_id is not None else None
        if item is None or not item.get("modifier_groups"):
            raise Invalid("that dish has no options to choose", {"op": "no options"})
        self.pick = Pick(line.item, line.uid, line.modifiers)

    def choose(self, raw_id: str, menu: Menu, more: bool = True) -> None:
        """One more (or fewer) of an option. In a group of one choice the tap picks it instead of
        the one chosen before, and a second tap takes it back; more than a group's `max` is refused
        with the group's rule."""
        pick, item = self._picking(menu)
        option_id = whole_number(raw_id, 1)
        options = [(group, option) for group in item.get("modifier_groups") or () for option in group["options"]]
        found = next(((group, option) for group, option in options if option["id"] == option_id), None)
        if found is None:
            raise Invalid(f"that is not one of {item['name']}'s options", {"pick": "unknown option"})
        group, option = found
        ids = pick.option_ids
        same_group = {other["id"] for other in group["options"]}
        if not more:
            if option_id in ids:
                ids.remove(option_id)
        elif group["max"] == 1:
            had = option_id in ids
            ids = [chosen for chosen in ids if chosen not in same_group]
            if not had:
                ids.append(self._can_have(option, group))
        else:
            problem = choices.group_problem(
                group["name"], 0, group["max"], sum(chosen in same_group for chosen in ids) + 1
            )
            if problem is not None:
                raise Invalid(problem, {f"pick.{group['id']}": problem})
            ids.append(self._can_have(option, group))
        pick.modifiers = _joined(choices.check(item, ids))

    def save(self, menu: Menu) -> None:
        """Put the picker's choice on the ticket: on the line it was opened on (its quantity and notes
        kept), else as one more of an equal line, else as a new line. Refused, with each broken
        group's rule, while the choice does not fit the groups."""
        pick, item = self._picking(menu)
        checked = choices.check(item, pick.option_ids)
        if checked.problems:
            raise Invalid(
                "; ".join(checked.problems.values()),
                {f"pick.{group_id}": problem for group_id, problem in checked.problems.items()},
            )
        if checked.unavailable:
            names = ", ".join(choice.option["name"] for choice in checked.unavailable)
            raise Conflict(f"not available right now: {names}", {"pick": "not available"})
        if pick.line:
            line = next((line for line in self.lines if line.uid == pick.line), None)
            if line is None:
                raise Invalid("that line is no longer on the ticket", {"pick": "unknown line"})
            line.modifiers = _joined(checked)
        else:
            if not item["available"]:
                raise Conflict(f"{item['name']} is sold out", {"pick": "not available"})
            self._add_line(item, _joined(checked))
        self.pick = None

    def _picking(self, menu: Menu) -> tuple[Pick, dict[str, Any]]:
        pick = self.pick
        if pick is None:
            raise Invalid("the options were closed; tap the dish again", {"pick": "closed"})
        item = menu.get(pick.item_id) if pick.item_id is not None else None
        if item is None:
            self.pick = None
            raise Invalid("that dish is no longer on the menu", {"pick": "unknown item"})
        return pick, item

    @staticmethod
    def _can_have(option: Mapping[str, Any], group: Mapping[str, Any]) -> int:
        if not option["available"]:
            raise Conflict(f"{option['name']} is not available right now", {f"pick.{group['id']}": "not available"})
        return int(option["id"])

    def _dish(self, raw_id: str, menu: Menu, name: str) -> dict[str, Any]:
        item_id = whole_number(raw_id, 1)
        item = menu.get(item_id) if item_id is not None else None
        if item is None:
            raise Invalid("that item is not on the menu", {name: "unknown item"})
        if not item["available"]:
            raise Conflict(f"{item['name']} is sold out", {name: "not available"})
        return item

    def _add_line(self, item: Mapping[str, Any], modifiers: str) -> None:
        """One more on the line of the same dish and options without notes, else a new line."""
        for line in self.lines:
            same = line.item_id == item["id"] and line.modifiers == modifiers
            if same and not line.notes.strip() and line.count is not None:
                if line.count >= MAX_QUANTITY:
                    raise Invalid(f"at most {MAX_QUANTITY} {item['name']} on one line", {"add": "too many"})
                line.quantity = str(line.count + 1)
                return
        if len(self.lines) >= MAX_LINES:
            raise Invalid(f"a ticket holds at most {MAX_LINES} lines", {"add": "too many lines"})
        uid = secrets.token_hex(4)
        while uid in {line.uid for line in self.lines}:
            uid = secrets.token_hex(4)
        self.lines.append(Line(uid, str(item["id"]), "1", "", modifiers))

    # Checks

    def check_lines(self, menu: Menu) -> None:
        """Mark what cannot be sent as it is: a quantity that is not 1 to 99, an item not on the menu,
        options that no longer fit the dish's groups."""
        for index, line in enumerate(self.lines):
            if line.count is None:
                self.errors[f"lines.{index}.quantity"] = f"a whole number from 1 to {MAX_QUANTITY}"
            item = menu.get(line.item_id) if line.item_id is not None else None
            if item is None:
                self.errors[f"lines.{index}.item"] = "not on the menu"
                continue
            problem = choices.check(item, line.option_ids).misfit  # 86'd options: the off-warning and the 409
            if problem is not None:
                self.errors.setdefault(f"lines.{index}.modifiers", problem)
        if self.channel not in CHANNELS:
            self.errors["channel"] = spoken(CHANNELS)

    def order(self, allergies_confirmed: bool = False, zone: ZoneInfo = _UTC) -> OrderIn:
        """The order to send, validated exactly as the JSON API validates one (422 with fields).
        `allergies_confirmed`: the cashier has seen which lines contain the customer's allergies.
        A pickup time is typed in the restaurant's local time (`zone`)."""
        problems: dict[str, str] = {}
        if not self.lines:
            raise Invalid("add at least one item to the ticket", {"items": "empty"})
        if not self.customer_name.strip():
            problems["customer_name"] = "enter the customer's name"
        if self.channel == "table" and not self.table.strip():
            problems["table"] = "enter the table"
        if self.channel not in CHANNELS:
            problems["channel"] = spoken(CHANNELS)
        body: dict[str, Any] = {
            "customer_name": self.customer_name,
            "channel": self.channel,
            "table": self.table if self.channel == "table" else None,
            "notes": self.notes,
            "items": self._items(),
        }
        if self.allergies:
            body |= {"allergies": self.allergies, "allergies_confirmed": allergies_confirmed}
        if self.channel == "table" and self.guests:
            body["guests"] = self.guest_count if self.guest_count is not None else self.guests
        if self.pickup_at:
            try:
                body["pickup_at"] = datetime.fromisoformat(self.pickup_at).replace(tzinfo=zone).isoformat()
            except ValueError:
                problems["pickup_at"] = "enter a date and time, or leave it empty for as soon as possible"
        try:
            data = OrderIn.model_validate(body)
        except ValidationError as exc:
            problems = field_errors(exc) | problems
        if problems:
            raise Invalid("the ticket is not complete", problems)
        return data

    def _items(self) -> list[dict[str, Any]]:
        """The lines as the API's `items`, sent as typed: its validation says what is wrong."""
        return [
            {
                "menu_item_id": line.item_id if line.item_id is not None else line.item,
                "quantity": line.count if line.count is not None else line.quantity,
                "notes": line.notes,
                **({"modifiers": line.option_ids} if line.modifiers else {}),
                **({"course": int(line.course)} if line.course else {}),
            }
            for line in self.lines
        ]

    def added_lines(self, allergies_confirmed: bool = False) -> LinesIn:
        """The lines to add to the sent order (`amend`), validated as `POST /orders/{id}/lines`
        validates them; the order's own allergies apply."""
        if not self.lines:
            raise Invalid("add at least one item to send to the order", {"items": "empty"})
        try:
            return LinesIn.model_validate({"items": self._items(), "allergies_confirmed": allergies_confirmed})
        except ValidationError as exc:
            raise Invalid("the lines are not complete", field_errors(exc)) from None

    def fail(self, error: ServiceError) -> None:
        """Show a refusal on the ticket: its message on top, its fields next to what they name. The
        order's allergy 409 becomes the confirmation to send anyway, line by line."""
        if error.extra.get("reason") == ALLERGY_CONFIRMATION_NEEDED:
            for name, problem in (error.fields or {}).items():
                index = whole_number(name.removeprefix("items."))
                if index is not None and index < len(self.lines):
                    self.confirm[index] = problem
            if self.confirm:
                return
        self.message = error.message[:1].upper() + error.message[1:]
        for name, problem in (error.fields or {}).items():
            self.errors[self._field(name)] = problem

    def _field(self, name: str) -> str:
        """The API's name of a field ("items.2.quantity") as the ticket's ("lines.2.quantity"); an
        option of a line ("items.2.modifiers.1") as "lines.2.option.<its id>"."""
        parts = name.split(".")
        if len(parts) == 4 and parts[0] == "items" and parts[2] == "modifiers":
            index, at = whole_number(parts[1]), whole_number(parts[3])
            if index is not None and at is not None and index < len(self.lines):
                ids = self.lines[index].option_ids
                if at < len(ids):
                    return f"lines.{index}.option.{ids[at]}"
            return f"lines.{parts[1]}.modifiers"
        if len(parts) == 3 and parts[0] == "items" and parts[2] in _LINE_FIELDS:
            return f"lines.{parts[1]}.{_LINE_FIELDS[parts[2]]}"
        if name == "_" and self.channel == "table":
            return "table"  # the model's only whole-order rule: a table order names its table
        return name


def _pick_of(form: FormData) -> Pick | None:
    if "pick_item" not in form:
        return None
    pick = Pick(*(str(form.get(name) or "") for name in ("pick_item", "pick_line", "pick_modifiers")))
    if pick.item_id is None or (pick.line and not _UID.match(pick.line)) or not _well_formed(pick.modifiers):
        raise BadRequest("the ticket's picker is garbled; start a new ticket", {"pick": "garbled"})
    return pick


# What the ticket costs and what it shows


@dataclass(frozen=True)
class BillLine:
    index: int
    line: Line
    name: str
    unit_cents: int | None  # None: not a dish on the menu
    total_cents: int | None  # None: no price, or no valid quantity
    sold_out: bool
    choices: choices.Choices | None = None  # its options against its dish; None: not on the menu
    flags: list[str] = field(default_factory=list)  # the customer's allergies this line contains
    default_course: int = DEFAULT_COURSE  # its category's course: what "" sends

    @property
    def has_options(self) -> bool:
        return bool(self.choices and self.choices.item.get("modifier_groups"))

    @property
    def off(self) -> list[str]:
        """Its options that cannot be had right now."""
        return [choice.option["name"] for choice in self.choices.unavailable] if self.choices else []


@dataclass(frozen=True)
class Picker:
    """The open picker as the page shows it: the dish, the choice checked, the line's price."""

    pick: Pick
    item: dict[str, Any]
    choices: choices.Choices
    quantity: int  # of the line being changed; 1 for a new line
    flags: list[str]  # the customer's allergies the dish with these options contains

    @property
    def total_cents(self) -> int:
        return self.choices.unit_price_cents * self.quantity


@dataclass(frozen=True)
class Bill:
    lines: list[BillLine]
    total_cents: int
    sold_out: list[str]  # names of the dishes on the ticket that cannot be ordered now
    off: list[str] = field(default_factory=list)  # "Bacon (Classic Burger)": options 86'd on its lines
    picker: Picker | None = None

    @property
    def flagged(self) -> list[BillLine]:
        return [row for row in self.lines if row.flags]


def bill(ticket: Ticket, menu: Menu, courses: Mapping[str, int] | None = None) -> Bill:
    """Price every line from the menu, with its options (choices.check); the total counts the lines
    that have a price and a quantity. Flag the lines that contain the customer's allergies.
    `courses`: each category's course, for the lines' course selectors."""
    courses = courses or {}
    lines = []
    for index, line in enumerate(ticket.lines):
        item = menu.get(line.item_id) if line.item_id is not None else None
        checked = choices.check(item, line.option_ids) if item else None
        unit = checked.unit_price_cents if checked else None
        count = line.count
        lines.append(
            BillLine(
                index=index,
                line=line,
                name=item["name"] if item else f"Unknown item {line.item[:20]}",
                unit_cents=unit,
                total_cents=unit * count if unit is not None and count is not None else None,
                sold_out=item is not None and not item["available"],
                choices=checked,
                flags=choices.flagged(checked.allergens, ticket.allergies) if checked else [],
                default_course=courses.get(item.get("category", ""), DEFAULT_COURSE) if item else DEFAULT_COURSE,
            )
        )
    sold_out = list(dict.fromkeys(row.name for row in lines if row.sold_out))
    off = list(dict.fromkeys(f"{name} ({row.name})" for row in lines for name in row.off))
    total = sum(row.total_cents or 0 for row in lines)
    return Bill(lines, total, sold_out, off, _picker(ticket, menu))


def _picker(ticket: Ticket, menu: Menu) -> Picker | None:
    pick = ticket.pick
    item = menu.get(pick.item_id) if pick is not None and pick.item_id is not None else None
    if pick is None or item is None:
        return None
    line = next((line for line in ticket.lines if pick.line and line.uid == pick.line), None)
    checked = choices.check(item, pick.option_ids)
    quantity = (line.count or 1) if line is not None else 1
    return Picker(pick, item, checked, quantity, choices.flagged(checked.allergens, ticket.allergies))
