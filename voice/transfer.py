"""`SipTransferer`: the IVR's `transfer` carried out over SIP — dial, ring back, bridge.

    caller ─(IVR)─▶ transfer(call, target)
                     │ ringback to the caller while the target rings (ring timeout → CANCEL)
                     ▼
             CallManager.dial(target) ── answered ──▶ Bridge: caller ⇄ FrameQueue ⇄ target
                                                       │
                     either party hangs up ◀───────────┘  → the other is hung up too

It returns a `TransferResult` (what the verb records on the interaction: the result, how long
the bridge lasted, who hung up) and never raises for an unanswered or impossible transfer:
those are results the flow branches on (`on_no_answer`, `on_unavailable`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from media.bridge import Bridge
from media.clock import Clock
from media.frame_queue import FrameQueue
from media.frames import AudioFrame
from media.player import AudioSource, ringback
from voice.call import Call
from voice.calls import CallHandler
from voice.sip.errors import CallFailed, SipError
from voice.sip_leg import AudioListener

log = logging.getLogger(__name__)

# Final responses that mean "the target is there but won't take the call now".
_BUSY = frozenset({486, 600, 603})
# A G.711 SIP leg carries 8 kHz audio on both sides of the bridge.
_RATE = 8000


@runtime_checkable
class BridgeMedia(Protocol):
    """What the bridge needs of a leg's media (`voice.sip_leg.SipLeg` is one)."""

    def add_listener(self, listener: AudioListener) -> None: ...

    def remove_listener(self, listener: AudioListener) -> None: ...

    def play(
        self, source: AudioSource | None, on_done: Callable[[], None] | None = None
    ) -> None: ...


def media_of(call: Call) -> BridgeMedia | None:
    """The media of the call's leg if it can be bridged (SIP legs have `.media`)."""
    media = getattr(call.leg, "media", None)
    return media if isinstance(media, BridgeMedia) else None


class Dialer(Protocol):
    """What the transferer needs of `voice.calls.CallManager`."""

    @property
    def clock(self) -> Clock: ...

    async def dial(
        self, target: str, *, from_uri: str, handler: CallHandler,
        credentials: tuple[str, str] | None = None,
    ) -> Call: ...


@dataclass(frozen=True)
class TransferResult:
    """How a transfer went.

    `result`: `answered`, `no-answer` (ring timeout), `busy`, `failed` (any other SIP error),
    `unavailable` (this server cannot reach the target at all) or `abandoned` (the caller hung
    up while it rang). `hung_up_by` is `caller` or `target` for an answered transfer.
    """

    result: str
    reason: str = ""
    duration: float = 0.0
    hung_up_by: str | None = None
    sip_status: int | None = None
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.result == "answered"

    def summary(self) -> dict[str, Any]:
        """What is stored on the interaction (no caller number; the target is the flow's)."""
        out: dict[str, Any] = {"answered": self.answered, "result": self.result}
        if self.reason:
            out["reason"] = self.reason
        if self.answered:
            out["duration"] = round(self.duration, 2)
            out["hung_up_by"] = self.hung_up_by
            out["media"] = dict(self.stats)
        if self.sip_status is not None:
            out["sip_status"] = self.sip_status
        return out


class TransferUnavailable(Exception):
    """The target cannot be dialed from this server (e.g. a number with no trunk)."""


def target_uri(target: str, trunk_host: str | None) -> str:
    """A SIP URI for `target`: kept as is, or a number sent to the trunk as `sip:N@trunk`."""
    if target.startswith(("sip:", "sips:")):
        return target
    if trunk_host is None:
        raise TransferUnavailable("transfer to a number needs a SIP trunk; none is configured")
    return f"sip:{target}@{trunk_host}"


