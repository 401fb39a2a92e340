"""The manager's console (`/manage`): its endpoints, view model, forms and charts."""

from .endpoints import routes

__all__ = ["routes"]
