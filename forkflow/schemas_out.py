"""What the API sends back, as pydantic models: the OpenAPI document's response schemas.

The JSON itself is built by `services.representation` and `services.staff` (plain dicts, fast, and
the very same shapes the event stream carries). These models describe those dicts field for field;
`tests/test_openapi.py` validates real responses against them, so the two cannot drift apart
unnoticed. `extra="forbid"`: a field added on one side and not the other fails that test.

Fields that are left out of the JSON when empty (rather than sent as null) are typed
`X | SkipJsonSchema[None] = None`, so their schema says "optional", not "nullable".
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from .models import MAX_COURSE
from .numbers import MAX_BUSY_MINUTES, MAX_PREP_LOAD, MAX_PREP_MINUTES, MAX_SLOT_LOAD, MAX_SLOT_ORDERS
from .vocabulary import (
    Allergen,
    Channel,
    Dietary,
    DiscountKind,
    ModifierKind,
    MovementKind,
    OrderStatus,
    PrinterRole,
    PrintKind,
    PrintStatus,
    Role,
    SendReason,
    TaxRounding,
    Tender,
)

Timestamp = Annotated[datetime, Field(description="UTC, ISO 8601 with milliseconds and `Z`")]
Cents = Annotated[int, Field(ge=0, description="money in integer cents")]


def _no_default(schema: dict[str, Any]) -> None:
    """A field left out of the JSON when empty: its schema has no `default: null` either."""
    schema.pop("default", None)


def absent_when_empty(description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra=_no_default)


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ModifierOptionOut(Output):
    id: int = Field(description="stable across edits of the item: orders name options by it")
    name: str
    price_cents: Cents = Field(description="added to the item's price, per time chosen")
    allergens: list[Allergen] = Field(description="added to the item's when chosen, in the vocabulary's order")
    available: bool = Field(description="false: switched off (86), or its stock ran out")
    switched_off: bool = Field(description="a manager switched it off: it stays off through restocks")


_KIND = "how the kitchen reads its options: `choice` (Doneness, Size), `add` (ADD bacon), `remove` (NO onions)"


class ModifierGroupOut(Output):
    id: int
    name: str
    kind: ModifierKind = Field(description=_KIND)
    min: int = Field(ge=0, description="options a line must carry from this group; 1 or more: required")
    max: int = Field(ge=1, description="options a line may carry from this group (an option may repeat)")
    options: list[ModifierOptionOut] = Field(description="in the menu's order")


class MenuItemOut(Output):
    id: int
    name: str
    description: str
    price_cents: Cents
    category: str
    station: str
    position: int = Field(ge=0, description="its place in its category (ties by name)")
    allergens: list[Allergen] = Field(description="in the vocabulary's order")
    dietary: list[Dietary]
    prep_minutes: int = Field(
        ge=0, le=MAX_PREP_MINUTES, description="minutes from starting a portion to its being ready"
    )
    prep_load: int = Field(ge=0, le=MAX_PREP_LOAD, description="the kitchen load one portion puts on its pickup slot")
    tax_rate_id: int | None = Field(description="its own tax rate, overriding its category's; null: its category's")
    modifier_groups: list[ModifierGroupOut] = Field(description="in the menu's order")
    available: bool = Field(description="false: sold out (86) everywhere, switched off or out of stock")
    switched_off: bool = Field(
        description="a manager switched it off: it stays off through restocks until switched on again"
    )
    created_at: Timestamp
    updated_at: Timestamp


class LineModifierOut(Output):
    """An option chosen on a line, as it was when the order was placed."""

    option_id: int | None = Field(description="the menu's option; null once the option was deleted from the menu")
    group: str = Field(description="its group's name when the order was placed")
    name: str = Field(description="its name when the order was placed")
    price_cents: Cents = Field(description="added to the line's unit price per time chosen, when ordered")
    count: int = Field(ge=1, description="how often it was chosen (double bacon: 2)")
    kind: ModifierKind = Field(description="its group's kind when the order was placed: " + _KIND)
    exactly_one: bool = Field(
        description="its group took exactly one option (min 1, max 1: Doneness) when the order was placed"
    )


_MODIFIERS = "the chosen options, in the item's group and option order"
_ALLERGENS = "the item's and its chosen options' allergens when ordered, in the vocabulary's order"
_FLAGS = "those of `allergens` that are among the order's `allergies`"
_VOIDED = "when the line was voided (taken off the order: not cooked or charged); null while it is not"


Percent = Annotated[float, Field(ge=0, le=100, description="a percent, up to three decimals (8.875)")]


class LineTaxOut(Output):
    name: str
    percent: Percent


class TaxOut(Output):
    """One tax rate on an order: what it was taken on (without tax) and how much (rounded per line
    or once per rate, as the order's `tax_rounding` was when placed)."""

    name: str
    percent: Percent
    taxable_cents: Cents
    tax_cents: Cents


class DiscountOut(Output):
    id: int
    line_id: int | None = Field(description="the line it applies to; null: the whole order")
    kind: DiscountKind
    percent: Percent | None = Field(description="a percent discount's percent; null for an amount")
    amount_cents: Cents = Field(description="what it took off the bill (never more than was left)")
    comp: bool = Field(description="a comp: 100 % off, with a comp's reason")
    reason: str
    given_by: str
    approved_by: str | None = Field(description="the manager who approved it; null: within the giver's limit")


class BillOut(Output):
    """An order's figures (forkflow/money/pricing.py defines them once)."""

    prices_include_tax: bool = Field(description="its prices included tax when it was placed")
    subtotal_cents: Cents = Field(description="its lines not voided, before discounts")
    discount_cents: Cents = Field(description="what its discounts took")
    taxes: list[TaxOut] = Field(description="by rate, in order of first appearance on its lines")
    tax_cents: Cents = Field(description="the taxes' sum (inside the prices when `prices_include_tax`)")
    service_charge_cents: Cents = Field(description="on its lines after discounts; untaxed")
    total_cents: Cents = Field(
        description="what is owed, tips excluded: subtotal - discounts + service charge (+ taxes when prices "
        "exclude them)"
    )


class OrderLineOut(Output):
    id: int
    menu_item_id: int
    name: str = Field(description="the item's name when the order was placed")
    unit_price_cents: Cents = Field(description="the price charged, from the menu when the order was placed")
    quantity: Annotated[int, Field(ge=1, le=99)]
    line_total_cents: Cents
    notes: str
    station: str | None = Field(description="the station that cooks it, as when the order was placed")
    done_at: Timestamp | None = Field(description="when a cook marked the line done; null while it is not")
    course: int = Field(ge=0, le=MAX_COURSE, description="0: as soon as possible (drinks); 1, 2, 3 ...: the courses")
    fired_at: Timestamp | None = Field(description="when its course went to the kitchen; null while it is held")
    prep_minutes: int | None = Field(
        description="the item's prep minutes when ordered (null: ordered before they existed)"
    )
    modifiers: list[LineModifierOut] = Field(description=_MODIFIERS)
    allergens: list[Allergen] = Field(description=_ALLERGENS)
    allergy_flags: list[Allergen] = Field(description=_FLAGS)
    revision: int = Field(ge=1, description="the order's revision that added the line: 1 when sent with the order")
    voided_at: Timestamp | None = Field(description=_VOIDED)
    void_reason: str | None = Field(description="why it was voided")
    voided_by: str | None = Field(description="who voided it")
    tax: LineTaxOut | None = Field(description="its tax rate as when ordered; null: untaxed")


_PICKUP = "when the customer collects it; null: as soon as possible"


class PaymentOut(Output):
    id: int
    tender: Tender
    amount_cents: Cents = Field(description="applied to the bill (tips apart)")
    tip_cents: Cents
    tendered_cents: Cents | None = Field(description="cash handed over; null for card and other")
    change_cents: Cents = Field(description="cash given back")
    reference: str = Field(description="the card terminal's or other tender's reference")
    taken_by: str
    created_at: Timestamp
    line_ids: list[int] | None = Field(description="paid by item: the lines it paid for")
    refunded_cents: Cents = Field(description="of its amount, refunded since")


class RefundOut(Output):
    id: int
    payment_id: int
    amount_cents: Cents
    tip_cents: Cents
    line_id: int | None = Field(description="a paid line voided and refunded")
    reason: str
    given_by: str
    approved_by: str = Field(description="the manager who approved it")
    created_at: Timestamp


class OrderOut(BillOut):
    id: int
    ticket_no: int = Field(ge=1, description="counts from 1 each service day")
    business_date: date = Field(description="the local service day the ticket number counts in")
    customer_name: str
    channel: Channel
    table: str | None
    notes: str
    status: OrderStatus
    guests: int | None = Field(ge=1, le=99, description="the guests at the table; null: not given")
    discounts: list[DiscountOut] = Field(description="its discounts not removed, in the order given")
    created_at: Timestamp
    updated_at: Timestamp
    ready_at: Timestamp | None = Field(description="when the order last became ready")
    completed_at: Timestamp | None = Field(description="when the order was completed (recall: within 10 minutes)")
    tracking_url: str = Field(description="path of the customer's tracking page, `/track/{token}`")
    pickup_code: str = Field(description="six characters the customer shows at the counter (from the tracking token)")
    allergies: list[Allergen] = Field(description="the customer's allergies, in the vocabulary's order")
    allergies_acknowledged_at: Timestamp | None = Field(description="when the kitchen acknowledged the allergies")
    allergies_acknowledged_by: str | None = Field(description="who in the kitchen acknowledged them")
    revision: int = Field(ge=1, description="1 when placed; one more at each line added or voided after sending")
    rush: bool = Field(description="staff marked it rush: the kitchen display shows it first")
    held_courses: list[Annotated[int, Field(ge=0, le=MAX_COURSE)]] = Field(
        description="the courses not fired yet, lowest first (empty: everything is with the kitchen)"
    )
    pickup_at: Timestamp | None = Field(description=_PICKUP)
    release_at: Timestamp | None = Field(
        description="a scheduled order: when it goes to the kitchen (`pickup_at` minus its longest line's prep time)"
    )
    released_at: Timestamp | None = Field(description="a scheduled order: when it went to the kitchen")
    held: bool = Field(
        description="scheduled and not yet released: on no kitchen display and in no all-day count until then"
    )
    lines: list[OrderLineOut]
    paid_cents: Cents = Field(description="payments less refunds: the money the restaurant keeps for the bill")
    refunded_cents: Cents
    balance_cents: Cents = Field(description="what is still owed: total less payments, plus refunded lines")
    closed: bool = Field(description="fully paid: the balance is 0")
    closed_at: Timestamp | None
    payments: list[PaymentOut]
    refunds: list[RefundOut]


class PaymentTakenOut(Output):
    payment: PaymentOut
    order: OrderOut


class RefundGivenOut(Output):
    refund: RefundOut
    order: OrderOut


class ShareOut(Output):
    amount_cents: Cents
    due_cents: Cents = Field(description="of this share, still owed (payments counted toward the shares in turn)")
    paid: bool


class SplitOut(Output):
    order_id: int
    balance_cents: Cents
    guests: int | SkipJsonSchema[None] = absent_when_empty("split evenly: how many shares")
    shares: list[ShareOut] | SkipJsonSchema[None] = absent_when_empty("split evenly: each guest's share")
    line_ids: list[int] | SkipJsonSchema[None] = absent_when_empty("split by item: the lines")
    amount_cents: Cents | SkipJsonSchema[None] = absent_when_empty("split by item: what those lines owe")


class DrawerOut(Output):
    id: int
    name: str
    business_date: date
    float_cents: Cents
    opened_by: str
    opened_at: Timestamp
    closed_by: str | None
    closed_at: Timestamp | None
    expected_cents: int = Field(description="float + cash kept from payments + paid in - paid out - cash refunds")
    counts: dict[str, int] | None = Field(description="the close's count by denomination (minor units)")
    counted_cents: Cents | None
    over_short_cents: int | None = Field(description="counted - expected: positive over, negative short")


class DrawersOut(Output):
    currency: str
    denominations: list[int] = Field(
        description="the currency's notes and coins, in minor units (empty: count one amount)"
    )
    drawers: list[DrawerOut]


class TrackedLineOut(Output):
    name: str
    quantity: Annotated[int, Field(ge=1, le=99)]
    unit_price_cents: Cents
    line_total_cents: Cents
    notes: str
    modifiers: list[LineModifierOut] = Field(description=_MODIFIERS)
    allergens: list[Allergen] = Field(description=_ALLERGENS)
    allergy_flags: list[Allergen] = Field(description=_FLAGS)
    voided_at: Timestamp | None = Field(description=_VOIDED)


class TrackedOrderOut(BillOut):
    """What the holder of a tracking link sees: their order, without staff-side ids or ticket
    numbers (they count the day's business), its figures without who gave its discounts."""

    pickup_code: str = Field(description="what the customer shows at the counter")
    customer_name: str
    channel: Channel
    table: str | None
    notes: str
    status: OrderStatus
    created_at: Timestamp
    updated_at: Timestamp
    allergies: list[Allergen] = Field(description="the customer's allergies, in the vocabulary's order")
    pickup_at: Timestamp | None = Field(description=_PICKUP)
    lines: list[TrackedLineOut]


class PublicOrderOut(TrackedOrderOut):
    """The answer to an anonymous order: no id or ticket number, the tracking link instead."""

    tracking_url: str = Field(description="path of the customer's tracking page, `/track/{token}`")


class InventoryItemOut(Output):
    id: int
    item_name: str
    quantity: float = Field(ge=0, description="exact to three decimals; a whole number is sent without a fraction")
    unit: str
    low_stock: float | None = Field(ge=0, description="the low-stock threshold, in the item's unit; null: none set")
    low: bool = Field(description="true when a threshold is set and the quantity is at or below it")
    last_updated: Timestamp


class RecipeLineOut(Output):
    inventory_id: int
    item_name: str
    unit: str
    quantity: float = Field(gt=0, description="taken from stock for each portion, exact to three decimals")


class OptionRecipeLineOut(Output):
    inventory_id: int
    item_name: str
    unit: str
    quantity: float = Field(description="per portion: more taken from stock, or (negative) less; never 0")


class OptionRecipeOut(Output):
    option_id: int
    ingredients: list[OptionRecipeLineOut] = Field(description="by stock item name")


class MenuCategoryOut(Output):
    name: str
    position: int = Field(ge=0)
    course: int = Field(ge=0, le=MAX_COURSE, description="the course its dishes go in unless a line says otherwise")
    tax_rate_id: int | None = Field(description="its dishes' tax rate unless an item names its own; null: untaxed")


class KitchenSettingsOut(Output):
    auto_fire: bool = Field(
        description="when the last line of a course is bumped, the next course present is fired in the same write"
    )


class MenuCategoriesOut(Output):
    """The menu's categories in the order every screen shows them (also `menu.categories`' data)."""

    categories: list[MenuCategoryOut]


class RecipeOut(Output):
    menu_item_id: int
    ingredients: list[RecipeLineOut] = Field(description="by stock item name; empty: the item uses no stock")
    options: list[OptionRecipeOut] = Field(
        description="what choosing each of its modifier options changes (options without a recipe left out), "
        "in the menu's order; set with the options themselves, in `PUT /menu/{id}`"
    )


class StockMovementOut(Output):
    id: int
    inventory_id: int
    kind: MovementKind
    delta: float = Field(description="the change, negative when stock was taken")
    quantity: float = Field(ge=0, description="the quantity after this movement")
    order_id: int | None = Field(description="the order that took or gave back this stock")
    staff: str | None = Field(description="who recorded it; null for orders and for the system")
    note: str
    created_at: Timestamp


class StaffOut(Output):
    id: int
    name: str
    role: Role
    active: bool
    created_at: Timestamp


class TokenOut(Output):
    token: str = Field(description="send as `Authorization: Bearer TOKEN`; shown this once, only its hash is kept")
    role: Role
    id: int = Field(description="the token's id, for `DELETE /auth/tokens/{id}`")
    expires_at: Timestamp | None = Field(description="when the token stops working; null: until revoked")


class TokenInfo(Output):
    id: int
    staff: str = Field(description="the staff member's name")
    role: Role
    created_at: Timestamp
    revoked_at: Timestamp | None
    expires_at: Timestamp | None = Field(description="when the token stops working; null: until revoked")
    last_used_at: Timestamp | None = Field(description="when it last signed a request in (to within a minute)")


class UnavailableItem(Output):
    id: int
    name: str


class UnavailableOption(Output):
    id: int
    name: str
    menu_item_id: int = Field(description="the item the option belongs to")


class StockShortage(Output):
    item_name: str
    unit: str
    needed: float = Field(description="what the order needs of this stock item")
    left: float = Field(description="what is in stock")


class ErrorDetail(Output):
    code: str = Field(
        description="bad_request, unauthorized, forbidden, csrf_failed, not_found, method_not_allowed, conflict, "
        "too_large, unsupported_media_type, invalid, too_many_requests, unavailable, internal"
    )
    message: str = Field(description="for people; do not parse it")
    fields: dict[str, str] | SkipJsonSchema[None] = absent_when_empty(
        'what is wrong with each input, by path: `{"items.0.quantity": "..."}`'
    )
    unavailable: list[UnavailableItem] | SkipJsonSchema[None] = absent_when_empty(
        "409 on POST /orders: the items that are sold out (for the public, also those stock cannot cover)"
    )
    unavailable_options: list[UnavailableOption] | SkipJsonSchema[None] = absent_when_empty(
        "409 on POST /orders: the chosen options that are switched off or sold out (for the public, also those "
        "stock cannot cover)"
    )
    out_of_stock: list[StockShortage] | SkipJsonSchema[None] = absent_when_empty(
        "409 on POST /orders for staff: the stock items that cannot cover the order, and by how much"
    )
    allowed: list[OrderStatus] | SkipJsonSchema[None] = absent_when_empty(
        "409 on PATCH /orders/{id}: the statuses the order may move to"
    )
    held_courses: list[int] | SkipJsonSchema[None] = absent_when_empty(
        "409 on POST /orders/{id}/fire and on PATCH /orders/{id} to `ready`: the order's courses still held"
    )
    reason: str | SkipJsonSchema[None] = absent_when_empty(
        "a finer code, e.g. `idempotency_key_reused`, `allergy_confirmation_needed`, `allergies_not_acknowledged`, "
        "`courses_held`, `already_fired`, `no_such_course`, `printer_has_jobs`, `no_receipt_printer`, "
        "`approval_needed`, `order_cancelled`, `order_closed`, `line_voided`, `nothing_left`, `already_removed`"
    )
    queued_jobs: int | SkipJsonSchema[None] = absent_when_empty(
        "409 on DELETE /printers/{id}: how many jobs are waiting to print on it"
    )
    balance_cents: int | SkipJsonSchema[None] = absent_when_empty(
        "409 on POST /orders/{id}/payments (`more_than_owed`): what the order still owes"
    )
    left_cents: int | SkipJsonSchema[None] = absent_when_empty(
        "409 on POST /orders/{id}/refunds (`more_than_paid`): what the payment has left to refund"
    )
    limit_percent: int | float | SkipJsonSchema[None] = absent_when_empty(
        "403 on POST /orders/{id}/discounts (`reason: approval_needed`): the cashier's discount limit, in percent"
    )


class ErrorOut(Output):
    error: ErrorDetail


class BusState(Output):
    subscribers: int
    published: int
    dropped_subscribers: int
    last_event_id: int


class WriterState(Output):
    queued: int
    batches: int
    units: int


class HealthOut(Output):
    """The public gets `status` only; managers also get the details."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"] | SkipJsonSchema[None] = absent_when_empty("managers only")
    bus: BusState | SkipJsonSchema[None] = absent_when_empty("managers only")
    writer: WriterState | SkipJsonSchema[None] = absent_when_empty("managers only")


class StreamReady(Output):
    """The data of `event: stream.ready`: the replay is done, events from here on are live."""

    last_event_id: int | Annotated[str, Field(pattern="^[0-9a-f]{32}$")] = Field(
        description="where to resume from: the event id, or for the public its opaque form"
    )


class HoursOut(Output):
    """The week's opening hours, local time: per day its `[opens, closes]` intervals ("HH:MM",
    "24:00" is the end of the day), in order; an empty list: closed that day."""

    monday: list[list[str]]
    tuesday: list[list[str]]
    wednesday: list[list[str]]
    thursday: list[list[str]]
    friday: list[list[str]]
    saturday: list[list[str]]
    sunday: list[list[str]]


RESPONSE_MODELS: tuple[type[Output], ...] = (
    MenuItemOut,
    MenuCategoriesOut,
    KitchenSettingsOut,
    OrderOut,
    TrackedOrderOut,
    InventoryItemOut,
    StaffOut,
    TokenOut,
    TokenInfo,
    ErrorOut,
    HealthOut,
    StreamReady,
    HoursOut,
)


class OnlineOut(Output):
    """Online ordering's settings, as they apply now (`paused` false once `resume_at` has passed)."""

    paused: bool = Field(description="online orders are refused now (409 `online_paused`)")
    resume_at: Timestamp | None = Field(description="while paused: when it resumes by itself; null: until resumed")
    busy_minutes: int = Field(ge=0, le=MAX_BUSY_MINUTES, description="minutes added to every quoted time")
    slot_orders: int | None = Field(ge=0, le=MAX_SLOT_ORDERS, description="online orders per pickup slot at most")
    slot_load: int | None = Field(ge=0, le=MAX_SLOT_LOAD, description="kitchen load per pickup slot at most")


