"""Sign-in attacks (issue 12, findings 2, 4 and 12), each tried against a real server.

Clients come from different loopback addresses (127.0.0.2, ...): real source addresses, which
the server sees as they are (uvicorn trusts proxy headers from 127.0.0.1 only, and these send none).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from forkflow.app import create_app
from forkflow.auth.passwords import hash_password, verify_password
from forkflow.config import Settings, sqlite_url
from forkflow.errors import Busy
from forkflow.routes import login

from .conftest import BACKENDS, PASSWORDS, Server, pooled, running_server
from .test_security import csrf_from

TOO_MANY = {"error": {"code": "too_many_requests", "message": "too many failed sign-ins; try again later"}}
WRONG = {"error": {"code": "unauthorized", "message": "wrong name or password"}}


def client_at(server: Server, address: str, **options: object) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, timeout=60, transport=transport, **options)  # type: ignore[arg-type]


def token_from(server: Server, address: str, name: str, password: str, cookies: dict | None = None) -> httpx.Response:
    with client_at(server, address, cookies=cookies) as c:
        return c.post("/auth/token", json={"username": name, "password": password})


def guesses_at_once(server: Server, address: str, attempts: list[tuple[str, str]]) -> list[httpx.Response]:
    """Every (name, password) sent to POST /auth/token at the same moment from `address`."""

    async def send() -> list[httpx.Response]:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        limits = pooled(len(attempts))
        async with httpx.AsyncClient(base_url=server.url, timeout=60, transport=transport, limits=limits) as c:
            return list(
                await asyncio.gather(*(c.post("/auth/token", json={"username": n, "password": p}) for n, p in attempts))
            )

    return asyncio.run(send())


def browser_sign_in(web: httpx.Client, name: str, password: str) -> httpx.Response:
    token = csrf_from(web.get("/login").text)
    return web.post("/login", data={"username": name, "password": password, "csrf_token": token, "next": "/"})


# Finding 2: the lockout could be raced.


@pytest.mark.parametrize("backend", BACKENDS)
def test_forty_parallel_guesses_check_at_most_five(tmp_path: Path, backend: str) -> None:
    with running_server(tmp_path, backend) as server:
        guesses = [("manager", f"guess-{i}") for i in range(40)]
        guesses[20] = ("manager", PASSWORDS["manager"])
        responses = guesses_at_once(server, "127.0.0.2", guesses)
        statuses = Counter(r.status_code for r in responses)
        checked = statuses[401] + statuses[201]
        assert checked <= 5, statuses
        assert statuses[429] == 40 - checked, statuses
        assert all(r.json() == TOO_MANY for r in responses if r.status_code == 429)
        assert server.log.read_text().count("failed sign-in for 'manager' from 127.0.0.2") == statuses[401]


# Finding 4: anyone could keep the manager out.


def test_an_attacker_at_another_address_does_not_keep_the_manager_out(server: Server) -> None:
    attack = guesses_at_once(server, "127.0.0.2", [("manager", f"guess-{i}") for i in range(8)])
    assert Counter(r.status_code for r in attack) == {401: 5, 429: 3}
    assert token_from(server, "127.0.0.1", "manager", PASSWORDS["manager"]).status_code == 201
    assert token_from(server, "127.0.0.2", "manager", PASSWORDS["manager"]).status_code == 429


@pytest.fixture
def guarded_server(tmp_path: Path) -> Iterator[Server]:
    """A low limit per name for clients without a device cookie, to show what it stops."""
    env = {"FORKFLOW_SIGN_IN_FAILURES_PER_NAME_UNTRUSTED": "8"}
    with running_server(tmp_path, env=env) as srv:
        yield srv


def test_a_device_cookie_lets_the_manager_in_whatever_others_do(guarded_server: Server) -> None:
    server = guarded_server
    with client_at(server, "127.0.0.5", headers={"accept": "text/html"}) as browser:
        signed_in = browser_sign_in(browser, "manager", PASSWORDS["manager"])
        assert signed_in.status_code == 303
        cookie = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith("forkflow_device="))
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        assert int(cookie.lower().split("max-age=")[1].split(";")[0]) >= 300 * 86400, "long-lived"
        device = browser.cookies["forkflow_device"]
        browser.post("/logout", data={"csrf_token": csrf_from(browser.get("/").text)})

        # A guesser on many addresses, one of them the manager's own.
        for address in ("127.0.0.2", "127.0.0.3", "127.0.0.5"):
            guesses_at_once(server, address, [("manager", f"{address}-{i}") for i in range(6)])
        # Clients without the cookie are held back now, even with the right password, from anywhere...
        for address in ("127.0.0.4", "127.0.0.5"):
            refused = token_from(server, address, "manager", PASSWORDS["manager"])
            assert refused.status_code == 429 and refused.json() == TOO_MANY
            assert 1 <= int(refused.headers["retry-after"]) <= 900
        # ...and a cookie for another account, or a forged one, is no way round it.
        forged = device[:-2] + ("AA" if not device.endswith("AA") else "BB")
        assert (
            token_from(server, "127.0.0.4", "manager", PASSWORDS["manager"], {"forkflow_device": forged}).status_code
            == 429
        )
        with client_at(server, "127.0.0.9") as cashier:
            cashier_device = cashier.post(
                "/auth/token", json={"username": "cashier", "password": PASSWORDS["cashier"]}
            ).cookies["forkflow_device"]
        other = token_from(server, "127.0.0.4", "manager", PASSWORDS["manager"], {"forkflow_device": cashier_device})
        assert other.status_code == 429

        # The manager's browser, with its device cookie, still gets in, at the attacked address.
        assert browser_sign_in(browser, "manager", PASSWORDS["manager"]).status_code == 303
        # So does a JSON client carrying the cookie, from a fresh address.
        assert (
            token_from(server, "127.0.0.4", "manager", PASSWORDS["manager"], {"forkflow_device": device}).status_code
            == 201
        )

        # A device cookie is locked out by its own failures only: five wrong, then held back.
        device = browser.cookies["forkflow_device"]
        with client_at(server, "127.0.0.6", cookies={"forkflow_device": device}) as thief:
            wrong = [thief.post("/auth/token", json={"username": "manager", "password": "nope-nope"}) for _ in range(5)]
            assert [r.status_code for r in wrong] == [401] * 5
            assert (
                thief.post("/auth/token", json={"username": "manager", "password": PASSWORDS["manager"]}).status_code
                == 429
            )


@pytest.fixture
def short_window_server(tmp_path: Path) -> Iterator[Server]:
    env = {"FORKFLOW_SIGN_IN_WINDOW_SECONDS": "8", "FORKFLOW_SIGN_IN_FAILURES_PER_ADDRESS": "6"}
    with running_server(tmp_path, env=env) as srv:
        yield srv


def test_limits_per_name_and_address_and_per_address_answer_429_with_retry_after(short_window_server: Server) -> None:
    server = short_window_server
    # Five failures for one name from one address...
    assert {r.status_code for r in guesses_at_once(server, "127.0.0.6", [("cashier", "nope-nope")] * 5)} == {401}
    held = token_from(server, "127.0.0.6", "cashier", PASSWORDS["cashier"])
    assert held.status_code == 429 and held.json() == TOO_MANY
    retry_after = int(held.headers["retry-after"])
    assert 1 <= retry_after <= 8, "computed from the window"
    assert token_from(server, "127.0.0.7", "cashier", PASSWORDS["cashier"]).status_code == 201, "other addresses"

    # Six failures from one address, each for another name (existing or not): the address is held back.
    names = ["kitchen", "manager", "nobody", "ghost", "chef", "waiter"]
    assert {r.status_code for r in guesses_at_once(server, "127.0.0.8", [(n, "nope-nope") for n in names])} == {401}
    by_address = token_from(server, "127.0.0.8", "kitchen", PASSWORDS["kitchen"])
    assert by_address.status_code == 429 and by_address.json() == TOO_MANY
    assert 1 <= int(by_address.headers["retry-after"]) <= 8

    # Once the failures have left the window, the right password works again.
    time.sleep(retry_after + 0.5)
    assert token_from(server, "127.0.0.6", "cashier", PASSWORDS["cashier"]).status_code == 201
    log = server.log.read_text()
    assert "held back (limit per name and address" in log and "held back (limit per address" in log


def test_unknown_and_known_names_get_the_same_answers(server: Server) -> None:
    known = [token_from(server, "127.0.0.2", "cashier", "nope-nope") for _ in range(5)]
    unknown = [token_from(server, "127.0.0.3", "no-such-user", "nope-nope") for _ in range(5)]
    for response in known + unknown:
        assert response.status_code == 401 and response.json() == WRONG
    held_known = token_from(server, "127.0.0.2", "cashier", "nope-nope")
    held_unknown = token_from(server, "127.0.0.3", "no-such-user", "nope-nope")
    assert held_known.status_code == held_unknown.status_code == 429
    assert held_known.json() == held_unknown.json() == TOO_MANY
    assert held_known.headers.keys() == held_unknown.headers.keys()
    # The same rows are written for both: the log says the same, name aside.
    log = server.log.read_text()
    assert log.count("failed sign-in for 'cashier' from 127.0.0.2") == 5
    assert log.count("failed sign-in for 'no-such-user' from 127.0.0.3") == 5


def test_the_sign_in_page_shows_the_429_inline(server: Server) -> None:
    with client_at(server, "127.0.0.4", headers={"accept": "text/html"}) as web:
        for _ in range(5):
            assert browser_sign_in(web, "cashier", "nope-nope").status_code == 401
        held = browser_sign_in(web, "cashier", PASSWORDS["cashier"])
        assert held.status_code == 429
        assert "too many failed sign-ins; try again later" in held.text and 'value="cashier"' in held.text
        assert 1 <= int(held.headers["retry-after"]) <= 900
        assert "forkflow_device" not in web.cookies


def test_attempts_older_than_a_day_are_purged(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        server.stop()
        old, recent = datetime.now(UTC) - timedelta(days=2), datetime.now(UTC) - timedelta(hours=1)
        for name, moment in (("old", old), ("recent", recent)):
            server.execute(
                "INSERT INTO sign_in_attempts (username, address, outcome, created_at) VALUES (?, ?, 'failed', ?)",
                name,
                "127.0.0.9",
                moment,
            )
        server.start()  # the purger runs at start-up, then every hour
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sqlite3.connect(server.db) as db:
                names = {
                    row[0] for row in db.execute("SELECT username FROM sign_in_attempts WHERE address = '127.0.0.9'")
                }
            if names == {"recent"}:
                break
            time.sleep(0.1)
        assert names == {"recent"}


# Finding 12: password hashing and common passwords.


@pytest.fixture(scope="module")
def owasp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Hashing at the default cost, not the test servers' cheaper one (conftest.TEST_HASH_COST)."""
    srv = Server(tmp_path_factory.mktemp("owasp") / "forkflow.db", env={"FORKFLOW_PASSWORD_HASH_COST": "17"})
    yield srv.start()
    srv.stop()


