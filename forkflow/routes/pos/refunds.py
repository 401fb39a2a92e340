"""The till's refunds, on an order's Pay panel (pay.py): "Refund" beside a payment and "Void &
refund" beside a paid line open one small form in the panel (the amount, a tip back, the reason,
a manager's approval). It goes through the JSON API's approval (`routes/api/payments.approver`)
and `services.refunds.give_refund`, so the rules are the API's: a refund never gives back more
than its payment has left, a cash one comes out of an open drawer, a line's void and its refund
are one write.

Refunds have no reason list (discount reasons are for discounts): the reason is typed, and
required. A refund always needs a manager: a cashier's form has the manager's name and password,
typed on the cashier's screen without ending the cashier's session (services/approvals.py); a
manager at the till approves themself and sees no such fields. Each form render carries a fresh
Idempotency-Key, kept across a refusal, so a double submit is one refund. A refusal comes back as
the panel with the form still open and its errors inline (409 or 422: the till's htmx swaps those;
a refused approval's 401, 403 or 429 is said as 422), nothing written; success is the panel with
the bill's new figures, and other tills' Pay panels follow from the stream (`order.updated`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import idempotency
from ...auth.roles import Principal, require
from ...errors import Conflict, Forbidden, Invalid, NotFound, ServiceError, TooManyRequests, Unauthorized
from ...models import RefundIn
from ...money.currency import Currency
from ...numbers import whole_number
from ...request import store_of
from ...services import refunds
from ...services.orders import Order, get_order, live_lines
from ..api.payments import approver
from .pay import PERMISSION, Context, panel, pay_context, refund_left, typed_money, validated

# The service's field names, as the form's inputs; any refusal is also said above the form ("_").
_INPUTS = {"payment_id": "payment", "amount_cents": "amount", "tip_cents": "tip", "reason": "reason"}
_REFUSALS = (Invalid, Conflict, NotFound, Unauthorized, Forbidden, TooManyRequests)


def _said(message: str) -> str:
    return message[:1].upper() + message[1:]


@dataclass
class RefundForm:
    """The refund form as typed, with its errors by input."""

    key: str
    payment_id: int | None
    line_id: int | None = None  # "Void & refund": the line voided, its amount the service's
    amount: str = ""
    tip: str = ""
    reason: str = ""
    approval_name: str = ""
    approves: bool = False  # the one signed in is a manager: they approve themself
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def typed(cls, form: FormData, principal: Principal) -> RefundForm:
        return cls(
            key=str(form.get("idempotency_key") or ""),
            payment_id=whole_number(str(form.get("payment_id") or ""), 1),
            line_id=whole_number(str(form.get("line_id") or ""), 1),
            amount=str(form.get("amount") or "").strip(),
            tip=str(form.get("tip") or "").strip(),
            reason=str(form.get("reason") or "").strip(),
            approval_name=str(form.get("approval_name") or "").strip(),
            approves=principal.can("money.approve"),
        )

    def fail(self, error: ServiceError, currency: Currency) -> None:
        """Say the refusal beside its input; a refused approval beside the manager's fields."""
        if isinstance(error, (Unauthorized, Forbidden, TooManyRequests)):
            self.errors["approval"] = _said(error.message)
            return
        message = error.message
        left = error.extra.get("left_cents")
        if error.extra.get("reason") == "more_than_paid" and isinstance(left, int):
            what = "of the tip " if "tip_cents" in (error.fields or {}) else ""
            message = f"only {currency.format(left)} {what}is left to refund on this payment"
        elif error.extra.get("reason") == "no_drawer":
            message = "open a drawer first: a cash refund comes out of a drawer"
        for name, problem in (error.fields or {}).items():
            name = name.split(".")[0]
            problem = f"at most {currency.format(left)}" if isinstance(left, int) else problem
            if name == "approval":
                self.errors["approval"] = "Enter the manager's name and password."
            elif name == "amount_cents" and self.line_id is not None:
                self.errors["payment"] = problem  # the line takes more than this payment has left
            elif name in _INPUTS:
                self.errors[_INPUTS[name]] = problem
        self.errors["_"] = _said(message)


