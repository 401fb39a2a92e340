"""Rows to the JSON the API returns. Events carry exactly these shapes too."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from ..formats import iso, iso_or_none
from ..money.pricing import Bill, DiscountIn, PricedLine, Terms, price
from .courses import held_courses


class Encoded(dict[str, Any]):
    """A representation whose JSON text was already made for its event: a response sends that text
    rather than encoding the same document a second time."""

    __slots__ = ("json_text",)

    def __init__(self, document: dict[str, Any], json_text: str) -> None:
        super().__init__(document)
        self.json_text = json_text


def joined(chosen: Iterable[str], vocabulary: Sequence[str]) -> str:
    """Words of a closed list as a column stores them: once each, in the vocabulary's order."""
    picked = set(chosen)
    return ",".join(word for word in vocabulary if word in picked)


def words(stored: str) -> list[str]:
    """A column written by `joined`, back to its words."""
    return stored.split(",") if stored else []


def option_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "price_cents": row.price_cents,
        "allergens": words(row.allergens),
        "available": bool(row.available),
        "switched_off": bool(row.switched_off),
    }


def group_out(row: Any, options: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "min": row.min_choices,
        "max": row.max_choices,
        "options": options,
    }


def menu_item_out(row: Row[Any], groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "price_cents": row.price_cents,
        "category": row.category,
        "station": row.station,
        "position": row.position,
        "allergens": words(row.allergens),
        "dietary": words(row.dietary),
        "prep_minutes": row.prep_minutes,
        "prep_load": row.prep_load,
        "tax_rate_id": row.tax_rate_id,
        "modifier_groups": groups,
        "available": bool(row.available),
        "switched_off": bool(row.switched_off),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def modifier_out(row: Any) -> dict[str, Any]:
    """A chosen option as the line keeps it (order_line_modifiers): its snapshot, not today's menu."""
    return {
        "option_id": row.option_id,
        "group": row.group_name,
        "name": row.option_name,
        "price_cents": row.price_cents,
        "count": row.count,
        "kind": row.group_kind,
        "exactly_one": bool(row.exactly_one),
    }


def line_out(row: Any, modifiers: list[dict[str, Any]], allergies: list[str]) -> dict[str, Any]:
    """A line, its chosen options (`modifiers`, in the item's order) and which of the order's
    `allergies` it contains (`allergy_flags`)."""
    allergens = words(row.allergens)
    return {
        "id": row.id,
        "menu_item_id": row.menu_item_id,
        "name": row.name,
        "unit_price_cents": row.unit_price_cents,
        "quantity": row.quantity,
        "line_total_cents": row.unit_price_cents * row.quantity,
        "notes": row.notes,
        "station": row.station,
        "done_at": iso_or_none(row.done_at),
        "course": row.course,
        "fired_at": iso_or_none(row.fired_at),
        "prep_minutes": row.prep_minutes,
        "modifiers": modifiers,
        "allergens": allergens,
        "allergy_flags": [word for word in allergens if word in allergies],
        "revision": row.revision,
        "voided_at": iso_or_none(row.voided_at),
        "void_reason": row.void_reason,
        "voided_by": row.voided_by,
        "tax": {"name": row.tax_name, "percent": milli_to_number(row.tax_milli)} if row.tax_name else None,
    }


_PICKUP_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O or U to misread


def pickup_code(tracking_token: str) -> str:
    """What a customer shows at the counter instead of a ticket number (which would count the day's
    business): six characters derived from their tracking token, which they alone hold. The
    code is a hash, so it gives nothing of the token away."""
    number = int.from_bytes(hashlib.sha256(f"pickup\0{tracking_token}".encode()).digest()[:8])
    return "".join(_PICKUP_ALPHABET[(number >> (5 * i)) & 31] for i in range(6))


def discount_out(row: Any, taken: int) -> dict[str, Any]:
    """A discount not removed (order_discounts), with what it `taken` off the bill (pricing's Bill)."""
    return {
        "id": row.id,
        "line_id": row.line_id,
        "kind": row.kind,
        "percent": None if row.percent_milli is None else milli_to_number(row.percent_milli),
        "amount_cents": taken,
        "comp": bool(row.comp),
        "reason": row.reason,
        "given_by": row.given_by,
        "approved_by": row.approved_by,
    }


def taxes_out(bill: Bill) -> list[dict[str, Any]]:
    """A Bill's taxes by rate, as answers show them (percents as numbers)."""
    return [
        {
            "name": tax.name,
            "percent": milli_to_number(tax.percent_milli),
            "taxable_cents": tax.taxable_cents,
            "tax_cents": tax.tax_cents,
        }
        for tax in bill.taxes
    ]


def quote_out(bill: Bill, terms: Terms) -> dict[str, Any]:
    """What a cart or a ticket not yet placed would cost, in an order's shape (`BILL_KEYS`)."""
    return {
        "prices_include_tax": terms.prices_include_tax,
        "subtotal_cents": bill.subtotal_cents,
        "discount_cents": bill.discount_cents,
        "taxes": taxes_out(bill),
        "tax_cents": bill.tax_cents,
        "service_charge_cents": bill.service_charge_cents,
        "total_cents": bill.total_cents,
    }


def bill_out(row: Any, lines: Sequence[Any], discounts: Sequence[Any]) -> dict[str, Any]:
    """An order's figures: as stored on its row (services/bill.py keeps them), with the discounts'
    and taxes' detail from the same pricing of the same rows."""
    priced = [
        PricedLine(
            line.id, line.unit_price_cents, line.quantity, line.tax_name, line.tax_milli, line.voided_at is not None
        )
        for line in lines
    ]
    taken = [DiscountIn(d.id, d.line_id, d.kind, d.percent_milli, d.amount_cents) for d in discounts]
    bill = price(priced, taken, Terms(bool(row.prices_include_tax), row.tax_rounding, row.service_charge_milli))
    return {
        "guests": row.guests,
        "prices_include_tax": bool(row.prices_include_tax),
        "subtotal_cents": row.subtotal_cents,
        "discounts": [discount_out(d, bill.discounts[d.id]) for d in discounts],
        "discount_cents": row.discount_cents,
        "taxes": taxes_out(bill),
        "tax_cents": row.tax_cents,
        "service_charge_cents": row.service_charge_cents,
        "total_cents": row.total_cents,
    }


# The figures anyone holding the order sees (the tracking page too: not who gave the discounts).
BILL_KEYS = (
    "prices_include_tax",
    "subtotal_cents",
    "discount_cents",
    "taxes",
    "tax_cents",
    "service_charge_cents",
    "total_cents",
)


def order_out(
    row: Any, lines: Sequence[Any], modifiers: Mapping[int, list[dict[str, Any]]], discounts: Sequence[Any] = ()
) -> dict[str, Any]:
    """An order from its row, its lines' rows (or anything with the same attributes), each
    line's chosen options by line id (`modifier_out`s; a line without any may be absent) and its
    discounts not removed (order_discounts rows, in id order)."""
    allergies = words(row.allergies)
    shown = [line_out(line, modifiers.get(line.id, []), allergies) for line in lines]
    return {
        "id": row.id,
        "ticket_no": row.ticket_no,
        "business_date": row.business_date,
        "customer_name": row.customer_name,
        "channel": row.channel,
        "table": row.table_label,
        "notes": row.notes,
        "status": row.status,
        **bill_out(row, lines, discounts),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "ready_at": iso_or_none(row.ready_at),
        "completed_at": iso_or_none(row.completed_at),
        "tracking_url": f"/track/{row.tracking_token}",
        "pickup_code": pickup_code(row.tracking_token),
        "allergies": allergies,
        "allergies_acknowledged_at": iso_or_none(row.allergies_acknowledged_at),
        "allergies_acknowledged_by": row.allergies_acknowledged_by,
        "revision": row.revision,
        "rush": bool(row.rush),
        "pickup_at": iso_or_none(row.pickup_at),
        "release_at": iso_or_none(row.release_at),
        "released_at": iso_or_none(row.released_at),
        "held": row.release_at is not None and row.released_at is None,
        "held_courses": held_courses(shown),
        "lines": shown,
    }


def tracked_order_out(order: dict[str, Any]) -> dict[str, Any]:
    """What the holder of a tracking link sees: their order, without staff-side ids or ticket
    numbers (sequential: they count the day's business); its pickup code instead."""
    public = {
        key: order[key]
        for key in (
            "pickup_code",
            "customer_name",
            "channel",
            "table",
            "notes",
            "status",
            *BILL_KEYS,
            "created_at",
            "updated_at",
            "allergies",
            "pickup_at",
        )
    }
    line_keys = (
        "name",
        "quantity",
        "unit_price_cents",
        "line_total_cents",
        "notes",
        "modifiers",
        "allergens",
        "allergy_flags",
        "voided_at",
    )
    public["lines"] = [{key: line[key] for key in line_keys} for line in order["lines"]]
    return public


def public_order_out(order: dict[str, Any]) -> dict[str, Any]:
    """The answer to an anonymous order: what its tracking link shows, and the link."""
    return {**tracked_order_out(order), "tracking_url": order["tracking_url"]}


def milli_to_number(milli: int) -> int | float:
    value = Decimal(milli) / 1000
    return int(value) if value == value.to_integral_value() else float(value)


def number_to_milli(value: Decimal) -> int:
    return int(value * 1000)


def inventory_out(row: Row[Any]) -> dict[str, Any]:
    threshold = row.low_stock_milli
    return {
        "id": row.id,
        "item_name": row.item_name,
        "quantity": milli_to_number(row.quantity_milli),
        "unit": row.unit,
        "low_stock": None if threshold is None else milli_to_number(threshold),
        "low": threshold is not None and row.quantity_milli <= threshold,
        "last_updated": iso(row.last_updated),
    }
