"""What clients may send, validated by pydantic. Prices and totals are never taken from a client."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .auth.passwords import is_common
from .numbers import (
    DEFAULT_PREP_LOAD,
    DEFAULT_PREP_MINUTES,
    MAX_BUSY_MINUTES,
    MAX_ID,
    MAX_PREP_LOAD,
    MAX_PREP_MINUTES,
    MAX_SLOT_LOAD,
    MAX_SLOT_ORDERS,
)
from .vocabulary import (
    WEEKDAYS,
    Allergen,
    Channel,
    Dietary,
    DiscountKind,
    DrawerMovementKind,
    ModifierKind,
    OrderStatus,
    PrinterRole,
    Role,
    StockReason,
    TaxRounding,
    Tender,
)

# What people type is shown to others (tickets, the kitchen display, tracking pages), so it must
# read as typed: no control characters (a NUL is also a 500 on PostgreSQL) and no bidi controls,
# which can make "no nuts" display as something else. Written once as a JSON Schema pattern (the
# OpenAPI document shows it) that Python's `re` reads too.
_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ONE_LINE_REFUSED = rf"\u0000-\u001f\u007f-\u009f{_BIDI}"
# Multi-line notes (the UI has textareas for them) may also hold tabs and line breaks.
_MULTI_LINE_REFUSED = rf"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f{_BIDI}"
ONE_LINE_PATTERN = f"^[^{_ONE_LINE_REFUSED}]*$"
MULTI_LINE_PATTERN = f"^[^{_MULTI_LINE_REFUSED}]*$"
# Lone surrogates (from a JSON escape like "\ud800") are no text at all: UTF-8 cannot hold them, and
# JSON Schema's strings are Unicode scalar values, which they are not, so the patterns above cannot
# name them (a validator on scalar values, such as Rust's regex, refuses a pattern that does). Python's
# strings can hold them, so the check here refuses them too.
_SURROGATES = r"\ud800-\udfff"
_REFUSED = {
    False: re.compile(f"[{_ONE_LINE_REFUSED}{_SURROGATES}]"),
    True: re.compile(f"[{_MULTI_LINE_REFUSED}{_SURROGATES}]"),
}


def refused_character(text: str, multi_line: bool = False) -> str | None:
    """Why `text` cannot be taken (naming the first character refused), or None when it can."""
    found = _REFUSED[multi_line].search(text)
    if found is None:
        return None
    return f"control and text-direction characters are not allowed (found U+{ord(found.group()):04X})"


def _printable(multi_line: bool) -> AfterValidator:
    def check(text: str) -> str:
        problem = refused_character(text, multi_line)
        if problem is not None:
            raise ValueError(problem)
        return text

    return AfterValidator(check)


# Free text a person types: every such field of every input model is one of the aliases below,
# written out (not built by a function) so type checkers read them as `str`. Every check reads the
# text as sent, as the OpenAPI document describes it: the length first, so pydantic checks it (and
# that the text is valid Unicode) natively; then the printable check; then the pattern, for the JSON
# Schema only. Only then is the text stripped (a form's trailing space is harmless) and, for the
# names, refused when nothing is left.
_ONE_LINE = _printable(multi_line=False)
_ONE_LINE_SCHEMA = Field(json_schema_extra={"pattern": ONE_LINE_PATTERN})
_MULTI_LINE = _printable(multi_line=True)
_MULTI_LINE_SCHEMA = Field(json_schema_extra={"pattern": MULTI_LINE_PATTERN})
# The characters `str.strip` takes away that the one-line rule lets through (tests/test_openapi.py
# checks the list): a name has one character besides them, anywhere, as sent.
ONE_LINE_SPACES = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NON_BLANK_PATTERN = f"^[^{_ONE_LINE_REFUSED}]*[^{_ONE_LINE_REFUSED}{ONE_LINE_SPACES}][^{_ONE_LINE_REFUSED}]*$"
_NON_BLANK_SCHEMA = Field(json_schema_extra={"pattern": NON_BLANK_PATTERN})


def _stripped(text: str) -> str:
    return text.strip()


def _stripped_non_blank(text: str) -> str:
    """The text stripped; only spaces is no name, refused as an empty one is (the same error)."""
    text = text.strip()
    if not text:
        raise PydanticCustomError("string_too_short", "String should have at least 1 character", {"min_length": 1})
    return text


_STRIPPED = AfterValidator(_stripped)
_NON_BLANK = AfterValidator(_stripped_non_blank)

Name = Annotated[str, Field(min_length=1, max_length=80), _ONE_LINE, _NON_BLANK, _NON_BLANK_SCHEMA]
Label = Annotated[str, Field(min_length=1, max_length=40), _ONE_LINE, _NON_BLANK, _NON_BLANK_SCHEMA]
Unit = Annotated[str, Field(min_length=1, max_length=20), _ONE_LINE, _NON_BLANK, _NON_BLANK_SCHEMA]
TableName = Annotated[str, Field(min_length=1, max_length=20), _ONE_LINE, _NON_BLANK, _NON_BLANK_SCHEMA]
ShortText = Annotated[str, Field(min_length=0, max_length=200), _ONE_LINE, _STRIPPED, _ONE_LINE_SCHEMA]
LongText = Annotated[str, Field(min_length=0, max_length=500), _MULTI_LINE, _STRIPPED, _MULTI_LINE_SCHEMA]
# A sign-in name is compared as typed, never stripped: a wrong name is just wrong.
Username = Annotated[str, Field(min_length=1, max_length=40), _ONE_LINE, _ONE_LINE_SCHEMA]


def _whole(value: object) -> object:
    """JSON Schema's "integer" is any number with no fractional part: 502.0 and 5.02e2 are 502
    (the body's decimals arrive as Decimal, see routes.http.parse_json). Strings ("5"), booleans
    and huge values stay what they are, for the strict int check and the bounds to refuse."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**63:
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and abs(value) <= 2**63 and value == value.to_integral_value():
        return int(value)
    return value


_WHOLE = BeforeValidator(_whole)
Cents = Annotated[int, Field(strict=True, ge=0, le=1_000_000), _WHOLE]
Quantity = Annotated[int, Field(strict=True, ge=1, le=99), _WHOLE]
MAX_STOCK = 1_000_000_000
# Row ids are what the database holds (see forkflow.numbers); anything larger is no id at all.
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID), _WHOLE]


