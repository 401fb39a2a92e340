"""The JSON API's money at the till: payments and splits of an order's bill, refunds, cash drawers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import idempotency
from ... import schemas_out as out
from ...errors import BadRequest, Invalid, Unauthorized
from ...models import MAX_SPLIT_LINES, DrawerCloseIn, DrawerIn, DrawerMovementIn, PaymentIn, RefundIn
from ...numbers import whole_number
from ...operation import ApiRoute, Operation, roles_text, staff_of
from ...request import store_of
from ...services import drawers, payments, refunds
from ...services.approvals import approve
from ..http import json_response, parse_body
from .orders import idempotency_key_of

MAX_GUESTS = 50


def _required_key(request: Request) -> str:
    """The caller's Idempotency-Key as stored (scoped to them); a money write must send one."""
    key = idempotency_key_of(request)
    if key is None:
        raise BadRequest("send an Idempotency-Key: a payment is taken once", {"Idempotency-Key": "missing"})
    return idempotency.stored(idempotency.staff_scope(staff_of(request)), key)


def _replayed(replayed: bool) -> dict[str, str] | None:
    return {"Idempotent-Replayed": "true"} if replayed else None


async def take_payment(request: Request) -> Response:
    principal = staff_of(request)
    key = _required_key(request)
    data = await parse_body(request, PaymentIn)
    store = store_of(request)
    answer, replayed = await payments.take_payment(store, request.path_params["id"], data, principal.name, key)
    return json_response(answer, 201, _replayed(replayed))


def _line_ids(raw: str) -> list[int]:
    """Comma-separated line ids, each once (a repeated one counts once)."""
    ids = [whole_number(part, 1, 2**31 - 1) for part in raw.split(",")]
    if not ids or None in ids:
        raise Invalid("line_ids must be line ids, comma-separated", {"line_ids": "e.g. 1,2"})
    distinct = list(dict.fromkeys(i for i in ids if i is not None))
    if len(distinct) > MAX_SPLIT_LINES:
        raise Invalid(f"at most {MAX_SPLIT_LINES} lines", {"line_ids": "too many"})
    return distinct


async def split(request: Request) -> Response:
    raw_guests, raw_lines = request.query_params.get("guests"), request.query_params.get("line_ids")
    guests = None if raw_guests is None else whole_number(raw_guests, 1, MAX_GUESTS)
    if raw_guests is not None and guests is None:
        raise Invalid(f"guests must be a whole number from 1 to {MAX_GUESTS}", {"guests": "out of range"})
    line_ids = None if raw_lines is None else _line_ids(raw_lines)
    return JSONResponse(await payments.split(store_of(request), request.path_params["id"], guests, line_ids))


async def approver(request: Request, data: RefundIn) -> str:
    """Who approves a refund: the manager named in `approval`, else the caller if a manager."""
    if data.approval is not None:
        return await approve(request, data.approval.name, data.approval.password)
    principal = staff_of(request)
    if principal.can("money.approve"):
        return principal.name
    raise Unauthorized("a refund needs a manager's approval", {"approval": "a manager's name and password"})


async def give_refund(request: Request) -> Response:
    principal = staff_of(request)
    key = _required_key(request)
    data = await parse_body(request, RefundIn)
    approved_by = await approver(request, data)
    store, order_id = store_of(request), request.path_params["id"]
    answer, replayed = await refunds.give_refund(store, order_id, data, principal.name, approved_by, key)
    return json_response(answer, 201, _replayed(replayed))


async def list_drawers(request: Request) -> Response:
    return JSONResponse(await drawers.list_drawers(store_of(request)))


async def open_drawer(request: Request) -> Response:
    principal = staff_of(request)
    data = await parse_body(request, DrawerIn)
    return JSONResponse(await drawers.open_drawer(store_of(request), data, principal.name), 201)


async def move_cash(request: Request) -> Response:
    principal = staff_of(request)
    data = await parse_body(request, DrawerMovementIn)
    return JSONResponse(await drawers.move_cash(store_of(request), request.path_params["id"], data, principal.name))


async def close_drawer(request: Request) -> Response:
    principal = staff_of(request)
    data = await parse_body(request, DrawerCloseIn)
    return JSONResponse(await drawers.close_drawer(store_of(request), request.path_params["id"], data, principal.name))


def _key_param(what: str) -> dict[str, object]:
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": True,
        "description": f"{idempotency.FORMAT_TEXT}; the till mints one per form. The same key with the same "
        f"body answers the first {what} again (201, `Idempotent-Replayed: true`) and writes nothing; with another "
        f"body it is 422 (`reason: {idempotency.KeyReused.reason}`). Missing or malformed: 400.",
        "schema": {"type": "string", "pattern": idempotency.PATTERN},
    }


_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this answers an earlier request with the same key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}

