"""One call, as the rest of the server sees it: an explicit state machine over its legs.

    NEW ──ring──▶ RINGING ──answer──▶ ACTIVE ◀──unhold/hold──▶ HELD
     │               │                  │                        │
     └───────────────┴──── hangup / remote end / failure ────────┴──▶ ENDED

Every move goes through `_set_state()`, which checks it against `_MOVES`, logs `old -> new`
and emits a `CallEvent`. An operation the current state doesn't allow raises `CallStateError`
naming that state (STYLE.md §4). The signalling and media of the caller's leg belong to a
`CallLeg` (SIP today; WebRTC and Twilio legs implement the same protocol); its audio is
`call.media()`, a `voice.leg_media.LegMedia`.

Privacy is a second, call-level state (`Privacy.OPEN` ⇄ `Privacy.PAUSED`): a sensitive IVR
step, an agent or the API pauses it; while paused every consumer of the call's audio keeps
nothing of it (transcribers drop what they buffered, the debug capture writes silence, the
case notes the gap). `_set_privacy()` validates, logs `old -> new` and tells the listeners
registered with `on_privacy()` synchronously, so no frame slips through between the change
and the consumers hearing of it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from media.player import AudioSource
from voice.leg_media import LegMedia

log = logging.getLogger(__name__)

# Control events are few per call; 256 is far above any real burst, and a consumer that stops
# reading must not grow memory without bound: the oldest events give way and are counted.
EVENT_QUEUE_SIZE = 256
# A key of a sensitive IVR step as `Call.digits` keeps it: what the case stores for a
# sensitive entry, and not a key anyone can type (the star key is "*").
MASKED_KEY = "***"


class CallState(enum.Enum):
    NEW = "new"
    RINGING = "ringing"
    ACTIVE = "active"
    HELD = "held"
    ENDED = "ended"


_S = CallState
_MOVES: dict[CallState, frozenset[CallState]] = {
    _S.NEW: frozenset({_S.RINGING, _S.ACTIVE, _S.ENDED}),
    _S.RINGING: frozenset({_S.ACTIVE, _S.ENDED}),
    _S.ACTIVE: frozenset({_S.HELD, _S.ENDED}),
    _S.HELD: frozenset({_S.ACTIVE, _S.ENDED}),
    _S.ENDED: frozenset(),
}


class Privacy(enum.Enum):
    """Whether the call's audio may be kept (transcribed, recorded, captured)."""

    OPEN = "open"
    PAUSED = "paused"


@dataclass(frozen=True)
class PrivacyChange:
    """A move of a call's privacy state; `by` says who moved it ("ivr:<step>", "agent:<name>",
    "api:<name>"): never what was said."""

    call_id: str
    old: Privacy
    new: Privacy
    by: str


PrivacyListener = Callable[[PrivacyChange], None]


