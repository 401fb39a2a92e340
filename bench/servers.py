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

from .pg import WORKERS as PG_WORKERS
from .pg import create_database, drop_database

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
        self,
        name: str,
        argv: list[str],
        port: int,
        workdir: Path,
        cwd: Path = REPO,
        cpus: tuple[int, ...] = (),
        database_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.env = env or {}  # added to the environment the server starts in
        # A PostgreSQL database made for this server: handed to it as FORKFLOW_DATABASE_URL and
        # dropped once the server has stopped. None on SQLite.
        self.database_url = database_url
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
            env=os.environ | self.env | ({"FORKFLOW_DATABASE_URL": self.database_url} if self.database_url else {}),
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

    def pids(self) -> list[int]:
        """The server process and every process under it (uvicorn's workers with --workers)."""
        assert self.proc is not None
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def cpu_times(self) -> tuple[float, float]:
        """User and system CPU seconds the server's processes (all their threads) have used so far."""
        user = system = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            user, system = user + int(fields[11]), system + int(fields[12])
        return user / CLOCK_TICKS, system / CLOCK_TICKS

    def cpu_seconds(self) -> float:
        return sum(self.cpu_times())

    def rss_kib(self) -> int:
        """Resident memory of the server's processes now (VmRSS, summed), in KiB."""
        total = 0
        for pid in self.pids():
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            total += next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)
        if not total:
            raise RuntimeError("no VmRSS in /proc/PID/status")
        return total

    def stop(self, timeout: float = 15.0) -> None:
        try:
            self._stop(timeout)
        finally:
            if self.database_url is not None and (self.proc is None or self.proc.poll() is not None):
                url, self.database_url = self.database_url, None
                drop_database(url)

    def _stop(self, timeout: float) -> None:
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


def _where(db: Path | str) -> tuple[list[str], dict[str, str] | None]:
    """How a forkflow command is told its database: `--db PATH` for SQLite, the environment
    variable FORKFLOW_DATABASE_URL for PostgreSQL (as `forkflow serve --workers N` needs)."""
    if isinstance(db, str) and db.startswith("postgresql"):
        return [], os.environ | {"FORKFLOW_DATABASE_URL": db}
    return ["--db", str(db)], None


def migrate(source: Path, db: Path | str) -> None:
    """Make (or bring up to date) a database the operator's way: `forkflow migrate`."""
    option, env = _where(db)
    subprocess.run(
        [sys.executable, "-m", "forkflow", "migrate", *option], cwd=source, check=True, capture_output=True, env=env
    )


# The load generator is one client address holding thousands of event streams (fanout opens up
# to 5,000 public menu streams, the rush 200 tracking pages): the per-address stream bound is off
# and the total raised above that, as a site expecting such numbers would set them. Everything
# else runs on ForkFlow's defaults.
STREAM_LIMITS = {"FORKFLOW_MAX_STREAMS_PER_CLIENT": "0", "FORKFLOW_MAX_STREAMS": "10000"}


def forkflow_server(
    source: Path,
    cpus: tuple[int, ...] = (),
    log_level: str = "warning",
    db_path: Path | None = None,
    backend: str = "sqlite",
    database_url: str | None = None,
) -> ServerProcess:
    """The real thing, started exactly as the operator would, from the code in `source`, on a
    fresh database (or on `db_path` / `database_url`, e.g. one pre-filled with history).

    On PostgreSQL: a fresh database (CREATE DATABASE; dropped when the server stops, also one
    passed in), and `forkflow serve --workers 2` with FORKFLOW_DATABASE_URL, no --db.
    """
    where = db_path.parent if db_path is not None else workdir(backend if backend != "sqlite" else "forkflow")
    port = free_port()
    argv = [sys.executable, "-m", "forkflow", "serve", "--host", HOST, "--port", str(port)]
    if backend == "postgres":
        url = database_url or create_database()
        argv += ["--workers", str(PG_WORKERS)]
        db: str | Path = url
    else:
        url = None
        db = db_path or where / "bench.db"
        argv += ["--db", str(db)]
    argv += ["--log-level", log_level]
    server = ServerProcess("forkflow", argv, port, where, cwd=source, cpus=cpus, database_url=url, env=STREAM_LIMITS)
    try:
        server.credentials = _add_manager(source, db)
    except BaseException:
        server.stop()  # drops the database
        raise
    return server


def _add_manager(source: Path, db: Path | str) -> tuple[str, str] | None:
    """A manager account for the bench, made the operator's way (`forkflow users add`).

    None for versions of ForkFlow from before staff accounts, which need no sign-in.
    """
    name, password = "bench", secrets.token_urlsafe(18)
    option, env = _where(db)
    added = subprocess.run(
        [sys.executable, "-m", "forkflow", "users", "add", name, "--role", "manager", "--password-stdin", *option],
        cwd=source,
        env=env,
        input=password + "\n",
        text=True,
        capture_output=True,
    )
    if added.returncode == 2 and "invalid choice: 'users'" in added.stderr:
        return None
    if added.returncode != 0:
        raise RuntimeError(f"forkflow users add failed:\n{added.stdout}{added.stderr}")
    return name, password


def ceiling_server(cpus: tuple[int, ...] = (), log_level: str = "warning", database: bool = True) -> ServerProcess:
    """Ceiling A (bare Starlette + aiosqlite) or, with database=False, ceiling F (the same app with
    no database: the framework alone), served by uvicorn the same way (see ceiling_app.py)."""
    name = "ceiling" if database else "ceiling-f"
    where = workdir(name)
    port = free_port()
    argv = [sys.executable, str(REPO / "bench" / "ceiling_app.py"), "--host", HOST, "--port", str(port)]
    argv += ["--db", str(where / "ceiling.db")] if database else ["--no-db"]
    argv += ["--log-level", log_level]
    return ServerProcess(name, argv, port, where, cpus=cpus)
