"""A service day's figures (the X-report while it is open, the Z-report once closed), and closing it.

Invariant: every figure is derived from the stored rows of that service day (orders.business_date;
payments, refunds, order_discounts and drawers by their own business_date) at the moment of asking,
never from running totals; each order's taxes, discounts and service charge come from
`money.pricing.price` over its lines, discounts and terms, the very function that wrote its figures,
so the report agrees with every receipt to the cent. The algebra is the issue's (docs: the bill's
algebra): an order's sales are T + R_line (what it owes plus paid lines voided and refunded), so
tenders net of refunds = sales - refunds for every paid order, and tips are reported apart.

Closing the day writes a closed_days row and emits `day.closed` (topic money) in one write; it is
refused (409) for a day already closed, a day not begun yet, and while a drawer of that day is open.
Printing the report on a receipt printer (`print_report`) computes it in the write that queues the
job, whose event carries the figures: the paper says what the database said at that moment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select

from ..config import Settings
from ..errors import Conflict, Invalid
from ..formats import iso
from ..money.pricing import Bill, DiscountIn, PricedLine, Terms, price
from ..printing import jobs
from ..schema import (
    closed_days,
    drawer_movements,
    drawers,
    menu_items,
    order_discounts,
    order_lines,
    orders,
    payments,
    refunds,
)
from ..schemas_out import (
    CategorySales,
    ChannelFigure,
    DayReport,
    DiscountFigure,
    DrawerFigure,
    ItemSales,
    RefundFigure,
    TaxFigure,
    TenderFigure,
    VoidFigure,
)
from ..storage.units import Tx
from ..store import Store
from .audit import money_event
from .drawers import open_drawer_ids
from .orders import business_date


def average(total: int, count: int) -> int:
    return (2 * total + count) // (2 * count) if count else 0


@dataclass
class _Tally:
    """Figures summed under a key (quantity and amount, or count and amount and tip)."""

    sums: dict[tuple[Any, ...], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))

    def add(self, key: tuple[Any, ...], *amounts: int) -> None:
        row = self.sums[key]
        for i, amount in enumerate(amounts):
            row[i] += amount


def _bills(conn: Connection, order_ids: Iterable[int]) -> dict[int, Bill]:
    """`price()` of each order as its rows are now: the function that wrote its figures."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    lines: dict[int, list[PricedLine]] = defaultdict(list)
    found = select(
        order_lines.c.order_id,
        order_lines.c.id,
        order_lines.c.unit_price_cents,
        order_lines.c.quantity,
        order_lines.c.tax_name,
        order_lines.c.tax_milli,
        order_lines.c.voided_at,
    ).where(order_lines.c.order_id.in_(ids))
    for row in conn.execute(found.order_by(order_lines.c.id)):
        lines[row.order_id].append(
            PricedLine(
                row.id, row.unit_price_cents, row.quantity, row.tax_name, row.tax_milli, row.voided_at is not None
            )
        )
    discounts: dict[int, list[DiscountIn]] = defaultdict(list)
    live = order_discounts.c.removed_at.is_(None) & order_discounts.c.order_id.in_(ids)
    for d in conn.execute(select(order_discounts).where(live).order_by(order_discounts.c.id)):
        discounts[d.order_id].append(DiscountIn(d.id, d.line_id, d.kind, d.percent_milli, d.amount_cents))
    terms = select(orders.c.id, orders.c.prices_include_tax, orders.c.tax_rounding, orders.c.service_charge_milli)
    return {
        row.id: price(
            lines[row.id],
            discounts[row.id],
            Terms(bool(row.prices_include_tax), row.tax_rounding, row.service_charge_milli),
        )
        for row in conn.execute(terms.where(orders.c.id.in_(ids)))
    }