def _a_number(value: object) -> object:
    """Stock amounts are JSON numbers: not strings ("5"), not booleans."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise ValueError("expected a number")
    return value


STOCK_STEP = Decimal("0.001")  # amounts are exact to three decimals


def _amount_schema(**bounds: int) -> WithJsonSchema:
    """What a stock amount is, in JSON Schema: a number (pydantic's own schema for a Decimal says
    "or a string", which `_a_number` refuses, and writes its bounds in keywords JSON Schema lacks)."""
    return WithJsonSchema({"type": "number", **bounds, "multipleOf": float(STOCK_STEP)})


# Each amount's bounds are written once, as the constants both its validation and its schema use.
Stock = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=0, le=MAX_STOCK, decimal_places=3),
    _amount_schema(minimum=0, maximum=MAX_STOCK),
]
StockChange = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=-MAX_STOCK, le=MAX_STOCK, decimal_places=3),
    _amount_schema(minimum=-MAX_STOCK, maximum=MAX_STOCK),
]
Portion = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(gt=0, le=MAX_STOCK, decimal_places=3),
    _amount_schema(exclusiveMinimum=0, maximum=MAX_STOCK),
]


def at_least_one(*names: str, or_present: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON Schema of "send at least one of these, not null" (and of `or_present`: sent, null
    or not), for a PATCH whose validator refuses a body that changes nothing."""
    choices: list[dict[str, Any]] = [
        {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in names
    ]
    choices += [{"required": [name]} for name in or_present]
    return {"minProperties": 1, "anyOf": choices}


def never(**fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of "not these fields together, with these values": one cross-field rule of a
    model validator, for the OpenAPI document (which cannot run the validator)."""
    return {"not": {"required": list(fields), "properties": fields}}


_A_NUMBER: dict[str, Any] = {"type": "number"}


class Input(BaseModel):
    # Unknown fields are ignored, not refused: a client may send a price, we just never read it.
    # Text is not stripped here but by the aliases above, after their checks; a password never is.
    model_config = ConfigDict(extra="ignore", frozen=True)


# The menu's limits, each written once here: the models check them and the document states them.
MAX_GROUPS = 20  # modifier groups per menu item
MAX_OPTIONS = 30  # options per group
MAX_CHOICES = 20  # a group's `max`: options on one line from one group, repeats counted
MAX_OPTION_RECIPE = 20  # stock deltas per option
MAX_POSITION = 10_000
Position = Annotated[
    int, Field(strict=True, ge=0, le=MAX_POSITION, description="place in its list; ties go by name"), _WHOLE
]


def _once_each(words: list[str]) -> list[str]:
    if len(words) != len(set(words)):
        raise ValueError("name each word once")
    return words


_UNIQUE = Field(json_schema_extra={"uniqueItems": True})
Allergens = Annotated[list[Allergen], _UNIQUE, AfterValidator(_once_each)]
DietaryTags = Annotated[list[Dietary], _UNIQUE, AfterValidator(_once_each)]


def _not_zero(value: Decimal) -> Decimal:
    if value == 0:
        raise ValueError("a stock delta of 0 changes nothing: leave it out")
    return value


# An option's change to a portion's stock: positive takes more, negative takes less (never 0).
StockDelta = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=-MAX_STOCK, le=MAX_STOCK, decimal_places=3),
    AfterValidator(_not_zero),
    WithJsonSchema({**_amount_schema(minimum=-MAX_STOCK, maximum=MAX_STOCK).json_schema, "not": {"const": 0}}),
]


def at_most(low: str, high: str, most: int) -> dict[str, Any]:
    """The JSON Schema of "`low` <= `high`" for whole numbers up to `most` (JSON Schema cannot compare
    two fields): some k has low <= k <= high. A field left out passes its side."""
    return {"anyOf": [{"properties": {low: {"maximum": k}, high: {"minimum": k}}} for k in range(most + 1)]}


class OptionRecipeLineIn(Input):
    inventory_id: Id
    quantity: StockDelta


class ModifierOptionIn(Input):
    """One choice of a group. `id`: an existing option of this group, kept (and its 86 with it);
    no `id`: a new option. `recipe` left out keeps an existing option's recipe; `[]` clears it."""

    id: Id | None = None
    name: Name
    price_cents: Cents = Field(default=0, description="added to the item's price, per time chosen")
    allergens: Allergens = Field(default=[], description="added to the item's own when chosen")
    recipe: Annotated[list[OptionRecipeLineIn], Field(max_length=MAX_OPTION_RECIPE)] | None = None

    @model_validator(mode="after")
    def _each_stock_item_once(self) -> ModifierOptionIn:
        ids = [line.inventory_id for line in self.recipe or ()]
        if len(ids) != len(set(ids)):
            raise ValueError("name each inventory item once")
        return self


class ModifierGroupIn(Input):
    """A group of options a line picks from: at least `min` and at most `max` of them (an option
    may repeat: double bacon). `min` 1 or more makes the group required."""

    model_config = ConfigDict(json_schema_extra=at_most("min", "max", MAX_CHOICES))

    id: Id | None = None
    name: Name
    kind: ModifierKind = Field(
        default="choice",
        description="how the kitchen reads its options: `choice` answers a question (Doneness, Size), `add` "
        "puts something on (ADD bacon), `remove` takes something off (NO onions)",
    )
    min: Annotated[int, Field(strict=True, ge=0, le=MAX_CHOICES), _WHOLE] = 0
    max: Annotated[int, Field(strict=True, ge=1, le=MAX_CHOICES), _WHOLE]
    options: Annotated[list[ModifierOptionIn], Field(min_length=1, max_length=MAX_OPTIONS)]

    @model_validator(mode="after")
    def _min_at_most_max(self) -> ModifierGroupIn:
        if self.min > self.max:
            raise ValueError("min must not be more than max")
        return self


PrepMinutes = Annotated[
    int,
    Field(
        strict=True,
        ge=0,
        le=MAX_PREP_MINUTES,
        description="minutes from starting a portion to its being ready; an order's prep time is its longest line's",
    ),
    _WHOLE,
]
PrepLoad = Annotated[
    int,
    Field(strict=True, ge=0, le=MAX_PREP_LOAD, description="the kitchen load one portion puts on its pickup slot"),
    _WHOLE,
]


class MenuItemIn(Input):
    name: Name
    description: LongText = ""
    price_cents: Cents
    category: Label
    station: Label
    available: Annotated[bool, Field(strict=True)] = True
    position: Position | None = Field(default=None, description="left out: after the category's last item")
    allergens: Allergens = []
    dietary: DietaryTags = []
    modifier_groups: Annotated[list[ModifierGroupIn], Field(max_length=MAX_GROUPS)] = []
    prep_minutes: PrepMinutes = DEFAULT_PREP_MINUTES
    prep_load: PrepLoad = DEFAULT_PREP_LOAD
    tax_rate_id: Id | None = Field(
        default=None, description="its own tax rate (`GET /tax-rates`), overriding its category's; null: its category's"
    )


class MenuItemUpdate(MenuItemIn):
    """PUT replaces the item; `available`, `position`, `allergens`, `dietary`, `modifier_groups`,
    `prep_minutes`, `prep_load` and `tax_rate_id` left out keep their current values. Groups and options sent with
    their `id` keep it (orders name options by id); those left out are deleted."""

    available: Annotated[bool | None, Field(strict=True)] = None  # type: ignore[assignment]
    position: Position | None = Field(default=None, description="left out: kept")
    allergens: Allergens | None = None  # type: ignore[assignment]
    dietary: DietaryTags | None = None  # type: ignore[assignment]
    modifier_groups: Annotated[list[ModifierGroupIn], Field(max_length=MAX_GROUPS)] | None = None  # type: ignore[assignment]
    prep_minutes: PrepMinutes | None = None  # type: ignore[assignment]
    prep_load: PrepLoad | None = None  # type: ignore[assignment]


# A course (services/courses.py): 0 as soon as possible (drinks), then 1, 2, 3 ... up to MAX_COURSE.
MAX_COURSE = 9
Course = Annotated[int, Field(strict=True, ge=0, le=MAX_COURSE), _WHOLE]


class CategoryOrderIn(Input):
    """`PUT /menu/categories`: `order`: these categories first, in this order; the others keep
    theirs, after. `courses`: the course each named category's dishes go in by default."""

    _CHANGES: ClassVar[tuple[str, ...]] = ("order", "courses", "taxes")
    model_config = ConfigDict(json_schema_extra=at_least_one(*_CHANGES))

    order: Annotated[list[Label], Field(min_length=1, max_length=200), _UNIQUE] | None = None
    courses: Annotated[dict[Label, Course], Field(min_length=1, max_length=200)] | None = Field(
        default=None, description='category name -> its default course, e.g. {"Drinks": 0, "Mains": 2}'
    )
    taxes: Annotated[dict[Label, Id | None], Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="category name -> the id of its dishes' tax rate (`GET /tax-rates`), null: untaxed, e.g. "
        '{"Drinks": 2, "Mains": 1}',
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> CategoryOrderIn:
        if self.order is None and self.courses is None and self.taxes is None:
            raise ValueError("nothing to change: send order, courses or taxes")
        return self


class AvailabilityIn(Input):
    available: Annotated[bool, Field(strict=True)]


MAX_GUESTS = 99
Guests = Annotated[int, Field(strict=True, ge=1, le=MAX_GUESTS), _WHOLE]


class OrderLineIn(Input):
    menu_item_id: Id
    quantity: Quantity
    notes: ShortText = ""
    modifiers: Annotated[list[Id], Field(max_length=MAX_GROUPS * MAX_CHOICES)] = Field(
        default=[],
        description="option ids of the item's modifier groups; an option may repeat up to its group's `max` "
        "(double bacon: twice)",
    )
    course: Course | None = Field(
        default=None,
        description="0: as soon as possible (drinks), 1, 2, 3 ...: the courses; left out: its category's course",
    )


def _text_only(value: object) -> object:
    """A time is sent as ISO 8601 text: a bare number (which pydantic would read as Unix seconds) is refused."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date and time with its offset, e.g. 2026-05-01T19:30:00+02:00")
    return value


PickupAt = Annotated[AwareDatetime, BeforeValidator(_text_only)]


class HoldIn(Input):
    """`POST /orders/{id}/hold`: the time the kitchen gets the order (services/releases.py checks it)."""

    until: PickupAt = Field(
        description="when the order goes to the kitchen (ISO 8601 with its offset): in the future, not further "
        "ahead than the limit (`FORKFLOW_MAX_SCHEDULE_DAYS`)",
    )


class OrderIn(Input):
    # The validator's rule, for the document: an order either is not at a table or names its table.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"channel": {"not": {"const": "table"}}}},
                {"required": ["table"], "properties": {"table": {"type": "string"}}},
            ]
        }
    )

    customer_name: Name
    channel: Channel
    table: TableName | None = None
    notes: LongText = ""
    items: Annotated[list[OrderLineIn], Field(min_length=1, max_length=100)]
    allergies: Allergens = Field(default=[], description="the customer's allergies; lines containing one are flagged")
    allergies_confirmed: Annotated[bool, Field(strict=True)] = Field(
        default=False, description="true: send the order even though lines contain one of its `allergies`"
    )
    guests: Guests | None = Field(
        default=None,
        description="the guests at the table (1 to 99): the service charge may apply only from a number of "
        "guests (`GET /settings/money`)",
    )
    pickup_at: PickupAt | None = Field(
        default=None,
        description="when the customer collects it (ISO 8601 with its offset); null or left out: as soon as "
        "possible. Not in the past, not further ahead than the limit (`FORKFLOW_MAX_SCHEDULE_DAYS`), inside "
        "the opening hours (`GET /settings/hours`). The kitchen gets it at `pickup_at` minus its prep time.",
    )

    @model_validator(mode="after")
    def _table_orders_name_their_table(self) -> OrderIn:
        if self.channel == "table" and not self.table:
            raise ValueError("a table order needs its table")
        return self


class LinesIn(Input):
    """`POST /orders/{id}/lines`: lines added to an order already sent, checked and priced as a new
    order's are; its allergies are the order's own."""

    items: Annotated[list[OrderLineIn], Field(min_length=1, max_length=100)]
    allergies_confirmed: Annotated[bool, Field(strict=True)] = Field(
        default=False, description="true: add the lines even though they contain one of the order's `allergies`"
    )


# Why a line was voided: said to the kitchen and kept on the line.
VoidReason = Annotated[str, Field(min_length=1, max_length=200), _ONE_LINE, _NON_BLANK, _NON_BLANK_SCHEMA]


class VoidIn(Input):
    reason: VoidReason = Field(description="why the line is voided (sent back, wrong dish): shown to the kitchen")


# Opening hours (GET/PUT /settings/hours): "HH:MM" local times, "24:00" for the end of the day.
MAX_INTERVALS = 6  # a day's opening intervals
CLOCK_PATTERN = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
Clock = Annotated[str, Field(pattern=CLOCK_PATTERN, description="HH:MM, local time; 24:00 is midnight at the end")]
Interval = Annotated[
    list[Clock],
    Field(min_length=2, max_length=2, description="[opens, closes]: opens before closes, within one day"),
]


def _ordered_apart(intervals: list[list[str]]) -> list[list[str]]:
    """Each interval opens before it closes, and after the one before it has closed."""
    last = ""
    for i, (opens, closes) in enumerate(intervals):
        if opens >= closes:
            raise ValueError(f"interval {i}: opens must be before it closes")
        if opens < last:
            raise ValueError(f"interval {i}: in order, not overlapping the one before")
        last = closes
    return intervals


Intervals = Annotated[
    list[Interval],
    Field(max_length=MAX_INTERVALS, description="in order, not overlapping; empty: closed"),
    AfterValidator(_ordered_apart),
]


class HoursIn(Input):
    """The week's opening hours, every day named (so a misspelt day is not silently closed)."""

    monday: Intervals
    tuesday: Intervals
    wednesday: Intervals
    thursday: Intervals
    friday: Intervals
    saturday: Intervals
    sunday: Intervals

    def days(self) -> dict[str, list[tuple[str, str]]]:
        return {day: [(opens, closes) for opens, closes in getattr(self, day)] for day in WEEKDAYS}


class RecipeLineIn(Input):
    inventory_id: Id
    quantity: Portion


class RecipeIn(Input):
    """What one portion takes from stock; an empty list: nothing (the item never sells out on stock)."""

    ingredients: Annotated[list[RecipeLineIn], Field(max_length=50)]

    @model_validator(mode="after")
    def _each_ingredient_once(self) -> RecipeIn:
        ids = [line.inventory_id for line in self.ingredients]
        if len(ids) != len(set(ids)):
            raise ValueError("name each inventory item once")
        return self


class StatusIn(Input):
    """`PATCH /orders/{id}`: move the status, set the rush flag, or both (in one write)."""

    _CHANGES: ClassVar[tuple[str, ...]] = ("status", "rush")
    model_config = ConfigDict(json_schema_extra=at_least_one(*_CHANGES))

    status: OrderStatus | None = None
    rush: Annotated[bool | None, Field(strict=True)] = Field(
        default=None, description="true: the kitchen display puts the order first, with a RUSH badge"
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> StatusIn:
        if self.status is None and self.rush is None:
            raise ValueError("nothing to change: send status or rush")
        return self


class FireIn(Input):
    """`POST /orders/{id}/fire`: send a held course to the kitchen now."""

    course: Course


class KitchenSettingsIn(Input):
    auto_fire: Annotated[bool, Field(strict=True)] = Field(
        description="true: when the last line of a course is bumped, the next course present is fired"
    )


class InventoryIn(Input):
    item_name: Name
    quantity: Stock
    unit: Unit
    low_stock: Stock | None = None  # at or below this quantity the item is low on stock


class InventoryPatch(Input):
    """Change stock by setting `quantity` or adding `delta` (negative to use up); rename or re-unit;
    set the low-stock threshold (`low_stock`; an explicit null removes it)."""

    _CHANGES: ClassVar[tuple[str, ...]] = ("item_name", "unit", "quantity", "delta")
    # The validator's rules below, for the document: each `never` is one of its refusals.
    model_config = ConfigDict(
        json_schema_extra={
            **at_least_one(*_CHANGES, or_present=("low_stock",)),
            "allOf": [
                never(quantity=_A_NUMBER, delta=_A_NUMBER),
                never(reason={"const": "count"}, delta=_A_NUMBER),
                never(reason={"enum": ["restock", "waste"]}, quantity=_A_NUMBER),
                never(reason={"const": "restock"}, delta={**_A_NUMBER, "exclusiveMaximum": 0}),
                never(reason={"const": "waste"}, delta={**_A_NUMBER, "exclusiveMinimum": 0}),
            ],
        }
    )

    item_name: Name | None = None
    unit: Unit | None = None
    quantity: Stock | None = None
    delta: StockChange | None = None
    low_stock: Stock | None = None
    reason: StockReason | None = None  # for the stock movement; read from the change if left out
    note: ShortText = ""

    @property
    def changes_low_stock(self) -> bool:
        """`low_stock` was sent, as a number or as null (which clears it); left out, it stays."""
        return "low_stock" in self.model_fields_set

    @model_validator(mode="after")
    def _one_change(self) -> InventoryPatch:
        if self.quantity is not None and self.delta is not None:
            raise ValueError("send quantity or delta, not both")
        if self.reason == "count" and self.delta is not None:
            raise ValueError("a count sets the quantity: send quantity, not delta")
        if self.reason in ("restock", "waste") and self.quantity is not None:
            raise ValueError(f"a {self.reason} changes stock by an amount: send delta, not quantity")
        if self.reason == "restock" and self.delta is not None and self.delta < 0:
            raise ValueError("a restock adds stock: delta must be positive")
        if self.reason == "waste" and self.delta is not None and self.delta > 0:
            raise ValueError("waste takes stock away: delta must be negative")
        unchanged = all(getattr(self, name) is None for name in self._CHANGES)
        if unchanged and not self.changes_low_stock:
            raise ValueError("nothing to change: send quantity, delta, item_name, unit or low_stock")
        return self


def field_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as {"items.0.quantity": "message"}; model-level ones under "_"."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "_"
        message = error["msg"].removeprefix("Value error, ")
        fields.setdefault(path, message)
    return fields


# A staff name is what people sign in with, as typed: no spaces anywhere, so nothing to strip.
StaffName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")]


def _not_common(password: str) -> str:
    """One owner for "not a common password": every path that sets one validates this type."""
    if is_common(password):
        raise ValueError("this password is one of the 10,000 most common; choose another")
    return password


# Kept exactly as typed, spaces included (NIST SP 800-63B): sign-in compares it as typed.
Password = Annotated[str, Field(min_length=8, max_length=200), AfterValidator(_not_common)]


class StaffIn(Input):
    name: StaffName
    role: Role
    password: Password


class StaffPatch(Input):
    _CHANGES: ClassVar[tuple[str, ...]] = ("role", "active", "password")
    model_config = ConfigDict(json_schema_extra=at_least_one(*_CHANGES))

    role: Role | None = None
    active: Annotated[bool | None, Field(strict=True)] = None
    password: Password | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> StaffPatch:
        if all(getattr(self, name) is None for name in self._CHANGES):
            raise ValueError("nothing to change: send role, active or password")
        return self


class LoginIn(Input):
    # Length-checked only to a bound: a wrong password is just wrong.
    username: Username
    password: Annotated[str, Field(min_length=1, max_length=200)]


TOKEN_MAX_EXPIRES_IN = 366 * 24 * 3600


class TokenIn(LoginIn):
    """`POST /auth/token`: a sign-in, and optionally how long the token may live."""

    expires_in: Annotated[
        int | None,
        Field(
            ge=1,
            le=TOKEN_MAX_EXPIRES_IN,
            strict=True,
            description="seconds until the token stops working (at most a year and a day); left out: until revoked",
        ),
        _WHOLE,
    ] = None


class OnlineIn(Input):
    """Online ordering's settings, all of them at once (`PUT /online`); services/online.py applies them."""

    paused: Annotated[bool, Field(strict=True)] = Field(description="true: online orders are refused (409)")
    resume_at: PickupAt | None = Field(
        default=None,
        description="while paused, when online ordering resumes by itself (ISO 8601 with its offset, in the "
        "future); null: paused until resumed",
    )
    busy_minutes: Annotated[int, Field(strict=True, ge=0, le=MAX_BUSY_MINUTES), _WHOLE] = Field(
        default=0, description="minutes added to every quoted time (ASAP and the earliest pickup slot offered)"
    )
    slot_orders: Annotated[int, Field(strict=True, ge=0, le=MAX_SLOT_ORDERS), _WHOLE] | None = Field(
        default=None, description="online orders per 15-minute pickup slot at most; null: no limit"
    )
    slot_load: Annotated[int, Field(strict=True, ge=0, le=MAX_SLOT_LOAD), _WHOLE] | None = Field(
        default=None,
        description="kitchen load (menu items' `prep_load` × quantity) per 15-minute pickup slot at most, staff "
        "orders counted; null: no limit",
    )


# Kitchen printers (issue 16; services/printers.py owns the rules that need the database).
PrinterName = Annotated[str, Field(min_length=1, max_length=60), _ONE_LINE, _NON_BLANK, _NON_BLANK_SCHEMA]
# A printer's address: a host name (RFC 1123 labels of 1-63 letters, digits and dashes, dot-separated)
# or an IPv4 address (which has that shape), checked as sent: no scheme, port or spaces. (IPv6: not
# for printers on a kitchen's network.) Written once as a JSON Schema pattern that Python's `re` reads too.
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_PATTERN = rf"^{_LABEL}(?:\.{_LABEL})*$"
_HOST = re.compile(HOST_PATTERN)


def _host(text: str) -> str:
    if not _HOST.match(text):
        raise PydanticCustomError(
            "host", "a host name or IPv4 address, without a scheme, port or spaces (192.168.1.50, grill-printer.lan)"
        )
    return text.lower()


Host = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        description="host name or IPv4 address, no scheme or port",
        json_schema_extra={"pattern": HOST_PATTERN},
    ),
    AfterValidator(_host),
]
MAX_PRINTER_STATIONS = 20


class PrinterIn(Input):
    """A printer's set-up (`POST /printers`, `PUT /printers/{id}`: all of it at once)."""

    name: PrinterName
    host: Host
    port: Annotated[int, Field(strict=True, ge=1, le=65535), _WHOLE] = Field(
        default=9100, description="raw TCP port (9100 on Epson TM printers and their compatibles)"
    )
    role: PrinterRole = Field(description="kitchen: chits; receipt: customer receipts")
    stations: Annotated[list[Label], Field(max_length=MAX_PRINTER_STATIONS)] = Field(
        default=[],
        description="kitchen printers: the stations it prints chits for (any names; a station no dish names "
        "yet is allowed). None: an expo printer, which gets the whole order at every send. Receipt printers: ignored",
    )
    backup_printer_id: Id | None = Field(
        default=None, description="where its jobs go once it has failed for FORKFLOW_PRINTER_BACKUP_SECONDS"
    )

    @model_validator(mode="after")
    def _stations_fit_role(self) -> PrinterIn:
        """Each station once; a receipt printer prints for none (its stations are dropped)."""
        object.__setattr__(self, "stations", [] if self.role == "receipt" else list(dict.fromkeys(self.stations)))
        return self


class ReceiptIn(Input):
    printer_id: Id | None = Field(default=None, description="a receipt printer; left out: the first one")


class ScreenSeenIn(Input):
    """`POST /kitchen/screens/{screen}/seen`: a kitchen display has rendered every event up to
    `last_event_id` (also its heartbeat)."""

    station: Annotated[str, Field(pattern=r"^[A-Za-z0-9 _-]{0,40}$")] = Field(
        default="", description="the view it shows: a station, `expo`, or empty for all stations"
    )
    last_event_id: Annotated[int, Field(strict=True, ge=0, le=MAX_ID), _WHOLE] = Field(
        description="the id of the last event the display has rendered (the page's, or its stream's)"
    )


# The money side (issue 17): amounts in the currency's minor units (settings.currency), integers.
MAX_AMOUNT = 100_000_000  # a million dollars in cents, a hundred million yen: no till takes more at once
Amount = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT), _WHOLE]
Tip = Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT), _WHOLE]
MAX_SPLIT_LINES = 200
Reference = Annotated[str, Field(min_length=0, max_length=80), _ONE_LINE, _STRIPPED, _ONE_LINE_SCHEMA]
MoneyReason = Annotated[str, Field(min_length=1, max_length=200), _ONE_LINE, _NON_BLANK, _NON_BLANK_SCHEMA]