class SlotOut(Output):
    start: datetime = Field(description="the slot's start, local time with its offset: send it as `pickup_at`")
    time: str = Field(description="the start as the shop shows it (local `HH:MM`)")


LocalDay = Annotated[date, Field(description="the local day asked for")]


class SlotsOut(Output):
    date: LocalDay
    slots: list[SlotOut] = Field(description="the slots still offered, in order (none while paused)")


class PrinterOut(Output):
    """A printer's set-up and live status (services/printers.py)."""

    id: int
    name: str
    host: str
    port: int = Field(ge=1, le=65535)
    role: PrinterRole
    stations: list[str] = Field(description="the stations it prints chits for; none on a kitchen printer: expo")
    backup_printer_id: int | None
    online: bool | None = Field(description="its last attempt succeeded (true) or failed (false); null: never used")
    last_ok_at: Timestamp | None = Field(description="its last successful print")
    last_error: str | None = Field(description="what went wrong last time")
    last_error_at: Timestamp | None
    failing_since: Timestamp | None = Field(description="while it cannot print: since when")
    queued_jobs: int = Field(ge=0, description="jobs waiting to print on it")


class PrintJobOut(Output):
    """A print job (forkflow/printing/jobs.py)."""

    id: int
    printer_id: int = Field(description="the printer it was meant for")
    target_printer_id: int = Field(description="where it goes now: its backup once rerouted")
    kind: PrintKind
    order_id: int | None = Field(description="null: a test page")
    event_id: int = Field(description="the event whose payload it prints")
    revision: int
    station: str = Field(description='"": the whole order')
    headers: list[str] = Field(description="REPRINT, BACKUP FOR <name>, NOT SEEN ON SCREEN")
    copy_: int = Field(alias="copy", ge=0, description="0: the original; n: the n-th reprint")
    status: PrintStatus
    attempts: int = Field(ge=0)
    next_attempt_at: Timestamp
    first_failed_at: Timestamp | None
    printed_at: Timestamp | None
    printed_on: int | None = Field(description="the printer that printed it")
    error: str | None = Field(description="the last failure")
    created_at: Timestamp


