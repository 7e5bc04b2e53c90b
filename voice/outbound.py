"""Outbound calls that must be answered within a time: a transfer's target, an agent's
phone offered a queued call, a customer called back.

`ring()` dials and waits for an answer, a final failure, the ring timeout or (optionally) the
hang-up of the call on whose behalf it rings. What didn't answer is a `RingFailure` with a
`result` the callers branch on, never an exception: `no-answer`, `busy`, `failed` or
`abandoned` (the party we rang for hung up meanwhile). Cancelling `ring()` CANCELs the INVITE.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from common.tasks import cancel
from media.clock import Clock
from voice.call import Call
from voice.calls import CallHandler
from voice.sip.errors import CallFailed, SipError

# Final responses that mean "the target is there but won't take the call now".
BUSY = frozenset({486, 600, 603})


class Dialer(Protocol):
    """What ringing needs of `voice.calls.CallManager`."""

    @property
    def clock(self) -> Clock: ...

    async def dial(
        self, target: str, *, from_uri: str, handler: CallHandler,
        credentials: tuple[str, str] | None = None,
    ) -> Call: ...


@dataclass(frozen=True)
class RingFailure:
    """Why a dialed call was not answered."""

    result: str
    reason: str
    sip_status: int | None = None


async def ring(
    dialer: Dialer, uri: str, *, from_uri: str, ring_timeout: float, for_call: Call | None = None,
) -> Call | RingFailure:
    """The answered outbound call, or why there is none."""
    dial = asyncio.ensure_future(dialer.dial(uri, from_uri=from_uri, handler=until_ended))
    waiters: set[asyncio.Future[Any]] = {dial}
    gone: asyncio.Future[None] | None = None
    if for_call is not None:
        gone = asyncio.ensure_future(for_call.wait_ended())
        waiters.add(gone)
    try:
        done, _ = await asyncio.wait(waiters, timeout=ring_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        await cancel(*waiters)
        # Cancelled just as the target answered: nobody will use it, so end it.
        if not dial.cancelled() and dial.exception() is None:
            dial.result().hangup("ring-cancelled")
        raise
    await cancel(*waiters)
    if dial not in done and not dial.cancelled() and dial.exception() is None:
        # Answered as the ring ended (a dialer may finish its answer rather than drop it when
        # cancelled): the answer stands, or is hung up below if the caller has gone.
        done = {*done, dial}
    abandoned = RingFailure("abandoned", "the caller hung up while it rang")
    if dial in done:
        exc = dial.exception()
        if exc is None:
            answered = dial.result()
            if gone is not None and gone in done:
                # Both at once: the target answered for a caller who just left.
                answered.hangup("caller-gone")
                return abandoned
            return answered
        if isinstance(exc, CallFailed):
            kind = "busy" if exc.status in BUSY else "failed"
            return RingFailure(kind, str(exc), exc.status)
        if isinstance(exc, SipError | OSError | ValueError):
            return RingFailure("failed", f"{type(exc).__name__}: {exc}")
        raise exc
    if gone is not None and gone in done:
        return abandoned
    return RingFailure("no-answer", f"no answer within {ring_timeout:g} s")


async def until_ended(call: Call) -> None:
    """An outbound leg's handler: nothing of its own; it lives as long as the call does."""
    await call.wait_ended()
