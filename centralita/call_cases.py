"""One interaction per call on the caller's case, whoever needs it first.

The transcription service and the IVR's inputs both write to the call's interaction; either
may ask for it first. `CallInteractions` opens it once (concurrent askers share the same
pending open), ends it exactly once, and stores IVR inputs as events on it. `CaseCalls` wraps
the call handler so the interaction of every call that got one is closed with its outcome,
and notes on the case every span in which the call's privacy was paused. The interaction's
summary (`cases.summary`) is remade after every stored segment and IVR input, so the screen
pop shows it current, and made final when the interaction ends.

A privacy gap is a note (author `privacy`): its start and end in seconds from the call's
answer (the clock transcript segments are timed on), its length, who paused and who resumed,
never anything said in it. A note rather than an IVR event: a pause is not always the IVR's
(an agent, the API), and the IVR event kinds are fixed by a database constraint that a new
kind would need a migration for; notes are on every case, shown and pushed live already.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cases.errors import CaseError
from cases.store import CaseStore, InteractionRef
from centralita.logctx import annotate
from ivr.services import IvrInput, KnownCase
from media.clock import Clock, LoopClock
from voice.call import Call, Direction, Privacy, PrivacyChange

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]

PRIVACY_AUTHOR = "privacy"
_GAP = re.compile(
    r"^Privacy pause in call (?P<call>\S+): (?P<start>\d+\.\d+) s to (?P<end>\d+\.\d+) s "
    r"from the answer \(\d+\.\d+ s\), paused by (?P<by>.+?), resumed by (?P<resumed>.+?)\. "
)


@dataclass(frozen=True)
class PrivacyGap:
    """A span of a call in which nothing of its audio was kept. Times: seconds from answer."""

    call_id: str
    start: float
    end: float
    paused_by: str
    resumed_by: str

    def note(self) -> str:
        """The gap as the case's note says it."""
        return (
            f"Privacy pause in call {self.call_id}: {self.start:.2f} s to {self.end:.2f} s "
            f"from the answer ({self.end - self.start:.2f} s), paused by {self.paused_by}, "
            f"resumed by {self.resumed_by}. Nothing said in it was transcribed or kept."
        )

    @classmethod
    def parse(cls, text: str) -> PrivacyGap | None:
        """The gap a privacy note describes, or None for any other note."""
        m = _GAP.match(text)
        if m is None:
            return None
        return cls(m["call"], float(m["start"]), float(m["end"]), m["by"], m["resumed"])


