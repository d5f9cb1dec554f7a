"""Structured logging with structlog.

One line per event, with bound context (component, symbol, strategy, order id). Rules:

* Format ``auto`` (the default): when the output is not a terminal (systemd's journal, a pipe,
  a file) the lines are JSON, one object per line, so ``journalctl -u forexbot -o cat | jq``
  works; on a terminal they are readable console lines. Whether the output *is* a terminal is
  the only test: ``JOURNAL_STREAM`` is inherited by shells that desktop sessions start, so it
  says nothing about where this process writes.
* Console lines are coloured on a terminal, unless ``NO_COLOR`` is set to anything but the empty
  string (https://no-color.org); never in a file or a pipe (``format: console`` there).
* Standard-library loggers (aiohttp, asyncpg, alembic) are routed through the same renderer, so
  the output has one format.
* An event below its logger's level is dropped before any processor sees it (no time stamp,
  no context merge, no rendering): a backtest logging at WARNING makes tens of thousands of
  info calls. The level is the standard library's, read at each call, so a level changed at
  run time (``logging.level`` in the system settings) takes effect at once.
* Free-form text for a person (the start-up greeting) goes only where console lines go
  (:func:`console_stream`): in a JSON stream it would break one-object-per-line.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Literal, TextIO

import orjson
import structlog
from structlog.typing import Processor


def _orjson_dumps(obj: object, default: object = None) -> str:
    return orjson.dumps(obj, default=str).decode()


class _Handler(logging.StreamHandler[TextIO]):
    """The root logger's one handler; knows whether it writes for a person."""

    def __init__(self, stream: TextIO, *, readable: bool) -> None:
        super().__init__(stream)
        self.readable = readable


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Configure structlog and the standard library's root logger (rules in the module
    docstring); ``environ`` is where ``NO_COLOR`` is looked up (the process's by default).

    Called once by the CLI before anything logs. Safe to call again (tests, ``forexbot run``
    after ``forexbot migrate`` in one process): it replaces the previous configuration.
    """
    out = stream if stream is not None else sys.stdout
    env = os.environ if environ is None else environ
    on_terminal = out.isatty()
    as_json = fmt == "json" or (fmt == "auto" and not on_terminal)
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
        renderer = structlog.dev.ConsoleRenderer(colors=on_terminal and not env.get("NO_COLOR"))

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _Handler(out, readable=not as_json)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log duplicates our request log line; alembic and pgserver narrate every
    # step of a routine start at INFO.
    for noisy in ("aiohttp.access", "alembic", "pgserver"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def console_stream() -> TextIO | None:
    """Where text for a person may go: the stream of readable console lines, or ``None`` when
    the log is JSON (or logging is not configured by :func:`configure_logging`)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _Handler) and handler.readable:
            return handler.stream
    return None
