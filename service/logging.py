"""Structured logs: one JSON object per line, and never any claim content.

Why JSON lines: log shippers (Fluent Bit, Vector, CloudWatch) parse them
without a grammar, and operators can filter on ``route``/``status``.

Why so strict about content: claims are protected health information. The
access line carries the route *template* (``/v1/codes/{code}``, never the
path that holds the code), the status, the duration and the claim count —
nothing from the body, the query string or the client. Uvicorn's own access
log is switched off because it prints raw paths. Only a fixed allow-list of
``extra`` fields reaches the output, so a careless ``extra={"claim": ...}``
elsewhere cannot leak either.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

__all__ = ["JSONFormatter", "log_config", "configure_logging", "ACCESS_LOGGER"]

ACCESS_LOGGER = "fastdrg.access"

#: ``extra`` attributes copied into the JSON line; anything else is dropped.
_ALLOWED_EXTRA = (
    "route",
    "method",
    "status",
    "duration_ms",
    "claims",
    "error_type",
    "version_count",
    "load_seconds",
    "host",
    "port",
    "workers",
    "source",
    "versions",
)


class JSONFormatter(logging.Formatter):
    """Format a record as one compact JSON object."""

    _second = -1
    _prefix = ""

    def _timestamp(self, t: float) -> str:
        second = int(t)
        if second != self._second:  # strftime once per second, not once per line
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((t - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage() if record.args else record.msg,
        }
        d = record.__dict__
        for key in _ALLOWED_EXTRA:
            if key in d:
                doc[key] = d[key]
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages and tracebacks may quote claim values.
            doc["error_type"] = record.exc_info[0].__name__
        return orjson.dumps(doc, default=str).decode()


def log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the service and uvicorn (passed to every worker)."""
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "service.logging.JSONFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "fastdrg": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn.error": {"level": lvl},
            # Raw request lines contain paths such as /v1/codes/I5021: never log them.
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


def configure_logging(level: str = "info") -> None:
    import logging.config

    logging.config.dictConfig(log_config(level))
