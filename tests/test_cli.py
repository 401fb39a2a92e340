"""The command line: migrate, serve --demo, python -m forkflow, and health when the database goes."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from forkflow.store import migrations_head

from .conftest import Server


def forkflow(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forkflow", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    result = forkflow("migrate", "--db", str(db))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (migrations_head(),)
    assert {"menu_items", "orders", "order_lines", "inventory", "events", "idempotency_keys"} <= tables


def test_default_database_is_forkflow_db_in_the_working_directory(tmp_path: Path) -> None:
    assert forkflow("migrate", cwd=tmp_path).returncode == 0
    assert (tmp_path / "forkflow.db").is_file()


def test_help_lists_the_commands() -> None:
    result = forkflow("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout and "migrate" in result.stdout


def _demo_passwords(log: str) -> dict[str, str]:
    found = re.findall(r"^  (kitchen|cashier|manager) +(\S+)$", log, re.MULTILINE)
    return dict(found)


def test_demo_fills_an_empty_database_once_and_prints_the_passwords(tmp_path: Path) -> None:
    server = Server(tmp_path / "demo.db").start("--demo", staff=False)
    try:
        menu = httpx.get(f"{server.url}/menu").json()
        assert len(menu) >= 20
        assert len({item["category"] for item in menu}) >= 4
        assert len({item["station"] for item in menu}) >= 3
        kinds = {group["name"]: group["kind"] for item in menu for group in item["modifier_groups"]}
        assert kinds == {
            **dict.fromkeys(("Doneness", "Sauce", "Size", "Style", "Milk"), "choice"),
            **dict.fromkeys(("Add-ons", "Extra toppings", "Add protein"), "add"),
            "Remove": "remove",
        }
        passwords = _demo_passwords(server.log.read_text())
        assert set(passwords) == {"kitchen", "cashier", "manager"}
        for role, password in passwords.items():
            response = httpx.post(f"{server.url}/auth/token", json={"username": role, "password": password})
            assert response.status_code == 201
            assert response.json()["role"] == role
        token = httpx.post(f"{server.url}/auth/token", json={"username": "manager", "password": passwords["manager"]})
        stock = httpx.get(f"{server.url}/inventory", headers={"Authorization": f"Bearer {token.json()['token']}"})
        assert len(stock.json()) >= 5
    finally:
        server.stop()
    server.start("--demo", staff=False)
    try:
        assert len(httpx.get(f"{server.url}/menu").json()) == len(menu), "a second start adds nothing"
    finally:
        server.stop()
    assert server.log.read_text().count("Demo staff accounts") == 1, "passwords are printed once"


def test_health_is_503_when_the_database_is_gone(server: Server) -> None:
    assert httpx.get(f"{server.url}/health").status_code == 200
    for suffix in ("", "-wal", "-shm"):
        Path(f"{server.db}{suffix}").unlink(missing_ok=True)
    response = httpx.get(f"{server.url}/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}, "the public learns up or down, nothing more"


def test_database_url_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "from-env.db"
    result = subprocess.run(
        [sys.executable, "-m", "forkflow", "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "FORKFLOW_DATABASE_URL": f"sqlite:///{db}"},
    )
    assert result.returncode == 0, result.stderr
    assert db.is_file() and not (tmp_path / "forkflow.db").exists()
