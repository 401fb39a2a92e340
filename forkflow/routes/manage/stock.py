"""The console's stock table: restock, waste and count, low-stock levels, and each item's movements."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ... import services
from ...auth.roles import require
from ...errors import Conflict
from ...models import InventoryPatch
from ...request import is_htmx, store_of
from . import forms
from . import view as console
from .page import whole_page


async def _stock_table(
    request: Request, item_id: int, error: str | None, typed: dict[str, str], status: int
) -> Response:
    store = store_of(request)
    errors = {item_id: error} if error else {}
    if not is_htmx(request):
        return await whole_page(request, status, **await console.inventory_context(store, errors, {item_id: typed}))
    context = await console.inventory_context(store, errors, {item_id: typed} if error else {})
    return HTMLResponse(console.fragment(request, "inventory_list", **context), status_code=status)


async def _change_stock(
    request: Request, patch: Callable[[], InventoryPatch], typed: dict[str, str], staff_id: int
) -> Response:
    """Apply one stock change as `staff_id` (the movement records who); a refused one shows its
    reason in the item's row, and changes nothing."""
    item_id = request.path_params["id"]
    store = store_of(request)
    await services.get_inventory_item(store, item_id)  # 404 before anything else
    try:
        await services.change_inventory_item(store, item_id, patch(), staff_id)
    except (ValueError, ValidationError) as invalid:  # a ValidationError is a ValueError too
        return await _stock_table(request, item_id, _first_error(invalid), typed, 422)
    except Conflict as refused:
        return await _stock_table(request, item_id, refused.message[:1].upper() + refused.message[1:], typed, 409)
    if not is_htmx(request):
        return RedirectResponse("/manage#inventory", status_code=303)
    return await _stock_table(request, item_id, None, {}, 200)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        if error["type"] == "less_than_equal":
            return f"At most {error['ctx']['le']}"
        return str(error["msg"]).removeprefix("Value error, ")
    return str(exc)


async def adjust_stock(request: Request) -> Response:
    """A restock (adds the amount), waste (takes it away) or count (sets the quantity to it), with a
    note. A post without a reason (an older form) says add or remove with `direction`."""
    staff_id = require(request, "inventory").staff_id
    form = await request.form()
    direction = form.get("direction")
    default = "waste" if direction == "remove" else "restock"
    typed = {
        "amount": str(form.get("amount") or ""),
        "reason": str(form.get("reason") or default),
        "note": str(form.get("note") or "").strip(),
    }

    def patch() -> InventoryPatch:
        reason = typed["reason"]
        if reason not in console.STOCK_REASON_LABELS:
            raise ValueError(console.CHOOSE_A_REASON)
        number = forms.amount(typed["amount"])
        if reason == "count":
            return InventoryPatch(quantity=number, reason="count", note=typed["note"])
        if number == 0:
            raise ValueError("Enter an amount more than 0")
        delta = -number if reason == "waste" else number
        return InventoryPatch.model_validate({"delta": delta, "reason": reason, "note": typed["note"]})

    return await _change_stock(request, patch, typed, staff_id)


async def set_low_stock(request: Request) -> Response:
    staff_id = require(request, "inventory").staff_id
    form = await request.form()
    typed = {"low_stock": str(form.get("low_stock") or "").strip()}

    def patch() -> InventoryPatch:
        threshold: Decimal | None = forms.amount(typed["low_stock"]) if typed["low_stock"] else None
        return InventoryPatch(low_stock=threshold)

    return await _change_stock(request, patch, typed, staff_id)


async def stock_movements(request: Request) -> Response:
    """One stock item's last movements (a fragment for htmx; the console with them open otherwise)."""
    require(request, "inventory")
    item_id = request.path_params["id"]
    if not is_htmx(request):
        return RedirectResponse(f"/manage?movements={item_id}#movements", status_code=303)
    context = await console.movements_context(store_of(request), item_id)
    return HTMLResponse(console.fragment(request, "movements", **context))
