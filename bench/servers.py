"""Servers under test, each in its own subprocess on 127.0.0.1, so the load generator never shares
the server's interpreter (or its GIL) and the server's CPU time can be read from /proc."""

from __future__ import annotations

import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc reports CPU time in these


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it; a tiny race is accepted)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """Start a server command, wait for its GET /health, stop it with SIGINT like Ctrl-C would."""

    def __init__(
        self, name: str, argv: list[str], port: int, workdir: Path, cwd: Path = REPO, cpus: tuple[int, ...] = ()
    ) -> None:
        self.name = name
        self.cpus = cpus  # CPUs the server (every thread it will start) may run on; () for any
        self.argv = argv
        self.port = port
        self.workdir = workdir
        self.cwd = cwd
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.credentials: tuple[str, str] | None = None  # a staff account, where the server has them
        self.shutdown_seconds: float | None = None
        self.killed = False

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("wb")
        cpus = self.cpus
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Set in the child before exec: every thread the server starts inherits it.
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
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

    def cpu_times(self) -> tuple[float, float]:
        """User and system CPU seconds the server process (all its threads) has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS  # utime, stime

    def cpu_seconds(self) -> float:
        return sum(self.cpu_times())

    def rss_kib(self) -> int:
        """Resident memory of the server process now (VmRSS), in KiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc/PID/status")

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


WORKDIRS: list[Path] = []  # made by this run; run.py removes them unless asked to keep them


def workdir(prefix: str) -> Path:
    """A fresh directory per server run: a fresh database, and logs to look at afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"forkflow-bench-{prefix}-"))
    WORKDIRS.append(path)
    return path


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def forkflow_source(ref: str) -> tuple[Path, str]:
    """Where to run `python -m forkflow` from, and what that code is.

    A git ref (default HEAD) is exported with `git archive` to a temporary directory, so the
    figures belong to one commit even while someone is editing forkflow/; `python -m` finds the
    package in its working directory before the editable install. "worktree" runs the files as
    they are in this checkout.
    """
    if ref == "worktree":
        dirty = _git("status", "--porcelain", "--", "forkflow")
        return REPO, f"working tree at {_git('rev-parse', '--short=12', 'HEAD')}" + (
            " with uncommitted forkflow/ changes" if dirty else ""
        )
    sha = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    archive = subprocess.run(["git", "archive", sha], cwd=REPO, capture_output=True, check=True).stdout
    dest = workdir("source")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest, f"{ref} = {sha[:12]}"


def migrate(source: Path, db: Path) -> None:
    """Make (or bring up to date) a database the operator's way: `forkflow migrate`."""
    subprocess.run(
        [sys.executable, "-m", "forkflow", "migrate", "--db", str(db)], cwd=source, check=True, capture_output=True
    )


def forkflow_server(
    source: Path, cpus: tuple[int, ...] = (), log_level: str = "warning", db_path: Path | None = None
) -> ServerProcess:
    """The real thing, started exactly as the operator would, from the code in `source`, on a
    fresh database (or on `db_path`, e.g. one pre-filled with history)."""
    where = db_path.parent if db_path is not None else workdir("forkflow")
    port = free_port()
    db = str(db_path or where / "bench.db")
    argv = [
        sys.executable,
        "-m",
        "forkflow",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--db",
        db,
        "--log-level",
        log_level,
    ]
    server = ServerProcess("forkflow", argv, port, where, cwd=source, cpus=cpus)
    server.credentials = _add_manager(source, db)
    return server


def _add_manager(source: Path, db: str) -> tuple[str, str] | None:
    """A manager account for the bench, made the operator's way (`forkflow users add`).

    None for versions of ForkFlow from before staff accounts, which need no sign-in.
    """
    name, password = "bench", secrets.token_urlsafe(18)
    added = subprocess.run(
        [sys.executable, "-m", "forkflow", "users", "add", name, "--role", "manager", "--password-stdin", "--db", db],
        cwd=source,
        input=password + "\n",
        text=True,
        capture_output=True,
    )
    if added.returncode == 2 and "invalid choice: 'users'" in added.stderr:
        return None
    if added.returncode != 0:
        raise RuntimeError(f"forkflow users add failed:\n{added.stdout}{added.stderr}")
    return name, password


def ceiling_server(cpus: tuple[int, ...] = (), log_level: str = "warning") -> ServerProcess:
    """Ceiling A: bare Starlette + aiosqlite, served by uvicorn the same way (see ceiling_app.py)."""
    where = workdir("ceiling")
    port = free_port()
    argv = [
        sys.executable,
        str(REPO / "bench" / "ceiling_app.py"),
        "--host",
        HOST,
        "--port",
        str(port),
        "--db",
        str(where / "ceiling.db"),
        "--log-level",
        log_level,
    ]
    return ServerProcess("ceiling", argv, port, where, cpus=cpus)
