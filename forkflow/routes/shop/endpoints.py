"""Online ordering: the public live menu, the cart in a signed cookie, and an idempotent checkout.

- `/` renders the menu and the cart; `/menu/stream` keeps the menu live (menu state only, never an
  order) with fragments rendered by the same partials: the whole menu (`menu`) on every
  (re)connection and when a dish is added or edited, one dish (`item`) when it sells out or comes
  back. Its frames carry no event ids, and the pages no "last event id": the gaps between ids would
  count the day's events (orders among them), so the stream resyncs instead of replaying.
- The cart lives in a signed cookie of the shop's own (cart.py says why not the session's)
  and is priced from the menu on every render.
- `/checkout` carries an idempotency key made when checkout started, kept in that cookie until an
  order goes through, so a double tap or a resubmit after a network error makes one order. The key
  is scoped to the cart's random id, so nobody else's checkout can replay or claim it.
- The cart and an anonymous checkout keep to the public order limits (forkflow/public_orders.py).
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ... import (
    convertors,  # noqa: F401  (registers the {id:id} path convertor)
    idempotency,
    public_orders,
    services,
)
from ...auth.roles import principal_of
from ...errors import Conflict, Invalid, ServiceError
from ...events import Event, Subscription
from ...live import FrameCache, Frames, Start, frame_cache, open_stream
from ...models import OrderIn
from ...numbers import MAX_ID
from ...request import client_address, is_htmx, store_of
from ...store import Store
from ...web import templates
from ..http import check_public_rate, parse_model
from . import cart

FRAMES_KEPT = 256  # the menu pages' shared frames, by event


# The menu


def _categories(menu: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(name, list(items)) for name, items in groupby(menu, key=lambda item: item["category"])]


def render_menu(menu: list[dict[str, Any]]) -> str:
    return templates.get_template("shop/_menu.html").render(categories=_categories(menu))


def render_item(item: dict[str, Any]) -> str:
    return templates.get_template("shop/_item.html").render(item=item)


async def _menu_frame(frames: FrameCache, store: Store, event_id: int) -> bytes:
    async def encoded() -> bytes:
        html = render_menu(await services.list_menu(store))
        return ServerSentEvent(html, event="menu").encode()

    return await frames.get((event_id, "shop", "menu"), encoded)


async def menu_stream(request: Request) -> Response:
    """Public: menu state only, the whole menu first on every (re)connection, and no event ids."""
    store = store_of(request)
    frames = frame_cache(request, "shop", FRAMES_KEPT)

    async def render(event: Event, settled: bool) -> Frames:
        if event.type != "menu.availability":  # a new or edited dish may move between categories
            return [await _menu_frame(frames, store, event.id)]

        async def encoded() -> bytes:
            return ServerSentEvent(render_item(event.payload), event="item").encode()

        return [await frames.get((event.id, "shop", "item"), encoded)]

    async def snapshot(sub: Subscription) -> Start:
        head = await store.last_event_id()
        return Start(head, render, prelude=[await _menu_frame(frames, store, head)])

    return await open_stream(request, {"menu"}, snapshot)


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


async def _cart_context(store: Store, state: cart.ShopState, **extra: Any) -> dict[str, Any]:
    menu = await services.list_menu(store)
    context: dict[str, Any] = {
        "cart": cart.price(state.lines, menu),
        "cart_errors": {},
        "cart_typed": {},
        "cart_message": None,
        "cart_error": None,
        "at_checkout": False,
    }
    context.update(extra)
    context["menu"] = menu
    return context


async def _menu_page(request: Request, state: cart.ShopState, status: int = 200, **extra: Any) -> Response:
    context = await _cart_context(store_of(request), state, **extra)
    context.update({"categories": _categories(context["menu"]), "last_order": state.placed_url})
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
    context = await _cart_context(store_of(request), state, **extra)
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
    return await _cart_answer(request, shop_state(request), at_checkout=at_checkout)


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
        lines = cart.add(state.lines, item_id, quantity, _limits(request))
    except ServiceError as error:
        return await _cart_answer(request, state, error.status, cart_error=error.message, at_checkout=at_checkout)
    state.lines = lines
    return await _changed(request, state, cart_message=f"Added {quantity} × {dish['name']}", at_checkout=at_checkout)


async def change_cart_line(request: Request) -> Response:
    form = await request.form()
    at_checkout = _at_checkout(form.get("view"))
    item_id = request.path_params["id"]
    typed = {"quantity": str(form.get("quantity", ""))[:10], "notes": str(form.get("notes", ""))[:1000]}
    state = shop_state(request)
    if not any(line.menu_item_id == item_id for line in state.lines):
        error = "that dish is no longer in your cart"
        return await _cart_answer(request, state, 409, cart_error=error, at_checkout=at_checkout)
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
            cart_errors={item_id: errors},
            cart_typed={item_id: typed},
            cart_error="check the highlighted line",
            at_checkout=at_checkout,
        )
    try:
        state.lines = cart.replace(state.lines, cart.CartLine(item_id, quantity, notes), _limits(request))
    except Invalid as error:
        return await _cart_answer(
            request,
            state,
            error.status,
            cart_errors={item_id: error.fields or {}},
            cart_typed={item_id: typed},
            cart_error=error.message,
            at_checkout=at_checkout,
        )
    return await _changed(request, state, cart_message="Cart updated", at_checkout=at_checkout)


async def remove_cart_line(request: Request) -> Response:
    form = await request.form()
    state = shop_state(request)
    state.lines = cart.remove(state.lines, request.path_params["id"])
    return await _changed(
        request, state, cart_message="Removed from your cart", at_checkout=_at_checkout(form.get("view"))
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
            "values": values or {"customer_name": "", "notes": ""},
            "fields": fields or {},
            "error": error,
        }
    )
    response = templates.TemplateResponse(request, "shop/checkout.html", context, status_code=status, headers=headers)
    return remember(request, response, state) if fresh_key else response


async def checkout_page(request: Request) -> Response:
    return await _checkout_page(request, shop_state(request))


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _form_fields(error: ServiceError) -> dict[str, str]:
    """pydantic's field names to the form's; the lines' errors belong to the cart, not the form."""
    return {name: text for name, text in (error.fields or {}).items() if name in ("customer_name", "notes")}


async def place_order(request: Request) -> Response:
    form = await request.form()
    values = {"customer_name": str(form.get("customer_name", ""))[:200], "notes": str(form.get("notes", ""))[:2000]}
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
                    {"menu_item_id": x.menu_item_id, "quantity": x.quantity, "notes": x.notes} for x in state.lines
                ],
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
        message = _sentence(error.message)
        if isinstance(error, Conflict):
            message += ". Remove it from your cart, then place your order."
        headers = error.answer_headers()
        return await _checkout_page(
            request, state, error.status, values=values, fields=_form_fields(error), error=message, headers=headers
        )
    done = cart.ShopState(cart_id=state.cart_id, placed_key=key, placed_url=order["tracking_url"])
    return remember(request, RedirectResponse(order["tracking_url"], status_code=303), done)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/menu/stream", menu_stream, methods=["GET"]),
    Route("/cart", cart_panel, methods=["GET"]),
    Route("/cart/items", add_to_cart, methods=["POST"]),
    Route("/cart/items/{id:id}", change_cart_line, methods=["POST"]),
    Route("/cart/items/{id:id}/remove", remove_cart_line, methods=["POST"]),
    Route("/checkout", checkout_page, methods=["GET"]),
    Route("/checkout", place_order, methods=["POST"]),
]
