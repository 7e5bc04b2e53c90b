"""Service figures per queue and per agent, computed from `QueueRecord`s.

Live figures are these functions over today's records (the still-waiting ones included, with
no outcome yet); historical figures the same over a window (`since`/`until`, matched on
`enqueued_wall`, so a call belongs to the period it arrived in). Pure: the records are read,
never changed, and no clock is consulted.

Definitions (T is the service-level threshold in seconds):

- **wait**: answered → ``answered_wall - enqueued_wall`` (``left_wall`` if the answer time is
  missing); any other outcome → ``left_wall - enqueued_wall``. Unknown while still waiting.
  A negative difference (the wall clock stepped back) counts as 0.
- **handle time** of an answered call that has ended: ``ended_wall - answered_wall + wrapup_s``.
- **short abandon**: an abandon with a wait under `short_abandon` seconds (default 0: none).
  A caller who hangs up within a few seconds usually misdialled; centres exclude them from
  the rates so they do not count against the queue.
- **ASA** (average speed of answer): the mean wait of the answered calls.
- **AHT** (average handle time): the mean handle time of the answered calls that have ended.
- **offered**: every contact that entered the queue. A caller who took a callback has two
  records, their call's (outcome "callback") and the callback's own; only the callback's
  counts, so the contact is counted once and the callback's fate (answered, cancelled, ran
  out of attempts) is its fate.
- **abandonment rate**: ``(abandoned - short) / (offered - short)``.
- **service level**: ``answered within T / (answered + abandoned - short + timed out)``: of the
  callers whose wait ended in this queue, the share answered within T (wait <= T). Abandons
  after the short threshold and timeouts count against it; overflows are left out (the queue
  they went to counts them) and so are callbacks (the callback's own entry is counted when it
  is served). The usual "answered within T / (answered + abandoned)" of the industry when
  nothing times out.

A figure that would divide by zero is None, never 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from routing.model import QueueRecord

__all__ = ["AgentFigures", "QueueFigures", "agent_figures", "queue_figures"]


@dataclass(frozen=True)
class QueueFigures:
    """One queue's figures over a set of records; see the module docstring for definitions.

    Counts: `offered` (every contact: a call that turned into a callback is counted once,
    by the callback's own record), by outcome `answered`, `abandoned` (of which
    `short_abandoned`), `overflowed`, `callbacks` (callers who took a callback), `deflected`
    (callers who took a chat link by text instead of waiting: served, never abandoned, and
    out of the service level's count like callbacks), `timed_out`
    (callbacks that ran out of attempts among them), and `waiting` (no outcome yet, callbacks
    in line included); `answered_within` (wait <= `threshold`). A cancelled callback counts
    in `offered` only.
    """

    threshold: float
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    overflowed: int
    callbacks: int
    deflected: int
    timed_out: int
    waiting: int
    answered_within: int
    asa: float | None
    aht: float | None
    abandonment_rate: float | None
    service_level: float | None
    max_wait: float | None  # the longest wait among records that have left the queue

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AgentFigures:
    """One agent's figures over the calls they answered.

    `handled` counts the answered calls that have ended; `talk_time` and `wrapup_time` are
    sums over those, `aht` is ``(talk_time + wrapup_time) / handled``; `asa` is the mean wait
    of all the calls they answered.
    """

    agent: str
    answered: int
    handled: int
    talk_time: float
    wrapup_time: float
    aht: float | None
    asa: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _in_window(record: QueueRecord, since: float | None, until: float | None) -> bool:
    return (since is None or record.enqueued_wall >= since) and (
        until is None or record.enqueued_wall < until
    )


def _wait(record: QueueRecord) -> float | None:
    end = record.left_wall
    if record.outcome == "answered" and record.answered_wall is not None:
        end = record.answered_wall
    if end is None:
        return None
    return max(0.0, end - record.enqueued_wall)


def _talk(record: QueueRecord) -> float | None:
    if record.answered_wall is None or record.ended_wall is None:
        return None
    return max(0.0, record.ended_wall - record.answered_wall)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def queue_figures(
    records: Iterable[QueueRecord],
    *,
    threshold: float,
    since: float | None = None,
    until: float | None = None,
    short_abandon: float = 0.0,
) -> QueueFigures:
    """The figures of the records enqueued in ``[since, until)`` (either bound optional).

    Pass one queue's records for that queue's figures (all records give the centre's).
    """
    selected = [r for r in records if _in_window(r, since, until)]
    # A caller who took a callback is one contact: its callback's own record stands for it.
    contacts = sum(1 for r in selected if r.outcome != "callback")
    by_outcome: dict[str | None, list[QueueRecord]] = defaultdict(list)
    for record in selected:
        by_outcome[record.outcome].append(record)
    answered = by_outcome["answered"]
    abandoned = by_outcome["abandoned"]

    answered_waits = [w for r in answered if (w := _wait(r)) is not None]
    handles = [t + r.wrapup_s for r in answered if (t := _talk(r)) is not None]
    short = sum(1 for r in abandoned if (w := _wait(r)) is not None and w < short_abandon)
    within = sum(1 for w in answered_waits if w <= threshold)
    timed_out = len(by_outcome["timeout"])
    waits = [w for r in selected if (w := _wait(r)) is not None]
    return QueueFigures(
        threshold=threshold,
        offered=contacts,
        answered=len(answered),
        abandoned=len(abandoned),
        short_abandoned=short,
        overflowed=len(by_outcome["overflow"]),
        callbacks=len(by_outcome["callback"]),
        deflected=len(by_outcome["deflected"]),
        timed_out=timed_out,
        waiting=len(by_outcome[None]),
        answered_within=within,
        asa=_mean(answered_waits),
        aht=_mean(handles),
        abandonment_rate=_ratio(len(abandoned) - short, contacts - short),
        service_level=_ratio(within, len(answered) + len(abandoned) - short + timed_out),
        max_wait=max(waits, default=None),
    )


def agent_figures(
    records: Iterable[QueueRecord],
    *,
    since: float | None = None,
    until: float | None = None,
) -> dict[str, AgentFigures]:
    """Figures per agent (keyed and ordered by agent id) over the answered records enqueued
    in ``[since, until)``; agents with no answered call in the window are absent."""
    mine: dict[str, list[QueueRecord]] = defaultdict(list)
    for record in records:
        if (
            record.outcome == "answered"
            and record.agent_id is not None
            and _in_window(record, since, until)
        ):
            mine[record.agent_id].append(record)
    figures: dict[str, AgentFigures] = {}
    for agent_id in sorted(mine):
        answered = mine[agent_id]
        ended = [(t, r.wrapup_s) for r in answered if (t := _talk(r)) is not None]
        talk = math.fsum(t for t, _ in ended)
        wrapup = math.fsum(w for _, w in ended)
        figures[agent_id] = AgentFigures(
            agent=agent_id,
            answered=len(answered),
            handled=len(ended),
            talk_time=talk,
            wrapup_time=wrapup,
            aht=(talk + wrapup) / len(ended) if ended else None,
            asa=_mean([w for r in answered if (w := _wait(r)) is not None]),
        )
    return figures
