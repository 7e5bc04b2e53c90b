"""Logging set-up for `centralita`: plain text (the default) or one JSON object per line.

A JSON line carries `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`,
the identifiers of `centralita.logctx` that are known (`call_id`, `case_id`,
`interaction_id`, `node`, `channel`), and `exc` with the traceback when there is one. Log
shippers (Loki, Elasticsearch, journald's JSON) read it without a parsing rule; a message
never spans lines. The text format appends the same identifiers in brackets.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

from centralita.logctx import current

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


class ContextFilter(logging.Filter):
    """Puts the current `LogContext` on every record: `record.ctx` (a dict, for JSON) and
    `record.context` (text, for the plain format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current()
        fields = ctx.as_dict() if ctx is not None else {}
        setattr(record, "ctx", fields)  # noqa: B010 - a LogRecord takes extra attributes
        record.context = (
            " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]" if fields else "")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the message is formatted with its arguments first."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ctx = getattr(record, "ctx", None)
        if isinstance(ctx, dict):
            line.update(ctx)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(fmt: LogFormat = "text", *, debug: bool = False,
                  stream: TextIO | None = None) -> logging.Handler:
    """Replace the root logger's handlers with one writing `fmt` to `stream` (stderr).

    Returns the handler (tests and `serve` may swap its formatter later).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    set_format(handler, fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    return handler


def set_format(handler: logging.Handler, fmt: LogFormat) -> None:
    """Switch `handler` to the text or JSON format."""
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))


def apply_format(fmt: LogFormat) -> None:
    """Switch every root handler made by `setup_logging` to `fmt` (the config file's say,
    read after the command line set logging up)."""
    for handler in logging.getLogger().handlers:
        if any(isinstance(f, ContextFilter) for f in handler.filters):
            set_format(handler, fmt)
