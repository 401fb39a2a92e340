"""The JSON API of the kitchen's printers and print jobs: thin views over services/printers.py
(set-up) and printing/jobs.py (what to print)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import idempotency
from ... import schemas_out as out
from ...errors import BadRequest, Invalid
from ...models import PrinterIn, ReceiptIn
from ...numbers import MAX_ID
from ...operation import ApiRoute, Operation, roles_text, staff_of
from ...printing import jobs
from ...request import store_of
from ...services import printers
from ..http import parse_body


def _stored_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not idempotency.is_valid(key):
        raise BadRequest(f"Idempotency-Key must be {idempotency.FORMAT_TEXT}", {"Idempotency-Key": "malformed"})
    return idempotency.stored(idempotency.staff_scope(staff_of(request)), key)


def _replayed(replayed: bool) -> dict[str, str]:
    return {"Idempotent-Replayed": "true"} if replayed else {}


async def list_printers(request: Request) -> Response:
    return JSONResponse(await printers.list_printers(store_of(request)))


async def add_printer(request: Request) -> Response:
    data = await parse_body(request, PrinterIn)
    printer = await printers.add_printer(store_of(request), data)
    return JSONResponse(printer, 201, {"Location": f"/printers/{printer['id']}"})


async def get_printer(request: Request) -> Response:
    return JSONResponse(await printers.get_printer(store_of(request), request.path_params["id"]))


async def update_printer(request: Request) -> Response:
    data = await parse_body(request, PrinterIn)
    return JSONResponse(await printers.update_printer(store_of(request), request.path_params["id"], data))


async def remove_printer(request: Request) -> Response:
    await printers.remove_printer(store_of(request), request.path_params["id"])
    return Response(status_code=204)


async def test_page(request: Request) -> Response:
    return JSONResponse(await jobs.print_test_page(store_of(request), request.path_params["id"]), 202)


async def print_receipt(request: Request) -> Response:
    key = _stored_key(request)
    data = await parse_body(request, ReceiptIn)
    job, replayed = await printers.print_receipt(store_of(request), request.path_params["id"], data.printer_id, key)
    return JSONResponse(job, 202, _replayed(replayed))


async def order_jobs(request: Request) -> Response:
    raw = request.query_params.get("order_id")
    if raw is None:
        return JSONResponse(await jobs.waiting_jobs(store_of(request)))
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise Invalid("order_id must be an order's id", {"order_id": "expected a whole number above 0"})
    return JSONResponse(await jobs.order_jobs(store_of(request), int(raw)))


async def reprint(request: Request) -> Response:
    key = _stored_key(request)
    job, replayed = await jobs.reprint(store_of(request), request.path_params["id"], key)
    return JSONResponse(job, 202, _replayed(replayed))


_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": idempotency.PATTERN},
    "description": f"{idempotency.FORMAT_TEXT}. The same key again answers the job queued the first time "
    "(`Idempotent-Replayed: true`) and queues nothing: a retried request prints once. The same key for another "
    f"request is 422 (`reason: {idempotency.KeyReused.reason}`); a malformed key is 400.",
}
_MANAGE = " **Roles:** " + roles_text("printers") + " (permission `printers`)."
_SETUP = (
    "A network ESC/POS printer (raw TCP, port 9100: Epson TM series and compatibles). A kitchen printer prints "
    "a chit for each send to one of its `stations`; one with no stations is an expo printer and prints the whole "
    "order at every send. A receipt printer prints customer receipts. When a printer has failed for "
    "`FORKFLOW_PRINTER_BACKUP_SECONDS` (default 20) its waiting jobs go to `backup_printer_id`, headed "
    "BACKUP FOR <name>."
)
_SETUP_ERRORS = {
    409: "Another printer has this name.",
    422: "A field is missing or out of range (name 1-60 characters, host a host name or IPv4 address without "
    "scheme or port, port 1-65535), or the backup does not exist, is the printer itself, or leads back to it.",
}

routes = [
    ApiRoute(
        "GET",
        "/printers",
        list_printers,
        Operation(
            "The printers, with their live status",
            "printers",
            access="staff",
            permission="orders.read",
            out=out.PrinterOut,
            many=True,
            description="By name. `online`, `last_ok_at`, `last_error`, `failing_since` and `queued_jobs` are "
            "live: `printer.status` and `print.*` events (topic `kitchen`) say when they change.",
        ),
    ),
    ApiRoute(
        "POST",
        "/printers",
        add_printer,
        Operation(
            "Add a printer",
            "printers",
            access="staff",
            permission="printers",
            body=PrinterIn,
            status=201,
            out=out.PrinterOut,
            description=_SETUP + _MANAGE + " Emits `printer.created`.",
            headers={"Location": {"description": "the printer's URL", "schema": {"type": "string"}}},
            errors=_SETUP_ERRORS,
        ),
    ),
    ApiRoute(
        "GET",
        "/printers/{id:id}",
        get_printer,
        Operation(
            "A printer",
            "printers",
            access="staff",
            permission="orders.read",
            out=out.PrinterOut,
            errors={404: "There is no printer with this id."},
        ),
    ),
    ApiRoute(
        "PUT",
        "/printers/{id:id}",
        update_printer,
        Operation(
            "Change a printer's set-up",
            "printers",
            access="staff",
            permission="printers",
            body=PrinterIn,
            out=out.PrinterOut,
            description=_SETUP + " All fields at once." + _MANAGE + " Emits `printer.updated`.",
            errors={404: "There is no printer with this id.", **_SETUP_ERRORS},
        ),
    ),
    ApiRoute(
        "DELETE",
        "/printers/{id:id}",
        remove_printer,
        Operation(
            "Remove a printer",
            "printers",
            access="staff",
            permission="printers",
            status=204,
            description="Its printed jobs' history goes with it; a printer that had it as backup has none."
            + _MANAGE
            + " Emits `printer.deleted`.",
            errors={
                404: "There is no printer with this id.",
                409: "Jobs are waiting to print on it (`reason: printer_has_jobs`, `queued_jobs`): remove it once "
                "they have printed or gone to its backup.",
            },
        ),
    ),
    ApiRoute(
        "POST",
        "/printers/{id:id}/test",
        test_page,
        Operation(
            "Print a test page",
            "printers",
            access="staff",
            permission="printers",
            status=202,
            out=out.PrintJobOut,
            description="Queues a test page naming the printer; the answer is its job. Emits `print.test` and "
            "`print.queued`, then `print.printed` once the printer took it." + _MANAGE,
            errors={404: "There is no printer with this id."},
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/receipt",
        print_receipt,
        Operation(
            "Print a customer receipt",
            "printers",
            access="staff",
            permission="print",
            body=ReceiptIn,
            status=202,
            out=out.PrintJobOut,
            parameters=(_KEY,),
            description="Queues a receipt of the order as it stands on `printer_id` (a receipt printer) or the "
            "first receipt printer; the answer is its job (`GET /print-jobs?order_id=` follows it). A second "
            "receipt of an order is marked REPRINT. Emits `print.receipt` and `print.queued`. **Roles:** "
            + roles_text("print")
            + ".",
            errors={
                400: "The `Idempotency-Key` is malformed.",
                404: "There is no order (or printer) with this id.",
                409: "No receipt printer is set up (`reason: no_receipt_printer`).",
                422: "`printer_id` is not a receipt printer, or the `Idempotency-Key` was used for something else.",
            },
        ),
    ),
    ApiRoute(
        "GET",
        "/print-jobs",
        order_jobs,
        Operation(
            "Print jobs: an order's, or those not printed yet",
            "printers",
            access="staff",
            permission="print",
            out=out.PrintJobOut,
            many=True,
            parameters=(
                {
                    "name": "order_id",
                    "in": "query",
                    "required": False,
                    "description": "the order's jobs; left out: every job not printed yet (queued or failed)",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                },
            ),
            description="Oldest first, each with its status (queued, printed, failed), attempts and last error.",
            errors={422: "`order_id` is missing or not an id."},
        ),
    ),
    ApiRoute(
        "POST",
        "/print-jobs/{id:id}/reprint",
        reprint,
        Operation(
            "Reprint a job",
            "printers",
            access="staff",
            permission="print",
            status=202,
            out=out.PrintJobOut,
            parameters=(_KEY,),
            description="A new job for the same print on the printer it was meant for: the next copy, headed "
            "REPRINT (never an accidental second original). Emits `print.queued`. **Roles:** "
            + roles_text("print")
            + ".",
            errors={
                400: "The `Idempotency-Key` is malformed.",
                404: "There is no print job with this id.",
                422: "The `Idempotency-Key` was used for something else.",
            },
        ),
    ),
]