def _sales(conn: Connection, day: str, bills: dict[int, Bill], line_refunds: dict[int, int]) -> dict[str, Any]:
    """Orders, sales by channel, category and item, taxes, service charges and voids of the day's orders."""
    day_orders = list(
        conn.execute(
            select(orders.c.id, orders.c.channel).where(orders.c.business_date == day, orders.c.status != "cancelled")
        )
    )
    channels, taxes = _Tally(), _Tally()
    for o in day_orders:
        bill = bills[o.id]
        channels.add((o.channel,), 1, bill.total_cents + line_refunds.get(o.id, 0))
        for rate in bill.taxes:
            taxes.add((rate.name, rate.percent_milli), rate.taxable_cents, rate.tax_cents)
    categories, items, voids = _Tally(), _Tally(), _Tally()
    ids = [o.id for o in day_orders]
    found = (
        select(order_lines.c.name, menu_items.c.category, order_lines.c.quantity, order_lines.c.unit_price_cents)
        .add_columns(order_lines.c.voided_at)
        .join(menu_items, menu_items.c.id == order_lines.c.menu_item_id)
        .where(order_lines.c.order_id.in_(ids))
    )
    for line in conn.execute(found):
        value = line.unit_price_cents * line.quantity
        if line.voided_at is not None:
            voids.add((), 1, value)
            continue
        categories.add((line.category,), line.quantity, value)
        items.add((line.name, line.category), line.quantity, value)
    sales = sum(row[1] for row in channels.sums.values())
    return {
        "orders": len(day_orders),
        "sales_cents": sales,
        "average_ticket_cents": average(sales, len(day_orders)),
        "gross_cents": sum(bills[i].subtotal_cents for i in ids),
        "tax_cents": sum(bills[i].tax_cents for i in ids),
        "service_charge_cents": sum(bills[i].service_charge_cents for i in ids),
        "by_channel": [
            ChannelFigure(channel=c, orders=n, sales_cents=s, average_ticket_cents=average(s, n))
            for (c,), (n, s, _) in sorted(channels.sums.items())
        ],
        "taxes": [
            TaxFigure(name=n, percent_milli=p, taxable_cents=t, tax_cents=x)
            for (n, p), (t, x, _) in sorted(taxes.sums.items())
        ],
        "by_category": [
            CategorySales(category=c, quantity=q, gross_cents=g) for (c,), (q, g, _) in sorted(categories.sums.items())
        ],
        "by_item": [
            ItemSales(name=n, category=c, quantity=q, gross_cents=g)
            for (n, c), (q, g, _) in sorted(items.sums.items(), key=lambda kv: (-kv[1][1], kv[0]))
        ],
        "voids": VoidFigure(count=voids.sums[()][0], value_cents=voids.sums[()][1]),
    }


def _discounts(conn: Connection, day: str, bills: dict[int, Bill]) -> list[DiscountFigure]:
    """The discounts given that day (not removed), with what each took when priced."""
    given = conn.execute(
        select(order_discounts).where(order_discounts.c.business_date == day, order_discounts.c.removed_at.is_(None))
    )
    tally = _Tally()
    for d in given:
        tally.add((d.reason, bool(d.comp)), 1, bills[d.order_id].discounts.get(d.id, 0))
    return [
        DiscountFigure(reason=r, comp=c, count=n, amount_cents=a) for (r, c), (n, a, _) in sorted(tally.sums.items())
    ]


def _cash_kept(row: Any) -> int:
    """What a payment left in the drawer: cash handed over minus change; other tenders none."""
    return 0 if row.tendered_cents is None else row.tendered_cents - row.change_cents


def _money_moved(conn: Connection, day: str) -> dict[str, Any]:
    """Tenders, tips, refunds, cash rounding and drawers of the day."""
    paid = list(conn.execute(select(payments).where(payments.c.business_date == day)))
    given = list(
        conn.execute(
            select(refunds, payments.c.tender)
            .join(payments, payments.c.id == refunds.c.payment_id)
            .where(refunds.c.business_date == day)
        )
    )
    tenders, refunded = _Tally(), _Tally()
    for p in paid:
        tenders.add((p.tender,), 1, p.amount_cents, p.tip_cents)
    for r in given:
        refunded.add((r.tender, r.reason), 1, r.amount_cents, r.tip_cents)
    rounding = sum(_cash_kept(p) - p.amount_cents - p.tip_cents for p in paid if p.tendered_cents is not None)
    return {
        "tenders_cents": sum(p.amount_cents for p in paid),
        "refunds_cents": sum(r.amount_cents for r in given),
        "tips_cents": sum(p.tip_cents for p in paid) - sum(r.tip_cents for r in given),
        "cash_rounding_cents": rounding,
        "tenders": [
            TenderFigure(tender=t, count=n, amount_cents=a, tip_cents=x)
            for (t,), (n, a, x) in sorted(tenders.sums.items())
        ],
        "refunds": [
            RefundFigure(tender=t, reason=why, count=n, amount_cents=a, tip_cents=x)
            for (t, why), (n, a, x) in sorted(refunded.sums.items())
        ],
    }


def drawer_expected(conn: Connection, drawer: Any) -> DrawerFigure:
    """A drawer's cash from its rows: float + cash kept + paid in - paid out - cash refunds."""
    kept = sum(_cash_kept(p) for p in conn.execute(select(payments).where(payments.c.drawer_id == drawer.id)))
    moved = _Tally()
    for m in conn.execute(select(drawer_movements).where(drawer_movements.c.drawer_id == drawer.id)):
        moved.add((m.kind,), m.amount_cents)
    back = sum(
        r.amount_cents + r.tip_cents for r in conn.execute(select(refunds).where(refunds.c.drawer_id == drawer.id))
    )
    paid_in, paid_out = moved.sums[("paid_in",)][0], moved.sums[("paid_out",)][0]
    expected = drawer.float_cents + kept + paid_in - paid_out - back
    counted = drawer.counted_cents or 0
    return DrawerFigure(
        name=drawer.name,
        float_cents=drawer.float_cents,
        cash_in_cents=kept,
        paid_in_cents=paid_in,
        paid_out_cents=paid_out,
        cash_refunds_cents=back,
        expected_cents=expected,
        counted_cents=counted,
        over_short_cents=counted - expected,
    )


