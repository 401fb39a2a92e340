"""Tokens for machine clients, and staff accounts (managers only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import schemas_out as out
from ..auth.devices import device_cookie_of, devices_of
from ..formats import iso_or_none
from ..models import StaffIn, StaffPatch, TokenIn
from ..operation import ApiRoute, Operation, location_header
from ..request import client_address, store_of
from ..services import staff as staff_service
from ..services.signin import sign_in
from .http import parse_body


async def create_token(request: Request) -> Response:
    """`{"username", "password", "expires_in"?}` -> `{"token", "role", "id", "expires_at"}`; the
    token is shown this once."""
    data = await parse_body(request, TokenIn)
    store = store_of(request)
    devices = devices_of(request)
    signed = await sign_in(
        store, data.username, data.password, client_address(request), devices, device_cookie_of(request)
    )
    principal = signed.principal
    token_id, token, expires_at = await staff_service.issue_token(store, principal.staff_id, data.expires_in)
    body = {"token": token, "role": principal.role, "id": token_id, "expires_at": iso_or_none(expires_at)}
    response = JSONResponse(body, status_code=201)
    devices.set(response, signed.device_cookie)
    return response


async def revoke_own_token(request: Request) -> Response:
    """Revokes the bearer token this request carries (`ApiRoute` has checked that it carries one)."""
    authorization = request.headers.get("authorization", "")
    await staff_service.revoke_token(store_of(request), token=authorization.partition(" ")[2].strip())
    return Response(status_code=204)


async def list_tokens(request: Request) -> Response:
    return JSONResponse(await staff_service.list_tokens(store_of(request)))


async def revoke_token(request: Request) -> Response:
    await staff_service.revoke_token(store_of(request), token_id=request.path_params["id"])
    return Response(status_code=204)


async def list_staff(request: Request) -> Response:
    return JSONResponse(await staff_service.list_staff(store_of(request)))


async def add_staff(request: Request) -> Response:
    data = await parse_body(request, StaffIn)
    member = await staff_service.add_staff(store_of(request), data)
    return JSONResponse(member, status_code=201, headers={"Location": f"/staff/{member['id']}"})


async def change_staff(request: Request) -> Response:
    data = await parse_body(request, StaffPatch)
    return JSONResponse(await staff_service.change_staff(store_of(request), request.path_params["id"], data))


routes = [
    ApiRoute(
        "POST",
        "/auth/token",
        create_token,
        Operation(
            "Sign in for a bearer token",
            "auth",
            access="none",
            body=TokenIn,
            status=201,
            out=out.TokenOut,
            description=(
                "**Public.** Exchanges a staff name and password for an API token, shown this once; with "
                "`expires_in` (seconds) it stops working then, and its open streams end. Every failed "
                "sign-in is answered a second late. Failures are limited per (name, client address), per address "
                "and per name (429); a client that sends the `forkflow_device` cookie it got from an earlier "
                "successful sign-in to that account is limited by its own failures only. The answer sets that "
                "cookie afresh."
            ),
            errors={
                401: "Wrong name or password, or the account is disabled; or an invalid `Authorization` header.",
                429: "Too many failed sign-ins from this client: try again after `Retry-After` seconds.",
            },
        ),
    ),
    ApiRoute(
        "DELETE",
        "/auth/token",
        revoke_own_token,
        Operation(
            "Revoke the token this request carries",
            "auth",
            access="token",
            status=204,
            description="Any staff member, with the bearer token to revoke (not a session cookie).",
            errors={401: "No bearer token was sent (`WWW-Authenticate: Bearer`), or it is not valid or was revoked."},
        ),
    ),
    ApiRoute(
        "GET",
        "/auth/tokens",
        list_tokens,
        Operation(
            "List API tokens",
            "auth",
            access="staff",
            permission="staff",
            out=out.TokenInfo,
            many=True,
            description="Tokens are never shown again, only who they belong to, when they were made, revoked "
            "or expire, and when they were last used (to within a minute).",
        ),
    ),
    ApiRoute(
        "DELETE",
        "/auth/tokens/{id:id}",
        revoke_token,
        Operation(
            "Revoke an API token",
            "auth",
            access="staff",
            permission="staff",
            status=204,
            errors={404: "There is no token with this id."},
        ),
    ),
    ApiRoute(
        "GET",
        "/staff",
        list_staff,
        Operation(
            "List staff accounts",
            "staff",
            access="staff",
            permission="staff",
            out=out.StaffOut,
            many=True,
            description="By name.",
        ),
    ),
    ApiRoute(
        "POST",
        "/staff",
        add_staff,
        Operation(
            "Add a staff account",
            "staff",
            access="staff",
            permission="staff",
            body=StaffIn,
            status=201,
            out=out.StaffOut,
            headers=location_header("staff account"),
            errors={409: "There is already a staff member with this name."},
        ),
    ),
    ApiRoute(
        "PATCH",
        "/staff/{id:id}",
        change_staff,
        Operation(
            "Change a staff account",
            "staff",
            access="staff",
            permission="staff",
            body=StaffPatch,
            out=out.StaffOut,
            description="Change the role, disable (`active: false`) or set a new password (which signs out "
            "every session of the account).",
        ),
    ),
]
