"""The till's money screens: an order's Pay panel (`/pos/orders/{id}/pay`) and the cash drawers
(`/pos/drawers`). htmx forms over the same services as the JSON API (services/payments.py,
drawers.py): each form render carries a fresh Idempotency-Key, so a double click is one payment;
a refusal comes back as the panel with the error said beside its field. The panel also lists what
each payment has left to refund and which lines are paid: its refund form is routes/pos/refunds.py.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import idempotency
from ...auth.roles import require
from ...errors import Conflict, Invalid, NotFound
from ...models import DrawerCloseIn, DrawerIn, DrawerMovementIn, PaymentIn, field_errors
from ...money.currency import Currency
from ...numbers import whole_number
from ...request import is_htmx, store_of
from ...services import drawers, payments
from ...services.orders import Order, get_order, line_is_paid, live_lines
from ...store import Store
from ...vocabulary import DRAWER_MOVEMENT_KINDS, TENDERS
from ...web import templates

PERMISSION = "payments"
MAX_GUESTS = 50
Context = dict[str, Any]


def typed_money(currency: Currency, raw: str, field: str) -> int | None:
    """An amount as a cashier types it ("12.50", "12"), in minor units; blank is None."""
    text = raw.strip().replace(",", ".")
    if not text:
        return None
    try:
        return currency.minor(Decimal(text))
    except (InvalidOperation, ValueError):
        places = f" with at most {currency.digits} decimals" if currency.digits else " without decimals"
        raise Invalid(f"{raw!r} is not an amount", {field: f"a number{places}"}) from None


def validated(model: type[BaseModel], values: dict[str, Any], names: dict[str, str]) -> Any:
    """`values` as `model`, or 422 naming the form's own fields (`names`: the model's field -> the form's)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        fields = {names.get(path.split(".")[0], path): message for path, message in field_errors(exc).items()}
        raise Invalid("check the highlighted fields", fields) from None


# The Pay panel


def _paid_lines(conn: Connection, order: Order) -> set[int]:
    """The live lines a refund would void (services/orders.py `line_is_paid`)."""
    return {line["id"] for line in live_lines(order) if line_is_paid(conn, order, line)}


def refund_left(order: Order) -> dict[int, tuple[int, int]]:
    """What each payment has left to refund, of its amount and of its tip (services/refunds.py
    refuses more)."""
    tips_back = {payment["id"]: 0 for payment in order["payments"]}
    for refund in order["refunds"]:
        tips_back[refund["payment_id"]] += refund["tip_cents"]
    return {
        payment["id"]: (
            payment["amount_cents"] - payment["refunded_cents"],
            payment["tip_cents"] - tips_back[payment["id"]],
        )
        for payment in order["payments"]
    }


async def pay_context(store: Store, order_id: int, guests: int | None) -> Context:
    order = await get_order(store, order_id)
    paid_lines = payments.paid_by_item(order)
    return {
        "order": order,
        "currency": store.settings.currency,
        "tenders": TENDERS,
        "key": idempotency.new_key("pay"),
        "lines": [line for line in live_lines(order) if line["id"] not in paid_lines],
        "split": None if guests is None else payments.even_shares(order, guests),
        "guests": guests,
        "refund_left": refund_left(order),
        "refundable_lines": await store.query(_paid_lines, order) if order["payments"] else set(),
        "refund": None,
    }


def _guests(raw: object) -> int | None:
    return whole_number(str(raw or ""), 1, MAX_GUESTS)


def _render(request: Request, name: str, context: Context, status: int = 200) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


def panel(request: Request, context: Context, status: int = 200) -> Response:
    """The Pay panel alone for htmx (it swaps `#pay`), else the whole page."""
    return _render(request, "pos/_pay.html" if is_htmx(request) else "pos/pay.html", context, status)


async def pay_page(request: Request) -> Response:
    require(request, PERMISSION)
    guests = _guests(request.query_params.get("guests"))
    context = await pay_context(store_of(request), request.path_params["id"], guests)
    return panel(request, context)


async def pay_summary(request: Request) -> Response:
    """The bill's figures and payments, as the order is now: what the page refreshes live."""
    require(request, PERMISSION)
    context = await pay_context(store_of(request), request.path_params["id"], None)
    return _render(request, "pos/_pay_summary.html", context)


async def _payment_in(store: Store, form: FormData, currency: Currency, order: dict[str, Any]) -> PaymentIn:
    """The form as a payment: the amount typed, or the share or the ticked lines' amount chosen."""
    tender = str(form.get("tender") or "")
    line_ids = [whole_number(str(raw), 1) for raw in form.getlist("line_ids")] if form.get("by_items") else None
    if line_ids is not None and not line_ids:
        raise Invalid("tick the items this pays for", {"line_ids": "none ticked"})
    values: dict[str, Any] = {
        "tender": tender,
        "tip_cents": typed_money(currency, str(form.get("tip") or ""), "tip") or 0,
        "reference": str(form.get("reference") or ""),
        "tendered_cents": typed_money(currency, str(form.get("tendered") or ""), "tendered")
        if tender == "cash"
        else None,
    }
    if line_ids is not None:
        values["line_ids"] = line_ids
        ticked = [i for i in line_ids if i is not None]
        values["amount_cents"] = (await payments.split(store, order["id"], None, ticked))["amount_cents"]
    elif form.get("share"):
        values["amount_cents"] = whole_number(str(form.get("share")), 1)
    else:
        values["amount_cents"] = typed_money(currency, str(form.get("amount") or ""), "amount")
    names = {"amount_cents": "amount", "tip_cents": "tip", "tendered_cents": "tendered", "line_ids": "line_ids"}
    payment: PaymentIn = validated(PaymentIn, values, names)
    return payment


