"""The OpenAPI document says what the server does: schemathesis, run against a live server, finds nothing.

`st run` with every check and the coverage, fuzzing and stateful phases, over every documented
operation except the event stream (GET /events never ends; /track/{token}/events is not in the
document). It signs in as a manager (tests/schemathesis.toml) and signs in again when its token is
revoked, which the fuzz itself does. tests/schemathesis_hooks.py keeps the fuzz off the account it
signs in with, and drops only the 422s that no schema can foresee (ids that do not exist, an
Idempotency-Key used before); schemathesis prints how many it dropped. One worker and a fixed seed
on a fresh server: the same requests, in the same order, in CI as on a laptop.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import PASSWORDS, Server

HERE = Path(__file__).resolve().parent
SEED = 13
EXAMPLES = 50  # per operation and phase: about two thousand requests, under two minutes here


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo menu, and no limits on failed sign-ins or public orders: their 429s are documented, but
    the fuzz sends hundreds of each and would otherwise spend its run being told to wait."""
    env = {
        "FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "0",
        "FORKFLOW_PUBLIC_PORTIONS_PER_HOUR": "0",
        "FORKFLOW_SIGN_IN_FAILURES_PER_NAME_AND_ADDRESS": "0",
        "FORKFLOW_SIGN_IN_FAILURES_PER_ADDRESS": "0",
        "FORKFLOW_SIGN_IN_FAILURES_PER_NAME_UNTRUSTED": "0",
    }
    srv = Server(tmp_path_factory.mktemp("schemathesis") / "forkflow.db", env=env).start("--demo")
    yield srv
    srv.stop()


@pytest.mark.long
def test_schemathesis_finds_nothing(fuzz_server: Server, tmp_path: Path) -> None:
    staff = httpx.get(f"{fuzz_server.url}/staff", headers=fuzz_server.auth("manager"), timeout=10).json()
    manager_id = next(account["id"] for account in staff if account["name"] == "manager")
    env = {
        **os.environ,
        "FORKFLOW_FUZZ_USERNAME": "manager",
        "FORKFLOW_FUZZ_PASSWORD": PASSWORDS["manager"],
        "FORKFLOW_FUZZ_STAFF_ID": str(manager_id),
        "SCHEMATHESIS_HOOKS": str(HERE / "schemathesis_hooks.py"),
    }
    command = [
        *(sys.executable, "-m", "schemathesis.cli"),
        *("--config-file", str(HERE / "schemathesis.toml"), "--no-color", "run"),
        f"{fuzz_server.url}/openapi.json",
        *("--checks", "all", "--phases", "coverage,fuzzing,stateful"),
        *("--exclude-path", "/events"),
        *("--max-examples", str(EXAMPLES), "--seed", str(SEED)),
        *("--workers", "1"),
    ]
    # In tmp_path, where schemathesis keeps its cache (.schemathesis/).
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
