"""The one JSON reader for everything that arrives over HTTP or a WebSocket.

    value = await read_json(request)          # an HTTP body: type, size, UTF-8, depth, JSON
    value = loads(text)                       # a WebSocket text frame: depth, JSON
    except JsonBodyError as exc: return exc.response()   # 400 {"error": {code, message, where}}

Python's `json` decodes nested arrays and objects by recursion: a body of 100,000 `[` (100 KB,
well under any size limit) raised `RecursionError` from inside the decoder, a 500 with a
traceback in the log, and closed a desk socket with 1011. So the nesting depth is measured
first, by a scan that does not recurse (strings skipped, so brackets inside them do not
count), and a document deeper than `MAX_DEPTH` is refused before `json.loads` sees it. No
request this server takes nests deeper than a handful of levels; 32 leaves room for any.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

MAX_DEPTH = 32
# aiohttp's client_max_size for the whole application (web.app) is the same 1 MiB.
MAX_BYTES = 1 << 20

# A whole string literal (escapes included; unterminated ones run to the end) or a bracket.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
# A \uXXXX escape of a UTF-16 surrogate: JSON allows it alone, Unicode does not.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

PairsHook = Callable[[list[tuple[str, Any]]], Any]
ConstantHook = Callable[[str], Any]


class JsonBodyError(ValueError):
    """A body or message that is not acceptable JSON; `code`, `message` and `where` are what
    the client is told (never the content itself)."""

    def __init__(self, message: str, *, code: str = "invalid_input", where: str = "body") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.where = where

    def to_json(self) -> dict[str, Any]:
        """`{"error": {"code", "message", "where"}}`."""
        return {"error": {"code": self.code, "message": self.message, "where": self.where}}

    def response(self) -> web.Response:
        """The 400 response saying what was wrong."""
        return web.json_response(self.to_json(), status=400)


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse `text` if its arrays and objects nest deeper than `max_depth` (no recursion)."""
    if text.count("[") + text.count("{") <= max_depth:
        return  # cannot be deeper than its number of openings (most bodies stop here)
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                raise JsonBodyError(f"JSON nested deeper than {max_depth} levels")
        elif token in ("]", "}"):
            depth -= 1
        # A string: skipped whole. Unbalanced brackets are json.loads's to report.


def loads(
    text: str,
    *,
    max_depth: int = MAX_DEPTH,
    object_pairs_hook: PairsHook | None = None,
    parse_constant: ConstantHook | None = None,
    context: str = "JSON",
) -> Any:
    """`json.loads(text)` after `check_depth`; `JsonBodyError` saying where the JSON broke.

    A document refused for its depth is logged in one line naming `context` (what it came
    with, e.g. "POST /api/login"; never its content). The hooks are `json.loads`'s; an
    exception they raise propagates unchanged.
    """
    try:
        check_depth(text, max_depth)
    except JsonBodyError as exc:
        # Nobody nests that deep by mistake: worth a line, never a traceback.
        log.warning("refused %s: %s", context, exc.message)
        raise
    try:
        value = json.loads(
            text, object_pairs_hook=object_pairs_hook, parse_constant=parse_constant
        )
    except json.JSONDecodeError as exc:
        raise JsonBodyError(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        # Unreachable after check_depth unless the stack was nearly full already; a 400
        # either way, never a 500.
        raise JsonBodyError(f"JSON nested deeper than {max_depth} levels") from None
    if _SURROGATE_ESCAPE.search(text):
        check_unicode(value)
    return value


def check_unicode(value: Any) -> None:
    """Refuse a decoded document holding a lone surrogate (`"\\ud800"` is valid JSON, but
    no text: the password hasher, the database and the JSON encoder all fail on it, a 500
    wherever it reached). `where` names the first such string (`password`, `items[0]`)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            strings = [item]
        elif isinstance(item, dict):
            strings = [k for k in item if isinstance(k, str)]
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in item.items())
        elif isinstance(item, list):
            strings = []
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
        else:
            continue
        for text in strings:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise JsonBodyError(
                    f"not valid Unicode (a lone surrogate at character {exc.start})",
                    where=where or "body") from None


async def read_body(request: web.Request, max_bytes: int = MAX_BYTES) -> str:
    """The body as text: JSON content type, at most `max_bytes` (read no further), UTF-8."""
    if request.content_type != "application/json":
        raise JsonBodyError("send JSON (Content-Type: application/json)")
    too_big = f"body over {max_bytes} bytes"
    if request.content_length is not None and request.content_length > max_bytes:
        raise JsonBodyError(too_big)
    data = bytearray()
    async for chunk in request.content.iter_any():
        data += chunk
        if len(data) > max_bytes:
            raise JsonBodyError(too_big)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonBodyError("body is not UTF-8") from None


async def read_json(
    request: web.Request,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    object_pairs_hook: PairsHook | None = None,
    parse_constant: ConstantHook | None = None,
) -> Any:
    """The request's JSON body, checked as the module doc says; `JsonBodyError` if not."""
    text = await read_body(request, max_bytes)
    return loads(
        text, max_depth=max_depth, object_pairs_hook=object_pairs_hook,
        parse_constant=parse_constant, context=f"{request.method} {request.path}",
    )


async def read_json_object(request: web.Request, **kwargs: Any) -> dict[str, Any]:
    """As `read_json`, for bodies that must be a JSON object."""
    value = await read_json(request, **kwargs)
    if not isinstance(value, dict):
        raise JsonBodyError("must be a JSON object")
    return value
