"""The wallboard as data, and what changed between two of its versions.

A board is sections (``queues``, ``agents``, ``channels``, ``calls``) of rows by key; a row
is a flat dict of JSON values (a nested value, such as a queue's agents by state, counts as one
value). Rows carry what stays put until something happens: an agent's state and the wall time
it began (the page counts the seconds), the wall time the oldest caller of a queue came in (not
the wait in seconds, which changes every second), so an idle centre sends nothing at all.

`diff` gives only the rows and fields that changed; `apply` is what the page does with it
(`web/supervisor/static/board.js` mirrors it), so the two are tested against each other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
Section = dict[str, Row]
Board = dict[str, Section]

SECTIONS = ("queues", "agents", "channels", "calls")


class BoardError(ValueError):
    """A delta that does not fit the board it is applied to (a bug, or a lost message)."""


@dataclass(frozen=True)
class BoardDelta:
    """What changed: per section, the changed fields of each changed row (a new row whole),
    and the keys of the rows that went away. A field a row lost is sent as None."""

    changed: dict[str, dict[str, Row]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)

    def to_json(self, seq: int) -> dict[str, Any]:
        return {"type": "delta", "seq": seq, "changed": self.changed, "removed": self.removed}


def diff(old: Board, new: Board) -> BoardDelta:
    """The delta that turns `old` into `new`."""
    changed: dict[str, dict[str, Row]] = {}
    removed: dict[str, list[str]] = {}
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name, {}), new.get(name, {})
        rows: dict[str, Row] = {}
        for key, row in after.items():
            was = before.get(key)
            if was is None:
                rows[key] = dict(row)
                continue
            fields = {f: v for f, v in row.items() if was.get(f, _MISSING) != v}
            fields.update({f: None for f in was if f not in row})
            if fields:
                rows[key] = fields
        gone = sorted(k for k in before if k not in after)
        if rows:
            changed[name] = rows
        if gone:
            removed[name] = gone
    return BoardDelta(changed, removed)


def apply(board: Board, delta: BoardDelta) -> Board:
    """`board` with `delta` applied (a new board; `board` is left as it was)."""
    out = copy.deepcopy(board)
    for name, keys in delta.removed.items():
        section = out.get(name, {})
        for key in keys:
            if key not in section:
                raise BoardError(f"{name}/{key} removed but not on the board")
            del section[key]
    for name, rows in delta.changed.items():
        section = out.setdefault(name, {})
        for key, fields in rows.items():
            row = section.setdefault(key, {})
            row.update(copy.deepcopy(fields))
            for f in [f for f, v in row.items() if v is None]:
                del row[f]
    return out


def snapshot(board: Board, seq: int, now: float | None = None) -> dict[str, Any]:
    """The whole board; `now` (the server's wall clock) lets a page whose clock is off count
    the times on the board right."""
    return {"type": "snapshot", "seq": seq, "board": board, "now": now}


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
