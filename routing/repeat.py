"""Repeat contacts go ahead (adaptive SLA): a customer who has contacted us N times in D days
enters any queue, on any channel, at a higher priority, and the agent's screen pop says so.

The routing file's top-level `repeat_contacts` sets the policy (off when absent):

    repeat_contacts:
      contacts: 3          # this contact is the customer's 3rd (or later) ...
      days: 7              # ... inbound contact within the last 7 days
      priority_boost: 10   # added to the priority the flow (or channel) gives the entry

and a queue may set its own boost with `repeat_boost` (0: repeat callers wait in line as
everyone else in that queue). Counting is the case store's (`ContactCounter`): the
interactions the customer started (inbound calls, chats, message threads, emails) on any of
their cases, the one entering the queue now included; outbound ones (a callback we placed, a
handover text an agent sent) are the same contact going on, not a new one.

`RepeatCheck.of_case()` never fails a contact: a store that cannot count is logged and the
entry goes in at its own priority.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from routing.model import QueueConfig

log = logging.getLogger(__name__)

# The boost is added to a flow priority of 0-100; the Redis store's score is exact for
# |priority| < 2**12 (routing.redis_store), so the sum stays well inside it.
MAX_BOOST = 1000
MAX_DAYS = 365


@dataclass(frozen=True)
class RepeatPolicy:
    """The routing file's `repeat_contacts`: `contacts` in `days` raise priority by `boost`."""

    contacts: int = 3
    days: float = 7.0
    boost: int = 10

    def boost_for(self, contacts: int, queue: QueueConfig) -> int:
        """The priority points a customer with `contacts` recent contacts gets in `queue`
        (0 below the threshold; the queue's `repeat_boost` when it sets one)."""
        if contacts < self.contacts:
            return 0
        return self.boost if queue.repeat_boost is None else queue.repeat_boost

    def to_dict(self) -> dict[str, Any]:
        return {"contacts": self.contacts, "days": self.days, "priority_boost": self.boost}


@dataclass(frozen=True)
class Repeat:
    """A repeat contact as the screen pop tells it: `contacts` in the last `days` (this one
    included) and the priority points it was given (`boost`, 0 when the queue gives none)."""

    contacts: int
    days: float
    boost: int

    def to_dict(self) -> dict[str, Any]:
        """The offer's `repeat` field (the desk says it in a sentence)."""
        return {"contacts": self.contacts, "days": self.days, "boost": self.boost}


class ContactCounter(Protocol):
    """The case store as the check uses it (`cases.store.CaseStore` implements it)."""

    async def recent_contacts(self, case_id: int, *, days: float,
                              inbound_only: bool = False) -> int: ...


class RepeatCheck:
    """Counts a case's recent contacts against the policy."""

    def __init__(self, policy: RepeatPolicy, counter: ContactCounter) -> None:
        self.policy = policy
        self.counter = counter

    async def of_case(self, case_id: int | None, queue: QueueConfig) -> Repeat | None:
        """The repeat contact `case_id`'s customer is making in `queue`, or None (not a
        repeat, no case, or the count failed: the entry keeps its own priority)."""
        if case_id is None:
            return None
        try:
            count = await self.counter.recent_contacts(case_id, days=self.policy.days,
                                                       inbound_only=True)
        except Exception:
            log.exception("case %s: its recent contacts were not counted", case_id)
            return None
        if count < self.policy.contacts:
            return None
        repeat = Repeat(count, self.policy.days, self.policy.boost_for(count, queue))
        log.info("case %s: repeat contact (%d in %g days) in queue %s: priority +%d", case_id,
                 count, self.policy.days, queue.name, repeat.boost)
        return repeat
