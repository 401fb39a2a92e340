"""The till (`/pos`): its endpoints, the ticket the server re-prices on every change, and its money
screens (pay.py: an order's Pay panel, the cash drawers)."""

from . import endpoints, pay

routes = [*endpoints.routes, *pay.routes]

__all__ = ["routes"]