class CallInteractions:
    """A `TranscriptStore` and IVR `InputSink` over `CaseStore` with one interaction a call."""

    def __init__(
        self, store: CaseStore, clock: Clock | None = None, *, recent_days: float = 30.0,
    ) -> None:
        self.store = store
        self.recent_days = recent_days
        self.clock: Clock = clock if clock is not None else LoopClock()
        self._open: dict[str, asyncio.Future[InteractionRef]] = {}
        self._ended: set[int] = set()
        # The live summary (screen pop): one refresh at a time per interaction, rerun once
        # more when segments or inputs arrived while it ran (cases.summary).
        self._summaries: dict[int, asyncio.Task[None]] = {}
        self._stale: set[int] = set()
        self.summaries_failed = 0
        self.inputs_lost = 0
        self.gaps_lost = 0

    async def start_voice_interaction(
        self, *, caller: str, call_id: str, direction: str = "inbound",
        dialed: str | None = None, customer_id: int | None = None,
    ) -> InteractionRef:
        pending = self._open.get(call_id)
        if pending is None:
            pending = asyncio.ensure_future(
                self.store.start_voice_interaction(
                    caller=caller, call_id=call_id, direction=direction, dialed=dialed,
                    customer_id=customer_id,
                )
            )
            self._open[call_id] = pending
        # shield: one asker being cancelled must not cancel the open the others wait for.
        ref = await asyncio.shield(pending)
        # The call's later log lines (every task of it) name its case and interaction.
        annotate(case_id=ref.case_id, interaction_id=ref.interaction_id)
        return ref

    async def add_segment(
        self, interaction_id: int, *, speaker: str, start: float, end: float, text: str,
        confidence: float | None, engine: str, language: str | None = None,
    ) -> int:
        seg_id = await self.store.add_segment(
            interaction_id, speaker=speaker, start=start, end=end, text=text,
            confidence=confidence, engine=engine, language=language,
        )
        self._refresh_summary(interaction_id)
        return seg_id

    def _refresh_summary(self, interaction_id: int) -> None:
        """Remake the interaction's summary after this segment or input (coalesced: while
        one refresh runs, later calls make one more run after it, never a queue)."""
        self._stale.add(interaction_id)
        if interaction_id in self._summaries:
            return
        task = asyncio.ensure_future(self._summarise(interaction_id))
        self._summaries[interaction_id] = task

    async def _summarise(self, interaction_id: int) -> None:
        try:
            while interaction_id in self._stale:
                self._stale.discard(interaction_id)
                await self.store.refresh_summary(interaction_id)
        except CaseError as exc:
            # The summary is remade at the end anyway: losing one refresh costs the screen
            # pop a few seconds of freshness, never the call.
            self.summaries_failed += 1
            log.warning("interaction %d: live summary not refreshed: %s", interaction_id, exc)
        finally:
            self._summaries.pop(interaction_id, None)

    async def _summary_settled(self, interaction_id: int) -> None:
        """Wait for a running live refresh, so the end's summary is written after it."""
        self._stale.discard(interaction_id)
        task = self._summaries.get(interaction_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def end_interaction(
        self, interaction_id: int, *, outcome: str, summary: str | None = None
    ) -> None:
        if interaction_id in self._ended:
            return
        self._ended.add(interaction_id)
        await self._summary_settled(interaction_id)
        # Ending makes the final summary and its facts (CaseStore.end_interaction).
        await self.store.end_interaction(interaction_id, outcome=outcome, summary=summary)

    async def record_input(self, call: Call, item: IvrInput) -> None:
        """An IVR input (already masked when sensitive) as an event on the call's interaction."""
        try:
            ref = await self.for_call(call)
            await self.store.add_ivr_event(
                ref.interaction_id, kind=item.kind, value=item.value, step=item.label,
                step_index=item.step, sensitive=item.sensitive,
            )
            if item.kind in ("digits", "speech", "variable", "queue"):
                self._refresh_summary(ref.interaction_id)
        except CaseError as exc:
            # Losing one stored input must not end the caller's call: count it, name the
            # problem (never the value), and let the flow go on.
            self.inputs_lost += 1
            log.error("call %s: IVR input (%s) not stored: %s", call.id, item.kind, exc)

    async def record_privacy_gap(self, call: Call, gap: PrivacyGap) -> None:
        """Note the gap on the case of the call's interaction (never what was said in it)."""
        try:
            ref = await self.for_call(call)
            await self.store.add_note(ref.case_id, author=PRIVACY_AUTHOR, text=gap.note())
        except CaseError as exc:
            self.gaps_lost += 1
            log.error("call %s: privacy gap not noted on the case: %s", call.id, exc)

    async def known(self, call: Call) -> KnownCase:
        """What the case of `call` knows (`ivr.services.CaseReader`, for flows that read the
        case): its unmasked facts, and the customer's contacts in the last `recent_days`."""
        ref = await self.for_call(call)
        facts = await self.store.known_facts(ref.case_id)
        contacts = await self.store.recent_contacts(ref.case_id, days=self.recent_days)
        return KnownCase(facts, contacts)

    async def for_call(self, call: Call) -> InteractionRef:
        outbound = call.direction is Direction.OUTBOUND
        return await self.start_voice_interaction(
            caller=call.caller, call_id=call.id, direction=call.direction.value,
            dialed=call.dialed if outbound or call.dialed else None,
            customer_id=call.customer_id,
        )

    async def finish(self, call: Call) -> None:
        """End the call's interaction (if it got one) with the call's end cause."""
        pending = self._open.pop(call.id, None)
        if pending is None:
            return
        try:
            ref = await pending
        except Exception:  # the open failed: it was logged where it was awaited
            return
        try:
            await self.end_interaction(ref.interaction_id, outcome=call.end_cause or "completed")
        finally:
            self._ended.discard(ref.interaction_id)


def _nothing() -> None:
    return None


class _GapWatch:
    """Follows one call's privacy and notes each paused span when it ends (or the call does).

    Owns its tasks: the answer-time watcher and the note writers; `close()` ends a span still
    open at hangup, then awaits them all.
    """

    def __init__(self, call: Call, interactions: CallInteractions) -> None:
        self.call = call
        self.interactions = interactions
        self.clock = interactions.clock
        self.answered_at: float | None = None
        self._started: tuple[float, str] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._answer: asyncio.Future[None] | None = asyncio.ensure_future(self._wait_answer())
        self._unsubscribe: Callable[[], None] = call.on_privacy(self._changed)

    async def _wait_answer(self) -> None:
        if await self.call.wait_answered():
            self.answered_at = self.clock.now()

    def _since_answer(self) -> float:
        return 0.0 if self.answered_at is None else max(0.0, self.clock.now() - self.answered_at)

    def _changed(self, change: PrivacyChange) -> None:
        if change.new is Privacy.PAUSED:
            self._started = (self._since_answer(), change.by)
        else:
            self._end(change.by)

    def _end(self, resumed_by: str) -> None:
        started, self._started = self._started, None
        if started is None:
            return
        start, paused_by = started
        gap = PrivacyGap(self.call.id, start, max(start, self._since_answer()), paused_by,
                         resumed_by)
        task = asyncio.ensure_future(self.interactions.record_privacy_gap(self.call, gap))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def close(self) -> None:
        # Let go of the watcher and the unsubscriber: the cancelled watcher's traceback holds
        # this watch and the unsubscriber holds the call, a cycle only a full GC pass frees
        # (rare: server.tune_gc), so every ended call stayed in memory until one ran
        # (bench/soak.py's RSS climbed with it).
        answer, self._answer = self._answer, None
        unsubscribe, self._unsubscribe = self._unsubscribe, _nothing
        unsubscribe()
        self._end("hangup")
        waits: list[asyncio.Future[None]] = [*self._writes]
        if answer is not None:
            answer.cancel()
            waits.append(answer)
        await asyncio.gather(*waits, return_exceptions=True)


class CaseCalls:
    """Wraps a call handler: every call that opened an interaction has it closed at the end,
    and every span of it with privacy paused is noted on its case."""

    def __init__(self, inner: CallHandler, interactions: CallInteractions) -> None:
        self.inner = inner
        self.interactions = interactions

    async def __call__(self, call: Call) -> None:
        gaps = _GapWatch(call, self.interactions)
        try:
            if call.customer_id is not None:
                # A caller known by another channel (the chat's "call us"): the interaction
                # is opened here, first, so whoever asks for it later (the transcriber asks
                # by number) finds it on that customer's case.
                await self.interactions.for_call(call)
            await self.inner(call)
        finally:
            try:
                await gaps.close()
            except Exception:
                log.exception("call %s: noting its privacy gaps failed", call.id)
            try:
                await self.interactions.finish(call)
            except Exception:
                log.exception("call %s: closing its interaction failed", call.id)


class IvrCalls:
    """The call handler that runs the flow bound to the dialed number."""

    def __init__(self, run: Callable[[Call], Awaitable[object]]) -> None:
        self.run = run

    async def __call__(self, call: Call) -> None:
        await self.run(call)
