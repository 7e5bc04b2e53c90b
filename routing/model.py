"""The ACD's vocabulary: queues, agents and their states, queue entries, callbacks, records.

Plain dataclasses shared by the strategies (pure functions), the store (in-process today,
Redis-shaped), the engine and the API. Times are seconds: `mono` fields come from the injected
monotonic `media.clock.Clock`, `wall` fields are UNIX seconds from the injected wall clock and
are what survives a restart (callbacks, records).

Agent states (STYLE.md §4: one `AgentStatus.set_state()` validates every move):

    OFFLINE ─▶ AVAILABLE ─▶ RESERVED ─▶ ON_CALL ─▶ WRAP_UP ─▶ AVAILABLE
                  ▲   │        │ (offer refused / not answered: ─▶ BREAK "no-answer")
                  │   ▼        ▼
                  └─ BREAK (reason) ◀── any state but RESERVED/ON_CALL; ─▶ OFFLINE from any idle state
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class RoutingError(Exception):
    """Base of routing's errors; the message says what and where."""


class InvalidConfig(RoutingError):
    """A queue or agent definition is wrong (`where` names the file/key or API field)."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.reason = message


class AgentStateError(RoutingError):
    """A state move the agent's current state does not allow."""

    def __init__(self, agent_id: str, old: AgentState, new: AgentState) -> None:
        super().__init__(f"agent {agent_id}: cannot move from {old.value} to {new.value}")
        self.old = old
        self.new = new


class AgentState(enum.Enum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    BREAK = "break"


_A = AgentState
_MOVES: dict[AgentState, frozenset[AgentState]] = {
    _A.OFFLINE: frozenset({_A.AVAILABLE, _A.BREAK}),
    _A.AVAILABLE: frozenset({_A.RESERVED, _A.BREAK, _A.OFFLINE}),
    # A reservation ends in a call, or back to available (the caller left / the offer was
    # withdrawn), or a break (the agent didn't answer in time: not ready).
    _A.RESERVED: frozenset({_A.ON_CALL, _A.AVAILABLE, _A.BREAK, _A.WRAP_UP}),
    _A.ON_CALL: frozenset({_A.WRAP_UP, _A.ON_CALL}),
    _A.WRAP_UP: frozenset({_A.AVAILABLE, _A.BREAK, _A.OFFLINE}),
    _A.BREAK: frozenset({_A.AVAILABLE, _A.OFFLINE, _A.BREAK}),
}

STRATEGIES = ("longest-idle", "round-robin", "skills-weighted")
# The channels a queue serves and an agent has capacity on; the text ones are routed by
# `routing.conversations` (one open text interaction of a case is one conversation).
TEXT_CHANNELS = ("chat", "sms", "whatsapp", "email")
CHANNELS = ("voice", *TEXT_CHANNELS)
# First-response targets (seconds) of the text channels' service level, unless a queue's
# `response_targets` says otherwise: chat is live, SMS and WhatsApp within the quarter hour,
# email within four hours.
DEFAULT_RESPONSE_TARGETS: tuple[tuple[str, float], ...] = (
    ("chat", 60.0), ("sms", 900.0), ("whatsapp", 900.0), ("email", 14400.0))
OVERFLOW_KINDS = ("queue", "voicemail", "callback", "hangup")


@dataclass(frozen=True)
class Overflow:
    """Where a caller goes after the queue's maximum wait: another queue, voicemail (the
    flow's `on_timeout` label handles it), a callback, or hang up."""

    kind: str
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target}


@dataclass(frozen=True)
class CallbackPolicy:
    """How a callback is carried out when its turn comes."""

    max_attempts: int = 3
    retry_after: float = 60.0
    ring_timeout: float = 25.0


@dataclass(frozen=True)
class QueueConfig:
    """One queue. `strategy` picks the agent; entries are ordered by priority with aging
    (`aging_per_s` priority points per second waited, 0 = strict priority then arrival)."""

    name: str
    strategy: str = "longest-idle"
    skills: tuple[str, ...] = ()
    service_level: float = 20.0
    max_wait: float | None = None
    overflow: Overflow | None = None
    announce_every: float = 30.0  # 0: no position / wait announcements
    announce_position: bool = True
    announce_wait: bool = True
    moh: str | None = "default"  # "default", a WAV path, or None for silence
    offer_timeout: float = 15.0
    wrapup: float = 10.0
    callback_key: str | None = "1"  # the DTMF key that asks for a callback while waiting
    # The DTMF key that asks for a text with a chat link instead of waiting (handover);
    # the caller keeps their place until the chat is accepted. None: not offered.
    deflect_key: str | None = None
    callback: CallbackPolicy = field(default_factory=CallbackPolicy)
    aging_per_s: float = 0.0
    default_handle_time: float = 180.0  # the wait estimate's handle time before any history
    channels: tuple[str, ...] = ("voice",)  # what it serves (text: `routing.conversations`)
    # Text channels' first-response targets (seconds), as (channel, seconds) pairs; a channel
    # not named takes DEFAULT_RESPONSE_TARGETS' value.
    response_targets: tuple[tuple[str, float], ...] = ()
    # A customer whose conversation closed less than this many seconds ago is offered first
    # to the agent who had it when they write again (0: no such preference).
    sticky_for: float = 3600.0
    # The language its callers speak (None: any). A call that carries its own language (the
    # flow's, a `common.languages.LANGUAGE_PREFIX` skill) is matched on that one instead.
    language: str | None = None
    # Priority points a repeat contact gets here (routing.repeat); None: the routing file's
    # `repeat_contacts.priority_boost`, 0: none in this queue.
    repeat_boost: int | None = None
    # Phrases its calls' live transcripts should favour (product names; voice.language_pools).
    hints: tuple[str, ...] = ()

    def response_target(self, channel: str) -> float:
        """The first-response target of `channel` in seconds (voice: `service_level`)."""
        if channel == "voice":
            return self.service_level
        mine = dict(self.response_targets)
        return mine.get(channel, dict(DEFAULT_RESPONSE_TARGETS).get(channel, self.service_level))


