"""The server's edges (issue 12, findings 6 and 7), each an attack tried against a real server:
clients claiming another address through X-Forwarded-For (directly, and through the shipped
nginx config), too many open event streams, and requests that never finish arriving."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forkflow.routes.http import BodyLimit, on_http_error

from .conftest import Server, create_menu, drop_postgres_database, free_port, new_postgres_database, order_body

REPO = Path(__file__).resolve().parent.parent
SPOOFED = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]


@contextlib.contextmanager
def started(tmp_path: Path, *extra: str, env: dict[str, str] | None = None, database_url: str | None = None):
    srv = Server(tmp_path / "forkflow.db", env=env, database_url=database_url)
    if "FORWARDED_ALLOW_IPS" not in (env or {}):  # whatever the machine has set: ForkFlow's default
        srv.env.pop("FORWARDED_ALLOW_IPS", None)
    srv.start(*extra)
    try:
        yield srv
    finally:
        srv.stop()


def public_orders(url: str, server: Server, headers: list[dict[str, str]]) -> list[int]:
    dish = create_menu(server)["Fries"]
    body = order_body([dish, dish], channel="online")
    return [httpx.post(f"{url}/orders", json=body, headers=h, timeout=10).status_code for h in headers]


# Finding 6: whose X-Forwarded-For is believed


def test_serve_ignores_x_forwarded_for_unless_a_proxy_is_configured(tmp_path: Path) -> None:
    """Straight to `forkflow serve` (no proxy named): a client cannot pick its own address."""
    with started(tmp_path, env={"FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "3"}) as server:
        statuses = public_orders(server.url, server, [{"X-Forwarded-For": ip} for ip in SPOOFED])
        assert statuses == [201, 201, 201, 429]


def test_a_named_proxy_is_believed(tmp_path: Path) -> None:
    """`--forwarded-allow-ips` names the proxy; only then does X-Forwarded-For count."""
    env = {"FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "1"}
    with started(tmp_path, "--forwarded-allow-ips", "127.0.0.1", env=env) as server:
        statuses = public_orders(server.url, server, [{"X-Forwarded-For": ip} for ip in SPOOFED[:2]] + [{}, {}])
        assert statuses == [201, 201, 201, 429]


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if found is None and os.environ.get("CI") == "true":
        pytest.fail("nginx is missing in CI: scripts/test installs it")
    return found


@contextlib.contextmanager
def shipped_nginx(tmp_path: Path, upstream_port: int) -> Iterator[str]:
    """deploy/nginx.conf as shipped, with only its upstream address and listen port changed to
    loopback ones, run in the foreground with its own pid file, logs and temp paths."""
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (scripts/test installs it)")
    shipped = (REPO / "deploy" / "nginx.conf").read_text()
    port = free_port()
    site = shipped.replace("server forkflow:8000;", f"server 127.0.0.1:{upstream_port};").replace(
        "listen 80;", f"listen 127.0.0.1:{port};"
    )
    assert site.count(f"127.0.0.1:{upstream_port}") == 1 and site.count(f"127.0.0.1:{port}") == 1, "config changed"
    root = tmp_path / "nginx"
    root.mkdir()
    (root / "site.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {root / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {root / 'nginx.pid'};\nerror_log {root / 'error.log'};\nworker_processes 1;\n"
        + "events {}\n"
        + f"http {{\n    access_log {root / 'access.log'};\n{temp}\n    include {root / 'site.conf'};\n}}\n"
    )
    process = subprocess.Popen(
        [binary, "-p", str(root), "-e", str(root / "error.log"), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, (root / "error.log").read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_the_shipped_nginx_config_overwrites_x_forwarded_for(tmp_path: Path) -> None:
    """Behind deploy/nginx.conf, with ForkFlow trusting the proxy, a client that sends its own
    X-Forwarded-For is still counted as itself: four different claimed addresses, one allowance."""
    env = {"FORKFLOW_PUBLIC_ORDERS_PER_MINUTE": "3", "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with started(tmp_path, env=env) as server, shipped_nginx(tmp_path, server.port) as proxy:
        assert httpx.get(f"{proxy}/health", timeout=10).status_code == 200
        statuses = public_orders(proxy, server, [{"X-Forwarded-For": ip} for ip in SPOOFED])
        assert statuses == [201, 201, 201, 429]


def test_compose_trusts_only_the_proxy() -> None:
    compose = (REPO / "compose.yaml").read_text()
    assert 'FORWARDED_ALLOW_IPS: "*"' not in compose
    assert "FORWARDED_ALLOW_IPS: 172.28.0.10" in compose and "ipv4_address: 172.28.0.10" in compose
    nginx = (REPO / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "$proxy_add_x_forwarded_for" not in nginx


# Finding 7: open event streams


def open_stream(url: str, stack: contextlib.ExitStack, headers: dict[str, str] | None = None) -> httpx.Response:
    client = stack.enter_context(httpx.Client(timeout=httpx.Timeout(10, read=None)))
    return stack.enter_context(client.stream("GET", url, headers=headers))


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert int(response.headers["retry-after"]) >= 1
    response.read()
    assert response.json()["error"]["code"] == code


def opens_again(url: str, headers: dict[str, str] | None = None) -> None:
    """Slots come back once the server sees the stream gone: within a few seconds."""
    deadline = time.monotonic() + 5
    while True:
        with contextlib.ExitStack() as stack:
            if open_stream(url, stack, headers).status_code == 200:
                return
        assert time.monotonic() < deadline, "the closed stream's slot was never released"
        time.sleep(0.1)


def test_anonymous_streams_are_bounded_per_address(tmp_path: Path) -> None:
    env = {"FORKFLOW_MAX_STREAMS_PER_CLIENT": "3", "FORKFLOW_MAX_STREAMS": "10"}
    with started(tmp_path, env=env) as server:
        url = f"{server.url}/events?topics=menu"
        for _ in range(4):  # streams that end at once (HEAD) or never open (400) keep no slot
            assert httpx.head(url, timeout=10).status_code == 200
            assert httpx.get(url, headers={"Last-Event-ID": "x"}, timeout=10).status_code == 400
        with contextlib.ExitStack() as first:
            with contextlib.ExitStack() as stack:
                held = [open_stream(url, first)] + [open_stream(url, stack) for _ in range(2)]
                assert [r.status_code for r in held] == [200, 200, 200]
                with contextlib.ExitStack() as extra:
                    refused(open_stream(url, extra), 429, "too_many_requests")
                    # Every kind of public stream counts against the same bound.
                    refused(open_stream(f"{server.url}/menu/stream", extra), 429, "too_many_requests")
            # Two closed by the client: two new ones open, then the bound holds again.
            opens_again(url)
            with contextlib.ExitStack() as stack:
                assert [open_stream(url, stack).status_code for _ in range(3)] == [200, 200, 429]


def test_staff_streams_are_not_held_to_the_address_bound_but_the_total_holds(tmp_path: Path) -> None:
    env = {"FORKFLOW_MAX_STREAMS_PER_CLIENT": "2", "FORKFLOW_MAX_STREAMS": "5"}
    with started(tmp_path, env=env) as server:
        public, staff = f"{server.url}/events?topics=menu", f"{server.url}/events"
        kitchen = server.auth("kitchen")
        with contextlib.ExitStack() as stack:
            assert [open_stream(public, stack).status_code for _ in range(3)] == [200, 200, 429]
            # The same address, signed in: three kitchen screens open although the address is full.
            assert [open_stream(staff, stack, kitchen).status_code for _ in range(3)] == [200, 200, 200]
            with contextlib.ExitStack() as extra:
                refused(open_stream(staff, extra, kitchen), 503, "unavailable")
                refused(open_stream(public, extra), 503, "unavailable")
            # Plain requests are not streams: the API still answers.
            assert httpx.get(f"{server.url}/menu", timeout=10).status_code == 200
        opens_again(staff, kitchen)


# Finding 7: requests that never finish arriving


def slowloris(port: int, every: float, give_up: float) -> tuple[int, bytes]:
    """A client that sends a request line, then one more header line every `every` seconds and
    never ends its headers. Returns how many lines it got out and what the server said before
    closing the connection (raises if the server still holds it after `give_up` seconds)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(every)
    sent, answer = 0, b""
    deadline = time.monotonic() + give_up
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                sock.sendall(f"X-Slow-{sent}: still coming\r\n".encode())
                sent += 1
                continue
            except ConnectionResetError:
                return sent, answer
            if not chunk:
                return sent, answer
            answer += chunk
        raise AssertionError(f"the server still holds a slowloris connection after {give_up} s ({sent} lines)")
    finally:
        sock.close()


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_slow_headers_are_cut_off_while_normal_requests_work(tmp_path: Path, http: str) -> None:
    env = {"FORKFLOW_HEADER_TIMEOUT_SECONDS": "3"}
    with started(tmp_path, "--http", http, env=env) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/health").status_code == 200
            sent, answer = slowloris(server.port, every=1.0, give_up=15)
            assert sent >= 2, "the client did get some header lines in before the deadline"
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            assert b'"code": "timeout"' in answer
            # A connection that sends nothing at all is closed too, without an answer.
            with socket.create_connection(("127.0.0.1", server.port)) as idle:
                idle.settimeout(15)
                assert idle.recv(100) == b""
            assert client.get("/health").status_code == 200  # its pooled connection, still fine


