"""Online ordering: the public live menu, the cart in a signed cookie, and an idempotent checkout.

- `/` renders the menu and the cart; `/menu/stream` keeps the menu live (menu state only, never an
  order) with fragments rendered by the same partials: the whole menu (`menu`) on every
  (re)connection and when a dish is added or edited, one dish (`item`) when it sells out or comes
  back. Its frames carry no event ids, and the pages no "last event id": the gaps between ids would
  count the day's events (orders among them), so the stream resyncs instead of replaying.
- Online ordering's pace (services/online.py): the banner "Online ordering is paused until 19:30"
  (or the busy delay) comes with the page, out of band with the first menu frame, and as an
  `online` frame at each change (`menu.online`); while it is up, shop.css hides the checkout buttons
  and the order service refuses a public order anyway. Checkout offers only the slots with room.
- The cart lives in a signed cookie of the shop's own (cart.py says why not the session's)
  and is priced from the menu on every render. A dish with modifier groups has its options form
  (options.py); every price and allergen it shows is forkflow/choices.py's.
- "Free from": the customer's allergens to avoid are checkboxes whose rules (/shop/free-from.css,
  made from the vocabulary) hide the dishes that contain them and mark the options that add them,
  in the browser, so the menu stream's shared fragments and every swap of them keep the filter.
- Checkout asks about allergies; the cart panel flags the lines that contain them, and the order
  needs the customer's confirmation to go through (the order service's 409 decides).
- `/checkout` carries an idempotency key made when checkout started, kept in that cookie until an
  order goes through, so a double tap or a resubmit after a network error makes one order. The key
  is scoped to the cart's random id, so nobody else's checkout can replay or claim it.
- The cart and an anonymous checkout keep to the public order limits (forkflow/public_orders.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ... import (
    convertors,  # noqa: F401  (registers the {id:id} path convertor)
    idempotency,
    public_orders,
    services,
)
from ...auth.roles import principal_of
from ...config import Settings
from ...errors import Conflict, Invalid, NotFound, ServiceError
from ...events import Event, Subscription
from ...formats import contains, local_time
from ...live import FrameCache, Frames, Start, frame_cache, open_stream
from ...models import OrderIn
from ...numbers import MAX_ID
from ...request import client_address, is_htmx, store_of
from ...services import online
from ...services.bill import quote_lines
from ...services.orders import ALLERGY_CONFIRMATION_NEEDED
from ...store import Store
from ...vocabulary import ALLERGEN_LABELS, ALLERGENS
from ...web import templates
from ..http import check_public_rate, parse_model
from . import cart, options

FRAMES_KEPT = 256  # the menu pages' shared frames, by event


# The menu


def _categories(menu: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(name, list(items)) for name, items in groupby(menu, key=lambda item: item["category"])]


def render_menu(menu: list[dict[str, Any]]) -> str:
    return templates.get_template("shop/_menu.html").render(categories=_categories(menu))


def render_item(item: dict[str, Any]) -> str:
    return templates.get_template("shop/_item.html").render(item=item)


def online_view(state: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """What the shop's banner says of online ordering's pace (`Online.out`, or a `menu.online` event's data)."""
    return {"paused_text": online.paused_text(state, settings), "busy_minutes": state["busy_minutes"]}


async def _online_now(store: Store) -> dict[str, Any]:
    return online_view((await online.get_online(store)).out(datetime.now(UTC)), store.settings)


def render_online(view: dict[str, Any]) -> str:
    return templates.get_template("shop/_online.html").render(online=view)


async def _menu_frame(frames: FrameCache, store: Store, event_id: int) -> bytes:
    async def encoded() -> bytes:
        html = render_menu(await services.list_menu(store))
        return ServerSentEvent(html, event="menu").encode()

    return await frames.get((event_id, "shop", "menu"), encoded)


async def _first_frame(frames: FrameCache, store: Store, event_id: int) -> bytes:
    """The menu, and online ordering's pace as it is now (out of band: a `resume_at` passes without
    an event, so it is never cached): one frame, what a page that (re)connects needs."""

    async def encoded() -> bytes:
        return render_menu(await services.list_menu(store)).encode()

    menu = (await frames.get((event_id, "shop", "menu-html"), encoded)).decode()
    banner = f'<div id="online" hx-swap-oob="innerHTML">{render_online(await _online_now(store))}</div>'
    return ServerSentEvent(menu + banner, event="menu").encode()


async def menu_stream(request: Request) -> Response:
    """Public: menu state only, the whole menu first on every (re)connection, and no event ids."""
    store = store_of(request)
    frames = frame_cache(request, "shop", FRAMES_KEPT)

    async def render(event: Event, settled: bool) -> Frames:
        if event.type == "menu.online":

            async def banner() -> bytes:
                html = render_online(online_view(event.payload, store.settings))
                return ServerSentEvent(html, event="online").encode()

            return [await frames.get((event.id, "shop", "online"), banner)]
        if event.type != "menu.availability":  # a new or edited dish may move between categories
            return [await _menu_frame(frames, store, event.id)]

        async def encoded() -> bytes:
            return ServerSentEvent(render_item(event.payload), event="item").encode()

        return [await frames.get((event.id, "shop", "item"), encoded)]

    async def snapshot(sub: Subscription) -> Start:
        head = await store.last_event_id()
        return Start(head, render, prelude=[await _first_frame(frames, store, head)])

    return await open_stream(request, {"menu"}, snapshot)


def free_from_css(request: Request) -> Response:
    """The "free from" filter's rules, one pair per allergen of the vocabulary: a ticked
    `#free-from-WORD` hides the dishes whose `data-contains` has WORD and marks the options that add
    it. CSS (`:has`) applies them to whatever the menu stream swaps in, with or without JavaScript."""
    rules = []
    for word in ALLERGENS:
        ticked = f".shop-page:has(#free-from-{word}:checked)"
        rules.append(f'{ticked} .dish[data-contains~="{word}"] {{ display: none; }}')
        rules.append(f'{ticked} .option[data-contains~="{word}"] {{ background: #fee2e2; }}')
        rules.append(f'{ticked} .option[data-contains~="{word}"] .avoid-note {{ display: inline; }}')
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response("\n".join(rules) + "\n", media_type="text/css", headers=headers)


# The shop's cookie


def _limits(request: Request) -> public_orders.Limits:
    return public_orders.Limits.of(store_of(request).settings)


def _secret(request: Request) -> str:
    secret: str = request.app.state.session_secret
    return secret


def shop_state(request: Request) -> cart.ShopState:
    return cart.load(request.cookies.get(cart.COOKIE), _secret(request))


def _set_cookie(request: Request, response: Response, value: str) -> Response:
    response.set_cookie(
        cart.COOKIE,
        value,
        max_age=cart.MAX_AGE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=store_of(request).settings.secure_cookies,
    )
    return response


def remember(request: Request, response: Response, state: cart.ShopState) -> Response:
    """Keep `state` in the shop's cookie (only the shop's own answers set it: see cart.py)."""
    return _set_cookie(request, response, cart.dump(state, _secret(request)))


# The cart


def _at_checkout(value: object) -> bool:
    return value == "checkout"


def allergens_in(words: Sequence[object]) -> list[str]:
    """The allergen words among `words` (a form's or a query's), once each, in the law's order."""
    return [word for word in ALLERGENS if word in words]


def allergy_state(params: FormData | QueryParams) -> dict[str, Any]:
    """The checkout's allergy answers as a request carries them (the cart panel's requests include them)."""
    return {
        "allergies": allergens_in(params.getlist("allergies")),
        "confirmed": params.get("allergies_confirmed") == "yes",
    }


def _flag_text(words: list[str]) -> str:
    return contains(words).capitalize()


async def _cart_context(
    store: Store, state: cart.ShopState, server_flags: Mapping[int, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The cart panel's context. At checkout, `flags` names the lines that contain the allergies
    given ({line key: text}); `server_flags` ({line index: text}, the order service's 409) wins."""
    menu = await services.list_menu(store)
    priced = cart.price(state.lines, menu)
    orderable = [(line.menu_item_id, line.unit_price_cents, line.quantity) for line in priced.lines if line.orderable]
    context: dict[str, Any] = {
        "cart": priced,
        "quote": await quote_lines(store, orderable, "online"),
        "cart_errors": {},
        "cart_typed": {},
        "cart_message": None,
        "cart_error": None,
        "at_checkout": False,
        "allergies": [],
        "confirmed": False,
        "oob": False,
    }
    context.update(extra)
    found = priced.flags(context["allergies"])
    flags = {key: _flag_text(words) for key, words in found.items()}
    for index, text in (server_flags or {}).items():
        if index < len(priced.lines):
            flags[priced.lines[index].key] = text[:1].upper() + text[1:]
    context["flags"] = flags
    flagged = {word for words in found.values() for word in words}
    context["flagged_words"] = [word for word in context["allergies"] if word in flagged]
    context["allergen_labels"] = ALLERGEN_LABELS
    context["menu"] = menu
    return context


async def _menu_page(request: Request, state: cart.ShopState, status: int = 200, **extra: Any) -> Response:
    context = await _cart_context(store_of(request), state, **extra)
    context.update(
        {
            "online": await _online_now(store_of(request)),
            "categories": _categories(context["menu"]),
            "last_order": state.placed_url,
            "free_from": allergens_in(request.query_params.getlist("free_from")),
        }
    )
    return templates.TemplateResponse(request, "shop/menu.html", context, status_code=status)


async def home(request: Request) -> Response:
    return await _menu_page(request, shop_state(request))


async def _cart_answer(request: Request, state: cart.ShopState, status: int = 200, **extra: Any) -> Response:
    """htmx gets the cart panel (also on 409/422: it shows the error inline); a plain form post gets
    the whole page back on an error, or is sent back to it."""
    at_checkout = bool(extra.get("at_checkout"))
    if not is_htmx(request):
        if status == 200:
            return RedirectResponse("/checkout" if at_checkout else "/", status_code=303)
        if at_checkout:
            return await _checkout_page(request, state, status, **extra)
        return await _menu_page(request, state, status, **extra)
    context = await _cart_context(store_of(request), state, oob=at_checkout, **extra)
    return templates.TemplateResponse(request, "shop/_cart.html", context, status_code=status)


async def _changed(request: Request, state: cart.ShopState, **extra: Any) -> Response:
    """Answer a cart change that worked, and keep the new cart; one too big for the cookie is refused."""
    try:
        value = cart.dump(state, _secret(request), headroom=cart.CHECKOUT_HEADROOM)
    except Invalid as error:
        extra.pop("cart_message", None)
        return await _cart_answer(request, shop_state(request), error.status, cart_error=error.message, **extra)
    return _set_cookie(request, await _cart_answer(request, state, **extra), value)


async def cart_panel(request: Request) -> Response:
    at_checkout = _at_checkout(request.query_params.get("view"))
    if not is_htmx(request):
        return RedirectResponse("/checkout" if at_checkout else "/", status_code=303)
    return await _cart_answer(
        request, shop_state(request), at_checkout=at_checkout, **allergy_state(request.query_params)
    )


async def _item_refused(
    request: Request, state: cart.ShopState, item: dict[str, Any], form: options.ItemForm, error: ServiceError
) -> Response:
    """A dish's options refused: its form again, open, with what was chosen and the group's message.
    htmx swaps it over the dish (HX-Retarget); a plain form post gets the whole menu page."""
    if not is_htmx(request):
        return await _menu_page(request, state, error.status, item_forms={item["id"]: form})
    html = templates.get_template("shop/_item.html").render(item=item, item_forms={item["id"]: form})
    headers = {"HX-Retarget": f"#item-{item['id']}", "HX-Reswap": "outerHTML"}
    return HTMLResponse(html, status_code=error.status, headers=headers)


def _with_options(name: str, priced: cart.PricedLine) -> str:
    chosen = [f"{o.name}{f' × {o.times}' if o.times > 1 else ''}" for o in priced.options]
    return f"{name} ({', '.join(chosen)})" if chosen else name


async def add_to_cart(request: Request) -> Response:
    form = await request.form()
    at_checkout = _at_checkout(form.get("view"))
    state = shop_state(request)
    try:
        item_id = cart.whole_number(form.get("menu_item_id"), "menu_item_id", 1, MAX_ID)
        raw_quantity = form.get("quantity")
        quantity = (
            1 if raw_quantity in (None, "") else cart.whole_number(raw_quantity, "quantity", 1, cart.MAX_QUANTITY)
        )
        menu = {item["id"]: item for item in await services.list_menu(store_of(request))}
        dish = menu.get(item_id)
        if dish is None:
            raise Invalid("that dish is not on the menu", {"menu_item_id": "not on the menu"})
        if not dish["available"]:
            raise Conflict(f"{dish['name']} is sold out", {"menu_item_id": "sold out"})
        item_form = options.read(dish, form)
        refused = options.refusal(dish, item_form)
        if refused is not None:
            return await _item_refused(request, state, dish, item_form, refused)
        lines = cart.add(state.lines, item_id, quantity, _limits(request), item_form.option_ids())
    except ServiceError as error:
        return await _cart_answer(request, state, error.status, cart_error=error.message, at_checkout=at_checkout)
    state.lines = lines
    added = cart.price_line(cart.CartLine(item_id, quantity, "", tuple(sorted(item_form.option_ids()))), dish)
    message = f"Added {quantity} × {_with_options(dish['name'], added)}"
    return await _changed(request, state, cart_message=message, at_checkout=at_checkout)


async def chosen_price(request: Request) -> Response:
    """The options form's price and allergens for the options chosen so far (htmx, on each change)."""
    menu = {item["id"]: item for item in await services.list_menu(store_of(request))}
    item = menu.get(request.path_params["id"])
    if item is None:
        raise NotFound("that dish is not on the menu")
    form = options.read(item, request.query_params)
    return HTMLResponse(templates.get_template("shop/_chosen.html").render(item=item, form=form))


async def change_cart_line(request: Request) -> Response:
    form = await request.form()
    at_checkout = _at_checkout(form.get("view"))
    key = request.path_params["key"]
    typed = {"quantity": str(form.get("quantity", ""))[:10], "notes": str(form.get("notes", ""))[:1000]}
    state = shop_state(request)
    allergies = allergy_state(form)
    if cart.find(state.lines, key) is None:
        error = "that dish is no longer in your cart"
        return await _cart_answer(request, state, 409, cart_error=error, at_checkout=at_checkout, **allergies)
    errors: dict[str, str] = {}
    quantity, notes = 0, ""
    try:
        quantity = cart.whole_number(typed["quantity"], "quantity", 1, cart.MAX_QUANTITY)
    except Invalid as error:
        errors.update(error.fields or {})
    try:
        notes = cart.notes_field(typed["notes"])
    except Invalid as error:
        errors.update(error.fields or {})
    if errors:
        return await _cart_answer(
            request,
            state,
            422,
            cart_errors={key: errors},
            cart_typed={key: typed},
            cart_error="check the highlighted line",
            at_checkout=at_checkout,
            **allergies,
        )
    try:
        state.lines = cart.replace(state.lines, key, quantity, notes, _limits(request))
    except Invalid as error:
        return await _cart_answer(
            request,
            state,
            error.status,
            cart_errors={key: error.fields or {}},
            cart_typed={key: typed},
            cart_error=error.message,
            at_checkout=at_checkout,
            **allergies,
        )
    return await _changed(request, state, cart_message="Cart updated", at_checkout=at_checkout, **allergies)


async def remove_cart_line(request: Request) -> Response:
    form = await request.form()
    state = shop_state(request)
    state.lines = cart.remove(state.lines, request.path_params["key"])
    return await _changed(
        request,
        state,
        cart_message="Removed from your cart",
        at_checkout=_at_checkout(form.get("view")),
        **allergy_state(form),
    )


# Checkout


async def _checkout_page(
    request: Request,
    state: cart.ShopState,
    status: int = 200,
    *,
    values: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
    error: str | None = None,
    headers: dict[str, str] | None = None,
    **cart_extra: Any,
) -> Response:
    """The checkout page. Its form carries the checkout's idempotency key: made when checkout
    starts (the first time this page is shown with a cart), kept until an order goes through."""
    store = store_of(request)
    fresh_key = state.cart_id is None or not idempotency.is_valid(state.checkout_key)
    if fresh_key:
        state.cart_id = state.cart_id or cart.new_id()
        state.checkout_key = idempotency.new_key("web")
    cart_extra["at_checkout"] = True
    context = await _cart_context(store, state, **cart_extra)
    context.update(
        {
            "key": state.checkout_key,
            "pickup_times": await _pickup_choices(store),
            "asap_ready": await _asap_ready(store, state.lines),
            "online": await _online_now(store),
            "values": values or {"customer_name": "", "notes": "", "pickup_at": ""},
            "fields": fields or {},
            "error": error,
        }
    )
    response = templates.TemplateResponse(request, "shop/checkout.html", context, status_code=status, headers=headers)
    return remember(request, response, state) if fresh_key else response


async def _pickup_choices(store: Store) -> list[tuple[str, str]]:
    """The checkout's "Pickup at" options, as (value sent, label): "Today 19:30", "Tomorrow 12:00"."""
    now = datetime.now(UTC)
    zone = store.settings.timezone
    today = now.astimezone(zone).date()
    choices = []
    for moment in await online.offered_slots(store, now):
        local = moment.astimezone(zone)
        day = "Today" if local.date() == today else "Tomorrow"
        choices.append((local.isoformat(), f"{day} {local_time(moment, zone)}"))
    return choices


async def _asap_ready(store: Store, lines: list[cart.CartLine]) -> str | None:
    """When the cart would be ready if ordered now, as the local clock ("19:42"), from the kitchen's
    queue: each station's work (prep minutes × quantity) and longest prep time."""
    dishes = {item["id"]: item for item in await services.list_menu(store)}
    parts: dict[str, tuple[float, int]] = {}
    for line in lines:
        dish = dishes.get(line.menu_item_id)
        if dish is not None:
            work, longest = parts.get(dish["station"], (0.0, 0))
            prep = int(dish["prep_minutes"])
            parts[dish["station"]] = (work + prep * line.quantity, max(longest, prep))
    parts_list = [(station, *part) for station, part in parts.items()]
    ready_by = await services.quote_new(store, parts_list, await services.busy_delay(store))
    return None if ready_by is None else local_time(ready_by, store.settings.timezone)


async def checkout_page(request: Request) -> Response:
    return await _checkout_page(request, shop_state(request))


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _form_fields(error: ServiceError) -> dict[str, str]:
    """pydantic's field names to the form's; the lines' errors belong to the cart, not the form."""
    return {
        name: text for name, text in (error.fields or {}).items() if name in ("customer_name", "notes", "pickup_at")
    }


def _line_flags(error: ServiceError) -> dict[int, str]:
    """{line index: "contains milk"} from the order service's 409 for the customer's allergies."""
    if error.extra.get("reason") != ALLERGY_CONFIRMATION_NEEDED:
        return {}
    found = {}
    for name, text in (error.fields or {}).items():
        index = name.removeprefix("items.")
        if index.isdigit():
            found[int(index)] = text
    return found


async def place_order(request: Request) -> Response:
    form = await request.form()
    values = {
        "customer_name": str(form.get("customer_name", ""))[:200],
        "notes": str(form.get("notes", ""))[:2000],
        "pickup_at": str(form.get("pickup_at", ""))[:100],
    }
    answers = allergy_state(form)
    key = str(form.get("idempotency_key", ""))
    state = shop_state(request)
    if state.placed_url and state.placed_key == key:
        return RedirectResponse(state.placed_url, status_code=303)  # the same checkout, sent again
    anonymous = principal_of(request) is None
    try:
        if anonymous:
            check_public_rate(request)  # the same allowance as POST /orders
        if not idempotency.is_valid(key) or state.cart_id is None:
            state.checkout_key = None  # the page shows a fresh one
            raise Invalid("this checkout form is out of date: check your order and place it again")
        if not state.lines:
            raise Invalid("your cart is empty: add something from the menu first")
        data = parse_model(
            OrderIn,
            {
                "customer_name": values["customer_name"],
                "notes": values["notes"],
                "channel": "online",
                "items": [
                    {
                        "menu_item_id": x.menu_item_id,
                        "quantity": x.quantity,
                        "notes": x.notes,
                        "modifiers": list(x.modifiers),
                    }
                    for x in state.lines
                ],
                "allergies": answers["allergies"],
                "allergies_confirmed": answers["confirmed"],
                **({"pickup_at": values["pickup_at"]} if values["pickup_at"] else {}),
            },
        )
        stored_key = idempotency.stored(idempotency.cart_scope(state.cart_id), key)
        if anonymous:
            order, _ = await public_orders.place(request, data, stored_key, client_address(request))
        else:
            order, _ = await services.create_order(store_of(request), data, stored_key)
    except ServiceError as error:
        if isinstance(error, idempotency.KeyReused):
            state.checkout_key = None
        flags = _line_flags(error)
        message = _sentence(error.message)
        if flags:
            message = "Some dishes contain your allergies: check the flagged ones, tick the box, then place your order."
        elif error.extra.get("reason") in (online.ONLINE_PAUSED, online.SLOT_FULL):
            message += "."
        elif isinstance(error, Conflict):
            message += ". Remove it from your cart, then place your order."
        headers = error.answer_headers()
        return await _checkout_page(
            request,
            state,
            error.status,
            values=values,
            fields=_form_fields(error),
            error=message,
            headers=headers,
            server_flags=flags,
            allergies=answers["allergies"],
            confirmed=answers["confirmed"],
        )
    done = cart.ShopState(cart_id=state.cart_id, placed_key=key, placed_url=order["tracking_url"])
    return remember(request, RedirectResponse(order["tracking_url"], status_code=303), done)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/menu/stream", menu_stream, methods=["GET"]),
    Route("/cart", cart_panel, methods=["GET"]),
    Route("/cart/items", add_to_cart, methods=["POST"]),
    Route("/cart/lines/{key:token}", change_cart_line, methods=["POST"]),
    Route("/cart/lines/{key:token}/remove", remove_cart_line, methods=["POST"]),
    Route("/menu/items/{id:id}/price", chosen_price, methods=["GET"]),
    Route("/shop/free-from.css", free_from_css, methods=["GET"]),
    Route("/checkout", checkout_page, methods=["GET"]),
    Route("/checkout", place_order, methods=["POST"]),
]
