"""Response timers and service figures of text conversations, per queue and channel.

The calls' figures (`routing.stats`) measure the wait for an agent; a text customer waits
for an answer, so the timers run on messages (times are wall seconds):

- **first response**: the conversation entered the queue -> the first outbound agent
  message on its interaction. Its mean is the text ASA ("time to first response").
- **next response**: each customer message that follows an agent's reply -> the agent's
  next reply (later customer messages before that reply do not restart the timer).
- **service level** (threshold T: the queue's `response_targets` for the channel):
  ``responded within T / (responded + unanswered past T)``. An unanswered conversation
  whose wait has already passed T (still open, or closed without an answer) counts against
  it: a chat nobody answered for an hour is a miss, not a conversation left out.
- **waiting** / **longest_wait**: conversations in line now (waiting or offered, not yet
  with an agent) and the longest time one of them has been in line.

`TextRecord`s are kept in memory by `TextStats` (they do not survive a restart: the restored
conversations start new records); `channel_figures` is pure and takes `now`.
A figure that would divide by zero is None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ChannelFigures", "TextRecord", "TextStats", "channel_figures"]


@dataclass
class TextRecord:
    """One conversation's passage through a queue, for the figures."""

    conversation: int
    queue: str
    channel: str
    enqueued_wall: float
    first_response_wall: float | None = None
    next_waits: list[float] = field(default_factory=list)
    awaiting_since: float | None = None  # a customer message waits for the next reply
    closed_wall: float | None = None

    @property
    def first_response(self) -> float | None:
        if self.first_response_wall is None:
            return None
        return max(0.0, self.first_response_wall - self.enqueued_wall)


@dataclass(frozen=True)
class ChannelFigures:
    """One queue's figures on one text channel (see the module docstring)."""

    channel: str
    threshold: float
    offered: int
    responded: int
    responded_within: int
    unanswered_past_target: int
    asa: float | None  # mean time to first response
    max_first_response: float | None
    service_level: float | None
    next_responses: int
    average_next_response: float | None
    waiting: int
    longest_wait: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def channel_figures(
    records: Iterable[TextRecord], *, channel: str, threshold: float, now: float,
    in_line: Iterable[float] = (), since: float | None = None, until: float | None = None,
) -> ChannelFigures:
    """The figures of `channel`'s records enqueued in ``[since, until)``; `in_line` holds
    the wall times the conversations waiting in line now were enqueued."""
    mine = [r for r in records if r.channel == channel
            and (since is None or r.enqueued_wall >= since)
            and (until is None or r.enqueued_wall < until)]
    firsts = [f for r in mine if (f := r.first_response) is not None]
    within = sum(1 for f in firsts if f <= threshold)
    # Unanswered: still open (measured to now) or closed without an answer (to the close).
    missed = sum(1 for r in mine if r.first_response_wall is None
                 and (r.closed_wall if r.closed_wall is not None else now)
                 - r.enqueued_wall > threshold)
    nexts = [w for r in mine for w in r.next_waits]
    line = [max(0.0, now - t) for t in in_line]
    judged = len(firsts) + missed
    return ChannelFigures(
        channel=channel, threshold=threshold, offered=len(mine), responded=len(firsts),
        responded_within=within, unanswered_past_target=missed, asa=_mean(firsts),
        max_first_response=max(firsts, default=None),
        service_level=within / judged if judged else None,
        next_responses=len(nexts), average_next_response=_mean(nexts),
        waiting=len(line), longest_wait=round(max(line, default=0.0), 1),
    )


class TextStats:
    """The timers: told when conversations enter a queue, when the customer writes, when an
    agent replies and when they close; keeps one `TextRecord` per conversation and queue."""

    def __init__(self) -> None:
        self.records: list[TextRecord] = []
        self._open: dict[int, TextRecord] = {}

    def entered(self, conversation: int, queue: str, channel: str, wall: float) -> None:
        """A new conversation entered `queue` at `wall`: its first-response timer starts."""
        record = TextRecord(conversation, queue, channel, wall)
        self.records.append(record)
        self._open[conversation] = record

    def customer_wrote(self, conversation: int, wall: float) -> None:
        """A customer message: after a first response it starts a next-response timer."""
        record = self._open.get(conversation)
        if record is None or record.first_response_wall is None:
            return
        if record.awaiting_since is None:
            record.awaiting_since = wall

    def agent_replied(self, conversation: int, wall: float) -> None:
        """An outbound agent message: the first response, or the end of a next-response wait."""
        record = self._open.get(conversation)
        if record is None:
            return
        if record.first_response_wall is None:
            record.first_response_wall = wall
        elif record.awaiting_since is not None:
            record.next_waits.append(max(0.0, wall - record.awaiting_since))
        record.awaiting_since = None

    def closed(self, conversation: int, wall: float) -> None:
        record = self._open.pop(conversation, None)
        if record is not None:
            record.closed_wall = wall

    def of_queue(self, queue: str) -> list[TextRecord]:
        return [r for r in self.records if r.queue == queue]

    def forget_before(self, wall: float) -> None:
        """Drop closed records enqueued before `wall` (memory stays bounded by the window the
        figures look at)."""
        self.records = [r for r in self.records
                        if r.closed_wall is None or r.enqueued_wall >= wall]
