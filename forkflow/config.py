"""Settings, read once from the environment and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_FILE = "forkflow.db"


def sqlite_url(path: str | os.PathLike[str]) -> str:
    return f"sqlite+aiosqlite:///{Path(path).expanduser().resolve()}"


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


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _allowed_hosts() -> tuple[str, ...]:
    raw = os.environ.get("FORKFLOW_ALLOWED_HOSTS", "")
    return tuple(host.strip().lower() for host in raw.split(",") if host.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: sqlite_url(DEFAULT_DATABASE_FILE))
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    day_starts_at: time = time(4, 0)
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
    # Public surface (issue 12, public part): what an anonymous order may hold, how many portions one
    # client address may order per hour (0: no budget), and the Host names the server answers to
    # (the loopback names are always allowed; "*" allows any).
    public_max_per_item: int = 20
    public_max_per_order: int = 50
    public_portions_per_hour: int = 100
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        url = os.environ.get("FORKFLOW_DATABASE_URL")
        settings = cls(
            database_url=normalise_database_url(url) if url else sqlite_url(DEFAULT_DATABASE_FILE),
            timezone=_local_zone(),
            day_starts_at=_day_starts_at(),
            sse_ping_seconds=_env_float("FORKFLOW_SSE_PING_SECONDS", 15.0),
            public_orders_per_minute=int(_env_float("FORKFLOW_PUBLIC_ORDERS_PER_MINUTE", 30)),
            secure_cookies=os.environ.get("FORKFLOW_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
            secret_key=os.environ.get("FORKFLOW_SECRET_KEY") or None,
            kitchen_warn_minutes=_env_float("FORKFLOW_KITCHEN_WARN_MINUTES", 8.0),
            kitchen_late_minutes=_env_float("FORKFLOW_KITCHEN_LATE_MINUTES", 15.0),
            metrics_public=_env_flag("FORKFLOW_METRICS_PUBLIC"),
            log_format=_log_format(),
            public_max_per_item=int(_env_float("FORKFLOW_PUBLIC_MAX_PER_ITEM", 20)),
            public_max_per_order=int(_env_float("FORKFLOW_PUBLIC_MAX_PER_ORDER", 50)),
            public_portions_per_hour=int(_env_float("FORKFLOW_PUBLIC_PORTIONS_PER_HOUR", 100)),
            allowed_hosts=_allowed_hosts(),
        )
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