def stored_hash(server: Server, name: str) -> str:
    with sqlite3.connect(server.db) as db:
        return db.execute("SELECT password_hash FROM staff WHERE name = ?", (name,)).fetchone()[0]


def test_passwords_are_hashed_at_owasp_cost_and_old_hashes_are_upgraded_on_sign_in(owasp_server: Server) -> None:
    server = owasp_server
    made = httpx.post(
        f"{server.url}/staff",
        json={"name": "newcook", "role": "kitchen", "password": "a-fresh-cook-password"},
        headers=server.auth("manager"),
        timeout=60,
    )
    assert made.status_code == 201, made.text
    assert stored_hash(server, "newcook").startswith("scrypt$131072$8$1$"), "N=2^17, r=8, p=1"

    # An account whose hash was made at the old cost (N=2^14) still signs in, and is re-hashed then.
    server.execute(
        "INSERT INTO staff (name, role, password_hash, active, failed_logins, created_at) VALUES (?, ?, ?, 1, 0, ?)",
        "oldcook",
        "kitchen",
        hash_password("old-cook-password", 14),
        datetime.now(UTC),
    )
    assert stored_hash(server, "oldcook").startswith("scrypt$16384$")
    assert token_from(server, "127.0.0.1", "oldcook", "old-cook-password").status_code == 201
    assert stored_hash(server, "oldcook").startswith("scrypt$131072$8$1$")
    assert token_from(server, "127.0.0.1", "oldcook", "old-cook-password").status_code == 201
    assert token_from(server, "127.0.0.1", "oldcook", "not-the-password").status_code == 401
    assert "re-hashed the password of 'oldcook'" in server.log.read_text()


