"""The till's discounts: a recent order's "Discount" opens a panel beside the ticket with the
order's lines and figures, the discounts on it (each with Remove), and one small form: what it
applies to (the order or a line), the reason (comp reasons give 100 % off), a percent or an amount.

The form goes through the JSON API's own `give` (routes/api/discounts.py), so the rules, the
approval and the idempotency key are the same. When the server says a manager must approve, the
same form comes back with a manager's name and password fields: the manager types them on the
cashier's screen, and the cashier stays signed in (services/approvals.py starts no session). A
refusal comes back as the form with its errors inline, as 409 or 422 (the till's htmx swaps those;
a refused approval's 401, 403 or 429 is said on the form as 422). Each panel carries a fresh
Idempotency-Key, so a double tap gives one discount. The figures follow the till's stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ... import idempotency, services
from ...auth.roles import require
from ...errors import Invalid, ServiceError
from ...models import OrderDiscountIn, field_errors
from ...numbers import whole_number
from ...request import store_of
from ...services import discounts
from ...vocabulary import DISCOUNT_KINDS
from ...web import templates
from ..api.discounts import give

PERMISSION = "discounts"
# The API's field names, as the form's inputs.
_INPUTS = {"line_id": "target", "percent": "value", "amount_cents": "value", "kind": "value", "reason_id": "reason_id"}


@dataclass
class DiscountForm:
    """The panel's form as typed, with its errors by input (`_`: the form as a whole)."""

    key: str
    target: str = ""  # "" the whole order, else a line id
    reason_id: str = ""
    kind: str = "percent"
    value: str = ""
    approving: bool = False  # the manager's fields are shown
    approval_name: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    notice: str = ""

    @classmethod
    def new(cls, notice: str = "") -> DiscountForm:
        return cls(idempotency.new_key("discount"), notice=notice)

    @classmethod
    def typed(cls, form: FormData) -> DiscountForm:
        kind = str(form.get("kind") or "percent")
        return cls(
            key=str(form.get("idempotency_key") or ""),
            target=str(form.get("target") or ""),
            reason_id=str(form.get("reason_id") or ""),
            kind=kind if kind in DISCOUNT_KINDS else "percent",
            value=str(form.get("value") or "").strip(),
            approving=form.get("approving") == "1",
            approval_name=str(form.get("approval_name") or ""),
        )

    def fail(self, error: ServiceError) -> None:
        """Say the refusal on the form; a manager's approval asked for (or refused) shows its fields."""
        if error.extra.get("reason") == discounts.APPROVAL_NEEDED or (self.approving and error.status in (401, 403)):
            self.approving = True
            self.errors["approval"] = error.message[:1].upper() + error.message[1:]
            return
        for name, problem in (error.fields or {}).items():
            self.errors[_INPUTS.get(name, "_")] = problem
        self.errors.setdefault("_", error.message[:1].upper() + error.message[1:])


def body_of(typed: DiscountForm, form: FormData, minor: Any) -> dict[str, Any]:
    """The API's body from the form: an amount typed in the currency's major units ("5.00")."""
    if whole_number(typed.reason_id, 1) is None:
        raise Invalid("choose a reason", {"reason_id": "choose a reason"})
    if typed.target and whole_number(typed.target, 1) is None:
        raise Invalid("choose the order or one of its lines", {"target": "not a line"})
    body: dict[str, Any] = {"reason_id": int(typed.reason_id), "line_id": whole_number(typed.target, 1)}
    if typed.value:
        try:
            number = Decimal(typed.value.replace(",", "."))
        except InvalidOperation:
            raise Invalid("enter a number", {"value": "a number, like 10 or 5.50"}) from None
        if typed.kind == "amount":
            try:
                body |= {"kind": "amount", "amount_cents": minor(number)}
            except ValueError as exc:
                raise Invalid(str(exc), {"value": "too many decimals for the currency"}) from None
        else:
            body |= {"kind": "percent", "percent": number}
    if typed.approving:
        body["approval"] = {"name": typed.approval_name, "password": str(form.get("approval_password") or "")}
    return body


def _parsed(body: dict[str, Any]) -> OrderDiscountIn:
    try:
        return OrderDiscountIn.model_validate(body)
    except ValidationError as exc:
        problems = field_errors(exc)
        if any(name.startswith("approval") for name in problems):
            problems = {name: p for name, p in problems.items() if not name.startswith("approval")}
            problems["approval"] = "enter the manager's name and password"
        raise Invalid("the discount is not complete", problems) from None


async def _panel(request: Request, order_id: int, form: DiscountForm, status: int = 200) -> Response:
    store = store_of(request)
    context = {
        "order": await services.get_order(store, order_id),
        "reasons": await discounts.list_reasons(store, active_only=True),
        "form": form,
        "kinds": DISCOUNT_KINDS,
    }
    return templates.TemplateResponse(request, "pos/_discounts.html", context, status_code=status)


async def discount_panel(request: Request) -> Response:
    require(request, PERMISSION)
    return await _panel(request, request.path_params["id"], DiscountForm.new())


async def give_discount(request: Request) -> Response:
    """The panel's form: a discount or a comp, through the API's `give`."""
    require(request, PERMISSION)
    order_id = request.path_params["id"]
    data = await request.form()
    typed = DiscountForm.typed(data)
    try:
        if not idempotency.is_valid(typed.key):
            typed.key = idempotency.new_key("discount")
            raise Invalid("the form was not the till's; try again", {"_": "no key"})
        asked = _parsed(body_of(typed, data, store_of(request).settings.currency.minor))
        await give(request, order_id, asked, typed.key)
    except ServiceError as error:
        if error.status == 404:
            raise
        typed.fail(error)
        return await _panel(request, order_id, typed, error.status if error.status in (409, 422) else 422)
    return await _panel(request, order_id, DiscountForm.new("Discount given."), 201)


async def remove_discount(request: Request) -> Response:
    principal = require(request, PERMISSION)
    order_id = request.path_params["id"]
    form = DiscountForm.new("Discount removed.")
    try:
        await discounts.remove_discount(store_of(request), order_id, request.path_params["discount_id"], principal.name)
    except ServiceError as error:
        if error.status == 404:
            raise
        form = DiscountForm.new()
        form.fail(error)
        return await _panel(request, order_id, form, 409)
    return await _panel(request, order_id, form)


async def figures(request: Request) -> Response:
    """The panel's order and figures alone, re-read when the till's stream says orders changed."""
    require(request, PERMISSION)
    order = await services.get_order(store_of(request), request.path_params["id"])
    return templates.TemplateResponse(request, "pos/_discount_figures.html", {"order": order})
