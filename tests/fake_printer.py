"""A fake network ESC/POS printer: a TCP server on loopback, in a thread, switchable at run time.

Modes: "ok" (reads every byte, answers DLE EOT status requests "online", keeps each complete job),
"refuse" (nothing listens: connection refused), "hang" (accepts, never reads, never answers),
"drop" (accepts, reads part of a job, closes), "slow" (as "ok", but answers its status after
`slow_seconds`: a send in flight for that long). One connection is one job (transport.py sends one
job per connection): a job is complete when it ends with a cut and its status was asked; what
arrived otherwise is kept as partial. `chits()` reads the complete jobs back with
tests/escpos_decode.py, as a person reads the paper.
"""

from __future__ import annotations

import socket
import threading
import time

from .conftest import wait_until
from .escpos_decode import Chit, one_chit

__all__ = ["FakePrinter", "wait_until"]

STATUS_REQUEST = b"\x10\x04"  # DLE EOT n
ONLINE = b"\x12"  # fixed bits only: online, drawer closed
CUTS = (b"\x1dV", b"\x1bi", b"\x1bm")  # GS V (python-escpos's cut), ESC i, ESC m


class FakePrinter:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.slow_seconds = 1.0
        self.connections = 0  # accepted, in any mode
        self.jobs: list[bytes] = []  # complete jobs, status requests taken out
        self.partial: list[bytes] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def set_mode(self, mode: str) -> None:
        self.mode = mode

    def _listen(self) -> socket.socket | None:
        if self._listener is None:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind(("127.0.0.1", self.port))
            except OSError:
                listener.close()
                return None
            listener.listen(16)
            listener.settimeout(0.05)
            self._listener = listener
        return self._listener

    def _serve(self) -> None:
        while not self._stop.is_set():
            if self.mode == "refuse":
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
                time.sleep(0.02)
                continue
            listener = self._listen()
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                continue
            mode = self.mode
            self.connections += 1
            if mode == "hang":
                self._held.append(conn)  # never read, never answered, closed at the end
                continue
            threading.Thread(target=self._handle, args=(conn, mode), daemon=True).start()

    def _handle(self, conn: socket.socket, mode: str) -> None:
        got = b""
        asked = False
        conn.settimeout(5)
        try:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                got += chunk
                if mode == "drop" and len(got) >= 8:
                    got = got[:8]
                    break
                while True:
                    at = got.find(STATUS_REQUEST)
                    if at < 0 or len(got) < at + 3:
                        break
                    got = got[:at] + got[at + 3 :]
                    asked = True
                    if mode == "slow":
                        time.sleep(self.slow_seconds)
                    conn.sendall(ONLINE)
        finally:
            conn.close()
        with self._lock:
            if mode in ("ok", "slow") and asked and any(cut in got for cut in CUTS):
                self.jobs.append(got)
            elif got:
                self.partial.append(got)

    def chits(self) -> list[Chit]:
        """Each complete job as the one chit it printed (each ends with its one cut)."""
        return [one_chit(job) for job in list(self.jobs)]

    def wait_for(self, count: int, timeout: float = 20) -> list[bytes]:
        """Wait until `count` complete jobs arrived; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.jobs) >= count:
                return list(self.jobs)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.jobs)} job(s) printed, expected {count}: partial {self.partial!r}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._held:
            conn.close()
        if self._listener is not None:
            self._listener.close()