class PaymentIn(Input):
    # The validator's rule, for the document: what was handed over is said of cash only.
    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["tender", "tendered_cents"],
                "properties": {"tender": {"enum": ["card", "other"]}, "tendered_cents": {"type": "integer"}},
            }
        }
    )

    tender: Tender
    amount_cents: Amount = Field(description="applied to the bill (tips apart)")
    tip_cents: Tip = 0
    reference: Reference = Field(default="", description="the card terminal's or other tender's reference")
    tendered_cents: Amount | None = Field(default=None, description="cash handed over (cash only; default: exact)")
    line_ids: list[Id] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SPLIT_LINES,
        description="paying by item: the lines this pays for, each once",
        json_schema_extra={"uniqueItems": True},
    )
    drawer_id: Id | None = Field(default=None, description="cash: the open drawer it goes into (default: the only one)")

    @model_validator(mode="after")
    def _tendered_is_cash(self) -> PaymentIn:
        if self.tendered_cents is not None and self.tender != "cash":
            raise ValueError("tendered_cents is only for cash")
        if self.line_ids is not None and len(set(self.line_ids)) != len(self.line_ids):
            raise ValueError("name each line once")
        return self


# Discounts and comps (issue 17, services/discounts.py owns the rules that need the database).
ReasonName = Annotated[str, Field(min_length=1, max_length=60), _ONE_LINE, _NON_BLANK, _NON_BLANK_SCHEMA]
# A discount's percent: as `Percent` (below), but above 0.
DiscountPercent = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(gt=0, le=100, decimal_places=3),
    _amount_schema(exclusiveMinimum=0, maximum=100),
]
MAX_DISCOUNT_CENTS = 100_000_000