class SightingOut(Output):
    """A send (what one change put in front of one kitchen station) and who of the station saw it."""

    send_id: int
    order_id: int
    ticket_no: int = Field(ge=1)
    table: str | None
    channel: Channel
    event_id: int = Field(description="the order event that carried the change")
    station: str = Field(description="the station (empty: dishes that name none)")
    reason: SendReason = Field(description="why: placed, released, a course fired, lines added, or a line voided")
    sent_at: Timestamp
    seen_at: Timestamp | None = Field(description="when a screen or printer of the station first had it")
    seen_by: str | None = Field(description="`screen <name>` or `printer <name>`")
    alarmed_at: Timestamp | None = Field(description="when the unseen alarm was raised for it (once)")


class OrderSightedOut(OrderOut):
    """One order, with who in the kitchen saw each of its sends."""

    sightings: list[SightingOut] = Field(description="every send of the order, oldest first (proof of sight)")


class ScreenOut(Output):
    id: str = Field(description="the screen's name (`?screen=` on the kitchen display)")
    station: str = Field(description="the station it shows; empty: all stations or expo (counts for every station)")
    online: bool = Field(description="false once its heartbeat stopped for `FORKFLOW_SCREEN_OFFLINE_SECONDS`")
    last_seen_at: Timestamp = Field(description="its last heartbeat")
    first_seen_at: Timestamp
    last_event_id: int = Field(description="the last event id it reported rendered")
    user_agent: str


