"""The kitchen display (`/kitchen`): its endpoints and the view model that turns orders into tickets."""

from .endpoints import routes

__all__ = ["routes"]
