"""HTTP clients for the load generator: a minimal keep-alive HTTP/1.1 client on asyncio streams,
and httpx.AsyncClient behind the same small interface, so the two can be compared on the same run.

The raw client exists because the load generator has one core to itself: every microsecond the
client spends per request is a request the server is not offered. It speaks only what the bench
needs (Content-Length or chunked bodies, keep-alive) and is not a general HTTP client.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

import httpx

CLIENT_KINDS = ("raw", "httpx")


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value
    body: bytes


class Client(Protocol):
    headers: dict[str, str]  # sent with every request, e.g. Authorization

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response: ...

    async def aclose(self) -> None: ...


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Status code and headers of one response."""
    status, headers, _size = await read_head_sized(reader)
    return status, headers


async def read_head_sized(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], int]:
    """Status code, headers, and the head's size in bytes, of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ", 2)[1]), headers, len(head)


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked body; b"" is the last one."""
    size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
    data = await reader.readexactly(size + 2)
    if size == 0:
        # Trailers (none expected) end with an empty line, already read with the CRLF above.
        return b""
    return data[:-2]


# uvicorn closes a keep-alive connection idle for 5 s (its default); one idle for longer than this
# is not reused, so a request never races the server's close of a connection it thinks is open.
REUSE_IDLE_S = 4.0


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = time.monotonic()

    def close(self) -> None:
        self.writer.close()


class RawClient:
    """A pool of at most `connections` keep-alive connections to one host:port."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self.host = host
        self.port = port
        self._idle: asyncio.LifoQueue[_Connection | None] = asyncio.LifoQueue()
        for _ in range(connections):
            self._idle.put_nowait(None)  # a slot: the connection is opened on first use
        self._host_header = f"Host: {host}:{port}\r\n"
        self.headers: dict[str, str] = {}

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        conn = await self._idle.get()
        try:
            if conn is not None and time.monotonic() - conn.last_used > REUSE_IDLE_S:
                conn.close()
                conn = None
            reused = conn is not None
            if conn is None:
                conn = await self._open()
            try:
                response = await self._exchange(conn, method, path, body, headers)
            except (ConnectionError, asyncio.IncompleteReadError):
                # A kept-alive connection the server had closed meanwhile (after an error, say):
                # a GET is safe to send again, once, on a new connection. Anything else is a result.
                if not (reused and method == "GET"):
                    raise
                conn.close()
                conn = None
                conn = await self._open()
                response = await self._exchange(conn, method, path, body, headers)
            if response.headers.get("connection", "").lower() == "close":
                conn.close()
                conn = None
            else:
                conn.last_used = time.monotonic()
            return response
        except BaseException:
            if conn is not None:
                conn.close()
            conn = None
            raise
        finally:
            self._idle.put_nowait(conn)

    async def _open(self) -> _Connection:
        return _Connection(*await asyncio.open_connection(self.host, self.port))

    async def _exchange(
        self, conn: _Connection, method: str, path: str, body: bytes | None, headers: dict[str, str] | None
    ) -> Response:
        """One request and its whole response on `conn`."""
        head = [f"{method} {path} HTTP/1.1\r\n", self._host_header]
        if body is not None:
            head.append(f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
        for name, value in (self.headers | (headers or {})).items():
            head.append(f"{name}: {value}\r\n")
        head.append("\r\n")
        conn.writer.write("".join(head).encode("latin-1") + (body or b""))
        status, response_headers = await read_head(conn.reader)
        if "content-length" in response_headers:
            data = await conn.reader.readexactly(int(response_headers["content-length"]))
        elif response_headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while part := await read_chunk(conn.reader):
                parts.append(part)
            data = b"".join(parts)
        else:
            data = await conn.reader.read()
            response_headers["connection"] = "close"
        return Response(status, response_headers, data)

    async def aclose(self) -> None:
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                conn.close()


class HttpxClient:
    """httpx.AsyncClient with its pool limited to the concurrency, as an application would use it."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.AsyncClient(base_url=f"http://{host}:{port}", limits=limits, timeout=60.0)
        self.headers: dict[str, str] = {}

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        all_headers.update(self.headers | (headers or {}))
        resp = await self._client.request(method, path, content=body, headers=all_headers)
        return Response(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)

    async def aclose(self) -> None:
        await self._client.aclose()


def make_client(kind: str, host: str, port: int, connections: int) -> Client:
    if kind == "raw":
        return RawClient(host, port, connections)
    if kind == "httpx":
        return HttpxClient(host, port, connections)
    raise ValueError(f"unknown client {kind!r}; choose from {CLIENT_KINDS}")
