"""A manager's approval on the spot: a name and password checked at the till, without a session.

A cashier giving a discount above their limit, or anyone refunding, needs a manager to type their
name and password on the cashier's screen. The check is a sign-in in every respect that matters
to an attacker (the same throttle per name and address, the same second's delay and the same
answer for a wrong name or a wrong password: services/signin.py), but it starts no session and
leaves the cashier's own session as it was. The approver's name is what the money rows record.
"""

from __future__ import annotations

from starlette.requests import Request

from ..auth.devices import device_cookie_of, devices_of
from ..errors import Forbidden, Unauthorized
from ..request import client_address, store_of
from .signin import sign_in


async def approve(request: Request, name: str, password: str) -> str:
    """The approving manager's name, after checking `name` and `password` as a sign-in from this
    request's address and device. Unauthorized (401) for a wrong name or password, Forbidden (403)
    for a right one that is not a manager's, TooManyRequests (429) when the throttle holds it."""
    if not name or not password:
        raise Unauthorized("a manager's name and password are needed to approve this")
    signed = await sign_in(
        store_of(request),
        name[:40],
        password[:200],
        client_address(request),
        devices_of(request),
        device_cookie_of(request),
    )
    if not signed.principal.can("money.approve"):
        raise Forbidden(f"{signed.principal.name} is not a manager and cannot approve this")
    return signed.principal.name
