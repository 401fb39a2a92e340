"""What an order costs: one pure function, `price`, from its lines, discounts and terms to its Bill.

Invariant: every figure is an integer number of minor units, computed exactly (integer ratios, never
floats) and rounded half-up only where this docstring says; and the Bill's identities always hold:

    subtotal  = sum of the live lines' unit price × quantity (voided lines count for nothing)
    discount  = sum of what each discount took         = subtotal - sum of the lines' net
    tax       = sum of the rates' tax                  = sum of the lines' tax
    total     = subtotal - discount + service charge   (+ tax when prices exclude it)

The rules, in the order they apply:

1. Line discounts, each in id order, take from their own line what is left of it: a percent takes
   that percent of what is left (half-up to the cent), an amount takes itself or, if larger, what is
   left. A comp is a 100 % discount: it takes whatever is left. Nothing goes below zero.
2. Order discounts, each in id order, take likewise from what is left of the whole order; what one
   took is then shared over the lines in proportion to what is left of each (largest remainder,
   ties to the earlier line), so every line's net, its taxable amount, is known.
3. Tax on each line's net, at the rate the line was ordered with (`tax_milli`, percent × 1000).
   Prices excluding tax: net × rate. Prices including tax: the tax inside the net, net × rate /
   (1 + rate). Rounded half-up either on each line (`tax_rounding` "line") or once per rate on the
   whole order ("order"; the rate's tax is then shared over its lines by largest remainder so the
   lines still add up). A rate's `taxable_cents` is its lines' net without tax in both cases.
4. Service charge: `service_charge_milli` of the discounted lines (subtotal - discount), as the
   menu shows their prices (before tax when prices exclude it), rounded half-up once; it is not
   taxed: it is the staff's, like a tip, and a restaurant charging it takes no tax on it (the
   discretionary service charge in the UK; in the US a mandatory one may be taxable in some
   states, which ForkFlow does not model).

A worked example, prices excluding tax, tax rounded per line, 12.5 % service charge: a burger
12.00 × 2 at 8.875 % and a soda 3.05 at 5 %, the burger 10 % off, then 5.00 off the order.
  Burger 2400, line discount 10 %: takes 240, left 2160. Soda 305.
  Order discount 500 over 2160 + 305 = 2465: burger 500 × 2160/2465 = 438.13..., soda 61.86...;
  floors 438 + 61 = 499, the one cent left goes to the larger remainder (soda, .86): 438 and 62.
  Nets: burger 1722, soda 243. Taxes: 1722 × 8.875 % = 152.8275 -> 153; 243 × 5 % = 12.15 -> 12.
  Service: 12.5 % of 1965 = 245.625 -> 246. Total: 2705 - 740 + 165 + 246 = 2376.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..vocabulary import DiscountKind, TaxRounding

# Percents are stored × 1000: 100 % is 100_000.
WHOLE_MILLI = 100_000


@dataclass(frozen=True, slots=True)
class PricedLine:
    """An order line as priced: order_lines' own columns (its tax as it was when ordered; a line
    without a tax name is untaxed)."""

    id: int
    unit_price_cents: int
    quantity: int
    tax_name: str = ""
    tax_milli: int = 0
    voided: bool = False


@dataclass(frozen=True, slots=True)
class DiscountIn:
    """A discount as order_discounts keeps it: on a line (`line_id`) or the order (None)."""

    id: int
    line_id: int | None
    kind: DiscountKind
    percent_milli: int | None = None
    amount_cents: int | None = None


@dataclass(frozen=True, slots=True)
class Terms:
    """How an order is priced, fixed when it is placed (orders' columns of the same names)."""

    prices_include_tax: bool = False
    tax_rounding: TaxRounding = "line"
    service_charge_milli: int = 0


@dataclass(frozen=True, slots=True)
class LineBill:
    """A line's figures: before discounts (`gross`), after them (`net`), and its tax."""

    id: int
    gross_cents: int
    net_cents: int
    tax_cents: int


@dataclass(frozen=True, slots=True)
class TaxBill:
    """One rate's figures on the order: what it was taken on (net of tax) and how much."""

    name: str
    percent_milli: int
    taxable_cents: int
    tax_cents: int


@dataclass(frozen=True, slots=True)
class Bill:
    """An order's figures (see the module's docstring for how they relate)."""

    subtotal_cents: int
    discounts: dict[int, int]  # discount id -> what it took
    discount_cents: int
    taxes: tuple[TaxBill, ...]  # by rate, in the order rates first appear on the lines
    tax_cents: int
    service_charge_cents: int
    total_cents: int
    lines: tuple[LineBill, ...]  # every line given, voided ones at zero


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (both >= 0, denominator > 0) rounded to the nearest integer, .5 up."""
    return (2 * numerator + denominator) // (2 * denominator)


def _taken(discount: DiscountIn, left: int) -> int:
    """What a discount takes from `left` cents: its percent of them, or its amount, never more."""
    if discount.kind == "percent":
        if discount.percent_milli is None:
            raise ValueError(f"percent discount {discount.id} has no percent")
        wanted = half_up(left * discount.percent_milli, WHOLE_MILLI)
    else:
        if discount.amount_cents is None:
            raise ValueError(f"amount discount {discount.id} has no amount")
        wanted = discount.amount_cents
    return min(wanted, left)


def share(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` split in proportion to `weights` (amount <= sum of weights): floors, then one more
    to the largest remainders, ties to the earlier. No share exceeds its weight."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    shares = [amount * weight // total for weight in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in remainders[: amount - sum(shares)]:
        shares[i] += 1
    return shares


def _apply_discounts(lines: Sequence[PricedLine], discounts: Sequence[DiscountIn]) -> tuple[list[int], dict[int, int]]:
    """Each line's net after the discounts, and what each discount took (rules 1 and 2)."""
    left = [0 if line.voided else line.unit_price_cents * line.quantity for line in lines]
    index = {line.id: i for i, line in enumerate(lines)}
    took: dict[int, int] = {}
    ordered = sorted(discounts, key=lambda d: d.id)
    for discount in ordered:
        if discount.line_id is None:
            continue
        if discount.line_id not in index:
            raise ValueError(f"discount {discount.id} names line {discount.line_id}, not one of the order's")
        i = index[discount.line_id]
        took[discount.id] = _taken(discount, left[i])
        left[i] -= took[discount.id]
    for discount in ordered:
        if discount.line_id is not None:
            continue
        took[discount.id] = _taken(discount, sum(left))
        for i, part in enumerate(share(took[discount.id], left)):
            left[i] -= part
    return left, {discount.id: took[discount.id] for discount in discounts}


def _exact_tax(net: int, milli: int, include: bool) -> tuple[int, int]:
    """A line's exact tax as a ratio (numerator, denominator)."""
    return net * milli, (WHOLE_MILLI + milli) if include else WHOLE_MILLI


def _line_taxes(nets: list[int], lines: Sequence[PricedLine], terms: Terms) -> list[int]:
    """Each line's tax in cents under the order's rounding (rule 3)."""
    include = terms.prices_include_tax
    exact = [
        _exact_tax(net, line.tax_milli if line.tax_name else 0, include) for net, line in zip(nets, lines, strict=True)
    ]
    if terms.tax_rounding == "line":
        return [half_up(numerator, denominator) for numerator, denominator in exact]
    taxes = [0] * len(lines)
    for rate in _rates(lines):
        members = [i for i, line in enumerate(lines) if (line.tax_name, line.tax_milli) == rate]
        denominator = exact[members[0]][1]  # the same for one rate
        numerators = [exact[i][0] for i in members]
        rate_tax = half_up(sum(numerators), denominator)
        # Shared by largest remainder of the exact taxes: the floors, then one more where the
        # fraction is largest (the shares' own floors never exceed the rate's half-up total).
        floors = [numerator // denominator for numerator in numerators]
        fractions = sorted(range(len(members)), key=lambda k: (-(numerators[k] % denominator), k))
        for k in fractions[: rate_tax - sum(floors)]:
            floors[k] += 1
        for k, i in enumerate(members):
            taxes[i] = floors[k]
    return taxes


def _rates(lines: Sequence[PricedLine]) -> list[tuple[str, int]]:
    """The tax rates on the lines, (name, percent_milli), in order of first appearance."""
    return list(dict.fromkeys((line.tax_name, line.tax_milli) for line in lines))


def price(lines: Sequence[PricedLine], discounts: Sequence[DiscountIn], terms: Terms) -> Bill:
    """The order's Bill (the module's docstring gives the rules and a worked example).

    ValueError for a discount naming a line not given, or missing its percent or amount."""
    nets, took = _apply_discounts(lines, discounts)
    taxes = _line_taxes(nets, lines, terms)
    subtotal = sum(0 if line.voided else line.unit_price_cents * line.quantity for line in lines)
    discount = sum(took.values())
    by_rate = []
    for name, milli in _rates(lines):
        if not name:
            continue  # untaxed lines: no rate to report
        members = [i for i, line in enumerate(lines) if (line.tax_name, line.tax_milli) == (name, milli)]
        tax = sum(taxes[i] for i in members)
        net = sum(nets[i] for i in members)
        by_rate.append(TaxBill(name, milli, net - tax if terms.prices_include_tax else net, tax))
    tax_cents = sum(taxes)
    service = half_up((subtotal - discount) * terms.service_charge_milli, WHOLE_MILLI)
    total = subtotal - discount + service + (0 if terms.prices_include_tax else tax_cents)
    line_bills = tuple(
        LineBill(line.id, 0 if line.voided else line.unit_price_cents * line.quantity, net, tax)
        for line, net, tax in zip(lines, nets, taxes, strict=True)
    )
    return Bill(subtotal, took, discount, tuple(by_rate), tax_cents, service, total, line_bills)
