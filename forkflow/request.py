"""What a handler reads off its request, below every route: the app's store, the caller's address,
and whether htmx sent it. The live-stream toolkit and the stream bounds need these too, so they
live here rather than in `routes/` (nothing below `routes/` imports from it)."""

from __future__ import annotations

from starlette.requests import Request

from .store import Store


def store_of(request: Request) -> Store:
    """The store of the app answering `request` (made by its lifespan: one per app)."""
    store: Store = request.app.state.store
    return store


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_htmx(request: Request) -> bool:
    """Sent by htmx (it wants a fragment, or a 204 it can ignore), not by a browser navigating
    or posting a plain form (it wants a page, or a redirect to one)."""
    return "hx-request" in request.headers