def _opened(
    order: Order, principal: Principal, currency: Currency, payment_id: int | None, line_id: int | None
) -> RefundForm:
    """A fresh form on a payment (its amount: what it has left) or on a paid line (the payment:
    the one that paid it by item, else the last with something left)."""
    left = refund_left(order)
    approves = principal.can("money.approve")
    key = idempotency.new_key("refund")
    if line_id is not None:
        if line_id not in {line["id"] for line in live_lines(order)}:
            raise NotFound(f"order {order['id']} has no live line {line_id}")
        by_item = [p["id"] for p in order["payments"] if line_id in (p["line_ids"] or ())]
        with_left = [p["id"] for p in order["payments"] if left[p["id"]][0] > 0]
        chosen = (by_item or with_left or [None])[-1]
        return RefundForm(key, chosen, line_id, approves=approves)
    if payment_id not in left:
        raise NotFound(f"order {order['id']} has no payment {payment_id}")
    return RefundForm(key, payment_id, amount=str(currency.major(left[payment_id][0])), approves=approves)


def _body(form: RefundForm, raw: FormData, currency: Currency) -> RefundIn:
    """The service's refund from the form: amounts typed in major units ("5.00")."""
    if form.payment_id is None:
        raise Invalid("choose the payment to refund", {"payment_id": "choose a payment"})
    values: dict[str, Any] = {
        "payment_id": form.payment_id,
        "reason": form.reason,
        "tip_cents": typed_money(currency, form.tip, "tip_cents") or 0,
    }
    if form.line_id is not None:
        values["line_id"] = form.line_id
    else:
        values["amount_cents"] = typed_money(currency, form.amount, "amount_cents")
        if values["amount_cents"] is None:
            raise Invalid("enter the amount to refund", {"amount_cents": "an amount"})
    password = str(raw.get("approval_password") or "")
    if not form.approves and (form.approval_name or password):
        values["approval"] = {"name": form.approval_name, "password": password}
    refund: RefundIn = validated(RefundIn, values, {})
    return refund


async def _panel(request: Request, order_id: int, extra: Context, status: int = 200) -> Response:
    context = await pay_context(store_of(request), order_id, None)
    return panel(request, context | extra, status)


async def refund_form(request: Request) -> Response:
    """`?payment=` or `?line=`: the Pay panel with the refund form open on it."""
    principal = require(request, PERMISSION)
    store, order_id = store_of(request), request.path_params["id"]
    order = await get_order(store, order_id)
    payment_id = whole_number(request.query_params.get("payment", ""), 1)
    line_id = whole_number(request.query_params.get("line", ""), 1)
    form = _opened(order, principal, store.settings.currency, payment_id, line_id)
    return await _panel(request, order_id, {"refund": form})


async def give_refund(request: Request) -> Response:
    """The form's refund, with the manager's approval, through `services.refunds.give_refund`."""
    principal = require(request, PERMISSION)
    store, order_id = store_of(request), request.path_params["id"]
    currency = store.settings.currency
    await get_order(store, order_id)  # no such order: 404, not a form error
    raw = await request.form()
    form = RefundForm.typed(raw, principal)
    try:
        if not idempotency.is_valid(form.key):
            form.key = idempotency.new_key("refund")
            raise Invalid("the form was not the till's: try again")
        data = _body(form, raw, currency)
        approved_by = await approver(request, data)
        key = idempotency.stored(idempotency.staff_scope(principal), form.key)
        answer, _ = await refunds.give_refund(store, order_id, data, principal.name, approved_by, key)
    except _REFUSALS as error:
        form.fail(error, currency)
        return await _panel(request, order_id, {"refund": form}, error.status if error.status in (409, 422) else 422)
    return await _panel(request, order_id, {"refunded": answer["refund"]}, 201)


routes = [
    Route("/pos/orders/{id:id}/refunds", refund_form, methods=["GET"]),
    Route("/pos/orders/{id:id}/refunds", give_refund, methods=["POST"]),
]
