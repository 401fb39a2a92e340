"""A deadline uvicorn does not keep: a request's line and headers must arrive within a time limit.

uvicorn (0.54, both its h11 and httptools protocols) times out only a keep-alive connection that
stays silent after a response, and stops timing it at the first byte of the next request. So a
client that connects and sends nothing, or sends a header line every few seconds and never
finishes (slowloris), holds its connection for ever, and a few thousand of them exhaust the
process. These protocol classes start a deadline when a connection opens and when the first byte
of a further request on it arrives, and cancel it once the request's headers are complete. Past
it, a client that sent part of a request gets 408 and the connection is closed; one that sent
nothing is simply closed. Slow bodies are bounded where the app reads them (`BodyLimit`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("forkflow.http")

# After a 408 the connection is half-closed and what the client still sends is read and dropped for
# this long: closing at once would make the kernel answer its next bytes with a reset, and a reset
# discards our 408 from the client's receive buffer before it has read it. (When the client closes
# its side first, asyncio closes the transport: uvicorn's eof_received returns None.)
LINGER_SECONDS = 2.0


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps(
        {"error": {"code": "timeout", "message": f"the request headers did not arrive within {seconds:g} s"}}
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeaderDeadline:
    """Mixed into a uvicorn HTTP protocol class (which provides `transport`, `cycle`, `loop`)."""

    transport: asyncio.Transport
    cycle: Any
    loop: asyncio.AbstractEventLoop

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._cycle_before: Any = None  # the request being served when the timer started
        self._got_bytes = False  # did any of the awaited request arrive?
        self._between_requests = False  # a response is done; the next request has not begun
        self._lingering = False  # the 408 is sent; reading only to close without a reset

    def _start_header_timer(self, got_bytes: bool) -> None:
        self._cancel_header_timer()
        self._cycle_before = self.cycle
        self._got_bytes = got_bytes
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.cycle is not self._cycle_before:
            return
        if self._got_bytes:
            log.info("request headers not complete within %g s: answered 408, connection closed", self.header_timeout)
            self.transport.write(_timeout_response(self.header_timeout))
            if self.transport.can_write_eof():
                self._lingering = True
                self.transport.write_eof()
                self.loop.call_later(LINGER_SECONDS, self.transport.close)
                return
        self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._start_header_timer(got_bytes=False)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        if self._between_requests and self._header_timer is None:
            self._between_requests = False
            self._start_header_timer(got_bytes=True)
        elif self._header_timer is not None:
            self._got_bytes = True
        super().data_received(data)  # type: ignore[misc]
        if self._header_timer is not None and self.cycle is not self._cycle_before:
            self._cancel_header_timer()  # a new request's headers are complete

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        # Waiting for the next request, unless a pipelined one has already started; while the
        # connection is silent, uvicorn's keep-alive timeout applies.
        self._between_requests = self.cycle is None or self.cycle.response_complete

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]


class H11WithDeadline(HeaderDeadline, H11Protocol):
    pass


# Protocol classes whose constructor takes `header_timeout` (HeaderDeadline's) besides uvicorn's arguments.
PROTOCOLS: dict[str, Callable[..., asyncio.Protocol]] = {"h11": H11WithDeadline}
try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # without httptools, uvicorn's "auto" picks h11 too
    pass
else:

    class HttpToolsWithDeadline(HeaderDeadline, HttpToolsProtocol):
        pass

    PROTOCOLS["httptools"] = HttpToolsWithDeadline
PROTOCOLS["auto"] = PROTOCOLS.get("httptools", H11WithDeadline)


def http_protocol(name: str, header_timeout: float) -> Callable[..., asyncio.Protocol] | str:
    """What to pass as uvicorn's `http=`: the named implementation ("auto" is what uvicorn would
    pick: httptools when installed, else h11) with the header deadline, or just the name when the
    timeout is 0 (off). A partial of a module-level class, so it pickles into `--workers` processes."""
    if header_timeout <= 0:
        return name
    if name not in PROTOCOLS:
        raise SystemExit(f"forkflow: the {name} HTTP implementation is not installed")
    return functools.partial(PROTOCOLS[name], header_timeout=header_timeout)
