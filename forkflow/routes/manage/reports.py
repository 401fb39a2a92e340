"""The manager's day report page (`/manage/reports`: X so far or the closed day's Z, printable, with
"Print on receipt printer" and "Close the day") and the audit log page (`/manage/audit`, filtered by
day, staff and kind).

Both are views over the same services as the JSON API (services/day_report.py, services/audit.py):
closing the day from the page is `close_day`, as `POST /reports/day/close` is, and printing it is
`print_report`, as `POST /reports/day/print` is. Permission `reports`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...auth.roles import principal_of, require
from ...errors import ServiceError
from ...figures import tax_label
from ...formats import money
from ...request import is_htmx, store_of
from ...schemas_out import DayReport
from ...services.audit import audit_log
from ...services.day_report import checked_day, close_day, day_report, print_report
from ...services.printers import get_printer
from ...services.representation import milli_to_number
from ...web import templates
from ..api.reports import audit_filter

PERMISSION = "reports"


def report_rows(r: DayReport) -> dict[str, list[tuple[Any, ...]]]:
    """The page's tables: each section's cells, amounts in the restaurant's money format."""
    return {
        "channels": [(c.channel, c.orders, money(c.sales_cents), money(c.average_ticket_cents)) for c in r.by_channel],
        "categories": [(c.category, c.quantity, money(c.gross_cents)) for c in r.by_category],
        "items": [(i.name, i.quantity, money(i.gross_cents)) for i in r.by_item],
        "taxes": [
            (tax_label(t.name, milli_to_number(t.percent_milli), False), money(t.taxable_cents), money(t.tax_cents))
            for t in r.taxes
        ],
        "discounts": [(d.reason + (" (comp)" if d.comp else ""), d.count, money(d.amount_cents)) for d in r.discounts],
        "voids": [("Voided lines", r.voids.count, money(r.voids.value_cents))] if r.voids.count else [],
        "refunds": [
            (f"{f.tender} · {f.reason}", f.count, money(f.amount_cents), money(f.tip_cents)) for f in r.refunds
        ],
        "tenders": [(t.tender, t.count, money(t.amount_cents), money(t.tip_cents)) for t in r.tenders],
        "drawers": [
            (d.name, money(d.float_cents), money(d.expected_cents), money(d.counted_cents), money(d.over_short_cents))
            for d in r.drawers
        ],
    }


def _refused(request: Request) -> Response | None:
    """Signed in without the permission: the console's 403 page; not signed in: sent to sign in."""
    principal = principal_of(request)
    if principal is not None and not principal.can(PERMISSION):
        context = {"message": f"The day's report is for managers; you are signed in as {principal.role}."}
        return templates.TemplateResponse(request, "manage/forbidden.html", context, status_code=403)
    require(request, PERMISSION)
    return None


async def _report_page(
    request: Request, day: str, status: int = 200, error: str | None = None, **printing: str | None
) -> Response:
    """The page; `printing`: the print button's line (`print_notice` or `print_error`)."""
    store = store_of(request)
    report = await day_report(store, day)
    context: dict[str, Any] = {"report": report, "rows": report_rows(report), "error": error, **printing}
    context["zone"] = store.settings.timezone
    return templates.TemplateResponse(request, "manage/reports.html", context, status_code=status)


async def reports_page(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        day = checked_day(request.query_params.get("date"), store_of(request).settings)
    except ServiceError as exc:
        return await _report_page(request, checked_day(None, store_of(request).settings), exc.status, exc.message)
    return await _report_page(request, day)


async def close_day_form(request: Request) -> Response:
    """The page's "Close the day": the Z-report on success, the X-report with the reason if refused."""
    refused = _refused(request)
    if refused is not None:
        return refused
    settings = store_of(request).settings
    typed = str((await request.form()).get("date") or "")
    try:
        day = checked_day(typed, settings)
        await close_day(store_of(request), day, require(request, PERMISSION).name)
    except ServiceError as exc:
        shown = day if exc.status == 409 else checked_day(None, settings)
        return await _report_page(request, shown, exc.status, exc.message)
    return RedirectResponse(f"/manage/reports?date={day}", status_code=303)


async def print_report_form(request: Request) -> Response:
    """The page's "Print on receipt printer": `print_report` on the first receipt printer. htmx gets
    the line under the button (sent, or why not: 409 with no receipt printer); a plain form post gets
    the page again with that line."""
    refused = _refused(request)
    if refused is not None:
        return refused
    store = store_of(request)
    typed = str((await request.form()).get("date") or "")
    day, status, said = checked_day(None, store.settings), 200, {}
    try:
        day = checked_day(typed, store.settings)
        job = await print_report(store, day, None)
        printer = await get_printer(store, job["printer_id"])
        again = " (a reprint)" if job["copy"] else ""
        said["print_notice"] = f"Sent to {printer['name']}{again}."
    except ServiceError as exc:
        status, said["print_error"] = exc.status, exc.message[:1].upper() + exc.message[1:]
    if is_htmx(request):
        return templates.TemplateResponse(request, "manage/_report_print.html", said, status_code=status)
    return await _report_page(request, day, status, **said)


async def audit_page(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    query = request.query_params
    shown = {name: query.get(name, "") for name in ("date", "staff", "kind")}
    try:
        chosen = {name: value for name, value in query.items() if value}  # a filter left empty: all
        page = await audit_log(store_of(request), audit_filter(request, chosen))
        error, status = None, 200
    except ServiceError as exc:
        page, error, status = {"entries": [], "next_before": None}, exc.message, exc.status
    context = {"page": page, "error": error, "shown": shown, "zone": store_of(request).settings.timezone}
    return templates.TemplateResponse(request, "manage/audit.html", context, status_code=status)
