"""Servers under test, each in its own subprocess on 127.0.0.1, so the load generator never shares
the server's interpreter (or its GIL) and the server's CPU time can be read from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it; a tiny race is accepted)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """Start a server command, wait for its GET /health, stop it with SIGINT like Ctrl-C would."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.shutdown_seconds: float | None = None
        self.killed = False

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer /health within {timeout}s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process (all its threads) has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        started = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.killed = True
            self.proc.kill()
            self.proc.wait()
        self.shutdown_seconds = time.monotonic() - started

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def workdir(prefix: str) -> Path:
    """A fresh directory per server run: a fresh database, and logs to look at afterwards."""
    return Path(tempfile.mkdtemp(prefix=f"forkflow-bench-{prefix}-"))


def forkflow_server(log_level: str = "warning") -> ServerProcess:
    """The real thing, started exactly as the operator would."""
    where = workdir("forkflow")
    port = free_port()
    argv = [sys.executable, "-m", "forkflow", "serve", "--host", HOST, "--port", str(port),
            "--db", str(where / "bench.db"), "--log-level", log_level]
    return ServerProcess("forkflow", argv, port, where)


def ceiling_server(log_level: str = "warning") -> ServerProcess:
    """Ceiling A: bare Starlette + aiosqlite, served by uvicorn the same way (see ceiling_app.py)."""
    where = workdir("ceiling")
    port = free_port()
    argv = [sys.executable, str(REPO / "bench" / "ceiling_app.py"), "--host", HOST, "--port", str(port),
            "--db", str(where / "ceiling.db"), "--log-level", log_level]
    return ServerProcess("ceiling", argv, port, where)
