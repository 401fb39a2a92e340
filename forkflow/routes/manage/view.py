"""What the manager's console shows, section by section.

Each section is one Jinja partial (`templates/manage/_*.html`), rendered by `fragment` for the first
page load, for the answer to a form post, and for the console's stream alike, so a section looks
the same however it arrived.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

from starlette.requests import Request

from ... import services
from ...auth.middleware import csrf_token
from ...auth.roles import principal_of
from ...config import Settings
from ...events import Event
from ...formats import local_time, money, percent
from ...numbers import MAX_BUSY_MINUTES, MAX_PREP_LOAD, MAX_PREP_MINUTES, MAX_SLOT_LOAD, MAX_SLOT_ORDERS
from ...services import discounts, hours, online, printers, releases, reports, sight, taxes
from ...services.courses import COURSES
from ...services.money_settings import get_money_settings
from ...services.releases import ASAP_MARK
from ...services.staff import list_staff
from ...store import Store
from ...vocabulary import (
    ALLERGEN_LABELS,
    DIETARY_LABELS,
    MODIFIER_KIND_LABELS,
    PRINTER_ROLES,
    ROLES,
    TAX_ROUNDINGS,
    WEEKDAYS,
    StockReason,
    spoken,
)
from ...web import templates
from .charts import columns, rows
from .forms import Form, RecipeForm, hours_form, menu_item_form

# What the console's stream keeps up to date ("sight": the kitchen's screens and unseen tickets).
LIVE_SECTIONS = ("charts", "menu", "inventory", "schedule", "sight", "printers", "taxes", "reasons")
PRINTER_EVENTS = ("printer.", "print.")  # of the kitchen topic, those that change the printers section
SECTION_OF_TOPIC = {"orders": "charts", "menu": "menu", "inventory": "inventory", "kitchen": "sight", "money": "taxes"}
TAX_EVENTS = "tax."  # of the money topic, those that change the taxes section
REASON_EVENTS = "discount.reason_"  # of the money topic, those that change the discount reasons
MOVEMENTS_SHOWN = 20
# The stock form's reasons (forkflow/vocabulary.py's STOCK_REASONS), in the order its select shows them.
STOCK_REASON_LABELS: dict[StockReason, str] = {
    "restock": "Restock: add",
    "waste": "Waste: take away",
    "count": "Count: set to",
}
CHOOSE_A_REASON = f"Choose {spoken(list(STOCK_REASON_LABELS))}"


def sections_of(event: Event) -> set[str]:
    """The live sections an event makes stale: a recipe change shows in the menu list; a scheduled
    order's events in the scheduled list."""
    if event.type == "inventory.recipe":
        return {"menu"}
    if event.type == "menu.categories":
        return {"menu", "taxes"}  # (a category's tax rate)
    if event.topic == "money" and event.type.startswith(REASON_EVENTS):
        return {"reasons"}
    if event.topic == "money":
        return {"taxes"} if event.type.startswith(TAX_EVENTS) else set()
    if event.topic == "orders" and ASAP_MARK not in event.data:
        return {"charts", "schedule", "sight"}
    if event.topic == "orders":
        return {"charts", "sight"}  # (a ticket reaching, or leaving, the rail: the "seen by" list)
    if event.topic == "kitchen" and event.type.startswith(PRINTER_EVENTS):
        return {"printers"}  # (the kitchen topic's other events are proof of sight's: SECTION_OF_TOPIC)
    return {SECTION_OF_TOPIC[event.topic]}


def fragment(request: Request, name: str, **context: Any) -> str:
    """The partial `manage/_{name}.html`, with what every form in it needs from the request."""
    principal = principal_of(request)
    # A bearer-token client needs no CSRF token, and must not be handed a session cookie for one
    # (with a cookie, its next request would need the token).
    token = "" if principal is not None and principal.via == "token" else csrf_token(request.session)
    shared = {"csrf_token": token, "principal": principal}
    return templates.get_template(f"manage/_{name}.html").render(**shared, **context)