class DiscountReasonIn(Input):
    """`POST /discount-reasons`: a reason the till offers for a discount, or for a comp (`comp`)."""

    name: ReasonName
    comp: Annotated[bool, Field(strict=True)] = Field(
        default=False, description="true: a comp's reason (a 100 % discount: the dish or the order is free)"
    )


class DiscountReasonPatch(Input):
    _CHANGES: ClassVar[tuple[str, ...]] = ("name", "comp", "active")
    model_config = ConfigDict(json_schema_extra=at_least_one(*_CHANGES))

    name: ReasonName | None = None
    comp: Annotated[bool | None, Field(strict=True)] = None
    active: Annotated[bool | None, Field(strict=True)] = Field(
        default=None, description="false: the till no longer offers it (discounts given with it keep it)"
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> DiscountReasonPatch:
        if all(getattr(self, name) is None for name in self._CHANGES):
            raise ValueError("nothing to change: send name, comp or active")
        return self


class ApprovalIn(Input):
    """A manager's name and password typed on the spot (services/approvals.py)."""

    name: Username
    password: Annotated[str, Field(min_length=1, max_length=200)]


class RefundIn(Input):
    # The validator's rule, for the document: exactly one of amount_cents and line_id.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "integer"}}} for name in ("amount_cents", "line_id")
            ]
        }
    )

    payment_id: Id
    amount_cents: Amount | None = Field(default=None, description="money given back, no line voided")
    line_id: Id | None = Field(default=None, description="a paid line voided and refunded (what it took off the bill)")
    tip_cents: Tip = 0
    reason: MoneyReason
    approval: ApprovalIn | None = Field(default=None, description="a manager's; a manager refunding approves themself")

    @model_validator(mode="after")
    def _amount_or_line(self) -> RefundIn:
        if (self.amount_cents is None) == (self.line_id is None):
            raise ValueError("send amount_cents or line_id, not both")
        return self


