"""Settings, read once from the environment and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .money.currency import Currency

DEFAULT_DATABASE_FILE = "forkflow.db"


def sqlite_url(path: str | os.PathLike[str]) -> str:
    return f"sqlite+aiosqlite:///{Path(path).expanduser().resolve()}"


def is_sqlite(url: str) -> bool:
    """SQLite (the embedded default) or not (PostgreSQL): the one test of a database URL."""
    return url.startswith("sqlite")


def normalise_database_url(url: str) -> str:
    """Accept the URLs people type (`sqlite:///x.db`) and pick the async driver."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    for plain in ("postgresql:", "postgres:"):
        if url.startswith(plain):
            return "postgresql+asyncpg:" + url[len(plain) :]
    return url


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _env_positive(name: str, default: float) -> float:
    try:
        value = _env_float(name, default)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SystemExit(f"{name} must be a number of seconds above 0, got {os.environ.get(name)!r}")
    return value


def _local_zone() -> ZoneInfo:
    name = os.environ.get("FORKFLOW_TIMEZONE") or os.environ.get("TZ") or "UTC"
    try:
        return ZoneInfo(name.lstrip(":"))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SystemExit(f"unknown time zone {name!r}: set FORKFLOW_TIMEZONE to an IANA name") from exc


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


LOG_FORMATS = ("text", "json")


def _log_format() -> str:
    raw = os.environ.get("FORKFLOW_LOG_FORMAT", "text").lower()
    if raw not in LOG_FORMATS:
        raise SystemExit(f"FORKFLOW_LOG_FORMAT must be text or json, got {raw!r}")
    return raw


def _day_starts_at() -> time:
    # Late services run past midnight: ticket numbers restart at this local time, not at 00:00.
    raw = os.environ.get("FORKFLOW_DAY_STARTS_AT", "04:00")
    try:
        return time.fromisoformat(raw)
    except ValueError as exc:
        raise SystemExit(f"FORKFLOW_DAY_STARTS_AT must be HH:MM, got {raw!r}") from exc


def _currency() -> Currency:
    try:
        return Currency(
            os.environ.get("FORKFLOW_CURRENCY", "USD").strip().upper(),
            os.environ.get("FORKFLOW_LOCALE", "en_US").strip(),
        )
    except ValueError as exc:
        raise SystemExit(f"FORKFLOW_CURRENCY / FORKFLOW_LOCALE: {exc}") from exc


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from exc


# scrypt's cost for new password hashes, log2 of N (auth/passwords.py): OWASP's minimum by default.
# FORKFLOW_PASSWORD_HASH_COST takes 10 (test servers only) to 20; a stored hash above 20 is refused.
PASSWORD_HASH_COST, MIN_PASSWORD_HASH_COST, MAX_PASSWORD_HASH_COST = 17, 10, 20


def _password_hash_cost() -> int:
    cost = _env_int("FORKFLOW_PASSWORD_HASH_COST", PASSWORD_HASH_COST)
    if not MIN_PASSWORD_HASH_COST <= cost <= MAX_PASSWORD_HASH_COST:
        raise SystemExit(
            f"FORKFLOW_PASSWORD_HASH_COST must be {MIN_PASSWORD_HASH_COST} to {MAX_PASSWORD_HASH_COST}, got {cost}"
        )
    return cost