def duration(seconds: float | None) -> str:
    """A prep time as minutes:seconds, rounded to the second."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def glance(today: reports.Today) -> dict[str, Any]:
    """Today's figures, and the geometry of their charts."""
    hours = today.hours
    day = date.fromisoformat(today.business_date)
    return {
        "day": f"{day:%A} {day.day} {day:%B %Y}",
        "today": today,
        "revenue": money(today.revenue_cents),
        "prep_avg": duration(today.prep_avg_seconds),
        "prep_p90": duration(today.prep_p90_seconds),
        "orders_chart": columns(
            [
                (h.label, h.orders, str(h.orders), f"{h.label}: {h.orders} order{'' if h.orders == 1 else 's'}")
                for h in hours
            ]
        ),
        "revenue_chart": columns(
            [
                (
                    h.label,
                    h.revenue_cents,
                    money(h.revenue_cents),
                    f"{h.label}: {money(h.revenue_cents)} revenue",
                )
                for h in hours
            ]
        ),
        "top_chart": rows(
            [
                (
                    i.name,
                    i.quantity,
                    str(i.quantity),
                    f"{i.name}: {i.quantity} sold, {money(i.revenue_cents)}",
                )
                for i in today.top_items
            ]
        ),
    }


async def charts_context(store: Store) -> dict[str, Any]:
    return glance(await reports.today(store))


async def menu_context(store: Store) -> dict[str, Any]:
    """The menu by category, in the menu's order, with each item's recipe (by item id) for its summary."""
    menu = await services.list_menu(store)
    rates = await taxes.list_tax_rates(store)
    return {
        "allergen_labels": ALLERGEN_LABELS,
        "dietary_labels": DIETARY_LABELS,
        "modifier_kind_labels": MODIFIER_KIND_LABELS,
        "max_prep_minutes": MAX_PREP_MINUTES,
        "max_prep_load": MAX_PREP_LOAD,
        "recipes": await services.list_recipes(store),
        "categories": [(name, list(items)) for name, items in groupby(menu, key=lambda item: item["category"])],
        "category_names": sorted({item["category"] for item in menu}),
        "category_courses": {c["name"]: c["course"] for c in (await services.list_categories(store))["categories"]},
        "courses": COURSES,
        "kitchen_settings": await services.get_kitchen_settings(store),
        "station_names": sorted({item["station"] for item in menu}),
        "tax_rate_choices": [("", "Its category's rate")]
        + [(rate["id"], f"{rate['name']} ({percent(rate['percent'])})") for rate in rates["tax_rates"]],
    }


async def editor_form(store: Store, item: dict[str, Any]) -> Form:
    """The menu editor filled with a saved item, its options' stock deltas included."""
    return menu_item_form(item, await services.get_recipe(store, item["id"]))


async def inventory_context(
    store: Store, errors: dict[int, str] | None = None, typed: dict[int, dict[str, str]] | None = None
) -> dict[str, Any]:
    """The stock table; `errors` and `typed` (by item id) show a refused adjustment in its row."""
    return {
        "stock": await services.list_inventory(store),
        "row_errors": errors or {},
        "row_typed": typed or {},
        "stock_reasons": STOCK_REASON_LABELS,
    }


async def recipe_context(store: Store, item: dict[str, Any], form: RecipeForm | None = None) -> dict[str, Any]:
    """The recipe editor of one menu item: as saved (plus an empty row to add to), or `form` as typed."""
    if form is None:
        ingredients = (await services.get_recipe(store, item["id"]))["ingredients"]
        rows = [{"inventory_id": str(line["inventory_id"]), "quantity": str(line["quantity"])} for line in ingredients]
        form = RecipeForm(rows + [{"inventory_id": "", "quantity": ""}])
    return {"recipe_item": item, "recipe_form": form, "stock_choices": await services.list_inventory(store)}


async def movements_context(store: Store, item_id: int) -> dict[str, Any]:
    """One stock item's last movements, newest first, with local times."""
    item = await services.get_inventory_item(store, item_id)
    moves = await services.list_movements(store, item_id, MOVEMENTS_SHOWN)
    return {"movements_item": item, "movements": moves, "zone": store.settings.timezone}