class Direction(enum.Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStateError(Exception):
    """An operation that the call's current state does not allow."""

    def __init__(self, action: str, state: CallState) -> None:
        super().__init__(f"cannot {action} a call in state {state.name}")
        self.action = action
        self.state = state


class PrivacyError(Exception):
    """A privacy move the call's privacy state does not allow (pause twice, resume open)."""

    def __init__(self, call_id: str, state: Privacy, by: str | None) -> None:
        held = f" by {by}" if by else ""
        super().__init__(f"call {call_id}: privacy is already {state.value}{held}")
        self.state = state
        self.by = by


@dataclass(frozen=True)
class CallEvent:
    """Something that happened on a call: `kind` is state/dtmf/hold/unhold/played/ended."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # DTMF digits are personal data: keep them out of reprs that reach logs.
        shown = {k: ("***" if k == "digit" else v) for k, v in self.data.items()}
        return f"CallEvent({self.kind!r}, {shown!r})"


class CallLeg(Protocol):
    """What a Call needs from the leg that carries its caller (signalling + media)."""

    def ring(self) -> None: ...

    async def answer(self) -> None: ...

    async def hold(self) -> None: ...

    async def unhold(self) -> None: ...

    def hangup(self) -> None: ...

    def play(self, source: AudioSource | None, on_done: Any = None) -> None: ...

    def send_dtmf(self, digits: str) -> None: ...

    def leg_media(self) -> LegMedia | None:
        """The leg's audio (taps in and out, play, tick), or None when it has none."""
        ...


class Call:
    """One call through the server."""

    def __init__(
        self, call_id: str, direction: Direction, leg: CallLeg, *,
        caller: str = "", dialed: str = "", trusted_by: str | None = None,
        customer_id: int | None = None,
    ) -> None:
        self.id = call_id
        self.direction = direction
        self.leg = leg
        # Who called and what they dialed (user parts): personal data, never logged.
        self.caller = caller
        self.dialed = dialed
        # Why the call's source is trusted ("trunk", "registration"; see voice.trust), or
        # None: anyone on the network can send an INVITE with any From, so an untrusted call
        # reaches the IVR but never makes the server dial out (voice.dialplan).
        self.trusted_by = trusted_by
        # The customer the caller is already known as (a chat visitor who clicked "call us":
        # voice.webrtc.browser_caller), or None: the case finds them by the caller's number.
        self.customer_id = customer_id
        # The caller's language as the flow set it (`en`, `es`, `auto` until detected), or
        # None when no flow said: ivr.language sets it, the live transcript's streams read it.
        self.language: str | None = None
        # Phrases the live transcript should favour, as the flow and the queue list them
        # (`hints:`); the transcript's streams read them for each utterance.
        self.hints: tuple[str, ...] = ()
        self._state = CallState.NEW
        self.end_cause: str | None = None
        self.digits: list[str] = []
        self._sensitive_input = False
        # How many of `digits` the flow's verbs have read (ivr.media.events.CallInput keeps
        # it): the rest are type-ahead a sensitive step may yet take (see `sensitive_input`).
        self.digits_read = 0
        self.digit_sources: list[str] = []
        self._events: deque[CallEvent] = deque(maxlen=EVENT_QUEUE_SIZE)
        self._event_ready = asyncio.Event()
        self.dropped_events = 0
        self._ended = asyncio.Event()
        self._answered = asyncio.Event()
        self._privacy = Privacy.OPEN
        self.privacy_by: str | None = None  # who paused, while paused
        self._privacy_listeners: list[PrivacyListener] = []

    def __repr__(self) -> str:
        return f"<Call {self.id} {self._state.name}>"

    @property
    def sensitive_input(self) -> bool:
        """True while a sensitive IVR step (a card number, a PIN) runs: its keys are kept in
        `digits` as `MASKED_KEY`; the events that carry them to the verb are not masked. The
        interpreter sets it at each step's start and clears it at its end."""
        return self._sensitive_input

    @sensitive_input.setter
    def sensitive_input(self, on: bool) -> None:
        if on and not self._sensitive_input:
            # Keys typed ahead, that no step has read yet, are the sensitive step's to take:
            # the call cannot tell which it will, so it keeps none of them. However many steps
            # (a `set`, a `goto`) stand between the step they were typed over and this one.
            for i in range(min(self.digits_read, len(self.digits)), len(self.digits)):
                self.digits[i] = MASKED_KEY
        self._sensitive_input = on

    def shown_digits(self) -> str:
        """The keys as text, each run of masked ones as one `MASKED_KEY`, as the case shows
        a sensitive entry (not even its length)."""
        shown: list[str] = []
        for key in self.digits:
            if key != MASKED_KEY or not shown or shown[-1] != MASKED_KEY:
                shown.append(key)
        return "".join(shown)

    @property
    def state(self) -> CallState:
        return self._state

    def media(self) -> LegMedia | None:
        """The audio of the call's leg (taps in and out, play, tick), or None."""
        return self.leg.leg_media()

    # -- privacy --------------------------------------------------------------------------------
    @property
    def privacy(self) -> Privacy:
        return self._privacy

    def pause_privacy(self, by: str) -> None:
        """Stop every consumer keeping the call's audio until `resume_privacy()`. Raises
        `CallStateError` on an ended call and `PrivacyError` when already paused."""
        if self._state is CallState.ENDED:
            raise CallStateError("pause privacy on", self._state)
        self._set_privacy(Privacy.PAUSED, by)

    def resume_privacy(self, by: str) -> None:
        """End the pause (allowed after the call ended: the span ends then). Raises
        `PrivacyError` when not paused."""
        self._set_privacy(Privacy.OPEN, by)

    def on_privacy(self, listener: PrivacyListener) -> Callable[[], None]:
        """Call `listener(change)` at every privacy move; returns the unsubscribe function.
        Listeners run synchronously and must not block."""
        self._privacy_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._privacy_listeners:
                self._privacy_listeners.remove(listener)

        return unsubscribe

    def _set_privacy(self, new: Privacy, by: str) -> None:
        old = self._privacy
        if new is old:
            raise PrivacyError(self.id, old, self.privacy_by)
        self._privacy = new
        self.privacy_by = by if new is Privacy.PAUSED else None
        log.info("call %s: privacy %s -> %s (by %s)", self.id, old.value, new.value, by)
        change = PrivacyChange(self.id, old, new, by)
        self._emit(CallEvent("privacy", {"old": old.value, "new": new.value, "by": by}))
        for listener in list(self._privacy_listeners):
            try:
                listener(change)
            except Exception:  # every other consumer must still hear of the change
                log.exception("call %s: privacy listener failed", self.id)

    @property
    def trusted(self) -> bool:
        """Whether the call came through a configured trunk or an authenticated phone."""
        return self.trusted_by is not None

    def _set_state(self, new: CallState, **data: Any) -> None:
        old = self._state
        if new not in _MOVES[old]:
            raise CallStateError(f"move to {new.name}", old)
        self._state = new
        log.debug("call %s: %s -> %s", self.id, old.name, new.name)
        self._emit(CallEvent("state", {"old": old.value, "new": new.value, **data}))
        if new is CallState.ACTIVE:
            self._answered.set()
        if new is CallState.ENDED:
            self._ended.set()

    def _emit(self, event: CallEvent) -> None:
        if len(self._events) == self._events.maxlen:
            self.dropped_events += 1
        self._events.append(event)
        self._event_ready.set()

    async def next_event(self) -> CallEvent:
        """Wait for the next event (consumed once; one consumer per call)."""
        while not self._events:
            self._event_ready.clear()
            await self._event_ready.wait()
        return self._events.popleft()

    # -- operations -----------------------------------------------------------------------------
    def ring(self) -> None:
        if self._state is not CallState.NEW:
            raise CallStateError("ring", self._state)
        self.leg.ring()
        self._set_state(CallState.RINGING)

    async def answer(self) -> None:
        if self._state not in (CallState.NEW, CallState.RINGING):
            raise CallStateError("answer", self._state)
        await self.leg.answer()
        # The caller may have hung up while we answered: ended() ran during the await.
        if self._state in (CallState.NEW, CallState.RINGING):
            self._set_state(CallState.ACTIVE)

    def connected(self) -> None:
        """An outbound call was answered by the far end."""
        if self._state not in (CallState.NEW, CallState.RINGING):
            raise CallStateError("connect", self._state)
        self._set_state(CallState.ACTIVE)

    async def hold(self) -> None:
        if self._state is not CallState.ACTIVE:
            raise CallStateError("hold", self._state)
        await self.leg.hold()
        self._set_state(CallState.HELD, by="local")

    async def unhold(self) -> None:
        if self._state is not CallState.HELD:
            raise CallStateError("unhold", self._state)
        await self.leg.unhold()
        self._set_state(CallState.ACTIVE, by="local")

    def play(self, source: AudioSource | None) -> asyncio.Future[None]:
        """Play `source` to the caller; the future resolves when it has been played."""
        if self._state is CallState.ENDED:
            raise CallStateError("play to", self._state)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def finished() -> None:
            if not done.done():
                done.set_result(None)
            self._emit(CallEvent("played"))

        self.leg.play(source, finished)
        return done

    def hangup(self, cause: str = "local") -> None:
        """End the call from our side (reject, cancel or BYE: whatever the state calls for)."""
        if self._state is CallState.ENDED:
            return
        self.leg.hangup()
        self.ended(cause)

    async def wait_ended(self) -> None:
        await self._ended.wait()

    async def wait_answered(self) -> bool:
        """Wait until the call is answered (True) or ends unanswered (False)."""
        if not self._answered.is_set() and not self._ended.is_set():
            answered = asyncio.ensure_future(self._answered.wait())
            ended = asyncio.ensure_future(self._ended.wait())
            try:
                await asyncio.wait({answered, ended}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (answered, ended):
                    waiter.cancel()
                await asyncio.gather(answered, ended, return_exceptions=True)
        return self._answered.is_set()

    # -- what the leg reports -------------------------------------------------------------------
    def digit(self, digit: str, duration_ms: int, source: str) -> None:
        self.digits.append(MASKED_KEY if self._sensitive_input else digit)
        self.digit_sources.append(source)
        self._emit(CallEvent("dtmf", {"digit": digit, "duration_ms": duration_ms, "source": source}))

    def remote_hold(self, held: bool) -> None:
        """The far end put us on hold (or resumed) with a re-INVITE."""
        if held and self._state is CallState.ACTIVE:
            self._set_state(CallState.HELD, by="remote")
        elif not held and self._state is CallState.HELD:
            self._set_state(CallState.ACTIVE, by="remote")

    def ended(self, cause: str) -> None:
        if self._state is CallState.ENDED:
            return
        self.end_cause = cause
        self._set_state(CallState.ENDED, cause=cause)
