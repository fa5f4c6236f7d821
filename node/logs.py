"""structlog set-up: one processor chain, JSON lines in production, the console on a TTY."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog


def configure_logging(*, stream: TextIO | None = None, json: bool | None = None, level: str = "info") -> None:
    """Configure structlog once at the edge.

    `json=None` picks JSON when `stream` is not a TTY (production, journald) and the
    console renderer when it is. Timestamps are ISO 8601 UTC.
    """
    stream = stream or sys.stderr
    use_json = not stream.isatty() if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Library loggers (asyncua) go through stdlib logging: keep them to warnings.
    logging.basicConfig(stream=stream, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("asyncua").setLevel(logging.WARNING)
    logging.getLogger("snap7").setLevel(logging.WARNING)  # INFO on every connect/disconnect
