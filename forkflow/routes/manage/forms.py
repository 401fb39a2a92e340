"""The manager console's form posts turned into the service layer's input models.

A form that does not validate comes back as a `Form`: the values as typed (to show the form again
with them) and one message per field in words a person can act on. Validation itself stays in the
pydantic models; this module only converts what people type (a price like 12.50) and rewords errors.

The menu editor's modifier groups are inputs named after where the models put them: the option
`modifier_groups.0.options.1.price_cents` is typed in `group-0-option-1-price`, so an error of the
models (or of the service, which names fields the same way) goes back to the input it is about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ...formats import amount_cents, amount_typed
from ...models import MAX_CHOICES, MAX_GROUPS, MAX_OPTION_RECIPE, MAX_OPTIONS, HoursIn, RecipeIn, StaffIn
from ...numbers import whole_number
from ...vocabulary import ALLERGENS, DIETARY, WEEKDAYS

M = TypeVar("M", bound=BaseModel)

MENU_FIELDS = ("name", "description", "price", "category", "station", "prep_minutes", "prep_load")
# Typed as whole numbers; left empty: the default for a new item, kept for an edited one.
MENU_NUMBERS = ("prep_minutes", "prep_load")
MENU_CHECKBOXES = {"allergens": ALLERGENS, "dietary": DIETARY}
TAX_RATE = "tax_rate_id"  # the item's own rate, chosen from a list; empty: its category's
# The editor's input names for the models' field names (`modifier_groups.0.min` is `group-0-min`).
_INPUT_NAMES = {"modifier_groups": "group", "options": "option", "price_cents": "price"}
STAFF_FIELDS = ("name", "role")  # the password is never sent back into a page
_AMOUNT = re.compile(r"^[0-9]{1,10}(?:[.,][0-9]{1,3})?$")


@dataclass
class Form:
    """What was typed, and what is wrong with it, field by field (`_` for the form as a whole)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    checked: dict[str, list[str]] = field(default_factory=dict)  # the ticked boxes, by input name
    # The menu editor's groups as typed; None: the post had none of the editor's modifier inputs
    # (a page from before they were there), so the item's groups, allergens and tags are kept.
    groups: list[dict[str, Any]] | None = field(default_factory=list)

    @classmethod
    def typed(cls, data: Mapping[str, Any], names: tuple[str, ...]) -> Form:
        return cls({name: str(data.get(name) or "") for name in names})

    def errors_within(self, prefix: str) -> dict[str, str]:
        """The errors of the inputs whose names start with `prefix` (an option's stock rows)."""
        return {key: message for key, message in self.errors.items() if key.startswith(prefix)}

    def errors_under(self, name: str) -> list[str]:
        """The errors of `name` shown together: its own, its hidden id's, and its list's entries
        (`allergens-0`: a word no checkbox sends, so only a tampered post has it)."""
        own = re.compile(rf"{re.escape(name)}(?:-id|-[0-9]+)?")
        return [message for key, message in self.errors.items() if own.fullmatch(key)]


class FormInvalid(Exception):
    def __init__(self, form: Form) -> None:
        super().__init__(form.errors)
        self.form = form


def price_cents(text: str) -> int:
    """A price as typed, in the restaurant's currency (formats.amount_cents: JPY has no decimals)."""
    try:
        return amount_cents(text)
    except ValueError as exc:
        raise ValueError(f"Enter a price like {amount_typed(1250)}") from exc


def amount(text: str) -> Decimal:
    """A stock amount as typed: a number, not negative, at most three decimals (the sign comes from the button)."""
    text = text.strip()
    if not _AMOUNT.match(text):
        raise ValueError("Enter an amount like 2 or 0.25")
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already rules this out
        raise ValueError("Enter an amount like 2 or 0.25") from exc


def signed_amount(text: str) -> Decimal:
    """An option's stock delta as typed: an amount, negative to give stock back ("-0.03")."""
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    try:
        return sign * amount(text.removeprefix("-").removeprefix("+"))
    except ValueError as exc:
        raise ValueError("Enter an amount like 0.03, or -0.03 to give stock back") from exc


