"""Order tracking (`/track/{token}`): its endpoints and the status a customer sees, with its estimate."""

from .endpoints import routes

__all__ = ["routes"]