class SightSeenOut(Output):
    """`sight.seen`: sends a screen or printer has just seen (an alarmed one's alert clears)."""

    by: str = Field(description="`screen <name>` or `printer <name>`")
    seen: list[SightingOut]


# Proof of sight's event payloads too (the `kitchen` topic's `x-events` refer to them).
RESPONSE_MODELS = (*RESPONSE_MODELS, SightingOut, SightSeenOut, ScreenOut)


class DiscountReasonOut(Output):
    """A reason the till offers for a discount, or for a comp (`comp`: a 100 % discount)."""

    id: int
    name: str
    comp: bool
    active: bool = Field(description="false: no longer offered; discounts given with it keep its name")
    created_at: Timestamp


class TaxRateOut(Output):
    id: int
    name: str
    percent: Percent
    created_at: Timestamp
    updated_at: Timestamp


class TaxRatesOut(Output):
    tax_rates: list[TaxRateOut] = Field(description="by name")


class MoneySettingsOut(Output):
    """How orders placed from now on are priced (each order keeps the terms it was placed under)."""

    prices_include_tax: bool
    tax_rounding: TaxRounding
    service_charge_percent: Percent
    service_charge_min_guests: int | None = Field(ge=1, le=99, description="null: every table order")
    cashier_discount_limit_percent: Percent


