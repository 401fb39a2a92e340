"""The console's "Taxes & charges": tax rates (add, edit, remove), each category's rate, and the
money settings (tax-inclusive prices, rounding, service charge, the cashier's discount limit).

Each form is one call of services/taxes.py or services/menu.py, as the JSON API makes it; refused
posts come back with the form as typed and its errors inline (nothing written). The rates and the
categories' rates are a live section: every `tax.*` event and every `menu.categories` re-renders it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...auth.roles import require
from ...errors import Conflict, Invalid, NotFound, ServiceError
from ...models import CategoryOrderIn, MoneySettingsIn, TaxRateIn
from ...request import is_htmx, store_of
from ...services import menu, taxes
from . import view as console
from .forms import Form, FormInvalid, validate
from .page import whole_page

RATE_FIELDS = ("name", "percent")
SETTINGS_FIELDS = (
    "tax_rounding",
    "service_charge_percent",
    "service_charge_min_guests",
    "cashier_discount_limit_percent",
)
_NUMBER = re.compile(r"^[0-9]{1,3}(?:[.,][0-9]+)?$")  # ASCII digits: a percent as typed (12.5 or 12,5)


def _percent(typed: str) -> Decimal | str:
    """A percent as typed, as a number when it reads as one; else as typed, for the model to refuse."""
    typed = typed.strip().removesuffix("%").strip()
    return Decimal(typed.replace(",", ".")) if _NUMBER.match(typed) else typed


def rate_form(rate: dict[str, Any] | None = None) -> Form:
    """The rate form filled with a rate (editing), or empty (adding)."""
    if rate is None:
        return Form()
    return Form({"id": str(rate["id"]), "name": rate["name"], "percent": str(rate["percent"])})


def settings_form(settings: dict[str, Any]) -> Form:
    """The settings form as the settings are now (`MoneySettings.out`)."""
    values = {name: "" if settings[name] is None else str(settings[name]) for name in SETTINGS_FIELDS}
    form = Form(values)
    form.checked = {"prices_include_tax": ["on"] if settings["prices_include_tax"] else []}
    return form


async def _panel(request: Request, status: int = 200, notice: str | None = None, **forms: Form) -> Response:
    if not is_htmx(request):
        if status < 400:
            return RedirectResponse("/manage#taxes", status_code=303)
        return await whole_page(request, status, **forms)
    context = await console.taxes_context(store_of(request), **forms)
    return HTMLResponse(console.fragment(request, "taxes", notice=notice, **context), status_code=status)


def _refused(form: Form, refused: ServiceError) -> Form:
    form.errors.update(refused.fields or {})
    form.errors.setdefault("_", refused.message[:1].upper() + refused.message[1:])
    return form


async def save_tax_rate(request: Request) -> Response:
    """Add a rate, or change the one the form's hidden `id` names."""
    principal = require(request, "money.settings")
    store = store_of(request)
    data = await request.form()
    form = Form.typed(data, RATE_FIELDS)
    raw_id = str(data.get("id") or "")
    if raw_id:
        form.values["id"] = raw_id
    try:
        rate_in = validate(TaxRateIn, {"name": form.values["name"], "percent": _percent(form.values["percent"])}, form)
        if raw_id.isdigit():
            rate = await taxes.update_tax_rate(store, int(raw_id), rate_in, principal.name)
            notice = f"Saved {rate['name']}."
        else:
            rate = await taxes.create_tax_rate(store, rate_in, principal.name)
            notice = f"Added {rate['name']}."
    except FormInvalid as refused:
        return await _panel(request, 422, rate_form=refused.form)
    except (Conflict, NotFound) as refused:
        return await _panel(request, refused.status, rate_form=_refused(form, refused))
    return await _panel(request, notice=notice)


async def edit_tax_rate(request: Request) -> Response:
    require(request, "money.settings")
    listed = await taxes.list_tax_rates(store_of(request))
    rate = next((rate for rate in listed["tax_rates"] if rate["id"] == request.path_params["id"]), None)
    if rate is None:
        raise NotFound(f"tax rate {request.path_params['id']} does not exist")
    return await _panel(request, rate_form=rate_form(rate))


async def remove_tax_rate(request: Request) -> Response:
    principal = require(request, "money.settings")
    try:
        await taxes.delete_tax_rate(store_of(request), request.path_params["id"], principal.name)
    except NotFound as refused:
        return await _panel(request, refused.status, rate_form=_refused(Form(), refused))
    return await _panel(request, notice="Removed the tax rate: its categories and dishes are untaxed from now on.")


def _category_rates(data: FormData) -> dict[str, int | str | None]:
    """{category: its rate's id} from the form's parallel `category` and `rate` lists ("" untaxed)."""
    names, rates = [str(name) for name in data.getlist("category")], [str(rate) for rate in data.getlist("rate")]
    return {name: int(rate) if rate.isdigit() else rate or None for name, rate in zip(names, rates, strict=False)}


async def save_category_rates(request: Request) -> Response:
    require(request, "money.settings")
    require(request, "menu.write")
    chosen = _category_rates(await request.form())
    form = Form({f"rate-{name}": "" if rate is None else str(rate) for name, rate in chosen.items()})
    try:
        await menu.order_categories(store_of(request), validate(CategoryOrderIn, {"taxes": chosen}, form))
    except FormInvalid as refused:  # (only a post not made by the page: the selects offer rates)
        errors = {name.replace("taxes-", "taxes.", 1): text for name, text in refused.form.errors.items()}
        refused.form.errors = errors | {"_": "Choose a rate for each category"}
        return await _panel(request, 422, categories_form=refused.form)
    except Invalid as refused:
        return await _panel(request, refused.status, categories_form=_refused(form, refused))
    return await _panel(request, notice="Saved the categories' tax rates.")


async def save_money_settings(request: Request) -> Response:
    principal = require(request, "money.settings")
    data = await request.form()
    form = Form.typed(data, SETTINGS_FIELDS)
    form.checked = {"prices_include_tax": ["on"] if data.get("prices_include_tax") else []}
    typed = form.values
    body = {
        "prices_include_tax": bool(data.get("prices_include_tax")),
        "tax_rounding": typed["tax_rounding"],
        "service_charge_percent": _percent(typed["service_charge_percent"] or "0"),
        "service_charge_min_guests": int(typed["service_charge_min_guests"])
        if typed["service_charge_min_guests"].strip().isdigit()
        else typed["service_charge_min_guests"].strip() or None,
        "cashier_discount_limit_percent": _percent(typed["cashier_discount_limit_percent"] or "0"),
    }
    try:
        settings = validate(MoneySettingsIn, body, form)
        await taxes.set_money_settings(store_of(request), settings, principal.name)
    except FormInvalid as refused:
        return await _panel(request, 422, money_form=refused.form)
    return await _panel(request, notice="Saved. Orders placed from now on are priced this way.")