def _schedule_days() -> int:
    days = _env_int("FORKFLOW_MAX_SCHEDULE_DAYS", 7)
    if not 1 <= days <= 365:
        raise SystemExit(f"FORKFLOW_MAX_SCHEDULE_DAYS must be 1 to 365, got {days}")
    return days


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _allowed_hosts() -> tuple[str, ...]:
    raw = os.environ.get("FORKFLOW_ALLOWED_HOSTS", "")
    return tuple(host.strip().lower() for host in raw.split(",") if host.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: sqlite_url(DEFAULT_DATABASE_FILE))
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    day_starts_at: time = time(4, 0)
    # The restaurant's currency and the locale every screen formats money and dates in (issue 17).
    currency: Currency = field(default_factory=Currency)
    # Server-Sent Events
    sse_ping_seconds: float = 15.0
    sse_retry_ms: int = 1500
    subscriber_queue_size: int = 2000
    # Writer: how many queued write units may share one commit.
    max_batch: int = 200
    # Requests
    max_body_bytes: int = 64 * 1024
    # Public (not signed-in) POST /orders per client address per minute; 0 turns the limit off.
    public_orders_per_minute: int = 30
    # Send the session cookie over HTTPS only (set when served behind TLS).
    secure_cookies: bool = False
    # Signs session cookies; by default a random key kept in the database.
    secret_key: str | None = None
    # Kitchen display: a ticket turns amber, then red, after this many minutes.
    kitchen_warn_minutes: float = 8.0
    kitchen_late_minutes: float = 15.0
    # Operations: who may read /metrics (managers only, unless public), and the log format.
    metrics_public: bool = False
    log_format: str = "text"
    # --- Sign-in: throttling failed sign-ins, device cookies, password hashing (issue 12: 2, 4, 12) ---
    # Failures (and sign-ins still being checked) counted within this window, in seconds.
    sign_in_window_seconds: float = 900.0
    # Per (name as typed, client address), per client address (any name), per device cookie.
    sign_in_failures_per_name_and_address: int = 5
    sign_in_failures_per_address: int = 20
    sign_in_failures_per_device: int = 5
    # Per name, from every client without a device cookie for it (0: no such limit).
    sign_in_failures_per_name_untrusted: int = 100
    # How long a device cookie is kept, in days.
    device_cookie_days: int = 365
    password_hash_cost: int = PASSWORD_HASH_COST
    # Streams and credentials (issue 12, "streams"): every event stream re-checks its caller's
    # session or token at least this often, and ends after at most this long (the browser
    # reconnects and is authenticated again); revocations end streams at once regardless.
    stream_recheck_seconds: float = 60.0
    stream_max_seconds: float = 12 * 3600.0
    # Edges (issue 12, findings 6 and 7): whose X-Forwarded-For to believe, how many event streams
    # stay open, and how long a request may take to arrive. Bounds of 0 turn that bound off.
    forwarded_allow_ips: str = ""  # proxies (addresses or CIDR networks, comma-separated); none by default
    max_streams: int = 1000  # open event streams per server process, everyone's together
    max_streams_per_client: int = 20  # open anonymous streams per client address (staff are not counted here)
    header_timeout_seconds: float = 10.0  # a request's line and headers must be complete by then
    body_timeout_seconds: float = 10.0  # and its body this long after the headers
    # Public surface (issue 12, public part): what an anonymous order may hold, how many portions one
    # client address may order per hour (0: no budget), and the Host names the server answers to
    # (the loopback names are always allowed; "*" allows any).
    public_max_per_item: int = 20
    public_max_per_order: int = 50
    public_portions_per_hour: int = 100
    allowed_hosts: tuple[str, ...] = ()
    # Scheduled orders (issue 15): how far ahead a pickup may be asked for, and whether the station
    # views show "start in" on the lines shorter than the longest of their course (fire by prep time).
    max_schedule_days: int = 7
    fire_by_prep_time: bool = True
    # Kitchen printers (issue 16, forkflow/printing/): the bound on one send to a printer; a failed
    # job's retries (first after `printer_retry_seconds`, doubling up to `printer_retry_max_seconds`);
    # after `printer_backup_seconds` of failing it goes to its printer's backup; and how often the
    # print worker looks for due jobs when nothing woke it.
    printer_timeout_seconds: float = 5.0
    printer_retry_seconds: float = 1.0
    printer_retry_max_seconds: float = 5.0
    printer_backup_seconds: float = 20.0
    print_poll_seconds: float = 30.0
    # Proof of sight (issue 16, services/sight.py): a send no screen or printer of its station has
    # seen this long after it was sent raises the alarm; a screen whose heartbeat is older than
    # `screen_offline_seconds` is offline; displays send their heartbeat this often.
    unseen_seconds: float = 10.0
    screen_offline_seconds: float = 15.0
    screen_heartbeat_seconds: float = 5.0

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        url = os.environ.get("FORKFLOW_DATABASE_URL")
        settings = cls(
            database_url=normalise_database_url(url) if url else sqlite_url(DEFAULT_DATABASE_FILE),
            timezone=_local_zone(),
            day_starts_at=_day_starts_at(),
            currency=_currency(),
            sse_ping_seconds=_env_float("FORKFLOW_SSE_PING_SECONDS", 15.0),
            public_orders_per_minute=int(_env_float("FORKFLOW_PUBLIC_ORDERS_PER_MINUTE", 30)),
            secure_cookies=os.environ.get("FORKFLOW_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
            secret_key=os.environ.get("FORKFLOW_SECRET_KEY") or None,
            kitchen_warn_minutes=_env_float("FORKFLOW_KITCHEN_WARN_MINUTES", 8.0),
            kitchen_late_minutes=_env_float("FORKFLOW_KITCHEN_LATE_MINUTES", 15.0),
            metrics_public=_env_flag("FORKFLOW_METRICS_PUBLIC"),
            log_format=_log_format(),
            sign_in_window_seconds=_env_float("FORKFLOW_SIGN_IN_WINDOW_SECONDS", 900.0),
            sign_in_failures_per_name_and_address=_env_int("FORKFLOW_SIGN_IN_FAILURES_PER_NAME_AND_ADDRESS", 5),
            sign_in_failures_per_address=_env_int("FORKFLOW_SIGN_IN_FAILURES_PER_ADDRESS", 20),
            sign_in_failures_per_device=_env_int("FORKFLOW_SIGN_IN_FAILURES_PER_DEVICE", 5),
            sign_in_failures_per_name_untrusted=_env_int("FORKFLOW_SIGN_IN_FAILURES_PER_NAME_UNTRUSTED", 100),
            device_cookie_days=_env_int("FORKFLOW_DEVICE_COOKIE_DAYS", 365),
            password_hash_cost=_password_hash_cost(),
            # Streams and credentials
            stream_recheck_seconds=_env_positive("FORKFLOW_STREAM_RECHECK_SECONDS", 60.0),
            stream_max_seconds=_env_positive("FORKFLOW_STREAM_MAX_SECONDS", 12 * 3600.0),
            forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "").strip(),
            max_streams=int(_env_float("FORKFLOW_MAX_STREAMS", 1000)),
            max_streams_per_client=int(_env_float("FORKFLOW_MAX_STREAMS_PER_CLIENT", 20)),
            header_timeout_seconds=_env_float("FORKFLOW_HEADER_TIMEOUT_SECONDS", 10.0),
            body_timeout_seconds=_env_float("FORKFLOW_BODY_TIMEOUT_SECONDS", 10.0),
            public_max_per_item=int(_env_float("FORKFLOW_PUBLIC_MAX_PER_ITEM", 20)),
            public_max_per_order=int(_env_float("FORKFLOW_PUBLIC_MAX_PER_ORDER", 50)),
            public_portions_per_hour=int(_env_float("FORKFLOW_PUBLIC_PORTIONS_PER_HOUR", 100)),
            allowed_hosts=_allowed_hosts(),
            max_schedule_days=_schedule_days(),
            fire_by_prep_time=os.environ.get("FORKFLOW_FIRE_BY_PREP_TIME", "1").lower() in ("1", "true", "yes"),
            printer_timeout_seconds=_env_positive("FORKFLOW_PRINTER_TIMEOUT_SECONDS", 5.0),
            printer_retry_seconds=_env_positive("FORKFLOW_PRINTER_RETRY_SECONDS", 1.0),
            printer_retry_max_seconds=_env_positive("FORKFLOW_PRINTER_RETRY_MAX_SECONDS", 5.0),
            printer_backup_seconds=_env_positive("FORKFLOW_PRINTER_BACKUP_SECONDS", 20.0),
            print_poll_seconds=_env_positive("FORKFLOW_PRINT_POLL_SECONDS", 30.0),
            unseen_seconds=_env_positive("FORKFLOW_UNSEEN_SECONDS", 10.0),
            screen_offline_seconds=_env_positive("FORKFLOW_SCREEN_OFFLINE_SECONDS", 15.0),
            screen_heartbeat_seconds=_env_positive("FORKFLOW_SCREEN_HEARTBEAT_SECONDS", 5.0),
        )
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
