"""What the caller does, read by IVR verbs: key presses and hang-up, with timeouts on the
injected clock, and a way to hand an event back.

A `Call` has one event queue with one consumer. Verbs take turns reading it through the
call's `CallInput`; a prompt interrupted by a key press hands that press back (`unread`), so
the `gather` after it still sees the digit that cut the prompt short.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

from media.clock import Clock, settle
from voice.call import Call, CallEvent, CallState
from voice.leg_media import LegMedia

# One per call, dropped with the call.
_INPUTS: weakref.WeakKeyDictionary[Call, CallInput] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Digit:
    """One key press (personal data: never logged)."""

    digit: str

    def __repr__(self) -> str:
        return "Digit(<masked>)"


@dataclass(frozen=True)
class HungUp:
    """The call ended."""


Input = Digit | HungUp


class CallInput:
    """The caller's key presses and hang-up, in order, for whichever verb is running."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self._pushed: deque[Input] = deque()
        # The pending read of the call's queue survives a timeout or a cancelled waiter, so
        # an event that arrives at that very moment is kept for the next reader, not lost.
        self._getter: asyncio.Future[CallEvent] | None = None

    @classmethod
    def of(cls, call: Call) -> CallInput:
        """The call's one reader (made on first use)."""
        reader = _INPUTS.get(call)
        if reader is None:
            reader = _INPUTS[call] = cls(call)
        return reader

    def unread(self, item: Input) -> None:
        """Hand `item` back: the next `next()` returns it first."""
        if isinstance(item, Digit):
            self.call.digits_read -= 1  # typed ahead again, for whichever step reads it next
        self._pushed.appendleft(item)

    def clear_digits(self) -> None:
        """Forget key presses already waiting (type-ahead a fresh prompt must not see)."""
        kept: deque[Input] = deque(i for i in self._pushed if not isinstance(i, Digit))
        self.call.digits_read += len(self._pushed) - len(kept)  # gone: no step will read them
        self._pushed = kept

    async def next(self, clock: Clock, within: float | None) -> Input | None:
        """The next key press or hang-up; None when `within` seconds (on `clock`) pass first."""
        if self._pushed:
            return self._read(self._pushed.popleft())
        if self.call.state is CallState.ENDED:
            return HungUp()
        while True:
            event = await self._next_event(clock, within)
            if event is None:
                return None
            item = _as_input(event)
            if item is not None:
                return self._read(item)
            # "played", holds and other events are not the caller's input; a timeout keeps
            # running from when we started waiting only approximately (events are rare).


    def _read(self, item: Input) -> Input:
        if isinstance(item, Digit):
            self.call.digits_read += 1
        return item

    async def _next_event(self, clock: Clock, within: float | None) -> CallEvent | None:
        if self._getter is None:
            self._getter = asyncio.ensure_future(self.call.next_event())
        getter = self._getter
        expired: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle = None if within is None else clock.call_later(within, settle, expired)
        try:
            # asyncio.wait never cancels what it waits on: a cancelled verb leaves the read
            # pending for the next one.
            waiters: set[asyncio.Future[Any]] = {getter, expired}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if handle is not None:
                handle.cancel()
        if not getter.done():
            return None
        self._getter = None
        return getter.result()

    async def close(self) -> None:
        """Stop reading the call (the flow is done with it); idempotent."""
        getter, self._getter = self._getter, None
        if getter is not None:
            getter.cancel()
            await asyncio.wait({getter})
        _INPUTS.pop(self.call, None)


def _as_input(event: CallEvent) -> Input | None:
    if event.kind == "dtmf":
        return Digit(str(event.data["digit"]))
    if event.kind == "state" and event.data.get("new") == CallState.ENDED.value:
        return HungUp()
    return None


def caller_audio(call: Call) -> LegMedia | None:
    """Where the caller's decoded audio can be tapped (`Call.media()`, whatever the leg);
    None when the leg offers no audio."""
    return call.media()
