"""Checks on the values callers hand to the store, each failing with `InvalidInput`.

They run before any write, so a bad value never touches stored data. Every text is also
checked for NUL, which PostgreSQL refuses and SQLite stores: the two backends must agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from typing import Any

from cases.errors import InvalidInput, NotFound

# Ids are 32-bit integers on both backends; anything outside cannot name a stored row.
MAX_ID = 2**31 - 1
# An IVR event value is a few digits, a phrase or a path; 16 KiB is far above any of them
# and keeps one webhook's runaway response from bloating every timeline that shows it.
MAX_JSON_CHARS = 16_384


def row_id(value: object, what: str) -> int:
    """A positive integer id; NotFound when it is out of range (no such row can exist)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("an id is an integer", f"{what}_id")
    if not 1 <= value <= MAX_ID:
        raise NotFound(what, value)
    return value


def text(value: object, where: str, *, max_len: int | None = None, blank: bool = False) -> str:
    """A string without NUL, stripped, non-empty unless `blank`, at most `max_len` long."""
    if not isinstance(value, str):
        raise InvalidInput("must be a string", where)
    value = value.strip()
    if not value and not blank:
        raise InvalidInput("must not be empty", where)
    if "\x00" in value:
        raise InvalidInput("must not contain NUL characters", where)
    if max_len is not None and len(value) > max_len:
        raise InvalidInput(f"at most {max_len} characters, got {len(value)}", where)
    return value


def optional_text(value: object, where: str, *, max_len: int | None = None) -> str | None:
    """`text`, or None for None or a blank string."""
    if value is None:
        return None
    checked = text(value, where, max_len=max_len, blank=True)
    return checked or None


def choice(value: object, allowed: Collection[str], where: str) -> str:
    """One of `allowed`."""
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput(f"must be one of {', '.join(sorted(allowed))}; got {value!r}", where)
    return value


def seconds(value: object, where: str) -> float:
    """A finite, non-negative number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("must be a number of seconds", where)
    result = float(value)
    if not math.isfinite(result) or result < 0:
        raise InvalidInput(f"must be finite and >= 0, got {result!r}", where)
    return result


def confidence(value: object, where: str = "confidence") -> float | None:
    """None, or a number from 0 to 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("must be a number from 0 to 1, or None", where)
    result = float(value)
    if not (math.isfinite(result) and 0.0 <= result <= 1.0):
        raise InvalidInput(f"must be from 0 to 1, got {result!r}", where)
    return result


def json_value(value: object, where: str) -> Any:
    """A JSON value (dicts with string keys, lists, strings, finite numbers, booleans, None),
    without NUL in any string (PostgreSQL's JSON refuses it), at most `MAX_JSON_CHARS`
    serialised. Returns it as it will read back (tuples become lists)."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"must be JSON ({type(exc).__name__})", where) from exc
    if len(encoded) > MAX_JSON_CHARS:
        raise InvalidInput(f"at most {MAX_JSON_CHARS} characters as JSON", where)
    if "\\u0000" in encoded:
        raise InvalidInput("must not contain NUL characters", where)
    return json.loads(encoded)