@dataclass(frozen=True)
class AgentConfig:
    """One agent: `skills` maps a skill to a level (1-10); `contact` is the SIP URI offers
    are dialed to (a desk phone or softphone), or None to use the registrar's binding for
    `sip:<id>@...`; `queues` the queues they serve.

    `max_concurrent` is the total of interactions at once across channels (calls and text
    conversations); `capacity` caps each channel on its own (`{voice: 1, chat: 2}`). A channel
    `capacity` does not name takes the default: 1 for voice (a softphone carries one call),
    `max_concurrent` for a text channel. 0 means the agent takes none of that channel."""

    id: str
    name: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    max_concurrent: int = 1
    contact: str | None = None
    queues: tuple[str, ...] = ()
    capacity: dict[str, int] = field(default_factory=dict)
    # The languages the agent speaks; none listed means the server's default, English.
    languages: tuple[str, ...] = ()

    def speaks(self, language: str) -> bool:
        """Whether the agent takes callers speaking `language` (en, es)."""
        return language in (self.languages or ("en",))

    def capacity_for(self, channel: str) -> int:
        """How many interactions of `channel` the agent takes at once (see the class doc)."""
        if channel in self.capacity:
            return self.capacity[channel]
        return 1 if channel == "voice" else self.max_concurrent


@dataclass
class AgentStatus:
    """An agent's live state, as the store keeps it."""

    agent_id: str
    state: AgentState = AgentState.OFFLINE
    reason: str | None = None
    since: float = 0.0  # mono: when the current state began
    idle_since: float = 0.0  # mono: when the agent last became free (longest idle)
    active: int = 0  # interactions in progress
    reserved_for: str | None = None  # the entry id while RESERVED

    def set_state(self, new: AgentState, now: float, reason: str | None = None) -> None:
        old = self.state
        if new not in _MOVES[old]:
            raise AgentStateError(self.agent_id, old, new)
        self.state = new
        self.reason = reason if new is AgentState.BREAK else None
        self.since = now
        if new is AgentState.AVAILABLE:
            self.idle_since = now
        if new is not AgentState.RESERVED:
            self.reserved_for = None
        log.info("agent %s: %s -> %s", self.agent_id, old.value, new.value)

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent_id, "state": self.state.value, "reason": self.reason,
                "since": self.since, "active": self.active}


@dataclass
class QueueEntry:
    """One caller (or callback) waiting. `seq` is the place in line: given once when the
    caller first arrives and kept by a callback, so it never loses its position."""

    id: str
    queue: str
    seq: int
    enqueued_mono: float
    enqueued_wall: float
    priority: int = 0
    skills: tuple[str, ...] = ()
    kind: str = "call"  # "call" or "callback"
    call_id: str | None = None
    callback_id: str | None = None


class CallbackState(enum.Enum):
    WAITING = "waiting"  # in line (or waiting for its next attempt)
    DIALING = "dialing"  # an agent is reserved and the customer is being called
    DONE = "done"  # connected to an agent
    FAILED = "failed"  # out of attempts
    CANCELLED = "cancelled"


@dataclass
class Callback:
    """A stored callback: survives a restart and keeps `seq`, the caller's original place."""

    id: str
    queue: str
    number: str
    seq: int
    created_wall: float
    priority: int = 0
    skills: tuple[str, ...] = ()
    state: CallbackState = CallbackState.WAITING
    attempts: int = 0
    next_attempt_wall: float = 0.0
    last_result: str | None = None
    case_id: int | None = None
    call_id: str | None = None  # the call that asked for it

    def to_dict(self) -> dict[str, Any]:
        # The number is personal data: the API shows it, logs never do.
        return {"id": self.id, "queue": self.queue, "number": self.number, "seq": self.seq,
                "created": self.created_wall, "state": self.state.value,
                "attempts": self.attempts, "next_attempt": self.next_attempt_wall,
                "last_result": self.last_result, "case_id": self.case_id}


# "cancelled": a callback withdrawn while it waited (counted as offered, in no other bucket).
# "deflected": the caller took a text with a chat link and left (or was released when the
# chat was accepted): served on another channel, never an abandon.
OUTCOMES = ("answered", "abandoned", "overflow", "callback", "timeout", "cancelled",
            "deflected")


@dataclass
class QueueRecord:
    """One entry's passage through a queue, for the service figures (persisted).

    `outcome`: answered (by `agent_id`), abandoned (the caller hung up waiting), overflow
    (sent on after the maximum wait), callback (turned into a callback), timeout (left with
    nowhere to go). Times are wall seconds; `answered_wall`/`ended_wall` are set when known.
    """

    id: str
    queue: str
    kind: str  # "call" or "callback"
    enqueued_wall: float
    outcome: str | None = None
    left_wall: float | None = None  # left the queue (answered, abandoned, overflowed...)
    answered_wall: float | None = None
    ended_wall: float | None = None  # the agent's talk ended (handle time = ended-answered)
    wrapup_s: float = 0.0
    agent_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "queue": self.queue, "kind": self.kind,
                "enqueued": self.enqueued_wall, "outcome": self.outcome,
                "left": self.left_wall, "answered": self.answered_wall,
                "ended": self.ended_wall, "wrapup": self.wrapup_s, "agent": self.agent_id}