class SipTransferer:
    """Implements `ivr.services.Transferer` with outbound SIP calls and a two-way bridge.

    `calls` gives the `CallManager`; it is a provider because the composition root builds the
    IVR (and so this object) before the CallManager that will run it. `from_uri_for(call)` is
    the From of the outbound INVITE. `trunk_host` (`host:port`) is where numbers are sent.
    """

    def __init__(
        self,
        calls: Callable[[], Dialer | None],
        *,
        from_uri_for: Callable[[Call], str],
        trunk_host: str | None = None,
        queue_frames: int | None = None,
    ) -> None:
        self._calls = calls
        self._from_uri_for = from_uri_for
        self._trunk_host = trunk_host
        self._queue_kwargs = {} if queue_frames is None else {"max_frames": queue_frames}

    async def transfer(self, call: Call, target: str, *, ring_timeout: float) -> TransferResult:
        """Dial `target`, ring back to the caller, bridge on answer; return when it ends."""
        dialer = self._calls()
        caller_media = media_of(call)
        if dialer is None:
            return TransferResult("unavailable", "the call manager is not running")
        if caller_media is None:
            return TransferResult("unavailable", "this caller's leg cannot be bridged")
        try:
            uri = target_uri(target, self._trunk_host)
        except TransferUnavailable as exc:
            return TransferResult("unavailable", str(exc))
        caller_media.play(ringback(_RATE))
        try:
            outcome = await self._ring(dialer, call, uri, ring_timeout)
        finally:
            # Ringback stops whatever happened; the bridge (if any) plays from here on.
            caller_media.play(None)
        if isinstance(outcome, TransferResult):
            log.info("call %s: transfer %s", call.id, outcome.result)
            return outcome
        return await self._bridge(dialer.clock, call, caller_media, outcome)

    async def _ring(
        self, dialer: Dialer, call: Call, uri: str, ring_timeout: float
    ) -> Call | TransferResult:
        """The answered outbound call, or why there is none. Cancelling the dial CANCELs."""
        dial = asyncio.ensure_future(
            dialer.dial(uri, from_uri=self._from_uri_for(call), handler=_until_ended)
        )
        caller_gone = asyncio.ensure_future(call.wait_ended())
        try:
            done, _ = await asyncio.wait(
                {dial, caller_gone}, timeout=ring_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            await _cancel(dial, caller_gone)
            # Cancelled just as the target answered: nobody will bridge it, so end it.
            if not dial.cancelled() and dial.exception() is None:
                dial.result().hangup("transfer-cancelled")
            raise
        await _cancel(dial, caller_gone)
        if dial in done:
            exc = dial.exception()
            if exc is None:
                outbound = dial.result()
                if caller_gone in done:
                    # Both at once: the target answered a caller who just left.
                    outbound.hangup("caller-gone")
                    return TransferResult("abandoned", "the caller hung up while it rang")
                return outbound
            if isinstance(exc, CallFailed):
                kind = "busy" if exc.status in _BUSY else "failed"
                return TransferResult(kind, str(exc), sip_status=exc.status)
            if isinstance(exc, SipError | OSError | ValueError):
                return TransferResult("failed", f"{type(exc).__name__}: {exc}")
            raise exc
        if caller_gone in done:
            return TransferResult("abandoned", "the caller hung up while it rang")
        return TransferResult("no-answer", f"no answer within {ring_timeout:g} s")

    async def _bridge(
        self, clock: Clock, caller: Call, caller_media: BridgeMedia, target: Call
    ) -> TransferResult:
        """Carry audio both ways until one side hangs up, then hang up the other."""
        target_media = media_of(target)
        if target_media is None:
            target.hangup("transfer-no-media")
            return TransferResult("failed", "the answered leg has no media to bridge")
        to_caller = FrameQueue(_RATE, **self._queue_kwargs)
        to_target = FrameQueue(_RATE, **self._queue_kwargs)
        bridge = Bridge("caller", to_caller, "target", to_target)

        def from_caller(frame: AudioFrame) -> None:
            bridge.feed("caller", frame)

        def from_target(frame: AudioFrame) -> None:
            bridge.feed("target", frame)

        caller_media.add_listener(from_caller)
        target_media.add_listener(from_target)
        caller_media.play(to_caller)
        target_media.play(to_target)
        started = clock.now()
        log.info("call %s: transfer answered, bridged to %s", caller.id, target.id)
        caller_gone = asyncio.ensure_future(caller.wait_ended())
        target_gone = asyncio.ensure_future(target.wait_ended())
        hung_up_by = "caller"
        try:
            await asyncio.wait({caller_gone, target_gone}, return_when=asyncio.FIRST_COMPLETED)
            hung_up_by = "caller" if caller_gone.done() else "target"
        finally:
            for task in (caller_gone, target_gone):
                task.cancel()
            await asyncio.gather(caller_gone, target_gone, return_exceptions=True)
            caller_media.remove_listener(from_caller)
            target_media.remove_listener(from_target)
            to_caller.close()
            to_target.close()
            # Whoever is left is hung up: on cancellation too (the IVR gave up on the call).
            target.hangup("transfer-caller-left")
            caller_media.play(None)
        stats = {
            "to_caller_dropped": to_caller.dropped,
            "to_target_dropped": to_target.dropped,
            "to_caller_underruns": to_caller.underruns,
            "to_target_underruns": to_target.underruns,
            "frames_forwarded": bridge.frames_forwarded,
        }
        duration = clock.now() - started
        log.info("call %s: transfer ended after %.1f s, %s hung up", caller.id, duration,
                 hung_up_by)
        return TransferResult("answered", duration=duration, hung_up_by=hung_up_by, stats=stats)


async def _cancel(*tasks: asyncio.Future[Any]) -> None:
    """Cancel what is still running and wait for all of it (results stay on the tasks)."""
    for task in tasks:
        if not task.done():
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _until_ended(call: Call) -> None:
    """The outbound leg's handler: nothing of its own; it lives as long as the call does."""
    await call.wait_ended()


def sip_from_uri(host: str) -> Callable[[Call], str]:
    """A `from_uri_for` presenting the original caller's user part at `host` (the trunk's
    usual caller-ID pass-through), or `centralita` when the caller had none."""

    def from_uri(call: Call) -> str:
        user = call.caller if call.caller and _safe_user(call.caller) else "centralita"
        return f"sip:{user}@{host}"

    return from_uri


def _safe_user(user: str) -> bool:
    return all(c.isalnum() or c in "+-_.!~*'()&=$,;?/" for c in user)