class DrawerIn(Input):
    name: Label
    float_cents: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT), _WHOLE] = Field(
        description="the cash put in when it opens"
    )


class DrawerMovementIn(Input):
    kind: DrawerMovementKind
    amount_cents: Amount
    reason: MoneyReason


MAX_COUNT = 100_000  # of one denomination in a drawer
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT), _WHOLE]
Denomination = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,8}$", description="a note or coin, in minor units")]


class DrawerCloseIn(Input):
    counts: dict[Denomination, Count] = Field(
        default_factory=dict,
        max_length=50,
        description='how many of each note and coin, by its value in minor units: {"2000": 3}',
        json_schema_extra={"propertyNames": {"pattern": r"^[1-9][0-9]{0,8}$"}},
    )
    other_cents: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT), _WHOLE] = Field(
        default=0, description="cash counted as one amount (a currency without a denomination table)"
    )


def _takes(kind: str, figure: str, other: str) -> dict[str, Any]:
    """JSON Schema of "`kind` takes `figure` (a number) and not `other`; `figure` only with `kind`"."""
    number = {"required": [figure], "properties": {figure: _A_NUMBER}}
    return {
        "if": {"required": ["kind"], "properties": {"kind": {"const": kind}}},
        "then": {**number, "properties": {figure: _A_NUMBER, other: {"type": "null"}}},
        "else": {"not": number},
    }