def test_unknown_and_known_names_take_as_long(owasp_server: Server) -> None:
    """Medians of a few tries each, interleaved; a skipped dummy check would differ by a whole
    hash at N=2^17 (about a second here)."""
    known: list[float] = []
    unknown: list[float] = []
    for _ in range(3):
        for name, times, address in (("kitchen", known, "127.0.0.2"), ("nobody-at-all", unknown, "127.0.0.3")):
            started = time.monotonic()
            response = token_from(server=owasp_server, address=address, name=name, password="nope-nope")
            times.append(time.monotonic() - started)
            assert response.status_code == 401 and response.json() == WRONG
    fast, slow = sorted((statistics.median(known), statistics.median(unknown)))
    assert slow - fast < 0.3 + 0.25 * fast, (known, unknown)


COMMON = ["password123", "Password123", "qwerty123", "iloveyou1"]


@pytest.mark.parametrize("password", COMMON)
def test_common_passwords_are_refused_by_the_api(server: Server, password: str) -> None:
    manager = server.auth("manager")
    made = httpx.post(
        f"{server.url}/staff", json={"name": "newbie", "role": "kitchen", "password": password}, headers=manager
    )
    assert made.status_code == 422
    assert made.json()["error"]["code"] == "invalid"
    assert "common" in made.json()["error"]["fields"]["password"]
    staff = httpx.get(f"{server.url}/staff", headers=manager).json()
    assert "newbie" not in {s["name"] for s in staff}
    kitchen = next(s for s in staff if s["name"] == "kitchen")
    changed = httpx.patch(f"{server.url}/staff/{kitchen['id']}", json={"password": password}, headers=manager)
    assert changed.status_code == 422 and "common" in changed.json()["error"]["fields"]["password"]
    assert token_from(server, "127.0.0.1", "kitchen", PASSWORDS["kitchen"]).status_code == 201, "unchanged"


