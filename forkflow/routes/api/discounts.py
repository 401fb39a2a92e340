"""The JSON API's discounts: the reasons a manager keeps, and discounts and comps on an order.

The rules are services/discounts.py's; a manager's approval on the spot is services/approvals.py's.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import idempotency
from ... import schemas_out as out
from ...auth.roles import Principal
from ...errors import Invalid
from ...models import DiscountReasonIn, DiscountReasonPatch, OrderDiscountIn
from ...operation import ApiRoute, Operation, location_header, roles_text, staff_of
from ...request import store_of
from ...services import discounts
from ...services.approvals import approve
from ...services.orders import Order
from ..http import json_response, parse_body
from .orders import IDEMPOTENCY_PARAM, idempotency_key_of


async def list_reasons(request: Request) -> Response:
    active = request.query_params.get("active", "false")
    if active not in ("true", "false"):
        raise Invalid("active must be true or false", {"active": "true or false"})
    active_only = active == "true"
    return JSONResponse(await discounts.list_reasons(store_of(request), active_only))


async def add_reason(request: Request) -> Response:
    data = await parse_body(request, DiscountReasonIn)
    reason = await discounts.add_reason(store_of(request), data, staff_of(request).name)
    return JSONResponse(reason, 201, {"Location": f"/discount-reasons/{reason['id']}"})


async def change_reason(request: Request) -> Response:
    data = await parse_body(request, DiscountReasonPatch)
    reason_id = request.path_params["id"]
    return JSONResponse(await discounts.update_reason(store_of(request), reason_id, data, staff_of(request).name))


async def remove_reason(request: Request) -> Response:
    await discounts.remove_reason(store_of(request), request.path_params["id"], staff_of(request).name)
    return Response(status_code=204)


async def approver_of(request: Request, principal: Principal, data: OrderDiscountIn) -> str | None:
    """Who approves: the manager whose name and password came with the request (checked now: 401,
    403, 429), else the giver when they may approve themself, else nobody (yet)."""
    if data.approval is not None:
        return await approve(request, data.approval.name, data.approval.password)
    return principal.name if principal.can("money.approve") else None


async def give(request: Request, order_id: int, data: OrderDiscountIn, key: str | None) -> tuple[Order, bool]:
    """The one way a discount is given, for the API and the till: a retry with the same key is
    answered as before without asking for the approval again."""
    principal = staff_of(request)
    store = store_of(request)
    stored_key = None if key is None else idempotency.stored(idempotency.staff_scope(principal), key)
    if stored_key is not None:
        earlier = await discounts.replayed(store, stored_key, order_id, data)
        if earlier is not None:
            return earlier, True
    approver = await approver_of(request, principal, data)
    return await discounts.give_discount(store, order_id, data, principal.name, approver, stored_key)


async def give_discount(request: Request) -> Response:
    key = idempotency_key_of(request)
    data = await parse_body(request, OrderDiscountIn)
    order, replayed = await give(request, request.path_params["id"], data, key)
    return json_response(order, 201, {"Idempotent-Replayed": "true"} if replayed else None)


async def remove_discount(request: Request) -> Response:
    order_id, discount_id = request.path_params["id"], request.path_params["discount_id"]
    return json_response(
        await discounts.remove_discount(store_of(request), order_id, discount_id, staff_of(request).name)
    )


_SETTINGS = " Roles: " + roles_text("money.settings") + " (permission `money.settings`)."
_MONEY_EVENT = (
    "Its money event carries `at`, `by`, `approved_by`, `order_id`, `business_date`, the discount's `id`, "
    "`line_id`, `kind`, `percent`, `amount_cents` (what it took), `comp`, `reason`, and the order's new `total_cents`."
)

routes = [
    ApiRoute(
        "GET",
        "/discount-reasons",
        list_reasons,
        Operation(
            "The discount and comp reasons",
            "discounts",
            access="staff",
            permission="discounts",
            out=out.DiscountReasonOut,
            many=True,
            parameters=(
                {
                    "name": "active",
                    "in": "query",
                    "required": False,
                    "description": "`true`: only those the till offers",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                },
            ),
            description="Discount reasons first, then comp reasons, each by name.",
            errors={422: "`active` is neither `true` nor `false`."},
        ),
    ),
    ApiRoute(
        "POST",
        "/discount-reasons",
        add_reason,
        Operation(
            "Add a discount or comp reason",
            "discounts",
            access="staff",
            permission="money.settings",
            body=DiscountReasonIn,
            status=201,
            out=out.DiscountReasonOut,
            headers=location_header("reason"),
            description="Emits `discount.reason_created`." + _SETTINGS,
            errors={409: "A reason has this name already (names are compared ignoring case)."},
        ),
    ),
    ApiRoute(
        "PATCH",
        "/discount-reasons/{id:id}",
        change_reason,
        Operation(
            "Rename, (de)activate or re-kind a reason",
            "discounts",
            access="staff",
            permission="money.settings",
            body=DiscountReasonPatch,
            out=out.DiscountReasonOut,
            description="Discounts already given keep the name they were given with. Emits "
            "`discount.reason_updated`." + _SETTINGS,
            errors={404: "There is no reason with this id.", 409: "Another reason has this name."},
        ),
    ),
    ApiRoute(
        "DELETE",
        "/discount-reasons/{id:id}",
        remove_reason,
        Operation(
            "Remove a reason",
            "discounts",
            access="staff",
            permission="money.settings",
            status=204,
            description="The till no longer offers it. A reason no discount was given with is deleted "
            "(`discount.reason_deleted`); one in use is deactivated instead (`active: false`, "
            "`discount.reason_updated`), so the reports and the audit log keep it." + _SETTINGS,
            errors={404: "There is no reason with this id."},
        ),
    ),
    ApiRoute(
        "POST",
        "/orders/{id:id}/discounts",
        give_discount,
        Operation(
            "Give a discount or a comp",
            "discounts",
            access="staff",
            permission="discounts",
            body=OrderDiscountIn,
            status=201,
            out=out.OrderOut,
            parameters=(
                {
                    **IDEMPOTENCY_PARAM,
                    "description": f"{idempotency.FORMAT_TEXT}. The same key with the same discount for the same "
                    "order answers the order again (201, `Idempotent-Replayed: true`) and gives nothing more, "
                    "even when both requests arrive at once, and without checking the approval again; the same key "
                    f"with anything else is 422 (`reason: {idempotency.KeyReused.reason}`). A malformed key is 400.",
                },
            ),
            headers={
                "Idempotent-Replayed": {
                    "description": "`true` when an earlier request with this `Idempotency-Key` gave the discount",
                    "schema": {"type": "string", "enum": ["true"]},
                },
            },
            description=(
                "A percent (`kind: percent`, `percent` above 0 and at most 100, up to three decimals) or an amount "
                "(`kind: amount`, `amount_cents`, at most what is left) off a line (`line_id`) or the whole order, "
                "with a reason from `GET /discount-reasons`. With a comp reason the discount is a comp: 100 % off "
                "(`kind` left out, or `percent: 100`). Line discounts apply first, then order discounts to what is "
                "left. The answer is the order with its new figures.\n\n"
                "A cashier may give up to the manager's limit (`cashier_discount_limit_percent` of "
                "`GET /settings/money`): a percent discount's percent, an amount's share of what is left of its "
                "line or order. Above it (comps too: they are 100 %) a manager approves on the spot with "
                "`approval: {name, password}`, checked like a sign-in (same throttle) without starting a session; "
                "a manager's own discount needs none. `approved_by` records who. Emits `discount.given` (topic "
                "money) and `order.updated`, in the same write. " + _MONEY_EVENT
            ),
            errors={
                400: "The body is not valid JSON, or the `Idempotency-Key` is malformed.",
                401: "The approving manager's name or password is wrong (nothing is written).",
                403: "Above the cashier's limit without an approval (`reason: approval_needed`, `limit_percent`); "
                "or the approver is not a manager.",
                404: "There is no such order.",
                409: "The order is cancelled (`reason: order_cancelled`) or paid and closed (`reason: order_closed`), "
                "the line is voided (`reason: line_voided`), or nothing is left of the line or order to discount.",
                422: "The discount is not valid (a percent above 100 or not above 0, more than three decimals, an "
                "amount not above 0 or above what is left, a line not on the order, an unknown or inactive reason, "
                "a comp that is not 100 %), or the `Idempotency-Key` was used for something else.",
                429: "Too many failed approvals from this client: try again after `Retry-After` seconds.",
            },
        ),
    ),
    ApiRoute(
        "DELETE",
        "/orders/{id:id}/discounts/{discount_id:id}",
        remove_discount,
        Operation(
            "Remove a discount",
            "discounts",
            access="staff",
            permission="discounts",
            out=out.OrderOut,
            description="The discount stays on record with `removed_at` and `removed_by`; the order's figures grow "
            "back. Needs no approval: it only adds to what is owed. Emits `discount.removed` (topic money) and "
            "`order.updated`. " + _MONEY_EVENT,
            errors={
                404: "There is no such order, or it has no such discount.",
                409: "The discount was already removed (`reason: already_removed`), or the order is cancelled or "
                "closed.",
            },
        ),
    ),
]
