"""Log output: readable lines (the default) or one JSON object per line for log collectors.

Only the standard library's logging: a `Formatter` subclass and a `dictConfig` dictionary that
covers ForkFlow's loggers (through the root logger) and uvicorn's, access log included. The same
dictionary is handed to uvicorn, which applies it again in each worker process.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any

from uvicorn.config import LOGGING_CONFIG

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then any extra
    fields; uvicorn's access lines also get client, method, path, http_version and status."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, http_version, status = record.args
            entry.update(client=client, method=method, path=path, http_version=http_version, status=status)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(log_format: str) -> dict[str, Any]:
    """The `dictConfig` for `forkflow serve`: uvicorn's own set-up plus a root handler for
    ForkFlow's loggers at INFO; with "json" every handler writes JSON lines."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["forkflow"] = {"format": TEXT_FORMAT}
    config["handlers"]["forkflow"] = {
        "formatter": "forkflow",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["forkflow"], "level": "INFO"}
    if log_format == "json":
        json_formatter = {"()": f"{__name__}.JsonFormatter"}
        config["formatters"] = {name: dict(json_formatter) for name in config["formatters"]}
    return config