def test_common_passwords_are_refused_by_the_console_form(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}, timeout=10) as web:
        assert browser_sign_in(web, "manager", PASSWORDS["manager"]).status_code == 303
        token = csrf_from(web.get("/manage").text)
        refused = web.post(
            "/manage/staff",
            data={"name": "newbie", "role": "kitchen", "password": "password123", "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        assert refused.status_code == 422
        assert 'id="staff-password-error">' in refused.text and "10,000 most common" in refused.text
        assert "password123" not in refused.text, "a password is never sent back"
    staff = httpx.get(f"{server.url}/staff", headers=server.auth("manager")).json()
    assert "newbie" not in {s["name"] for s in staff}


def test_common_passwords_are_refused_by_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    command = [sys.executable, "-m", "forkflow", "users", "add", "newbie", "--role", "cashier", "--password-stdin"]
    refused = subprocess.run([*command, "--db", str(db)], input="password123\n", capture_output=True, text=True)
    assert refused.returncode != 0 and "10,000 most common" in refused.stderr
    env = {**os.environ, "FORKFLOW_PASSWORD_HASH_COST": "14"}
    added = subprocess.run(
        [*command, "--db", str(db)], input="a-good-long-password\n", capture_output=True, text=True, env=env
    )
    assert added.returncode == 0, added.stderr


# A password is kept exactly as typed, spaces included (NIST SP 800-63B): set with spaces around it,
# it signs in with them and not without.


def test_a_password_set_through_the_api_signs_in_as_typed(server: Server) -> None:
    manager = server.auth("manager")
    made = httpx.post(
        f"{server.url}/staff", json={"name": "spaced", "role": "cashier", "password": " secret words "}, headers=manager
    )
    assert made.status_code == 201, made.text
    assert token_from(server, "127.0.0.1", "spaced", " secret words ").status_code == 201
    assert token_from(server, "127.0.0.1", "spaced", "secret words").status_code == 401
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}, timeout=10) as web:
        assert browser_sign_in(web, "spaced", " secret words ").status_code == 303
    spaced = f"{server.url}/staff/{made.json()['id']}"
    changed = httpx.patch(spaced, json={"password": "\tnew words  "}, headers=manager)
    assert changed.status_code == 200, changed.text
    assert token_from(server, "127.0.0.1", "spaced", "\tnew words  ").status_code == 201
    assert token_from(server, "127.0.0.1", "spaced", "new words").status_code == 401