def _reworded(error: Mapping[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "Required"
    if kind == "string_too_short":
        return f"At least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"At most {ctx['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return "Letters, digits, dots, dashes and underscores only"
    if kind == "literal_error" and error["loc"][-1:] == ("kind",):
        return "Choose what the group is: a choice, additions or removals"
    if kind == "literal_error":
        return f"Choose one of: {ctx.get('expected', '')}".replace("'", "")
    if kind == "less_than_equal" and error["loc"] == ("price_cents",):
        return f"At most {amount_typed(ctx['le'])}"
    return str(error["msg"]).removeprefix("Value error, ")


def input_name(loc: tuple[int | str, ...] | list[str]) -> str:
    """The input a model's (or a service's) field is typed in: `modifier_groups.0.price_cents` is
    `group-0-price`; a top-level field keeps its name; the whole form is `_`."""
    return "-".join(_INPUT_NAMES.get(str(part), str(part)) for part in loc) or "_"


def validate(model: type[M], data: dict[str, Any], form: Form) -> M:
    """`model` from `data`; on failure raise FormInvalid with the form's own field names."""
    try:
        if form.errors:  # conversion failed already: still report the model's other problems
            model.model_validate(data)
            raise FormInvalid(form)
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            form.errors.setdefault(input_name(error["loc"]), _reworded(error))
        raise FormInvalid(form) from exc


def menu_item_typed(data: Any) -> Form:
    """The menu editor as typed: its fields, its ticked boxes and its groups. Each group and option
    has a hidden `-id` input (empty for a new one), which is how the rows are found, in order."""
    form = Form.typed(data, MENU_FIELDS)
    if TAX_RATE in data:  # (a page from before the editor had it sends none: the item keeps its rate)
        form.values[TAX_RATE] = str(data.get(TAX_RATE) or "")
    if "with_modifiers" not in data:  # (a hidden input of the editor)
        form.groups = None
        return form
    form.checked = {name: [str(word) for word in data.getlist(name)] for name in MENU_CHECKBOXES}
    groups: list[dict[str, Any]] = []
    i = 0
    while f"group-{i}-id" in data and i <= MAX_GROUPS:  # one more than allowed: the model says so
        group = f"group-{i}"
        options = []
        j = 0
        while f"{group}-option-{j}-id" in data and j <= MAX_OPTIONS:
            option = f"{group}-option-{j}"
            typed = {name: str(data.get(f"{option}-{name}") or "").strip() for name in ("id", "name", "price")}
            allergens = [str(word) for word in data.getlist(f"{option}-allergens")]
            options.append({**typed, "allergens": allergens, "recipe": _typed_recipe(data, option)})
            j += 1
        typed_group = {name: str(data.get(f"{group}-{name}") or "").strip() for name in ("id", "name", "min", "max")}
        # (a page from before groups had a kind sends none: its groups are choices, as they were)
        typed_group["kind"] = str(data.get(f"{group}-kind", "choice"))
        groups.append({**typed_group, "options": options})
        i += 1
    form.groups = groups
    return form


def _typed_recipe(data: Any, option: str) -> list[dict[str, str]]:
    """An option's stock rows as typed (`{option}-recipe-{k}-inventory_id` / `-quantity`); the blank
    ones (the page always shows one, to add to) are left out, so nothing typed is lost."""
    rows = []
    k = 0
    while f"{option}-recipe-{k}-inventory_id" in data and k <= MAX_OPTION_RECIPE:
        row = {
            name: str(data.get(f"{option}-recipe-{k}-{name}") or "").strip() for name in ("inventory_id", "quantity")
        }
        if row["inventory_id"] or row["quantity"]:
            rows.append(row)
        k += 1
    return rows


def _option_recipe(form: Form, option: str, rows: list[dict[str, str]]) -> list[dict[str, Any]] | None:
    """An option's stock deltas as the models take them; None (left out: not checked by the
    models) when a row cannot be read, each such row with its error."""
    recipe = []
    for k, row in enumerate(rows):
        where = f"{option}-recipe-{k}"
        stock_id = whole_number(row["inventory_id"], 1)
        if stock_id is None:
            form.errors[f"{where}-inventory_id"] = "Choose a stock item"
        try:
            recipe.append({"inventory_id": stock_id, "quantity": signed_amount(row["quantity"])})
        except ValueError as exc:
            form.errors[f"{where}-quantity"] = str(exc) if row["quantity"] else "Required"
    unread = len(recipe) < len(rows) or any(line["inventory_id"] is None for line in recipe)
    return None if unread else recipe


def _typed_id(form: Form, name: str, typed: str) -> int | None:
    """A hidden id as posted: empty is a new row; anything but an id is the page's fault."""
    if not typed:
        return None
    found = whole_number(typed, 1)
    if found is None:
        form.errors[name] = "Not a known id: reload the page"
    return found


def _modifier_groups(form: Form, typed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups as the models take them; what cannot be read gets its error and a stand-in, so
    the models still check everything else."""
    groups = []
    for i, group in enumerate(typed):
        name = f"group-{i}"
        choices = {}
        for bound, blank in (("min", 0), ("max", None)):
            text = group[bound]
            number = whole_number(text, 0, MAX_CHOICES) if text else blank
            if number is None:
                form.errors[f"{name}-{bound}"] = f"A whole number from 0 to {MAX_CHOICES}" if text else "Required"
            choices[bound] = number if number is not None else 1
        options = []
        for j, option in enumerate(group["options"]):
            where = f"{name}-option-{j}"
            try:
                cents = price_cents(option["price"]) if option["price"] else 0
            except ValueError as exc:
                form.errors[f"{where}-price"] = str(exc)
                cents = 0
            options.append(
                {
                    "id": _typed_id(form, f"{where}-id", option["id"]),
                    "name": option["name"],
                    "price_cents": cents,
                    "allergens": option["allergens"],
                    "recipe": _option_recipe(form, where, option["recipe"]),
                }
            )
        group_id = _typed_id(form, f"{name}-id", group["id"])
        groups.append({"id": group_id, "name": group["name"], "kind": group["kind"], **choices, "options": options})
    return groups


def menu_item(form: Form, model: type[M]) -> M:
    """A menu item (or its update) from the editor as typed (`menu_item_typed`): the price is typed
    as 12.50, an option's stock delta as 0.03 or -0.03."""
    values: dict[str, Any] = {name: form.values[name] for name in ("name", "description", "category", "station")}
    try:
        values["price_cents"] = price_cents(form.values["price"])
    except ValueError as exc:
        form.errors["price"] = str(exc)
        values["price_cents"] = 0  # a stand-in, so the other fields are still checked
    for name in MENU_NUMBERS:
        typed = form.values.get(name, "")
        if typed:  # digits become the number; anything else goes as typed, for the model to refuse
            number = whole_number(typed)
            values[name] = typed if number is None else number
    if TAX_RATE in form.values:
        typed = form.values[TAX_RATE]
        values[TAX_RATE] = None if typed == "" else (whole_number(typed) or typed)
    if form.groups is not None:
        values |= form.checked
        values["modifier_groups"] = _modifier_groups(form, form.groups)
    return validate(model, values, form)


def blank_group() -> dict[str, Any]:
    """A new group in the editor: optional, one choice, one blank option (a group needs one)."""
    return {"id": "", "name": "", "kind": "choice", "min": "0", "max": "1", "options": [blank_option()]}


def blank_option() -> dict[str, Any]:
    return {"id": "", "name": "", "price": "", "allergens": [], "recipe": []}


def menu_item_form(item: dict[str, Any], recipe: dict[str, Any]) -> Form:
    """The editor's fields for an existing item, the way `menu_item_typed` reads them back (12.50);
    `recipe` is the item's (services.get_recipe), for its options' stock deltas."""
    deltas = {
        option["option_id"]: [
            {"inventory_id": str(line["inventory_id"]), "quantity": str(line["quantity"])}
            for line in option["ingredients"]
        ]
        for option in recipe["options"]
    }
    return Form(
        {
            "name": item["name"],
            "description": item["description"],
            "price": amount_typed(item["price_cents"]),
            "category": item["category"],
            "station": item["station"],
            "prep_minutes": str(item["prep_minutes"]),
            "prep_load": str(item["prep_load"]),
            TAX_RATE: "" if item["tax_rate_id"] is None else str(item["tax_rate_id"]),
        },
        checked={name: list(item[name]) for name in MENU_CHECKBOXES},
        groups=[
            {
                "id": str(group["id"]),
                "name": group["name"],
                "kind": group["kind"],
                "min": str(group["min"]),
                "max": str(group["max"]),
                "options": [
                    {
                        "id": str(option["id"]),
                        "name": option["name"],
                        "price": amount_typed(option["price_cents"]),
                        "allergens": list(option["allergens"]),
                        "recipe": deltas.get(option["id"], []),
                    }
                    for option in group["options"]
                ],
            }
            for group in item["modifier_groups"]
        ],
    )


@dataclass
class RecipeForm:
    """The recipe editor's rows as typed (`inventory_id`, `quantity` each), and errors keyed
    `{row}.inventory_id` / `{row}.quantity` (`_` for the recipe as a whole)."""

    rows: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    notice: str | None = None

    @classmethod
    def typed(cls, data: Any) -> RecipeForm:
        """The rows from a posted form: `inventory_id` and `quantity` repeated, in row order."""
        ids, quantities = data.getlist("inventory_id"), data.getlist("quantity")
        count = max(len(ids), len(quantities))
        ids, quantities = ids + [""] * (count - len(ids)), quantities + [""] * (count - len(quantities))
        pairs = zip(ids, quantities, strict=True)
        rows = [{"inventory_id": str(i).strip(), "quantity": str(q).strip()} for i, q in pairs]
        return cls(rows)


def recipe(form: RecipeForm, stock_ids: set[int]) -> tuple[RecipeIn, list[int]]:
    """The recipe from the editor's rows (blank rows left out), and which row each ingredient came
    from (to put a service's error back on its row); RecipeInvalid with an error per row if refused."""
    lines: list[dict[str, Any]] = []
    origin: list[int] = []
    seen: set[int] = set()
    for i, row in enumerate(form.rows):
        typed_id, typed_quantity = row["inventory_id"], row["quantity"]
        if not typed_id and not typed_quantity:
            continue  # an empty row: nothing to add
        stock_id = whole_number(typed_id, 1)
        if not typed_id:
            form.errors[f"{i}.inventory_id"] = "Choose a stock item"
        elif stock_id is None or stock_id not in stock_ids:
            form.errors[f"{i}.inventory_id"] = "No such stock item"
        elif stock_id in seen:
            form.errors[f"{i}.inventory_id"] = "Already in this recipe: one row per stock item"
        try:
            quantity = amount(typed_quantity)
            if quantity == 0:
                form.errors[f"{i}.quantity"] = "More than 0"
        except ValueError:
            form.errors[f"{i}.quantity"] = "Enter a quantity like 1 or 0.25" if typed_quantity else "Required"
            quantity = Decimal(0)
        if stock_id is not None:
            seen.add(stock_id)
        lines.append({"inventory_id": stock_id or 0, "quantity": quantity})
        origin.append(i)
    if form.errors:
        raise RecipeInvalid(form)
    try:
        return RecipeIn.model_validate({"ingredients": lines}), origin
    except ValidationError as exc:
        for error in exc.errors():
            loc = error["loc"]
            if len(loc) >= 3 and loc[0] == "ingredients" and isinstance(loc[1], int):
                form.errors.setdefault(f"{origin[loc[1]]}.{loc[2]}", _reworded(error))
            else:
                form.errors.setdefault("_", _reworded(error).capitalize())
        raise RecipeInvalid(form) from exc


class RecipeInvalid(Exception):
    def __init__(self, form: RecipeForm) -> None:
        super().__init__(form.errors)
        self.form = form


def staff_member(data: Mapping[str, Any]) -> StaffIn:
    """The new account from the form: a stray space around the name is the form's, not the name's
    (the API refuses it); the password is taken exactly as typed, spaces included."""
    form = Form.typed(data, STAFF_FIELDS)
    values = {**form.values, "name": form.values["name"].strip(), "password": str(data.get("password") or "")}
    return validate(StaffIn, values, form)


# Opening hours, one input a day, typed as people write them: "11:30-14:30, 17:30-22:00"; empty: closed.
_INTERVAL = re.compile(r"^\s*([0-9]{1,2}:[0-9]{2})\s*[-–]\s*([0-9]{1,2}:[0-9]{2})\s*$")


def hours_form(week: dict[str, list[list[str]]]) -> Form:
    """The hours editor filled with the week as saved."""
    return Form({day: ", ".join(f"{opens}-{closes}" for opens, closes in week[day]) for day in WEEKDAYS})


def opening_hours(data: Mapping[str, Any]) -> HoursIn:
    """The week from the hours editor as typed; each day's problems under its input."""
    form = Form.typed(data, WEEKDAYS)
    week: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        week[day] = []
        for part in filter(None, (piece.strip() for piece in form.values[day].split(","))):
            found = _INTERVAL.match(part)
            if found is None:
                form.errors[day] = f"Write each interval like 11:30-14:30 (not {part!r})"
                break
            week[day].append([clock.zfill(5) for clock in found.groups()])
    try:
        return validate(HoursIn, week, form)
    except FormInvalid:
        errors = form.errors
        form.errors = {}
        for key, message in errors.items():  # `monday-0-1` (a time of an interval) is typed in `monday`
            form.errors.setdefault(key.split("-", 1)[0], message)
        raise