def open_drawers(conn: Connection, day: str) -> int:
    return len(open_drawer_ids(conn, drawers.c.business_date == day))


def compute(conn: Connection, day: str, currency: str) -> DayReport:
    """The day's report from its rows as this connection sees them (one snapshot)."""
    day_orders = select(orders.c.id).where(orders.c.business_date == day, orders.c.status != "cancelled")
    discounted = select(order_discounts.c.order_id).where(order_discounts.c.business_date == day)
    bills = _bills(conn, [*conn.execute(day_orders).scalars(), *conn.execute(discounted).scalars()])
    line_refunds: dict[int, int] = defaultdict(int)
    for r in conn.execute(select(refunds.c.order_id, refunds.c.amount_cents).where(refunds.c.line_id.is_not(None))):
        line_refunds[r.order_id] += r.amount_cents
    closed_drawers = select(drawers).where(drawers.c.business_date == day, drawers.c.closed_at.is_not(None))
    counted = [drawer_expected(conn, d) for d in conn.execute(closed_drawers.order_by(drawers.c.name, drawers.c.id))]
    closed = conn.execute(select(closed_days).where(closed_days.c.business_date == day)).first()
    discounts = _discounts(conn, day, bills)
    return DayReport(
        business_date=day,
        kind="Z" if closed else "X",
        closed_at=iso(closed.closed_at) if closed else None,
        closed_by=closed.closed_by if closed else None,
        currency=currency,
        discount_cents=sum(d.amount_cents for d in discounts),
        discounts=discounts,
        over_short_cents=sum(d.over_short_cents for d in counted),
        open_drawers=open_drawers(conn, day),
        drawers=counted,
        **_sales(conn, day, bills, line_refunds),
        **_money_moved(conn, day),
    )


def today(settings: Settings, now: datetime | None = None) -> str:
    """The current service day (it starts at FORKFLOW_DAY_STARTS_AT, not midnight)."""
    return business_date(now or datetime.now(UTC), settings)


def checked_day(text: str | None, settings: Settings) -> str:
    """A `date` parameter as a service day: YYYY-MM-DD, today's when absent (422 otherwise, empty too)."""
    if text is None:
        return today(settings)
    try:
        return date.fromisoformat(text).isoformat() if len(text) == 10 else _bad_day(text)
    except ValueError:
        return _bad_day(text)


def _bad_day(text: str) -> str:
    raise Invalid(f"date must be a day as YYYY-MM-DD, got {text[:20]!r}", {"date": "expected YYYY-MM-DD"})


async def day_report(store: Store, day: str) -> DayReport:
    """The report of service day `day` (X while open, Z once closed), read in one snapshot."""
    async with store.snapshot() as conn:
        return await conn.run_sync(compute, day, store.settings.currency.code)


async def close_day(store: Store, day: str, by: str) -> DayReport:
    """Close service day `day`: its Z-report is final from now on. One write: the closed_days row
    and `day.closed` with the report's totals. 409 if already closed, not begun yet, or a drawer of
    the day is open."""
    settings: Settings = store.settings

    def work(tx: Tx) -> DayReport:
        if day > business_date(tx.now, settings):
            raise Conflict(f"{day} has not begun yet: only a past day or today can be closed", reason="day_not_begun")
        if tx.conn.execute(select(closed_days.c.business_date).where(closed_days.c.business_date == day)).first():
            raise Conflict(f"{day} is already closed")
        if open_drawers(tx.conn, day):
            raise Conflict(f"{day} has open drawers: close the drawers first", reason="drawers_open")
        tx.conn.execute(closed_days.insert().values(business_date=day, closed_at=tx.now, closed_by=by))
        report = compute(tx.conn, day, settings.currency.code)
        emit_closed(tx, settings, report, by)
        return report

    return await store.write(work)


async def print_report(store: Store, day: str, printer_id: int | None) -> dict[str, Any]:
    """Print service day `day`'s report (X so far, or Z once closed) on `printer_id` or the first
    receipt printer (`POST /reports/day/print`, the page's button): the print job. 409 with no
    receipt printer, 404 for no such printer, 422 for a kitchen printer; nothing is written then."""
    code = store.settings.currency.code

    def work(tx: Tx) -> dict[str, Any]:
        report = compute(tx.conn, day, code)
        return jobs.load_job(tx.conn, jobs.queue_report(tx, printer_id, report.model_dump()))

    return await store.write(work)


def emit_closed(tx: Tx, settings: Settings, report: DayReport, by: str) -> None:
    """`day.closed`: who, when, and the Z-report's totals (minor units), as every money event; it
    belongs to the day closed, not to the day it is closed on."""
    money_event(
        tx,
        settings,
        "day.closed",
        by,
        business_date=report.business_date,
        currency=report.currency,
        orders=report.orders,
        sales_cents=report.sales_cents,
        refunds_cents=report.refunds_cents,
        tenders_cents=report.tenders_cents,
        tips_cents=report.tips_cents,
        tax_cents=report.tax_cents,
        over_short_cents=report.over_short_cents,
    )
