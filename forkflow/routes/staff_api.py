"""Tokens for machine clients, and staff accounts (managers only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..auth.devices import device_cookie_of, devices_of
from ..auth.roles import principal_of, require
from ..errors import BearerRequired
from ..models import StaffIn, StaffPatch, TokenIn
from ..request import client_address, store_of
from ..services import staff as staff_service
from ..services.representation import iso_or_none
from ..services.signin import sign_in
from . import convertors  # noqa: F401  (registers the {id:id} path convertor)
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
    principal = principal_of(request)
    authorization = request.headers.get("authorization", "")
    if principal is None or principal.via != "token":
        raise BearerRequired("send the token to revoke as Authorization: Bearer TOKEN")
    await staff_service.revoke_token(store_of(request), token=authorization.partition(" ")[2].strip())
    return Response(status_code=204)


async def list_tokens(request: Request) -> Response:
    require(request, "staff")
    return JSONResponse(await staff_service.list_tokens(store_of(request)))


async def revoke_token(request: Request) -> Response:
    require(request, "staff")
    await staff_service.revoke_token(store_of(request), token_id=request.path_params["id"])
    return Response(status_code=204)


async def list_staff(request: Request) -> Response:
    require(request, "staff")
    return JSONResponse(await staff_service.list_staff(store_of(request)))


async def add_staff(request: Request) -> Response:
    require(request, "staff")
    data = await parse_body(request, StaffIn)
    member = await staff_service.add_staff(store_of(request), data)
    return JSONResponse(member, status_code=201, headers={"Location": f"/staff/{member['id']}"})


async def change_staff(request: Request) -> Response:
    require(request, "staff")
    data = await parse_body(request, StaffPatch)
    return JSONResponse(await staff_service.change_staff(store_of(request), request.path_params["id"], data))


routes = [
    Route("/auth/token", create_token, methods=["POST"]),
    Route("/auth/token", revoke_own_token, methods=["DELETE"]),
    Route("/auth/tokens", list_tokens, methods=["GET"]),
    Route("/auth/tokens/{id:id}", revoke_token, methods=["DELETE"]),
    Route("/staff", list_staff, methods=["GET"]),
    Route("/staff", add_staff, methods=["POST"]),
    Route("/staff/{id:id}", change_staff, methods=["PATCH"]),
]
