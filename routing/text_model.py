"""Text conversations as the ACD routes them: the `Conversation`, its states, its offers.

A conversation IS one open text interaction of a case (chat, SMS, WhatsApp or email); its id
is the interaction id. States (STYLE.md §4: one `Conversation.set_state()` checks every move):

    WAITING ─offer─▶ OFFERED ─accept─▶ ASSIGNED ─close─▶ CLOSED
       ▲                │ decline / timeout   │ the agent logged out: back in line,
       └────────────────┘◀────────────────────┘ with them as preferred agent
    (any state ─▶ CLOSED: the interaction ended)

Times: `*_wall` are UNIX seconds from the router's injected wall clock (what the desk shows
and the figures use), `enqueued_mono` the injected monotonic clock (offer timers).
The customer's address is personal data: it goes to the agent's desk, never to a log.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from routing.model import RoutingError
from routing.repeat import Repeat

log = logging.getLogger(__name__)

ERROR_CODES = ("bad_offer", "not_yours", "no_conversation", "over_capacity")
WITHDRAW_REASONS = ("taken", "timeout", "declined", "closed")


class TextRoutingError(RoutingError):
    """A desk command the router refuses: `code` is one of ERROR_CODES, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown text routing error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message


class ConversationStateError(RoutingError):
    """A move the conversation's state does not allow."""


class ConvState(enum.Enum):
    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    CLOSED = "closed"


_C = ConvState
_MOVES: dict[ConvState, frozenset[ConvState]] = {
    _C.WAITING: frozenset({_C.OFFERED, _C.CLOSED}),
    _C.OFFERED: frozenset({_C.ASSIGNED, _C.WAITING, _C.CLOSED}),
    _C.ASSIGNED: frozenset({_C.WAITING, _C.CLOSED}),
    _C.CLOSED: frozenset(),
}


def iso(wall: float | None) -> str | None:
    """UNIX seconds as ISO-8601 in UTC, None stays None."""
    return None if wall is None else datetime.fromtimestamp(wall, UTC).isoformat()


@dataclass
class Conversation:
    """One routed text conversation. `agent` is the agent it is assigned to (None while it
    waits or is offered); `preferred` the agent offered first when eligible (the one who had
    it before); `passed` the agents who declined it or let its offer lapse, with when
    (mono), who are not offered it again while someone else can take it."""

    id: int
    case_id: int
    channel: str
    queue: str
    seq: int
    enqueued_mono: float
    enqueued_wall: float
    state: ConvState = ConvState.WAITING
    agent: str | None = None
    unread: int = 0
    last_message_wall: float | None = None
    waiting_since_wall: float | None = None  # the customer wrote and nobody answered yet
    customer: str | None = None
    priority: int = 0
    preferred: str | None = None
    passed: dict[str, float] = field(default_factory=dict)
    offer_id: str | None = None
    repeat: Repeat | None = None  # a repeat contact (routing.repeat): its priority is raised

    def set_state(self, new: ConvState) -> None:
        old = self.state
        if new not in _MOVES[old]:
            raise ConversationStateError(
                f"conversation {self.id}: cannot move from {old.value} to {new.value}")
        self.state = new
        log.info("conversation %d: %s -> %s", self.id, old.value, new.value)

    def to_dict(self) -> dict[str, Any]:
        """The contract's CONV (the desk hub swaps `case_id` for the case's public id)."""
        return {"id": self.id, "case_id": self.case_id, "channel": self.channel,
                "queue": self.queue, "state": self.state.value, "agent": self.agent,
                "unread": self.unread, "last_message_at": iso(self.last_message_wall),
                "waiting_since": iso(self.waiting_since_wall), "customer": self.customer,
                "repeat": self.repeat.to_dict() if self.repeat is not None else None}


@dataclass
class TextOffer:
    """A conversation offered to one agent until `timeout` seconds pass."""

    id: str
    conversation: Conversation
    agent: str
    timeout: float
    cancel_timer: Any = None  # the clock's TimerHandle

    def message(self) -> dict[str, Any]:
        return {"type": "conversation_offer", "offer_id": self.id, "timeout": self.timeout,
                "conversation": self.conversation.to_dict()}
