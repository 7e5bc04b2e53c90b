"""What a caller hears and can do while waiting in a queue.

    room = WaitingRoom(call, queue, clock=clock, tts=tts, status=lambda: engine.status(entry))
    outcome = await room.run()      # WaitOutcome("hangup") or WaitOutcome("callback", number)

Music on hold loops for as long as the caller waits and picks up where it left off after
each announcement. Announcements come on entry and then every `queue.announce_every`
seconds, built from `status()` at that moment; with a `callback_key` they offer a callback
that keeps the caller's place (with `announce_every` 0 there is no position or wait, but a
callback is still offered once, on entry). With a `deflect_key` and a `deflector` (handover)
they also offer "a text with a chat link instead of waiting": pressing it sends the text and
the caller keeps waiting, their place kept, until the chat is accepted (the engine then ends
the call, outcome `deflected`) or they hang up (also `deflected`, never an abandon). The
callback menu:

    WAITING ─key─▶ OFFERING ─1─▶ CONFIRMING ─1─▶ callback returned
                      │ 2 (or no usable caller number)  ▲   │ 2
                      ▼                                 │   ▼
                   ENTERING ─ digits # ─────────────────┘ ENTERING (at most 3 entries)

No answer within `ANSWER_TIMEOUT_S`, or an invalid entry too many times, is back to WAITING
with the music: the place in line is the engine's and was never given up. A `callback_gate`
(the server's dial plan) decides who may be called back: a call from an untrusted source is
not offered a callback (pressing the key says so), the caller's own number is offered only
when the plan allows it, and an entered number the plan refuses counts as an invalid entry. The engine cancels
`run()` when an agent answers or the maximum wait passes; the call is left silent.

Caller numbers and digits are personal data (STYLE.md §12): never logged, and the prompt that
reads a number back is synthesized without the disk cache.
"""

from __future__ import annotations

import enum
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ivr.media.dtmf import DtmfAggregator, DtmfRules, Outcome
from ivr.media.events import CallInput, Digit, HungUp
from ivr.media.prompt import PromptOutcome, play_prompt
from ivr.media.tts import TtsError
from media.clock import Clock
from media.frames import Pcm
from media.player import PROMPTS_DIR, Player, WavFormatError, load_prompt
from routing.callbacks import CallbackGate, ShapeOnly
from routing.eta import spoken_position, spoken_wait
from routing.model import QueueConfig
from voice.call import Call, CallState

log = logging.getLogger(__name__)

RATE = 8000
DEFAULT_MOH = PROMPTS_DIR / "moh.wav"
# Long enough to find the keypad after a prompt, short enough that a caller who ignores the
# menu is soon back to music.
ANSWER_TIMEOUT_S = 6.0
INTER_DIGIT_TIMEOUT_S = 5.0
ENTRY_ATTEMPTS = 3  # one entry and two retries after an invalid one
MAX_ENTRIES = 3  # "enter it again" from the confirmation, counted apart from invalid retries
KEY_NAMES = {"*": "star", "#": "pound"}
DIALABLE = re.compile(r"\+?[0-9]{3,15}")

OFFER_TEXT = ("To be called back at the number you are calling from, press 1. "
              "To enter another number, press 2.")
ENTER_TEXT = "Please enter the number to call you back at, then press the pound key."
INVALID_TEXT = "Sorry, that is not a valid number."
REFUSED_NUMBER_TEXT = "Sorry, we cannot call that number."
NO_CALLBACK_TEXT = "Sorry, we cannot call you back on this line. Please stay on the line."
DEFLECTED_TEXT = ("We have sent you a text message with a link to continue by chat. "
                  "You keep your place in line until the chat is answered. You may hang up.")
NO_TEXT_TEXT = "Sorry, we cannot send you a text message on this line. Please stay on the line."
TEXT_FAILED_TEXT = "Sorry, we could not send the text message. Please stay on the line."
RELEASED_TEXT = "Your chat has been answered. Thank you, goodbye."
CONFIRMED_TEXT = "Thank you. We will call you back, and you keep your place in line. Goodbye."
UNAVAILABLE_TEXT = "Sorry, no one can take your call right now. Please call again later. Goodbye."


class Tts(Protocol):
    """The text to speech a waiting room needs (`ivr.media.tts.EspeakTts`)."""

    async def synthesize(self, text: str, *, cache: bool = True) -> Pcm: ...


