"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

A browser or client that signs in successfully gets `forkflow_device`, signed with the app's secret
(itsdangerous), naming the account and a random nonce. Presented again with the same name, it marks
a known device: its sign-ins are judged by that nonce's own failures only (auth/throttle.py). One
cookie holds the last few accounts signed in on that device (a till shared by a cashier and a
manager), each with its own nonce, renewed at each successful sign-in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

DEVICE_COOKIE = "forkflow_device"
ACCOUNTS_PER_DEVICE = 5


@dataclass(frozen=True)
class DeviceCookies:
    secret: str
    days: int = 365
    secure: bool = False

    @property
    def _signer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt="forkflow.device-cookie")

    def _entries(self, cookie: str | None) -> list[list[str]]:
        if not cookie:
            return []
        try:
            entries = self._signer.loads(cookie, max_age=self.days * 86400)
        except BadSignature:  # also an expired one (SignatureExpired)
            return []
        if not isinstance(entries, list):
            return []
        return [e for e in entries if isinstance(e, list) and len(e) == 2 and all(isinstance(v, str) for v in e)]

    def nonce_for(self, cookie: str | None, name: str) -> str | None:
        """The nonce of a valid device cookie for the account `name`, if the cookie has one."""
        return next((nonce for account, nonce in self._entries(cookie) if account == name), None)

    def renewed(self, cookie: str | None, name: str) -> str:
        """The cookie after a successful sign-in as `name`: a fresh nonce for it, the others kept."""
        others = [e for e in self._entries(cookie) if e[0] != name]
        entries = [[name, secrets.token_urlsafe(16)], *others][:ACCOUNTS_PER_DEVICE]
        return self._signer.dumps(entries)

    def set(self, response: Response, value: str) -> None:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=self.days * 86400,
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )


def devices_of(request: Request) -> DeviceCookies:
    cookies: DeviceCookies = request.app.state.device_cookies
    return cookies


def device_cookie_of(request: Request) -> str | None:
    return request.cookies.get(DEVICE_COOKIE)
