"""The wire to a network ESC/POS printer: one job, all of its bytes, or a `PrinterError`.

A send opens a TCP connection with python-escpos's `Network`, writes the job, then asks for the
printer's real-time status (DLE EOT 1). The printer answers in order, after every byte before the
request: its answer is the proof it took the whole job (forkflow/printing/__init__.py, point 3).
The whole send is bounded by `timeout` and runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import socket
import time

import anyio
from escpos.constants import RT_MASK_ONLINE, RT_STATUS_ONLINE
from escpos.printer import Network


class PrinterError(Exception):
    """The printer did not take the job; the message says what happened."""


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise PrinterError("timed out")
    return left


def _send_blocking(host: str, port: int, data: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    printer = Network(host, port, timeout=timeout)
    try:
        try:
            printer.open()
        except Exception as exc:  # python-escpos wraps the socket's error in DeviceNotFoundError
            cause = exc.__cause__ or exc.__context__ or exc
            if isinstance(cause, ConnectionRefusedError):
                raise PrinterError("connection refused") from exc
            if isinstance(cause, TimeoutError | socket.timeout):
                raise PrinterError("timed out connecting") from exc
            raise PrinterError(f"could not connect: {cause}") from exc
        device = printer.device
        try:
            device.settimeout(_remaining(deadline))
            printer._raw(data)
            device.settimeout(_remaining(deadline))
            status = printer.query_status(RT_STATUS_ONLINE)
        except TimeoutError as exc:
            raise PrinterError("timed out: the printer took no answer back") from exc
        except OSError as exc:
            raise PrinterError(f"connection dropped: {exc.strerror or exc}") from exc
        if not status:
            raise PrinterError("connection dropped: no status answer")
        if status[0] & RT_MASK_ONLINE:
            raise PrinterError("the printer answered that it is offline (cover open or out of paper)")
    finally:
        try:
            printer.close()
        except OSError:
            pass


async def send(host: str, port: int, data: bytes, timeout: float) -> None:
    """Print `data` on host:port, or raise `PrinterError`. Not abandoned when cancelled: the
    thread finishes (within `timeout`) so that no job is ever half-sent behind the caller's back."""
    await anyio.to_thread.run_sync(_send_blocking, host, port, data, timeout)