class Deflector(Protocol):
    """Sends a waiting caller a text with the summary and a chat link (handover); the
    composition root's `centralita.handover_setup.CallHandover`."""

    async def deflect(self, call: Call, queue: QueueConfig) -> str | None:
        """Text the caller of `call`; None when sent, else why not (said to no one: logged)."""
        ...


@dataclass(frozen=True)
class WaitStatus:
    """Where a caller stands: `position` 1 is next; `wait` in seconds, `math.inf` if unknown."""

    position: int
    wait: float


@dataclass(frozen=True)
class WaitOutcome:
    """How waiting ended by the caller's doing: "hangup", or "callback" to `number`."""

    kind: str
    number: str | None = None

    def __repr__(self) -> str:
        return f"WaitOutcome({self.kind!r}, number={'<masked>' if self.number else None})"


class Phase(enum.Enum):
    WAITING = "waiting"
    ANNOUNCING = "announcing"
    OFFERING = "offering"
    ENTERING = "entering"
    CONFIRMING = "confirming"
    DONE = "done"


class _Moh(enum.Enum):
    FROM_QUEUE = "from-queue"


FROM_QUEUE = _Moh.FROM_QUEUE


class _HungUp(Exception):
    """The caller hung up somewhere in a prompt or menu."""


def announcement(queue: QueueConfig, status: WaitStatus | None, *,
                 offer_callback: bool = True, offer_deflect: bool = False) -> str | None:
    """The words of one announcement (None: nothing to say). `status` None leaves out
    position and wait, as a queue that never announces them does; `offer_callback` False
    leaves out the callback key (a caller who may not ask for one); `offer_deflect` says the
    deflect key (a caller who may be texted, on a server that can)."""
    parts: list[str] = []
    if status is not None and queue.announce_position and status.position >= 1:
        parts.append(spoken_position(status.position))
    # An infinite wait (nobody staffed) is said as such; NaN (no figures at all) is left out.
    if status is not None and queue.announce_wait and not math.isnan(status.wait):
        parts.append(spoken_wait(max(0.0, status.wait)))
    if queue.callback_key and offer_callback:
        key = KEY_NAMES.get(queue.callback_key, queue.callback_key)
        parts.append(f"To be called back without losing your place, press {key}.")
    if queue.deflect_key and offer_deflect:
        key = KEY_NAMES.get(queue.deflect_key, queue.deflect_key)
        parts.append(f"To continue by chat instead, press {key} and we will text you a link.")
    return " ".join(parts) or None


def spoken_number(number: str) -> str:
    """A phone number read digit by digit ("5 5 5 1 2 3 4")."""
    return " ".join("plus" if c == "+" else c for c in number)


def music_for(setting: str | None) -> Pcm | None:
    """The samples of a queue's `moh` ("default", a WAV path, None: silence), at 8 kHz.

    A file that cannot be played costs the music, not the call: silence, and a warning.
    """
    if setting is None:
        return None
    path = DEFAULT_MOH if setting == "default" else Path(setting)
    try:
        return load_prompt(path, RATE)
    except (OSError, WavFormatError) as exc:
        log.warning("music on hold %s unusable (%s): callers wait in silence", path,
                    type(exc).__name__)
        return None


