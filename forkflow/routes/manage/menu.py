"""The console's menu editor: add and edit dishes (with their modifier groups, allergens and
dietary tags), switch them or one option on or off, move them and their categories up or down, and
set their recipes, each category's course and the kitchen's auto-fire."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ... import services
from ...auth.roles import require
from ...errors import BadRequest, Invalid
from ...models import MAX_COURSE, CategoryOrderIn, MenuItemIn, MenuItemUpdate
from ...numbers import whole_number
from ...request import is_htmx, store_of
from . import forms
from . import view as console
from .forms import Form, FormInvalid, RecipeForm, RecipeInvalid, blank_group, blank_option, input_name
from .page import whole_page

# The menu editor and availability


async def _menu_editor(
    request: Request,
    form: Form,
    editing: int | None,
    status: int = 200,
    notice: str | None = None,
    focus: str = "menu-name",
) -> Response:
    """The editor (add, or edit `editing`) as a fragment for htmx, or the whole page without it;
    `focus`: the id of the input htmx focuses once it is in (a row just added, say)."""
    if not is_htmx(request):
        return await whole_page(request, status, menu_form=form, editing=editing)
    store = store_of(request)
    menu = await console.menu_context(store)
    menu["stock_choices"] = await services.list_inventory(store)  # for the options' stock deltas
    if editing is not None:
        menu.update(await console.recipe_context(store, await services.get_menu_item(store, editing)))
    html = console.fragment(request, "menu_form", menu_form=form, editing=editing, notice=notice, focus=focus, **menu)
    if notice:  # saved: the list too, at once (the stream brings it as well, to every console)
        html += console.fragment(request, "menu_list", oob=True, **menu)
    return HTMLResponse(html, status_code=status)


async def new_menu_form(request: Request) -> Response:
    require(request, "menu.write")
    return await _menu_editor(request, Form(), None)


async def edit_menu_form(request: Request) -> Response:
    require(request, "menu.write")
    item = await services.get_menu_item(store_of(request), request.path_params["id"])
    return await _menu_editor(request, await console.editor_form(store_of(request), item), item["id"])


def _edited(form: Form, action: str) -> str | None:
    """The editor's row buttons (`add-group`, `remove-group-{i}`, `add-option-{i}`,
    `remove-option-{i}-{j}`), done on what was typed; nothing is saved. Returns the id of the input
    to focus next (the row added, or the button next to the one removed); None for a save."""
    groups = form.groups if form.groups is not None else []
    numbers = [whole_number(part) for part in action.split("-")[2:]]
    if action == "add-group":
        groups.append(blank_group())
        return f"group-{len(groups) - 1}-name"
    if action.startswith("remove-group-") and len(numbers) == 1 and numbers[0] is not None:
        del groups[numbers[0] : numbers[0] + 1]
        return "menu-add-group"
    if action.startswith("add-option-") and len(numbers) == 1 and numbers[0] is not None:
        i = numbers[0]
        for group in groups[i : i + 1]:
            group["options"].append(blank_option())
            return f"group-{i}-option-{len(group['options']) - 1}-name"
        return "menu-add-group"
    if action.startswith("remove-option-") and len(numbers) == 2 and None not in numbers:
        i, j = numbers[0] or 0, numbers[1] or 0
        for group in groups[i : i + 1]:
            del group["options"][j : j + 1]
        return f"group-{i}-add-option"
    return None


async def _save_menu_item(request: Request, editing: int | None) -> Response:
    """Add (`editing` None) or save an item from the editor; refused by the models or the service
    (an option id that is not the item's): the editor again, as typed, each error at its input."""
    store = store_of(request)
    data = await request.form()
    form = forms.menu_item_typed(data)
    focus = _edited(form, str(data.get("action") or "save"))
    if focus is not None:
        return await _menu_editor(request, form, editing, focus=focus)
    try:
        if editing is None:
            item = await services.create_menu_item(store, forms.menu_item(form, MenuItemIn))
        else:
            item = await services.update_menu_item(store, editing, forms.menu_item(form, MenuItemUpdate))
    except FormInvalid as refused:
        return await _menu_editor(request, refused.form, editing, 422)
    except Invalid as refused:
        for name, message in (refused.fields or {}).items():
            form.errors.setdefault(input_name(name.split(".")), message[:1].upper() + message[1:])
        form.errors.setdefault("_", refused.message[:1].upper() + refused.message[1:])
        return await _menu_editor(request, form, editing, 422)
    if not is_htmx(request):
        return RedirectResponse("/manage#menu", status_code=303)
    done = "Saved" if editing is not None else "Added"
    return await _menu_editor(request, Form(), None, notice=f"{done} {item['name']}.")


async def add_menu_item(request: Request) -> Response:
    require(request, "menu.write")
    return await _save_menu_item(request, None)


async def update_menu_item(request: Request) -> Response:
    require(request, "menu.write")
    item = await services.get_menu_item(store_of(request), request.path_params["id"])  # 404 before anything else
    return await _save_menu_item(request, item["id"])


async def _menu_list(request: Request) -> Response:
    """A change from the menu list's own buttons: the list again (a redirect to it without htmx)."""
    if not is_htmx(request):
        return RedirectResponse("/manage#menu", status_code=303)
    return HTMLResponse(console.fragment(request, "menu_list", **await console.menu_context(store_of(request))))


async def set_availability(request: Request) -> Response:
    require(request, "menu.write")
    store = store_of(request)
    form = await request.form()
    await services.set_availability(store, request.path_params["id"], form.get("available") == "1")
    return await _menu_list(request)


async def set_option_availability(request: Request) -> Response:
    """One option's 86, from its switch in the menu list."""
    require(request, "menu.write")
    form = await request.form()
    item_id, option_id = request.path_params["id"], request.path_params["option_id"]
    await services.set_option_availability(store_of(request), item_id, option_id, form.get("available") == "1")
    return await _menu_list(request)


# The menu's order


def _step(form: Any) -> int:
    direction = form.get("direction")
    if direction not in ("up", "down"):
        raise BadRequest("direction must be up or down", {"direction": "up or down"})
    return -1 if direction == "up" else 1


def _swapped(names: list[Any], index: int, step: int) -> list[Any]:
    """`names` with the one at `index` moved one place by `step` (unchanged at either end)."""
    other = index + step
    if not 0 <= other < len(names):
        return names
    moved = list(names)
    moved[index], moved[other] = moved[other], moved[index]
    return moved


async def move_category(request: Request) -> Response:
    """A category one place up or down, through services.order_categories."""
    require(request, "menu.write")
    store = store_of(request)
    form = await request.form()
    step = _step(form)
    names = [category["name"] for category in (await services.list_categories(store))["categories"]]
    name = form.get("category")
    if name not in names:
        raise BadRequest("no such category on the menu", {"category": "one of the menu's categories"})
    order = _swapped(names, names.index(name), step)
    if order != names:
        await services.order_categories(store, CategoryOrderIn(order=order))
    return await _menu_list(request)


async def set_category_course(request: Request) -> Response:
    """A category's default course (`PUT /menu/categories {"courses": ...}`'s write)."""
    require(request, "menu.write")
    store = store_of(request)
    form = await request.form()
    course = whole_number(str(form.get("course", "")), 0, MAX_COURSE)
    if course is None:
        raise BadRequest("choose a course", {"course": f"a whole number from 0 to {MAX_COURSE}"})
    try:
        data = CategoryOrderIn(courses={str(form.get("category", "")): course})
    except ValidationError:
        raise BadRequest("no such category on the menu", {"category": "one of the menu's categories"}) from None
    await services.order_categories(store, data)
    return await _menu_list(request)


async def set_auto_fire(request: Request) -> Response:
    """The kitchen's auto-fire switch (`PUT /kitchen/settings`'s write); back to the menu list."""
    require(request, "kitchen.settings")
    form = await request.form()
    await services.set_kitchen_settings(store_of(request), form.get("auto_fire") == "1")
    return await _menu_list(request)


async def move_item(request: Request) -> Response:
    """An item one place up or down within its category (services.move_menu_item: one write)."""
    require(request, "menu.write")
    await services.move_menu_item(store_of(request), request.path_params["id"], _step(await request.form()))
    return await _menu_list(request)


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
        return await whole_page(
            request, status, menu_form=await console.editor_form(store, item), editing=item["id"], **context
        )
    context = await console.recipe_context(store, item, form)
    return HTMLResponse(console.fragment(request, "recipe_form", **context), status_code=status)