class OrderDiscountIn(Input):
    """`POST /orders/{id}/discounts`: a percent or an amount off a line (`line_id`) or the whole order."""

    # The validator's rule, for the document: each kind takes its own figure and not the other's.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [_takes("percent", "percent", "amount_cents"), _takes("amount", "amount_cents", "percent")]
        }
    )

    line_id: Id | None = Field(default=None, description="the line it applies to; left out: the whole order")
    kind: DiscountKind | None = Field(
        default=None, description="left out only with a comp reason: a comp is a 100 % discount"
    )
    percent: DiscountPercent | None = Field(default=None, description="with `kind: percent`: above 0, at most 100")
    amount_cents: Annotated[int, Field(strict=True, ge=1, le=MAX_DISCOUNT_CENTS), _WHOLE] | None = Field(
        default=None, description="with `kind: amount`: at most what is left of the line or order"
    )
    reason_id: Id
    approval: ApprovalIn | None = Field(
        default=None, description="a manager's name and password, when the discount is above the cashier's limit"
    )

    @model_validator(mode="after")
    def _kind_and_its_figure(self) -> OrderDiscountIn:
        if self.kind == "percent" and (self.percent is None or self.amount_cents is not None):
            raise ValueError("a percent discount takes `percent` (and no `amount_cents`)")
        if self.kind == "amount" and (self.amount_cents is None or self.percent is not None):
            raise ValueError("an amount discount takes `amount_cents` (and no `percent`)")
        if self.kind is None and (self.percent is not None or self.amount_cents is not None):
            raise ValueError("say the `kind` of the discount: percent or amount")
        return self