class WaitingRoom:
    """Music, announcements and the callback menu for one caller in one queue."""

    def __init__(
        self, call: Call, queue: QueueConfig, *, clock: Clock, tts: Tts,
        status: Callable[[], WaitStatus], moh: Pcm | str | None | _Moh = FROM_QUEUE,
        callback_gate: CallbackGate | None = None, deflector: Deflector | None = None,
    ) -> None:
        """`moh`: samples to loop, a setting like `QueueConfig.moh` ("default", a WAV path),
        None for silence; by default the queue's own setting. `callback_gate`: who may be
        called back at what number (without one, the number's shape alone); it also decides
        who may be texted (an untrusted source may not). `deflector`: sends the chat link
        when the caller presses the queue's `deflect_key` (None: not offered)."""
        self.call = call
        self._gate: CallbackGate = callback_gate if callback_gate is not None else ShapeOnly()
        # Decided once: whether this call may ask for a callback at all (its source).
        self._no_callback = self._gate.callback_refusal(call, None)
        self.queue = queue
        self.clock = clock
        self.tts = tts
        self.status = status
        if moh is FROM_QUEUE:
            moh = queue.moh
        samples = moh if moh is None or not isinstance(moh, str) else music_for(moh)
        self._music = None if samples is None else Player(samples, RATE, loop=True)
        self._reader = CallInput.of(call)
        self.phase = Phase.WAITING
        self.deflector = deflector if queue.deflect_key else None
        self.deflected = False  # a chat link was texted: leaving is `deflected`, not abandoned

    def _set_phase(self, new: Phase) -> None:
        log.debug("call %s queue %s: %s -> %s", self.call.id, self.queue.name,
                  self.phase.value, new.value)
        self.phase = new

    async def run(self) -> WaitOutcome:
        """Keep the caller company until they hang up or confirm a callback."""
        every = self.queue.announce_every
        # With announcements off the callback offer is still made, once, on entry.
        next_at: float | None = self.clock.now()
        try:
            while True:
                if next_at is not None and self.clock.now() >= next_at:
                    status = self.status() if every > 0 else None
                    next_at = self.clock.now() + every if every > 0 else None
                    await self._announce(status)
                    self._set_phase(Phase.WAITING)
                self._resume_music()
                within = None if next_at is None else max(0.0, next_at - self.clock.now())
                item = await self._reader.next(self.clock, within)
                if isinstance(item, HungUp):
                    raise _HungUp
                if isinstance(item, Digit) and item.digit == self.queue.callback_key:
                    number = await self._callback()
                    if number is not None:
                        self._set_phase(Phase.DONE)
                        return WaitOutcome("callback", number)
                    self._set_phase(Phase.WAITING)
                    if next_at is not None:
                        # Just out of a menu: the next announcement is not due at once.
                        next_at = max(next_at, self.clock.now() + every)
                elif isinstance(item, Digit) and item.digit == self.queue.deflect_key \
                        and self.deflector is not None:
                    await self._deflect()
                    self._set_phase(Phase.WAITING)
                    if next_at is not None:
                        next_at = max(next_at, self.clock.now() + every)
        except _HungUp:
            self._set_phase(Phase.DONE)
            return WaitOutcome("hangup")
        finally:
            if self.call.state is not CallState.ENDED:
                self.call.play(None)

    def _resume_music(self) -> None:
        if self.call.state is CallState.ENDED:
            raise _HungUp
        if self._music is not None:
            # The same looping player each time: it goes on from where it was stopped.
            self.call.play(self._music)

    async def _announce(self, status: WaitStatus | None) -> None:
        text = announcement(self.queue, status, offer_callback=self._no_callback is None,
                            offer_deflect=self.deflector is not None and not self.deflected
                            and self._no_callback is None)
        if text is None:
            return
        self._set_phase(Phase.ANNOUNCING)
        # A key press cuts the announcement only when there is a key to press; it stays
        # waiting for `run()` to read.
        keys = self.queue.callback_key or self.deflector is not None
        await self._say(text, interrupt="dtmf" if keys else "none")

    async def _deflect(self) -> None:
        """The deflect key: text the chat link (once; again on request), say what happened.
        A call from an untrusted source is never texted (the gate's source rule)."""
        if self._no_callback is not None or self.deflector is None:
            log.info("call %s queue %s: chat link refused: %s", self.call.id, self.queue.name,
                     self._no_callback)
            await self._say(NO_TEXT_TEXT)
            return
        try:
            refusal = await self.deflector.deflect(self.call, self.queue)
        except Exception:
            log.exception("call %s queue %s: the chat link failed", self.call.id,
                          self.queue.name)
            refusal = "failed"
        if refusal is not None:
            log.info("call %s queue %s: chat link not sent: %s", self.call.id, self.queue.name,
                     refusal)
            await self._say(TEXT_FAILED_TEXT)
            return
        self.deflected = True
        log.info("call %s queue %s: chat link sent; waiting for the chat", self.call.id,
                 self.queue.name)
        await self._say(DEFLECTED_TEXT)

    async def _say(self, text: str, *, interrupt: str = "dtmf", cache: bool = True) -> bool:
        """Say `text`; False when it cannot be synthesized (the caller hears nothing)."""
        try:
            pcm = await self.tts.synthesize(text, cache=cache)
        except TtsError as exc:
            log.warning("call %s queue %s: cannot say a %s prompt: %s", self.call.id,
                        self.queue.name, self.phase.value, exc)
            return False
        if self.call.state is CallState.ENDED:
            raise _HungUp
        outcome = await play_prompt(self.call, Player(pcm, RATE), self.clock, interrupt=interrupt)
        if outcome is PromptOutcome.HUNGUP:
            raise _HungUp
        return True

    async def _callback(self) -> str | None:
        """The callback menu: the confirmed number, or None to go back to waiting."""
        if self._no_callback is not None:
            log.info("call %s queue %s: callback refused: %s", self.call.id, self.queue.name,
                     self._no_callback)
            await self._say(NO_CALLBACK_TEXT)
            return None
        caller = self.call.caller
        number: str | None = None
        if DIALABLE.fullmatch(caller) and self._gate.callback_refusal(self.call, caller) is None:
            self._set_phase(Phase.OFFERING)
            choice = await self._ask(OFFER_TEXT, "12")
            if choice is None:
                return None
            number = caller if choice == "1" else None
        for _ in range(MAX_ENTRIES):
            if number is None:
                number = await self._enter()
                if number is None:
                    return None
            self._set_phase(Phase.CONFIRMING)
            text = (f"We will call you back at {spoken_number(number)}. "
                    "Press 1 to confirm, or 2 to enter it again.")
            choice = await self._ask(text, "12", cache=False)
            if choice == "1":
                return number
            if choice is None:
                return None
            number = None
        return None

    async def _ask(self, text: str, keys: str, *, cache: bool = True) -> str | None:
        """Say `text` and take one of `keys` (other keys are ignored); None on no answer."""
        self._reader.clear_digits()
        if not await self._say(text, cache=cache):
            return None
        deadline = self.clock.now() + ANSWER_TIMEOUT_S
        while True:
            item = await self._reader.next(self.clock, max(0.0, deadline - self.clock.now()))
            if item is None:
                return None
            if isinstance(item, HungUp):
                raise _HungUp
            if item.digit in keys:
                return item.digit

    async def _enter(self) -> str | None:
        """Digits ended by #: the number, or None after no input or too many invalid ones."""
        self._set_phase(Phase.ENTERING)
        rules = DtmfRules(timeout=ANSWER_TIMEOUT_S, inter_digit_timeout=INTER_DIGIT_TIMEOUT_S,
                          terminator="#", min_digits=3, max_digits=16, pattern=r"[0-9]{3,15}")
        for _ in range(ENTRY_ATTEMPTS):
            self._reader.clear_digits()
            if not await self._say(ENTER_TEXT):
                return None
            agg = DtmfAggregator(rules)
            done = None
            while done is None:
                item = await self._reader.next(self.clock, agg.deadline())
                if isinstance(item, HungUp):
                    raise _HungUp
                done = agg.expire() if item is None else agg.press(item.digit)
            if done.outcome is Outcome.TIMEOUT:
                return None
            refused = self._gate.callback_refusal(self.call, done.digits) \
                if done.outcome is Outcome.MATCH else None
            if done.outcome is Outcome.MATCH and refused is None:
                return done.digits
            log.info("call %s queue %s: callback number not accepted (%d digits): %s",
                     self.call.id, self.queue.name, len(done.digits), refused or "invalid")
            await self._say(INVALID_TEXT if refused is None else REFUSED_NUMBER_TEXT)
        return None


async def _say_once(call: Call, tts: Tts, clock: Clock, text: str) -> None:
    try:
        pcm = await tts.synthesize(text)
    except TtsError as exc:
        log.warning("call %s: cannot say a closing prompt: %s", call.id, exc)
        return
    # The caller may have hung up meanwhile (or before): nothing to play to.
    if call.state is not CallState.ENDED:
        await play_prompt(call, Player(pcm, RATE), clock)


async def say_callback_confirmed(call: Call, tts: Tts, clock: Clock) -> None:
    """Thank the caller for a stored callback (before the engine hangs up)."""
    await _say_once(call, tts, clock, CONFIRMED_TEXT)


async def say_released(call: Call, tts: Tts, clock: Clock) -> None:
    """Tell a deflected caller their chat was answered (before the engine hangs up)."""
    await _say_once(call, tts, clock, RELEASED_TEXT)


async def say_unavailable(call: Call, tts: Tts, clock: Clock) -> None:
    """Tell the caller nobody can take the call (no agent serves the queue, or it left with
    nowhere to go), before the engine hangs up."""
    await _say_once(call, tts, clock, UNAVAILABLE_TEXT)