def test_a_password_set_in_the_console_signs_in_as_typed(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}, timeout=10) as web:
        assert browser_sign_in(web, "manager", PASSWORDS["manager"]).status_code == 303
        token = csrf_from(web.get("/manage").text)
        added = web.post(
            "/manage/staff",
            data={"name": "formed ", "role": "kitchen", "password": "  form words  ", "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        assert added.status_code == 200 and "Added formed (kitchen)." in added.text  # the name's space was the form's
    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}, timeout=10) as web:
        assert browser_sign_in(web, "formed", "form words").status_code != 303
        assert browser_sign_in(web, "formed", "  form words  ").status_code == 303
    assert token_from(server, "127.0.0.1", "formed", "  form words  ").status_code == 201


def test_a_password_set_by_the_cli_is_kept_as_typed(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    command = [sys.executable, "-m", "forkflow", "users", "add", "spaced", "--role", "cashier", "--password-stdin"]
    env = {**os.environ, "FORKFLOW_PASSWORD_HASH_COST": "14"}
    added = subprocess.run([*command, "--db", str(db)], input=" cli words \n", capture_output=True, text=True, env=env)
    assert added.returncode == 0, added.stderr
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM staff WHERE name = 'spaced'").fetchone()
    assert verify_password(" cli words ", stored) and not verify_password("cli words", stored)


def test_the_test_passwords_are_not_common() -> None:
    from forkflow.auth.passwords import is_common

    assert not any(is_common(p) for p in PASSWORDS.values())
    assert is_common("password123") and is_common("PASSWORD123")


async def test_a_busy_server_answers_the_sign_in_page_with_when_to_try_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Busy (503) is a "try again later" like too many sign-ins (429): the page, the name kept,
    and Retry-After, not a JSON error in place of the form."""

    async def busy(*_: object) -> None:
        raise Busy("the server is busy; try again shortly", retry_after=7)

    monkeypatch.setattr(login, "sign_in", busy)
    app = create_app(Settings(database_url=sqlite_url(tmp_path / "busy.db")))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as browser,
    ):
        csrf = csrf_from((await browser.get("/login")).text)
        answer = await browser.post("/login", data={"csrf_token": csrf, "username": "ada", "password": "long enough"})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "7"
    assert answer.headers["content-type"].startswith("text/html")
    assert "the server is busy; try again shortly" in answer.text and 'value="ada"' in answer.text
