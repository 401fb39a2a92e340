"""The online shop (`/`, `/cart`, `/checkout`): its endpoints and the cart kept in a signed cookie."""

from .endpoints import routes

__all__ = ["routes"]
