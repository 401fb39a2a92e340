"""Helpers for the money tests (payments, refunds, drawers): a till's requests, and counting what
the database holds (rows and money events) to check a refusal wrote nothing."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import httpx

from .conftest import Server, order_body


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"till-{uuid.uuid4()}"}


def place(client: httpx.Client, menu: list[dict], **overrides: Any) -> dict:
    """An order of 2 burgers and fries: 2 × 1550 + 450 = 3550."""
    response = client.post("/orders", json=order_body(menu, **overrides))
    assert response.status_code == 201, response.text
    return response.json()


def pay(client: httpx.Client, order_id: int, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return client.post(f"/orders/{order_id}/payments", json=body, headers=key() if headers is None else headers)


def open_drawer(client: httpx.Client, name: str = "Till 1", float_cents: int = 10000) -> dict:
    response = client.post("/drawers", json={"name": name, "float_cents": float_cents})
    assert response.status_code == 201, response.text
    return response.json()


def scalar(server: Server, sql: str, *parameters: Any) -> Any:
    with sqlite3.connect(server.db) as db:
        return db.execute(sql, parameters).fetchone()[0]


def events_of(server: Server, event_type: str) -> list[dict]:
    """The payloads of the events of this type, oldest first."""
    with sqlite3.connect(server.db) as db:
        rows = db.execute("SELECT payload FROM events WHERE type = ? ORDER BY id", (event_type,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def written(server: Server) -> tuple[int, ...]:
    """How many payments, refunds, drawers, movements and events there are: a refusal leaves them."""
    tables = ("payments", "refunds", "drawers", "drawer_movements", "events")
    return tuple(scalar(server, f"SELECT COUNT(*) FROM {table}") for table in tables)


def refused(response: httpx.Response, status: int) -> dict:
    """The error JSON of a refusal with `status`."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    return error
