"""Structured logging with structlog.

One line per event, with bound context (component, symbol, strategy, order id). When stdout is
not a terminal (systemd's journal, a pipe, a file) the lines are JSON, one object per line, so
``journalctl -u forexbot -o cat | jq`` works; on a terminal they are readable console lines.
Standard-library loggers (aiohttp, asyncpg, alembic) are routed through the same renderer so the
output has one format.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import orjson
import structlog
from structlog.typing import Processor


def _orjson_dumps(obj: object, default: object = None) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the standard library's root logger.

    Called once by the CLI before anything logs. Safe to call again (tests, ``forexbot run``
    after ``forexbot migrate`` in one process): it replaces the previous configuration.
    """
    out = stream if stream is not None else sys.stdout
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if as_json:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log duplicates our request log line; alembic and pgserver narrate every
    # step of a routine start at INFO.
    for noisy in ("aiohttp.access", "alembic", "pgserver"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
