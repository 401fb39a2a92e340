"""forkflow/money/pricing.py: hand-computed bills, and a property that the Bill's identities hold."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forkflow.money.pricing import WHOLE_MILLI, Bill, DiscountIn, PricedLine, TaxBill, Terms, half_up, price, share

EXCLUSIVE = Terms(prices_include_tax=False, tax_rounding="line", service_charge_milli=0)
INCLUSIVE = Terms(prices_include_tax=True, tax_rounding="line", service_charge_milli=0)


def test_the_docstrings_worked_example() -> None:
    lines = [PricedLine(1, 1200, 2, "Food", 8875), PricedLine(2, 305, 1, "Drinks", 5000)]
    discounts = [DiscountIn(7, 1, "percent", percent_milli=10_000), DiscountIn(8, None, "amount", amount_cents=500)]
    bill = price(lines, discounts, Terms(False, "line", 12_500))
    assert bill.discounts == {7: 240, 8: 500}
    assert [(line.gross_cents, line.net_cents, line.tax_cents) for line in bill.lines] == [
        (2400, 1722, 153),
        (305, 243, 12),
    ]
    assert bill.taxes == (TaxBill("Food", 8875, 1722, 153), TaxBill("Drinks", 5000, 243, 12))
    assert (bill.subtotal_cents, bill.discount_cents, bill.tax_cents) == (2705, 740, 165)
    assert bill.service_charge_cents == 246  # 12.5 % of 1965 = 245.625
    assert bill.total_cents == 2376


def test_exclusive_prices_add_the_tax() -> None:
    bill = price([PricedLine(1, 1000, 1, "VAT", 20_000)], [], EXCLUSIVE)
    assert (bill.subtotal_cents, bill.tax_cents, bill.total_cents) == (1000, 200, 1200)
    assert bill.taxes == (TaxBill("VAT", 20_000, 1000, 200),)


def test_inclusive_prices_contain_the_tax() -> None:
    bill = price([PricedLine(1, 1200, 1, "VAT", 20_000), PricedLine(2, 1000, 1, "VAT", 20_000)], [], INCLUSIVE)
    # 1200 × 20/120 = 200; 1000 × 20/120 = 166.67 -> 167: the total is the menu's prices.
    assert [line.tax_cents for line in bill.lines] == [200, 167]
    assert bill.taxes == (TaxBill("VAT", 20_000, 2200 - 367, 367),)
    assert (bill.subtotal_cents, bill.tax_cents, bill.total_cents) == (2200, 367, 2200)


def test_line_and_order_rounding_give_different_cents() -> None:
    lines = [PricedLine(n, 10, 1, "Reduced", 5000) for n in (1, 2, 3)]  # 0.5 cent of tax each
    by_line = price(lines, [], EXCLUSIVE)
    by_order = price(lines, [], Terms(False, "order", 0))
    assert (by_line.tax_cents, by_line.total_cents) == (3, 33)  # 0.5 -> 1, three times
    assert (by_order.tax_cents, by_order.total_cents) == (2, 32)  # 1.5 -> 2, once
    # The order's 2 cents shared over its lines (equal remainders: the earlier lines first).
    assert [line.tax_cents for line in by_order.lines] == [1, 1, 0]


def test_half_up_at_exactly_one_half_and_three_decimal_percents() -> None:
    assert [half_up(n, 2) for n in (0, 1, 2, 3, 5)] == [0, 1, 1, 2, 3]
    # 400 × 8.875 % = 35.5 -> 36; 1000 × 8.875 % = 88.75 -> 89; 200 × 8.875 % = 17.75 -> 18.
    lines = [
        PricedLine(1, 400, 1, "NYC", 8875),
        PricedLine(2, 1000, 1, "NYC", 8875),
        PricedLine(3, 100, 2, "NYC", 8875),
    ]
    assert [line.tax_cents for line in price(lines, [], EXCLUSIVE).lines] == [36, 89, 18]
    # On the order: 35.5 + 88.75 + 17.75 = 142 exactly.
    assert price(lines, [], Terms(False, "order", 0)).tax_cents == 142


def test_line_then_order_discounts_share_over_what_is_left() -> None:
    lines = [PricedLine(1, 1000, 1), PricedLine(2, 500, 1), PricedLine(3, 250, 2)]
    discounts = [DiscountIn(1, 3, "amount", amount_cents=100), DiscountIn(2, None, "percent", percent_milli=10_000)]
    bill = price(lines, discounts, EXCLUSIVE)
    # Left after the line's discount: 1000, 500, 400 = 1900; 10 % = 190, shared 100, 50, 40.
    assert bill.discounts == {1: 100, 2: 190}
    assert [line.net_cents for line in bill.lines] == [900, 450, 360]
    assert (bill.discount_cents, bill.total_cents) == (290, 1710)


def test_an_amount_larger_than_its_line_or_order_takes_only_what_is_left() -> None:
    lines = [PricedLine(1, 500, 1), PricedLine(2, 300, 1)]
    on_line = price(lines, [DiscountIn(1, 1, "amount", amount_cents=800)], EXCLUSIVE)
    assert on_line.discounts == {1: 500}
    assert [line.net_cents for line in on_line.lines] == [0, 300]
    on_order = price(lines, [DiscountIn(1, None, "amount", amount_cents=5000)], EXCLUSIVE)
    assert (on_order.discounts, on_order.total_cents) == ({1: 800}, 0)


def test_a_comp_takes_what_is_left_of_its_line_and_its_tax_goes_with_it() -> None:
    lines = [PricedLine(1, 1000, 1, "VAT", 20_000), PricedLine(2, 400, 1, "VAT", 20_000)]
    discounts = [
        DiscountIn(1, 1, "percent", percent_milli=10_000),
        DiscountIn(2, 1, "percent", percent_milli=WHOLE_MILLI),
    ]
    bill = price(lines, discounts, EXCLUSIVE)
    assert bill.discounts == {1: 100, 2: 900}
    assert [(line.net_cents, line.tax_cents) for line in bill.lines] == [(0, 0), (400, 80)]
    assert bill.total_cents == 480


def test_the_service_charge_is_on_the_discounted_lines_and_untaxed() -> None:
    lines = [PricedLine(1, 1234, 1, "VAT", 10_000)]
    exclusive = price(lines, [], Terms(False, "line", 10_000))
    assert (exclusive.service_charge_cents, exclusive.tax_cents, exclusive.total_cents) == (123, 123, 1480)
    inclusive = price(lines, [DiscountIn(1, None, "amount", amount_cents=234)], Terms(True, "line", 12_500))
    # 12.5 % of 1000 (as the menu shows it, tax inside) = 125; the tax inside 1000 at 10 % is 90.91 -> 91.
    assert (inclusive.service_charge_cents, inclusive.tax_cents, inclusive.total_cents) == (125, 91, 1125)


def test_voided_lines_cost_nothing_and_their_discounts_take_nothing() -> None:
    lines = [PricedLine(1, 900, 1, "VAT", 20_000, voided=True), PricedLine(2, 300, 1, "VAT", 20_000)]
    bill = price(lines, [DiscountIn(1, 1, "percent", percent_milli=50_000)], EXCLUSIVE)
    assert bill.discounts == {1: 0}
    assert (bill.subtotal_cents, bill.tax_cents, bill.total_cents) == (300, 60, 360)
    assert bill.lines[0].gross_cents == bill.lines[0].net_cents == 0


def test_untaxed_lines_report_no_rate() -> None:
    bill = price([PricedLine(1, 500, 1), PricedLine(2, 500, 1, "VAT", 20_000)], [], EXCLUSIVE)
    assert bill.taxes == (TaxBill("VAT", 20_000, 500, 100),)
    assert bill.total_cents == 1100


def test_a_discount_on_a_line_not_given_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 9"):
        price([PricedLine(1, 500, 1)], [DiscountIn(1, 9, "amount", amount_cents=1)], EXCLUSIVE)


def test_share_is_largest_remainder_and_never_above_a_weight() -> None:
    assert share(3, [1, 1, 1]) == [1, 1, 1]
    assert share(2, [1, 1, 1]) == [1, 1, 0]
    assert share(100, [2160, 305]) == [88, 12]  # 87.63 and 12.37: the larger remainder gets the cent
    assert share(0, [0, 0]) == [0, 0]


RATES = [("", 0), ("VAT", 20_000), ("Reduced", 5500), ("NYC", 8875), ("Zero", 0)]
_lines = st.lists(
    st.builds(
        lambda unit, quantity, rate, voided: (unit, quantity, *RATES[rate], voided),
        st.integers(0, 50_000),
        st.integers(1, 99),
        st.integers(0, len(RATES) - 1),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)
_discounts = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 7)),
        st.sampled_from(["percent", "amount"]),
        st.integers(0, WHOLE_MILLI),
        st.integers(0, 200_000),
    ),
    max_size=6,
)
_terms = st.builds(Terms, st.booleans(), st.sampled_from(["line", "order"]), st.integers(0, 30_000))


def _exact_rate_tax(bill: Bill, lines: list[PricedLine], terms: Terms, rate: tuple[str, int]) -> list[Fraction]:
    divisor = 1 + Fraction(rate[1], WHOLE_MILLI) if terms.prices_include_tax else 1
    return [
        Fraction(out.net_cents * rate[1], WHOLE_MILLI) / divisor
        for line, out in zip(lines, bill.lines, strict=True)
        if (line.tax_name, line.tax_milli) == rate
    ]


@settings(max_examples=400, deadline=None)
@given(_lines, _discounts, _terms)
def test_the_bills_identities_hold(
    raw_lines: list[tuple[int, int, str, int, bool]], raw: list[tuple[int | None, str, int, int]], terms: Terms
) -> None:
    lines = [PricedLine(n, *values) for n, values in enumerate(raw_lines)]
    discounts = [
        DiscountIn(n, None if line is None else line % len(lines), kind, percent, amount)  # type: ignore[arg-type]
        for n, (line, kind, percent, amount) in enumerate(raw)
    ]
    bill = price(lines, discounts, terms)
    figures = [bill.subtotal_cents, bill.discount_cents, bill.tax_cents, bill.service_charge_cents, bill.total_cents]
    assert all(type(figure) is int and figure >= 0 for figure in figures)
    assert bill.subtotal_cents == sum(line.unit_price_cents * line.quantity for line in lines if not line.voided)
    assert (
        bill.discount_cents
        == sum(bill.discounts.values())
        == bill.subtotal_cents - sum(o.net_cents for o in bill.lines)
    )
    assert all(0 <= out.net_cents <= out.gross_cents for out in bill.lines)
    assert bill.tax_cents == sum(out.tax_cents for out in bill.lines) == sum(tax.tax_cents for tax in bill.taxes)
    added = 0 if terms.prices_include_tax else bill.tax_cents
    assert bill.total_cents == bill.subtotal_cents - bill.discount_cents + bill.service_charge_cents + added
    for tax in bill.taxes:
        exact = _exact_rate_tax(bill, lines, terms, (tax.name, tax.percent_milli))
        if terms.tax_rounding == "order":
            assert tax.tax_cents == half_up(sum(exact).numerator, sum(exact).denominator)
        else:
            assert tax.tax_cents == sum(half_up(e.numerator, e.denominator) for e in exact)
