"""The JSON API: thin views over the service functions, one module per resource (menu, orders,
inventory), each route declared at its module's bottom with its operation (who may call it, what it
takes and answers), which the permission check and the OpenAPI document both read."""

from . import discounts, inventory, menu, online, orders, payments, printers, reports, schedule, sight, taxes

routes = [
    *menu.routes,
    *orders.routes,
    *payments.routes,
    *discounts.routes,
    *schedule.routes,
    *online.routes,
    *inventory.routes,
    *sight.routes,
    *printers.routes,
    *taxes.routes,
    *reports.routes,
]

__all__ = ["routes"]
