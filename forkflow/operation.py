"""Each API route declared once: an `ApiRoute` carries its `Operation` (who may call it, what it
takes and answers, how it is documented), and that one declaration is read twice: by the route
itself, which admits the caller before the endpoint runs, and by `openapi.py`, which builds the
document from the app's routes. A handler never names the permission its route declares; only a
finer check (cancelling an order, a topic of the stream, /health's details) stays in the handler,
and the declaration's description says it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, request_response

from . import convertors  # noqa: F401  (registers the {id:id} and {token:token} path convertors)
from .auth.roles import PERMISSIONS, Principal, principal_of, require
from .errors import BearerRequired, Unauthorized
from .vocabulary import ROLES

Endpoint = Callable[[Request], Awaitable[Response]]

# Who may call an operation:
#   "none"      authentication plays no part (but a malformed or revoked bearer token is still 401)
#   "optional"  anyone; signing in unlocks more, and a signed-in caller needs the permission, if one
#               is declared (POST /orders, GET /events)
#   "staff"     a signed-in staff member whose role has the operation's permission
#   "token"     a bearer token, and only that (DELETE /auth/token)
Access = Literal["none", "optional", "staff", "token"]


@dataclass(frozen=True)
class Operation:
    """One API operation: its access, and what the OpenAPI document says of it."""

    summary: str
    tag: str
    _: KW_ONLY
    access: Access
    permission: str | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    out: type[BaseModel] | None = None  # None: no body (204), or see `content`
    out_or: type[BaseModel] | None = None  # another shape the success body may have (anyOf)
    many: bool = False
    description: str = ""
    errors: dict[int, str] = field(default_factory=dict)  # op-specific errors, or overrides of the usual ones
    parameters: tuple[dict[str, Any], ...] = ()
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)  # response headers on success
    content: dict[str, Any] | None = None  # a non-JSON success body
    extensions: dict[str, Any] = field(default_factory=dict)
    uses_store: bool = True

    def __post_init__(self) -> None:
        if self.access == "staff" and self.permission is None:
            raise ValueError(f"{self.summary!r}: staff access needs a permission")
        if self.access in ("none", "token") and self.permission is not None:
            raise ValueError(f"{self.summary!r}: {self.access} access takes no permission")
        if self.permission is not None and self.permission not in PERMISSIONS:
            raise ValueError(f"{self.summary!r}: unknown permission {self.permission!r}")


def admit(request: Request, operation: Operation) -> None:
    """Let the caller through as the operation declares, else 401 or 403."""
    permission = operation.permission
    if operation.access == "token":
        principal = principal_of(request)
        if principal is None or principal.via != "token":
            raise BearerRequired("send the token as Authorization: Bearer TOKEN")
    elif permission is not None and (operation.access == "staff" or principal_of(request) is not None):
        require(request, permission)


class ApiRoute(Route):
    """A JSON API route of one method, declared with its operation."""

    def __init__(self, method: str, path: str, endpoint: Endpoint, operation: Operation) -> None:
        super().__init__(path, endpoint, methods=[method])
        self.operation = operation

        async def admitted(request: Request) -> Response:
            admit(request, operation)
            return await endpoint(request)

        self.app = request_response(admitted)  # what Route serves; `self.endpoint` stays the handler


def staff_of(request: Request) -> Principal:
    """The signed-in caller of a staff operation (`ApiRoute` has admitted them already)."""
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("sign in first")
    return principal


def roles_with(permission: str) -> list[str]:
    """The roles that have `permission`, in the vocabulary's order."""
    return [role for role in ROLES if role in PERMISSIONS[permission]]


def roles_text(permission: str) -> str:
    return ", ".join(roles_with(permission))


def location_header(what: str) -> dict[str, dict[str, Any]]:
    return {"Location": {"description": f"the path of the new {what}", "schema": {"type": "string"}}}
