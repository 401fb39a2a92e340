"""The console's menu editor: add and edit dishes, switch them on or off, and set their recipes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ... import services
from ...auth.roles import require
from ...errors import Invalid
from ...models import MenuItemIn, MenuItemUpdate
from ...numbers import whole_number
from ...request import is_htmx, store_of
from . import forms
from . import view as console
from .forms import Form, FormInvalid, RecipeForm, RecipeInvalid, menu_item_form
from .page import whole_page

# The menu editor and availability


async def _menu_editor(
    request: Request, form: Form, editing: int | None, status: int = 200, notice: str | None = None
) -> Response:
    """The editor (add, or edit `editing`) as a fragment for htmx, or the whole page without it."""
    if not is_htmx(request):
        return await whole_page(request, status, menu_form=form, editing=editing)
    store = store_of(request)
    menu = await console.menu_context(store)
    if editing is not None:
        menu.update(await console.recipe_context(store, await services.get_menu_item(store, editing)))
    html = console.fragment(request, "menu_form", menu_form=form, editing=editing, notice=notice, focus=True, **menu)
    if notice:  # saved: the list too, at once (the stream brings it as well, to every console)
        html += console.fragment(request, "menu_list", oob=True, **menu)
    return HTMLResponse(html, status_code=status)


async def new_menu_form(request: Request) -> Response:
    require(request, "menu.write")
    return await _menu_editor(request, Form(), None)


async def edit_menu_form(request: Request) -> Response:
    require(request, "menu.write")
    item = await services.get_menu_item(store_of(request), request.path_params["id"])
    return await _menu_editor(request, menu_item_form(item), item["id"])


async def add_menu_item(request: Request) -> Response:
    require(request, "menu.write")
    try:
        data = forms.menu_item(await request.form(), MenuItemIn)
    except FormInvalid as refused:
        return await _menu_editor(request, refused.form, None, 422)
    item = await services.create_menu_item(store_of(request), data)
    if not is_htmx(request):
        return RedirectResponse("/manage#menu", status_code=303)
    return await _menu_editor(request, Form(), None, notice=f"Added {item['name']}.")


async def update_menu_item(request: Request) -> Response:
    require(request, "menu.write")
    store = store_of(request)
    item_id = request.path_params["id"]
    await services.get_menu_item(store, item_id)  # 404 before anything else
    try:
        data = forms.menu_item(await request.form(), MenuItemUpdate)
    except FormInvalid as refused:
        return await _menu_editor(request, refused.form, item_id, 422)
    item = await services.update_menu_item(store, item_id, data)
    if not is_htmx(request):
        return RedirectResponse("/manage#menu", status_code=303)
    return await _menu_editor(request, Form(), None, notice=f"Saved {item['name']}.")


async def set_availability(request: Request) -> Response:
    require(request, "menu.write")
    store = store_of(request)
    form = await request.form()
    await services.set_availability(store, request.path_params["id"], form.get("available") == "1")
    if not is_htmx(request):
        return RedirectResponse("/manage#menu", status_code=303)
    return HTMLResponse(console.fragment(request, "menu_list", **await console.menu_context(store)))


# Recipes


async def save_recipe(request: Request) -> Response:
    """The recipe editor's buttons: add a row, remove one (nothing saved), or save through
    services.set_recipe; a refused recipe comes back with what was typed and its errors by row."""
    require(request, "menu.write")
    store = store_of(request)
    item = await services.get_menu_item(store, request.path_params["id"])  # 404 before anything else
    data = await request.form()
    form = RecipeForm.typed(data)
    action = str(data.get("action") or "save")
    removed = whole_number(action.removeprefix("remove-")) if action.startswith("remove-") else None
    status = 200
    if action == "add":
        form.rows.append({"inventory_id": "", "quantity": ""})
    elif removed is not None:
        if removed < len(form.rows):
            del form.rows[removed]
        if not form.rows:
            form.rows.append({"inventory_id": "", "quantity": ""})
    else:
        stock_ids = {stock["id"] for stock in await services.list_inventory(store)}
        try:
            recipe, origin = forms.recipe(form, stock_ids)
            await services.set_recipe(store, item["id"], recipe)
        except RecipeInvalid:
            status = 422
        except Invalid as refused:  # a stock item deleted meanwhile: the service names its line
            for name, message in (refused.fields or {}).items():
                parts = name.split(".")
                index = whole_number(parts[1], high=len(origin) - 1) if len(parts) == 3 else None
                row = origin[index] if index is not None else None
                form.errors[f"{row}.{parts[2]}" if row is not None else "_"] = message.capitalize()
            form.errors.setdefault("_", refused.message.capitalize())
            status = 422
        else:
            if not is_htmx(request):
                return RedirectResponse(f"/manage?edit={item['id']}#recipe-editor", status_code=303)
            context = await console.recipe_context(store, item)
            context["recipe_form"].notice = f"Saved the recipe of {item['name']}."
            html = console.fragment(request, "recipe_form", **context)
            html += console.fragment(request, "menu_list", oob=True, **await console.menu_context(store))
            return HTMLResponse(html)
    if not is_htmx(request):
        context = await console.recipe_context(store, item, form)
        return await whole_page(request, status, menu_form=menu_item_form(item), editing=item["id"], **context)
    context = await console.recipe_context(store, item, form)
    return HTMLResponse(console.fragment(request, "recipe_form", **context), status_code=status)