RESPONSE_MODELS = (*RESPONSE_MODELS, TaxRateOut, TaxRatesOut, MoneySettingsOut)


# The day's report (services/day_report.py builds these models itself) and the audit log (issue 17).
# Amounts in the currency's minor units; percents × 1000.


class CategorySales(Output):
    category: str
    quantity: int
    gross_cents: int  # unit price × quantity of its live lines, before discounts


class ItemSales(Output):
    name: str
    category: str
    quantity: int
    gross_cents: int


class TaxFigure(Output):
    name: str
    percent_milli: int
    taxable_cents: int
    tax_cents: int


class DiscountFigure(Output):
    reason: str
    comp: bool
    count: int
    amount_cents: int  # what the discounts took, as priced


class VoidFigure(Output):
    count: int  # lines voided
    value_cents: int  # their unit price × quantity


class RefundFigure(Output):
    tender: str
    reason: str
    count: int
    amount_cents: int
    tip_cents: int


class TenderFigure(Output):
    tender: str
    count: int
    amount_cents: int  # applied to bills
    tip_cents: int


class DrawerFigure(Output):
    name: str
    float_cents: int
    cash_in_cents: int  # cash kept by payments (handed over minus change)
    paid_in_cents: int
    paid_out_cents: int
    cash_refunds_cents: int  # amount and tip given back in cash from it
    expected_cents: int
    counted_cents: int
    over_short_cents: int  # counted - expected


