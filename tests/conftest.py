"""Fixtures: a real ForkFlow server (uvicorn in its own process, real SQLite file) and helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

MENU = [
    {"name": "Classic Burger", "price_cents": 1550, "category": "Mains", "station": "grill"},
    {"name": "Fries", "price_cents": 450, "category": "Sides", "station": "fry"},
    {"name": "Caesar Salad", "price_cents": 1200, "category": "Mains", "station": "cold"},
    {"name": "Lemonade", "price_cents": 350, "category": "Drinks", "station": "bar"},
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PASSWORDS = {"kitchen": "kitchen-password", "cashier": "cashier-password", "manager": "manager-password"}


def seed_staff(db: Path) -> None:
    """One account per role (name = role), through the same service the CLI uses."""
    from forkflow.config import Settings, sqlite_url
    from forkflow.events import Bus
    from forkflow.models import StaffIn
    from forkflow.services.staff import add_staff
    from forkflow.store import Store

    async def seed() -> None:
        store = Store(Settings(database_url=sqlite_url(db)), Bus())
        await store.open()
        try:
            for role, password in PASSWORDS.items():
                await add_staff(store, StaffIn(name=role, role=role, password=password))
        finally:
            await store.close()

    asyncio.run(seed())


class Server:
    """`python -m forkflow serve` on a free loopback port; can be stopped and started again.

    A new database gets one staff account per role; `tokens[role]` holds a bearer token for each.
    """

    def __init__(self, db: Path, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.port = port or free_port()
        self.env = {**os.environ, "FORKFLOW_SSE_PING_SECONDS": "1", **(env or {})}
        self.env.pop("FORKFLOW_DATABASE_URL", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".log")
        self.tokens: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def start(self, *extra: str, staff: bool = True) -> Server:
        if staff and not self.db.exists():
            seed_staff(self.db)
        command = [sys.executable, "-m", "forkflow", "serve", "--port", str(self.port), "--db", str(self.db), *extra]
        self.process = subprocess.Popen(command, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    if staff and not self.tokens:
                        self.tokens = {role: self._token(role) for role in PASSWORDS}
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def _token(self, role: str) -> str:
        response = httpx.post(f"{self.url}/auth/token", json={"username": role, "password": PASSWORDS[role]})
        response.raise_for_status()
        return response.json()["token"]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15) -> float:
        """Stop the server the way Ctrl-C does; returns how long it took."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self.process = None
        return time.monotonic() - started


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "forkflow.db").start()
    yield srv
    if srv.process is not None:
        srv.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10, headers=server.auth("manager")) as c:
        yield c


@pytest.fixture
def menu(client: httpx.Client) -> list[dict]:
    items = []
    for item in MENU:
        response = client.post("/menu", json=item)
        assert response.status_code == 201, response.text
        items.append(response.json())
    return items


def order_body(menu: list[dict], **overrides: object) -> dict:
    body = {
        "customer_name": "Ada",
        "channel": "counter",
        "items": [{"menu_item_id": menu[0]["id"], "quantity": 2}, {"menu_item_id": menu[1]["id"], "quantity": 1}],
    }
    body.update(overrides)
    return body
