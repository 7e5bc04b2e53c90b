"""One interaction per call on the caller's case, whoever needs it first.

The transcription service and the IVR's inputs both write to the call's interaction; either
may ask for it first. `CallInteractions` opens it once (concurrent askers share the same
pending open), ends it exactly once, and stores IVR inputs as events on it. `CaseCalls` wraps
the call handler so the interaction of every call that got one is closed with its outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cases.errors import CaseError
from cases.store import CaseStore, InteractionRef
from ivr.services import IvrInput
from voice.call import Call, Direction

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]


class CallInteractions:
    """A `TranscriptStore` and IVR `InputSink` over `CaseStore` with one interaction a call."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self._open: dict[str, asyncio.Future[InteractionRef]] = {}
        self._ended: set[int] = set()
        self.inputs_lost = 0

    async def start_voice_interaction(
        self, *, caller: str, call_id: str, direction: str = "inbound",
        dialed: str | None = None,
    ) -> InteractionRef:
        pending = self._open.get(call_id)
        if pending is None:
            pending = asyncio.ensure_future(
                self.store.start_voice_interaction(
                    caller=caller, call_id=call_id, direction=direction, dialed=dialed
                )
            )
            self._open[call_id] = pending
        # shield: one asker being cancelled must not cancel the open the others wait for.
        return await asyncio.shield(pending)

    async def add_segment(
        self, interaction_id: int, *, speaker: str, start: float, end: float, text: str,
        confidence: float | None, engine: str,
    ) -> int:
        return await self.store.add_segment(
            interaction_id, speaker=speaker, start=start, end=end, text=text,
            confidence=confidence, engine=engine,
        )

    async def end_interaction(
        self, interaction_id: int, *, outcome: str, summary: str | None = None
    ) -> None:
        if interaction_id in self._ended:
            return
        self._ended.add(interaction_id)
        await self.store.end_interaction(interaction_id, outcome=outcome, summary=summary)

    async def record_input(self, call: Call, item: IvrInput) -> None:
        """An IVR input (already masked when sensitive) as an event on the call's interaction."""
        try:
            ref = await self.for_call(call)
            await self.store.add_ivr_event(
                ref.interaction_id, kind=item.kind, value=item.value, step=item.label,
                step_index=item.step, sensitive=item.sensitive,
            )
        except CaseError as exc:
            # Losing one stored input must not end the caller's call: count it, name the
            # problem (never the value), and let the flow go on.
            self.inputs_lost += 1
            log.error("call %s: IVR input (%s) not stored: %s", call.id, item.kind, exc)

    async def for_call(self, call: Call) -> InteractionRef:
        outbound = call.direction is Direction.OUTBOUND
        return await self.start_voice_interaction(
            caller=call.caller, call_id=call.id, direction=call.direction.value,
            dialed=call.dialed if outbound or call.dialed else None,
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


class CaseCalls:
    """Wraps a call handler: every call that opened an interaction has it closed at the end."""

    def __init__(self, inner: CallHandler, interactions: CallInteractions) -> None:
        self.inner = inner
        self.interactions = interactions

    async def __call__(self, call: Call) -> None:
        try:
            await self.inner(call)
        finally:
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
