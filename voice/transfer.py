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

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from media.clock import Clock
from media.player import ringback
from voice.bridging import RATE, bridge_calls, media_of
from voice.call import Call
from voice.dialplan import DialPlan, DialRefused
from voice.outbound import Dialer, RingFailure, ring

log = logging.getLogger(__name__)



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


class SipTransferer:
    """Implements `ivr.services.Transferer` with outbound SIP calls and a two-way bridge.

    `calls` gives the `CallManager`; it is a provider because the composition root builds the
    IVR (and so this object) before the CallManager that will run it. `from_uri_for(call)` is
    the From of the outbound INVITE. `plan` decides what may be dialed and where numbers go
    (through the trunk, only for a trusted call: `voice.dialplan`); without one, the default
    plan with `trunk_host` (`host:port`) as the trunk.
    """

    def __init__(
        self,
        calls: Callable[[], Dialer | None],
        *,
        from_uri_for: Callable[[Call], str],
        trunk_host: str | None = None,
        queue_frames: int | None = None,
        plan: DialPlan | None = None,
    ) -> None:
        self._calls = calls
        self._from_uri_for = from_uri_for
        self._plan = plan if plan is not None else DialPlan(trunk=trunk_host)
        self._queue_frames = queue_frames

    async def transfer(self, call: Call, target: str, *, ring_timeout: float) -> TransferResult:
        """Dial `target`, ring back to the caller, bridge on answer; return when it ends."""
        dialer = self._calls()
        caller_media = media_of(call)
        if dialer is None:
            return TransferResult("unavailable", "the call manager is not running")
        if caller_media is None:
            return TransferResult("unavailable", "this caller's leg cannot be bridged")
        try:
            uri = self._plan.route(target, call=call)
        except DialRefused as exc:
            log.info("call %s: transfer refused by the dial plan: %s", call.id, exc.reason)
            return TransferResult("unavailable", exc.reason)
        caller_media.play(ringback(RATE))
        try:
            outcome = await self._ring(dialer, call, uri, ring_timeout)
        finally:
            # Ringback stops whatever happened; the bridge (if any) plays from here on.
            caller_media.play(None)
        if isinstance(outcome, TransferResult):
            log.info("call %s: transfer %s", call.id, outcome.result)
            return outcome
        return await self._bridge(dialer.clock, call, outcome)

    async def _ring(
        self, dialer: Dialer, call: Call, uri: str, ring_timeout: float
    ) -> Call | TransferResult:
        """The answered outbound call, or why there is none. Cancelling the dial CANCELs."""
        outcome = await ring(dialer, uri, from_uri=self._from_uri_for(call),
                             ring_timeout=ring_timeout, for_call=call)
        if isinstance(outcome, RingFailure):
            return TransferResult(outcome.result, outcome.reason, sip_status=outcome.sip_status)
        return outcome

    async def _bridge(self, clock: Clock, caller: Call, target: Call) -> TransferResult:
        """Carry audio both ways until one side hangs up; the caller's flow goes on after."""
        log.info("call %s: transfer answered, bridged to %s", caller.id, target.id)
        try:
            done = await bridge_calls(clock, caller, target, names=("caller", "target"),
                                      queue_frames=self._queue_frames, keep_a=True)
        except ValueError as exc:
            target.hangup("transfer-no-media")
            return TransferResult("failed", str(exc))
        log.info("call %s: transfer ended after %.1f s, %s hung up", caller.id, done.duration,
                 done.hung_up_by)
        return TransferResult("answered", duration=done.duration,
                              hung_up_by=done.hung_up_by or "caller", stats=done.stats)


def sip_from_uri(host: str) -> Callable[[Call], str]:
    """A `from_uri_for` presenting the original caller's user part at `host` (the trunk's
    usual caller-ID pass-through), or `centralita` when the caller had none."""

    def from_uri(call: Call) -> str:
        user = call.caller if call.caller and _safe_user(call.caller) else "centralita"
        return f"sip:{user}@{host}"

    return from_uri


def _safe_user(user: str) -> bool:
    return all(c.isalnum() or c in "+-_.!~*'()&=$,;?/" for c in user)