def test_slow_headers_after_a_first_request_on_the_same_connection(tmp_path: Path) -> None:
    env = {"FORKFLOW_HEADER_TIMEOUT_SECONDS": "2"}
    with started(tmp_path, env=env) as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sock.settimeout(10)
        first = b""
        while b"\r\n\r\n" not in first or not first.endswith(b"}"):  # the whole JSON answer
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # then a header line now and then
        answer, _ = trickle_then_read(sock, b"X-Slow: yes\r\n", deadline=2)
        assert answer.startswith(b"HTTP/1.1 408 "), answer


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_slow_body_gets_408(tmp_path: Path, framing: str) -> None:
    env = {"FORKFLOW_BODY_TIMEOUT_SECONDS": "2"}
    with started(tmp_path, env=env) as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        length = b"Content-Length: 200\r\n" if framing == "content-length" else b"Transfer-Encoding: chunked\r\n"
        head = b"POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        sock.sendall(head + length + b"\r\n")
        answer, closed = trickle_then_read(sock, b" " if framing == "content-length" else b"1\r\n \r\n", deadline=2)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b'"code":"timeout"' in answer
        assert b"content-security-policy" in answer.lower(), "the app's answer, with its headers"
        assert b"connection: close" in answer.lower()
        assert closed, "the server closed the connection after its answer"