async def schedule_context(store: Store, form: Form | None = None) -> dict[str, Any]:
    """The orders held for later, by pickup time, and the opening hours (`form`: as typed, refused)."""
    return {
        "scheduled": await releases.held_orders(store),
        "hours_form": form or hours_form(await hours.get_hours(store)),
        "weekdays": WEEKDAYS,
        "zone": store.settings.timezone,
    }


async def sight_context(store: Store) -> dict[str, Any]:
    """The kitchen's screens (online or not, last heartbeat), the tickets a station has not seen, and
    who saw each ticket on the rail."""
    return {
        "screens": await sight.list_screens(store),
        "alerts": await sight.alerts(store),
        "tickets": await sight.on_the_rail(store),
        "zone": store.settings.timezone,
    }


def online_form(state: dict[str, Any], settings: Settings) -> Form:
    """The form as the settings are now (`Online.out`)."""
    until = state["resume_at"]
    return Form(
        {
            "until": local_time(until, settings.timezone) if until else "",
            "busy_minutes": str(state["busy_minutes"]),
            "slot_orders": "" if state["slot_orders"] is None else str(state["slot_orders"]),
            "slot_load": "" if state["slot_load"] is None else str(state["slot_load"]),
        }
    )


async def online_context(store: Store, form: Form | None = None) -> dict[str, Any]:
    state = (await online.get_online(store)).out(datetime.now(UTC))
    return {
        "online": state,
        "online_status": online.paused_text(state, store.settings) or "Online ordering is open",
        "online_form": form or online_form(state, store.settings),
        "online_limits": {"busy": MAX_BUSY_MINUTES, "orders": MAX_SLOT_ORDERS, "load": MAX_SLOT_LOAD},
    }


async def taxes_context(
    store: Store, rate_form: Form | None = None, categories_form: Form | None = None, money_form: Form | None = None
) -> dict[str, Any]:
    """The tax rates, each category's rate, the money settings, and their forms (as typed when refused)."""
    from .taxes import settings_form

    return {
        "tax_rates": (await taxes.list_tax_rates(store))["tax_rates"],
        "tax_categories": (await services.list_categories(store))["categories"],
        "rate_form": rate_form or Form(),
        "categories_form": categories_form or Form(),
        "money_form": money_form or settings_form((await get_money_settings(store)).out()),
        "tax_roundings": TAX_ROUNDINGS,
    }


async def reasons_context(store: Store, form: Form | None = None) -> dict[str, Any]:
    """The discount and comp reasons, and the form to add one (as typed when refused)."""
    return {"reasons": await discounts.list_reasons(store), "reason_form": form or Form()}


async def printers_context(store: Store, form: Form | None = None) -> dict[str, Any]:
    """The printers with their live status, and the add/edit form (empty unless given)."""
    from .printers import printer_form

    listed = await printers.list_printers(store)
    names = {printer["id"]: printer["name"] for printer in listed}
    return {
        "printers": listed,
        "printer_names": names,
        "printer_form": form or printer_form(),
        "printer_roles": PRINTER_ROLES,
        "zone": store.settings.timezone,
    }


async def staff_context(store: Store) -> dict[str, Any]:
    return {"staff": await list_staff(store), "roles": ROLES}


async def live_section(request: Request, store: Store, name: str) -> str:
    """One live section as the stream sends it (the same partial as the page)."""
    if name == "charts":
        return fragment(request, "charts", **await charts_context(store))
    if name == "menu":
        return fragment(request, "menu_list", **await menu_context(store))
    if name == "schedule":
        return fragment(request, "scheduled_list", **await schedule_context(store))
    if name == "printers":
        return fragment(request, "printer_list", **await printers_context(store))
    if name == "sight":
        return fragment(request, "sight", **await sight_context(store))
    if name == "taxes":
        return fragment(request, "tax_list", **await taxes_context(store))
    if name == "reasons":
        return fragment(request, "reason_list", **await reasons_context(store))
    return fragment(request, "inventory_list", **await inventory_context(store))