async def pay(request: Request) -> Response:
    """Take the payment the form describes, through `services.payments.take_payment` with the
    form's Idempotency-Key; answer the panel again, with the change to give or the refusal."""
    principal = require(request, PERMISSION)
    store, order_id = store_of(request), request.path_params["id"]
    form = await request.form()
    guests = _guests(form.get("guests"))
    raw_key = str(form.get("idempotency_key") or "")
    status, taken, errors, message = 201, None, {}, None
    try:
        if not idempotency.is_valid(raw_key):
            raise Invalid("this form has no valid key: reload the page", {"_": "reload"})
        order = await get_order(store, order_id)
        data = await _payment_in(store, form, store.settings.currency, order)
        key = idempotency.stored(idempotency.staff_scope(principal), raw_key)
        answer, _ = await payments.take_payment(store, order_id, data, principal.name, key)
        taken = answer["payment"]
    except (Invalid, Conflict, NotFound) as error:
        status, errors, message = error.status, error.fields or {}, error.message
    context = await pay_context(store, order_id, guests)
    if status != 201:  # the same key again: the cashier's retry of this very payment stays one payment
        context["key"] = raw_key if idempotency.is_valid(raw_key) else context["key"]
    context |= {"taken": taken, "errors": errors, "message": message}
    return panel(request, context, status)


# The cash drawers


async def _drawers_context(store: Store) -> Context:
    listed = await drawers.list_drawers(store)
    return {**listed, "currency": store.settings.currency, "kinds": DRAWER_MOVEMENT_KINDS}


async def drawers_page(request: Request) -> Response:
    require(request, PERMISSION)
    return _render(request, "pos/drawers.html", await _drawers_context(store_of(request)))


async def _drawer_answer(request: Request, status: int, errors: dict[str, str], message: str | None) -> Response:
    context = await _drawers_context(store_of(request)) | {"errors": errors, "message": message}
    return _render(request, "pos/_drawers.html" if is_htmx(request) else "pos/drawers.html", context, status)


def _counts(form: FormData, currency: Currency) -> dict[str, Any]:
    counts = {}
    for name, raw in form.multi_items():
        if name.startswith("count_") and str(raw).strip():
            counts[name.removeprefix("count_")] = whole_number(str(raw).strip(), 0, 100_000)
            if counts[name.removeprefix("count_")] is None:
                raise Invalid("a count is a whole number", {name: "a whole number"})
    other = typed_money(currency, str(form.get("other") or ""), "other") or 0
    return {"counts": counts, "other_cents": other}


async def drawer_action(request: Request) -> Response:
    """Open a drawer, pay in or out, or close one with its count (`action`), then the panel again."""
    principal = require(request, PERMISSION)
    store = store_of(request)
    currency = store.settings.currency
    form = await request.form()
    action = str(form.get("action") or "")
    drawer_id = whole_number(str(form.get("drawer_id") or ""), 1)
    try:
        if action == "open":
            values = {
                "name": str(form.get("name") or ""),
                "float_cents": typed_money(currency, str(form.get("float") or "0"), "float"),
            }
            await drawers.open_drawer(store, validated(DrawerIn, values, {"float_cents": "float"}), principal.name)
        elif action == "move" and drawer_id is not None:
            values = {
                "kind": str(form.get("kind") or ""),
                "amount_cents": typed_money(currency, str(form.get("amount") or ""), "amount"),
                "reason": str(form.get("reason") or ""),
            }
            data = validated(DrawerMovementIn, values, {"amount_cents": "amount"})
            await drawers.move_cash(store, drawer_id, data, principal.name)
        elif action == "close" and drawer_id is not None:
            data = validated(DrawerCloseIn, _counts(form, currency), {"other_cents": "other"})
            await drawers.close_drawer(store, drawer_id, data, principal.name)
        else:
            raise Invalid("say what to do with which drawer", {"action": "open, move or close"})
    except (Invalid, Conflict, NotFound) as error:
        return await _drawer_answer(request, error.status, error.fields or {}, error.message)
    return await _drawer_answer(request, 200, {}, None)


routes = [
    Route("/pos/orders/{id:id}/pay", pay_page, methods=["GET"]),
    Route("/pos/orders/{id:id}/pay", pay, methods=["POST"]),
    Route("/pos/orders/{id:id}/pay/summary", pay_summary, methods=["GET"]),
    Route("/pos/drawers", drawers_page, methods=["GET"]),
    Route("/pos/drawers", drawer_action, methods=["POST"]),
]