def test_the_body_deadline_counts_from_the_first_read_not_from_the_last_byte() -> None:
    """A body trickling in a byte at a time never lets the deadline restart (in-process, so the
    client can keep trickling past the deadline without racing the server's close)."""

    async def echo(request: Request) -> Response:
        return Response(await request.body())

    app = BodyLimit(Starlette(routes=[Route("/", echo, methods=["POST"])]), max_bytes=1000, timeout=0.3)
    app.app.add_exception_handler(HTTPException, on_http_error)
    sent: list[dict] = []
    trickled = 0

    async def trickling() -> dict:
        nonlocal trickled
        await anyio.sleep(0.05)
        trickled += 1
        return {"type": "http.request", "body": b" ", "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    async def main() -> None:
        scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
        with anyio.fail_after(5):  # a deadline restarted by every byte would never end
            await app(scope, trickling, send)

    anyio.run(main)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 408 and (b"connection", b"close") in start["headers"]
    assert 3 <= trickled <= 20, trickled


def trickle_then_read(sock: socket.socket, piece: bytes, deadline: float) -> tuple[bytes, bool]:
    """Send `piece` every 0.5 s for half of the server's `deadline`, then only read: the answer and
    whether the server closed the connection. Trickling up to the deadline itself would race the
    server's close: a piece landing unread in a closing socket makes its kernel answer with a reset,
    which throws away the 408 the client has not read yet."""
    answer, started_at, closed = b"", time.monotonic(), False
    sock.settimeout(0.5)
    while time.monotonic() - started_at < 12:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            if time.monotonic() - started_at < deadline / 2:
                sock.sendall(piece)
            continue
        if not chunk:
            closed = True
            break
        answer += chunk
    return answer, closed


def test_workers_keep_the_deadline_and_trust_no_proxy(tmp_path: Path) -> None:
    """`forkflow serve --workers 2` (PostgreSQL) runs the same options in every worker."""
    url = new_postgres_database()
    try:
        env = {"FORKFLOW_HEADER_TIMEOUT_SECONDS": "2"}
        with started(tmp_path, "--workers", "2", env=env, database_url=url) as server:
            sent, answer = slowloris(server.port, every=0.5, give_up=12)
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            # A worker sees the connection's address, whatever the client claims (the access log
            # names the client as the app sees it).
            assert httpx.get(f"{server.url}/health", headers={"X-Forwarded-For": "203.0.113.77"}).status_code == 200
            time.sleep(0.5)
            log = server.log.read_text()
            assert '"GET /health HTTP/1.1" 200' in log and "203.0.113.77" not in log
    finally:
        drop_postgres_database(url)
