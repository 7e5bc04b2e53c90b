"""What a log line is about: the call, case, interaction and IVR node being handled.

One `LogContext` per unit of work (a call's handler task, a webhook request) is put in a
context variable by `log_context()`. asyncio copies the context into every task the handler
starts, so the verbs, the transcriber and the store calls of one call all log with its id.
The context object itself is shared by those tasks: a field learnt later by any of them
(`annotate(case_id=...)` once the interaction is open) shows on every later line of the call,
which a plain per-task `ContextVar.set` could not do (a child task's set never reaches its
parent). `centralita.logs` reads `current()` for each record.

Only identifiers go here: never a number, digits, an address or text (DESIGN.md).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace

__all__ = ["LogContext", "annotate", "current", "log_context"]


@dataclass
class LogContext:
    """The identifiers of what is being handled; None where unknown."""

    call_id: str | None = None
    case_id: int | None = None
    interaction_id: int | None = None
    node: str | None = None
    channel: str | None = None

    def as_dict(self) -> dict[str, str | int]:
        """The known fields only (for a JSON log line)."""
        out: dict[str, str | int] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out


_CURRENT: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar(
    "centralita_log_context", default=None)


def current() -> LogContext | None:
    """The context of the work running now, or None outside any."""
    return _CURRENT.get()


@contextmanager
def log_context(
    *, call_id: str | None = None, case_id: int | None = None,
    interaction_id: int | None = None, node: str | None = None, channel: str | None = None,
) -> Iterator[LogContext]:
    """A new context for the block (inheriting the enclosing one's fields), restored after.

    Use it where a unit of work starts: a call's handler, a webhook. Tasks started inside
    share the yielded object.
    """
    parent = _CURRENT.get()
    ctx = replace(parent) if parent is not None else LogContext()
    for name, value in (("call_id", call_id), ("case_id", case_id),
                        ("interaction_id", interaction_id), ("node", node),
                        ("channel", channel)):
        if value is not None:
            setattr(ctx, name, value)
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def annotate(
    *, case_id: int | None = None, interaction_id: int | None = None,
    node: str | None = None,
) -> None:
    """Add what was just learnt to the current context (no-op outside one).

    `node` may be set again as a flow moves on; ids are only filled in.
    """
    ctx = _CURRENT.get()
    if ctx is None:
        return
    if case_id is not None:
        ctx.case_id = case_id
    if interaction_id is not None:
        ctx.interaction_id = interaction_id
    if node is not None:
        ctx.node = node
