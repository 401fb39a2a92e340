"""An order's figures as every screen and the receipt print them: the rows between its lines and its
total (subtotal, each discount, each tax, the service charge), in one order, with one wording.

Invariant: rows are read from the bill's figures (an order's answer, or a cart's `quote`), never
computed here; amounts stay integers for the `money` format of whoever prints them. An order with
nothing between its lines and its total (no discount, tax or service charge) has no rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .formats import percent


@dataclass(frozen=True, slots=True)
class BillRow:
    kind: str  # subtotal, discount, tax, service: the screens' class names
    label: str
    cents: int  # a discount's is what it took, shown as taken off


def tax_label(name: str, rate: float, included: bool) -> str:
    """ "VAT 20%", or "incl. VAT 20%" when the prices contain it (the percent as the locale writes it)."""
    return f"{'incl. ' if included else ''}{name} {percent(rate)}"


def bill_rows(bill: Mapping[str, Any]) -> list[BillRow]:
    """The rows of an order's (or a cart's) figures, as its answer carries them (`BILL_KEYS`, and
    `discounts` where the viewer may see them: else one row for all its discounts)."""
    if not (bill.get("discount_cents") or bill.get("taxes") or bill.get("service_charge_cents")):
        return []  # (a receipt's order from before issue 17 has none of them)
    rows = [BillRow("subtotal", "Subtotal", bill["subtotal_cents"])]
    discounts = bill.get("discounts")
    if discounts:
        rows += [
            BillRow("discount", f"{d['reason']}{' (comp)' if d['comp'] else ''}", d["amount_cents"]) for d in discounts
        ]
    elif bill["discount_cents"]:
        rows.append(BillRow("discount", "Discounts", bill["discount_cents"]))
    included = bill["prices_include_tax"]
    rows += [BillRow("tax", tax_label(t["name"], t["percent"], included), t["tax_cents"]) for t in bill["taxes"]]
    if bill["service_charge_cents"]:
        rows.append(BillRow("service", "Service charge", bill["service_charge_cents"]))
    return rows
