"""The till (`/pos`): its endpoints, the ticket the server re-prices on every change, and its money
screens (pay.py: an order's Pay panel, the cash drawers; refunds.py: refunds on the Pay panel)."""

from starlette.routing import Route

from . import discounts, endpoints, pay, refunds

routes = [
    *endpoints.routes,
    *pay.routes,
    *refunds.routes,
    Route("/pos/orders/{id:id}/discounts", discounts.discount_panel, methods=["GET"]),
    Route("/pos/orders/{id:id}/discounts", discounts.give_discount, methods=["POST"]),
    Route("/pos/orders/{id:id}/discounts/figures", discounts.figures, methods=["GET"]),
    Route("/pos/orders/{id:id}/discounts/{discount_id:id}/remove", discounts.remove_discount, methods=["POST"]),
]

__all__ = ["routes"]
