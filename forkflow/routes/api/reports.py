"""The day's report (X/Z) as JSON and CSV, printed on a receipt printer, closing the day, and the
audit log: thin views over services/day_report.py and services/audit.py (permission `reports`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...errors import Invalid
from ...formats import currency
from ...models import DayCloseIn, DayPrintIn
from ...numbers import MAX_ID, whole_number
from ...operation import ApiRoute, Operation, roles_text, staff_of
from ...request import store_of
from ...schemas_out import AuditPageOut, DayReport, PrintJobOut
from ...services.audit import AuditFilter, audit_log
from ...services.day_report import checked_day, close_day, day_report, print_report
from ..http import parse_body
from .limit import limit_of, limit_param


async def get_day(request: Request) -> Response:
    store = store_of(request)
    report = await day_report(store, checked_day(request.query_params.get("date"), store.settings))
    return JSONResponse(report.model_dump())


def report_csv(report: DayReport) -> str:
    """The report as CSV: a heading row per section, then its table; amounts as plain decimals
    in major units (12.50; JPY 1250), percents as decimals (20.000)."""
    out = io.StringIO()
    write = csv.writer(out, lineterminator="\n").writerow
    plain = {key: value for key, value in report.model_dump().items() if not isinstance(value, list | dict)}
    write(["summary"])
    write(["figure", "value"])
    for key, value in plain.items():
        write([key.removesuffix("_cents"), _cell(key, value)])
    for section, rows in report.model_dump().items():
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list) or not rows:
            continue
        write([])
        write([section])
        write([key.removesuffix("_cents").removesuffix("_milli") for key in rows[0]])
        for row in rows:
            write([_cell(key, value) for key, value in row.items()])
    return out.getvalue()


def _cell(key: str, value: Any) -> Any:
    if key.endswith("_cents") and isinstance(value, int):
        return str(currency().major(value))
    if key.endswith("_milli") and isinstance(value, int):
        return f"{value / 1000:.3f}"
    return "" if value is None else value


async def get_day_csv(request: Request) -> Response:
    store = store_of(request)
    report = await day_report(store, checked_day(request.query_params.get("date"), store.settings))
    name = f"forkflow-{report.kind.lower()}-report-{report.business_date}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(report_csv(report), media_type="text/csv; charset=utf-8", headers=headers)


async def post_print(request: Request) -> Response:
    data = await parse_body(request, DayPrintIn)
    store = store_of(request)
    job = await print_report(store, checked_day(data.date, store.settings), data.printer_id)
    return JSONResponse(job, 202)


async def post_close(request: Request) -> Response:
    data = await parse_body(request, DayCloseIn)
    store = store_of(request)
    report = await close_day(store, checked_day(data.date, store.settings), staff_of(request).name)
    return JSONResponse(report.model_dump())


def audit_filter(request: Request, query: Mapping[str, str] | None = None) -> AuditFilter:
    """The log's query parameters (or `query`: the page's, its empty filters left out); a bad day or
    `before` is 422."""
    query = request.query_params if query is None else query
    day = query.get("date")
    if day is not None:  # (empty is 422, as for the report)
        day = checked_day(day, store_of(request).settings)
    before = query.get("before")
    cursor = whole_number(before, 1, MAX_ID) if before is not None else None
    if before is not None and cursor is None:
        raise Invalid("before must be an entry's id", {"before": "expected a whole number above 0"})
    return AuditFilter(day, query.get("staff") or None, query.get("kind") or None, limit_of(request), cursor)


async def get_audit(request: Request) -> Response:
    return JSONResponse(await audit_log(store_of(request), audit_filter(request)))


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_DATE = _query("date", "the service day (422 unless YYYY-MM-DD); default today's", {"type": "string", "format": "date"})
_WHO = " **Roles:** " + roles_text("reports") + " (permission `reports`)."
_REPORT = (
    "Derived from the stored rows of that service day at the moment of asking, never from running totals; taxes, "
    "discounts and service charges are each order's pricing. `kind` is X while the day is open, Z once it is closed "
    "(final). Sales are what the orders owe plus paid lines voided and refunded, so tenders net of refunds equal "
    "sales minus refunds; tips are apart. Amounts in the currency's minor units."
)

routes = [
    ApiRoute(
        "GET",
        "/reports/day",
        get_day,
        Operation(
            "The day's report (X so far, Z once closed)",
            "reports",
            access="staff",
            permission="reports",
            out=DayReport,
            parameters=(_DATE,),
            description=_REPORT + _WHO,
            errors={422: "`date` is not YYYY-MM-DD"},
        ),
    ),
    ApiRoute(
        "GET",
        "/reports/day.csv",
        get_day_csv,
        Operation(
            "The day's report as CSV",
            "reports",
            access="staff",
            permission="reports",
            parameters=(_DATE,),
            description="The same figures as `GET /reports/day`: a summary, then one section per table, amounts as "
            "plain decimals in major units." + _WHO,
            content={"text/csv": {"schema": {"type": "string"}}},
            errors={422: "`date` is not YYYY-MM-DD"},
        ),
    ),
    ApiRoute(
        "POST",
        "/reports/day/print",
        post_print,
        Operation(
            "Print the day's report on a receipt printer",
            "reports",
            access="staff",
            permission="reports",
            body=DayPrintIn,
            status=202,
            out=PrintJobOut,
            description="Queues the report of `date` (default today's; X so far, Z once closed) on `printer_id` "
            "(a receipt printer) or the first receipt printer; the answer is its job. The figures are computed in "
            "the same transaction and carried by its `print.report` event (with the time it was asked for), so a "
            "retry or a reprint prints the very same paper. A second report of the same day and kind is marked "
            "REPRINT. Emits `print.report` and `print.queued`." + _WHO,
            errors={
                404: "There is no printer with this id.",
                409: "No receipt printer is set up (`reason: no_receipt_printer`).",
                422: "`date` is not YYYY-MM-DD, or `printer_id` is not a receipt printer.",
            },
        ),
    ),
    ApiRoute(
        "POST",
        "/reports/day/close",
        post_close,
        Operation(
            "Close a service day (its Z-report)",
            "reports",
            access="staff",
            permission="reports",
            body=DayCloseIn,
            out=DayReport,
            description="Writes the closed day and emits `day.closed` (topic `money`, with the Z-report's totals) "
            "in one transaction; answers the Z-report." + _WHO,
            errors={
                409: "The day is already closed, has not begun yet, or a drawer of that day is still open (close "
                "the drawers first).",
                422: "`date` is missing or not YYYY-MM-DD.",
            },
        ),
    ),
    ApiRoute(
        "GET",
        "/audit",
        get_audit,
        Operation(
            "The audit log of money actions",
            "reports",
            access="staff",
            permission="reports",
            out=AuditPageOut,
            parameters=(
                _query(
                    "date",
                    "the service day (YYYY-MM-DD) the actions were reported in",
                    {"type": "string", "format": "date"},
                ),
                _query("staff", "who did it (a staff name)"),
                _query("kind", "an event type (`payment.taken`) or its prefix (`drawer`)"),
                limit_param("entries"),
                _query(
                    "before",
                    "only entries older than this id (the previous page's `next_before`)",
                    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                ),
            ),
            description="Every money event (payments, refunds, discounts, drawers, taxes, the day's close) with who "
            "(`by`), when (`at`), the order, `approved_by` and the amounts, newest first, read from the events table. "
            "`next_before` asks for the next page (null: no more)." + _WHO,
            errors={422: "`date`, `limit` or `before` is not valid"},
        ),
    ),
]
