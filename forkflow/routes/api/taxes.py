"""The JSON API of tax rates and the money settings (pricing, service charge, the cashier's
discount limit): thin views over services/taxes.py, for managers (permission `money.settings`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ... import schemas_out as out
from ...models import MoneySettingsIn, TaxRateIn
from ...operation import ApiRoute, Operation, roles_text, staff_of
from ...request import store_of
from ...services import taxes
from ...services.money_settings import get_money_settings
from ..http import parse_body


async def list_tax_rates(request: Request) -> Response:
    return JSONResponse(await taxes.list_tax_rates(store_of(request)))


async def create_tax_rate(request: Request) -> Response:
    data = await parse_body(request, TaxRateIn)
    rate = await taxes.create_tax_rate(store_of(request), data, staff_of(request).name)
    return JSONResponse(rate, 201, {"Location": f"/tax-rates/{rate['id']}"})


async def update_tax_rate(request: Request) -> Response:
    data = await parse_body(request, TaxRateIn)
    rate_id = request.path_params["id"]
    return JSONResponse(await taxes.update_tax_rate(store_of(request), rate_id, data, staff_of(request).name))


async def delete_tax_rate(request: Request) -> Response:
    await taxes.delete_tax_rate(store_of(request), request.path_params["id"], staff_of(request).name)
    return Response(status_code=204)


async def get_settings(request: Request) -> Response:
    return JSONResponse((await get_money_settings(store_of(request))).out())


async def set_settings(request: Request) -> Response:
    data = await parse_body(request, MoneySettingsIn)
    return JSONResponse(await taxes.set_money_settings(store_of(request), data, staff_of(request).name))


_ROLES = " **Roles:** " + roles_text("money.settings") + " (permission `money.settings`)."
_RATES = (
    "A tax rate has a unique name and a percent with up to three decimals (8.875). Categories name theirs "
    "(`PUT /menu/categories` `taxes`), an item may override its category's (`tax_rate_id`); each order line "
    "copies its rate when ordered, so changing or removing a rate never changes an order already placed."
)
_RATE_ERRORS = {
    409: "Another tax rate has this name.",
    422: "The name is missing or longer than 40 characters, or the percent is not a number from 0 to 100 with at "
    "most three decimals.",
}
_SETTINGS = (
    "How orders placed from now on are priced: `prices_include_tax` (menu prices include tax, or tax is added), "
    "`tax_rounding` (`line`: each line's tax rounded half-up to the cent; `order`: once per rate on the order), "
    "the service charge (`service_charge_percent` of a table order's lines after discounts, untaxed, for tables of "
    "`service_charge_min_guests` or more; null: every table), and `cashier_discount_limit_percent` (above it a "
    "discount needs a manager's approval). Each order keeps the terms it was placed under."
)

routes = [
    ApiRoute(
        "GET",
        "/tax-rates",
        list_tax_rates,
        Operation(
            "The tax rates",
            "settings",
            access="staff",
            permission="money.settings",
            out=out.TaxRatesOut,
            description=_RATES + " By name." + _ROLES,
        ),
    ),
    ApiRoute(
        "POST",
        "/tax-rates",
        create_tax_rate,
        Operation(
            "Add a tax rate",
            "settings",
            access="staff",
            permission="money.settings",
            body=TaxRateIn,
            status=201,
            out=out.TaxRateOut,
            description=_RATES + _ROLES + " Emits `tax.rate_created` (topic `money`).",
            headers={"Location": {"description": "the tax rate's URL", "schema": {"type": "string"}}},
            errors=_RATE_ERRORS,
        ),
    ),
    ApiRoute(
        "PUT",
        "/tax-rates/{id:id}",
        update_tax_rate,
        Operation(
            "Change a tax rate",
            "settings",
            access="staff",
            permission="money.settings",
            body=TaxRateIn,
            out=out.TaxRateOut,
            description=_RATES + _ROLES + " Emits `tax.rate_updated` (with the rate `before`) when it changed.",
            errors={404: "There is no tax rate with this id.", **_RATE_ERRORS},
        ),
    ),
    ApiRoute(
        "DELETE",
        "/tax-rates/{id:id}",
        delete_tax_rate,
        Operation(
            "Remove a tax rate",
            "settings",
            access="staff",
            permission="money.settings",
            status=204,
            description="Categories and items that named it are untaxed from now on (an item falls back to its "
            "category's rate); lines already ordered keep it." + _ROLES + " Emits `tax.rate_deleted`.",
            errors={404: "There is no tax rate with this id."},
        ),
    ),
    ApiRoute(
        "GET",
        "/settings/money",
        get_settings,
        Operation(
            "The money settings",
            "settings",
            access="staff",
            permission="money.settings",
            out=out.MoneySettingsOut,
            description=_SETTINGS + _ROLES,
        ),
    ),
    ApiRoute(
        "PUT",
        "/settings/money",
        set_settings,
        Operation(
            "Set the money settings",
            "settings",
            access="staff",
            permission="money.settings",
            body=MoneySettingsIn,
            out=out.MoneySettingsOut,
            description=_SETTINGS
            + " Every field at once."
            + _ROLES
            + " Emits `tax.settings_changed` (`before` and `after`) when they changed.",
            errors={422: "A field is missing, or a percent is not a number from 0 to 100 with at most three decimals."},
        ),
    ),
]