routes = [
    ApiRoute(
        "POST",
        "/orders/{id:id}/payments",
        take_payment,
        Operation(
            "Take a payment",
            "money",
            access="staff",
            permission="payments",
            body=PaymentIn,
            status=201,
            out=out.PaymentTakenOut,
            parameters=(_key_param("payment"),),
            headers=_REPLAYED,
            description=(
                "A tender toward the order's bill: `amount_cents` goes to the bill, `tip_cents` on top. Card and "
                "other may not pay more than the balance (`balance_cents`). Cash computes the change from "
                "`tendered_cents` (default: exact) and goes into the open drawer (`drawer_id`, else the only "
                "one open); cash settling the whole balance may pay its cash-rounded amount (CHF: 5 centimes), "
                "the bill is settled. With `line_ids` it pays by item: exactly what those lines owe "
                "(`GET /orders/{id}/split?line_ids=`), and a line is paid by item once. When the balance "
                "reaches 0 the order is closed. Roles: " + roles_text("payments") + ". "
                "Emits `payment.taken` (topic money) and `order.updated`."
            ),
            errors={
                400: "The body is not valid JSON, or the `Idempotency-Key` is missing or malformed.",
                409: "The order is cancelled (`reason: cancelled`) or already paid (`reason: closed`); the amount "
                "is more than the balance (`reason: more_than_owed`); a line was already paid by item "
                "(`reason: line_paid`); cash and no drawer open (`reason: no_drawer`), the drawer named is "
                "not open (`drawer_not_open`) or several are (`which_drawer`).",
                422: "Amounts not whole numbers of minor units (amount and tendered at least 1, tip at least 0); "
                "`tendered_cents` less than the cash due or sent for a card; lines not the order's or an "
                "amount other than what they owe; or the key reused with another body.",
            },
        ),
    ),
    ApiRoute(
        "GET",
        "/orders/{id:id}/split",
        split,
        Operation(
            "Split an order's bill",
            "money",
            access="staff",
            permission="payments",
            out=out.SplitOut,
            parameters=(
                {
                    "name": "guests",
                    "in": "query",
                    "required": False,
                    "description": f"evenly by this many guests (1 to {MAX_GUESTS}): remainder cents to the first",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_GUESTS},
                },
                {
                    "name": "line_ids",
                    "in": "query",
                    "required": False,
                    "description": "by item: comma-separated line ids; answers what they owe",
                    "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,8}(,[1-9][0-9]{0,8}){0,199}$"},
                },
            ),
            description="Evenly: the bill (its total less amount refunds) in `guests` shares that sum to it "
            "exactly, the first ones a cent more when it does not divide; payments count toward the shares in "
            "turn (`due_cents`, `paid`). By item: what the lines owe (their share of the total, at most the "
            "balance).",
            errors={
                409: "A line was already paid by item (`reason: line_paid`).",
                422: "`guests` or `line_ids` not valid, or lines not the order's live ones.",
            },
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/refunds",
        give_refund,
        Operation(
            "Give a refund",
            "money",
            access="staff",
            permission="payments",
            body=RefundIn,
            status=201,
            out=out.RefundGivenOut,
            parameters=(_key_param("refund"),),
            headers=_REPLAYED,
            description=(
                "Money given back on one payment's tender, with a reason and a manager's approval (`approval`: a "
                "manager's name and password typed on the spot; a manager refunding approves themself). "
                "`amount_cents`: given back, no line voided. `line_id`: the paid line is voided (with the "
                "reason) and what it took off the bill is refunded, in one write. Never more than the payment "
                "has left (its amount and its tip, less earlier refunds). A cash refund comes out of the "
                "payment's drawer if open, else the only open one. Roles: " + roles_text("payments") + ". "
                "Emits `refund.given` (topic money) and `order.updated`."
            ),
            errors={
                400: "The body is not valid JSON, or the `Idempotency-Key` is missing or malformed.",
                401: "No approval and the caller is not a manager, or a wrong name or password.",
                403: "The approver is not a manager.",
                404: "No such order, or the order has no such payment or line.",
                409: "More than the payment has left (`reason: more_than_paid`, `left_cents`); the line is not "
                "paid (`reason: line_not_paid`) or already voided (`already_voided`); a cash refund and no "
                "drawer open (`no_drawer`).",
                422: "Not exactly one of `amount_cents` and `line_id`, a missing reason, or the key reused.",
                429: "Too many wrong approvals: try again after `Retry-After` seconds.",
            },
        ),
    ),
    ApiRoute(
        "GET",
        "/drawers",
        list_drawers,
        Operation(
            "The cash drawers",
            "money",
            access="staff",
            permission="payments",
            out=out.DrawersOut,
            description="The open drawers and today's closed ones, each with its expected cash (float + cash "
            "kept from payments + paid in - paid out - cash refunds), and the currency's notes and coins.",
        ),
    ),
    ApiRoute(
        "POST",
        "/drawers",
        open_drawer,
        Operation(
            "Open a cash drawer",
            "money",
            access="staff",
            permission="payments",
            body=DrawerIn,
            status=201,
            out=out.DrawerOut,
            description="With its float. One open drawer per name. Emits `drawer.opened`.",
            errors={409: "A drawer of that name is open (`reason: drawer_open`)."},
        ),
    ),
    ApiRoute(
        "POST",
        "/drawers/{id:id}/movements",
        move_cash,
        Operation(
            "Pay cash into or out of a drawer",
            "money",
            access="staff",
            permission="payments",
            body=DrawerMovementIn,
            out=out.DrawerOut,
            description="Cash not for an order (change bought, a supplier paid), with a reason. "
            "Emits `drawer.paid_in` or `drawer.paid_out`.",
            errors={404: "No such drawer.", 409: "The drawer is closed (`reason: drawer_closed`)."},
        ),
    ),
    ApiRoute(
        "POST",
        "/drawers/{id:id}/close",
        close_drawer,
        Operation(
            "Close a cash drawer with its count",
            "money",
            access="staff",
            permission="payments",
            body=DrawerCloseIn,
            out=out.DrawerOut,
            description="`counts`: how many of each note and coin (by value in minor units), and/or "
            "`other_cents`. Answers counted, expected and over/short (counted - expected), fixed from now. "
            "Emits `drawer.closed`.",
            errors={404: "No such drawer.", 409: "The drawer is already closed (`reason: drawer_closed`)."},
        ),
    ),
]