# The money side's settings (issue 17). A percent is a number with up to three decimals, 0 to 100
# (8.875): stored × 1000, exactly.
Percent = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=0, le=100, decimal_places=3),
    _amount_schema(minimum=0, maximum=100),
]


class TaxRateIn(Input):
    """`POST /tax-rates`, `PUT /tax-rates/{id}`: a tax rate's name (unique) and percent."""

    name: Label
    percent: Percent = Field(description="0 to 100, up to three decimals (8.875)")


class MoneySettingsIn(Input):
    """`PUT /settings/money`: every setting at once; orders already placed keep the terms they had."""

    prices_include_tax: Annotated[bool, Field(strict=True)] = Field(
        description="true: menu prices include tax (the tax is inside them); false: tax is added on top"
    )
    tax_rounding: TaxRounding = Field(description="line: tax rounded on each line; order: once per rate on the order")
    service_charge_percent: Percent = Field(description="of table orders' lines after discounts; 0: none")
    service_charge_min_guests: Guests | None = Field(
        default=None, description="the service charge only for tables of this many guests or more; null: every table"
    )
    cashier_discount_limit_percent: Percent = Field(
        description="the largest discount a cashier gives without a manager's approval"
    )


# A service day as the reports take it: YYYY-MM-DD only (services/day_report.py's `checked_day`
# then refuses a day that does not exist).
ServiceDay = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"})]


class DayCloseIn(BaseModel):
    """POST /reports/day/close: the service day to close (services/day_report.py), as YYYY-MM-DD only."""

    model_config = ConfigDict(extra="forbid")
    date: ServiceDay = Field(description="the service day, YYYY-MM-DD (a real day: 2026-02-30 is 422)")


class DayPrintIn(BaseModel):
    """POST /reports/day/print: which service day's report to print, on which receipt printer."""

    model_config = ConfigDict(extra="forbid")
    date: ServiceDay | None = Field(
        default=None, description="the service day, YYYY-MM-DD (a real day: 2026-02-30 is 422); left out: today's"
    )
    printer_id: Id | None = Field(default=None, description="a receipt printer; left out: the first one")
