"""structlog set-up: one call per process, from LOG_LEVEL and LOG_FORMAT.

Correlation ids bound with ``structlog.contextvars.bind_contextvars`` (workflow, decision, ticket)
appear on every line logged in that context. ``json`` is for log shippers, ``console`` for people.
"""

from __future__ import annotations

import logging
import sys

import structlog

# Keys that must never reach a log line even if a caller binds them by mistake.
SECRET_KEYS = frozenset({"password", "token", "api_token", "secret", "authorization"})


def _drop_secrets(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    for key in SECRET_KEYS.intersection(event):
        event[key] = "***"
    return event


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Route structlog (and the standard library's warnings) to stderr at ``level``."""
    numeric = logging.getLevelNamesMapping()[level.upper()]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
