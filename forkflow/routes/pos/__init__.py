"""The till (`/pos`): its endpoints and the ticket the server re-prices on every change."""

from .endpoints import routes

__all__ = ["routes"]