class ChannelFigure(Output):
    channel: str
    orders: int
    sales_cents: int
    average_ticket_cents: int


class DayReport(Output):
    """One service day's figures; `kind` X while the day is open, Z (final) once it is closed."""

    business_date: str
    kind: Literal["X", "Z"]
    closed_at: str | None
    closed_by: str | None
    currency: str
    orders: int  # not cancelled
    sales_cents: int  # sum of T + R_line over them
    average_ticket_cents: int  # sales / orders, half-up
    gross_cents: int  # the live lines before discounts
    discount_cents: int
    tax_cents: int
    service_charge_cents: int
    refunds_cents: int  # R: every refund of the day, line voids and amounts alike
    tenders_cents: int  # P: every payment of the day, tips apart
    tips_cents: int  # payments' tips minus refunded tips
    cash_rounding_cents: int  # cash kept minus what cash payments applied (CHF 5 centimes)
    over_short_cents: int  # over all drawers closed that day
    open_drawers: int
    by_category: list[CategorySales]
    by_item: list[ItemSales]
    taxes: list[TaxFigure]
    discounts: list[DiscountFigure]
    voids: VoidFigure
    refunds: list[RefundFigure]
    tenders: list[TenderFigure]
    drawers: list[DrawerFigure]
    by_channel: list[ChannelFigure]


class AuditEntryOut(Output):
    id: int
    type: str
    at: str
    payload: dict[str, Any]


class AuditPageOut(Output):
    entries: list[AuditEntryOut]
    next_before: int | None


RESPONSE_MODELS = (
    *RESPONSE_MODELS,
    CategorySales,
    ItemSales,
    TaxFigure,
    DiscountFigure,
    VoidFigure,
    RefundFigure,
    TenderFigure,
    DrawerFigure,
    ChannelFigure,
    DayReport,
    AuditEntryOut,
    AuditPageOut,
)
