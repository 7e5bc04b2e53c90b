"""`AgentSession`: a caller connected to an agent, and what the agent does with the call.

    CONNECTED ──hold──▶ HELD ──resume──▶ CONNECTED
        │                 │ consult(agent B): the caller hears music, A talks to B
        │                 ▼
        │             CONSULTING ──complete──▶ CONNECTED (caller ⇄ B; A leaves to wrap up)
        │                 └──────cancel / B hangs up──▶ HELD (A resumes when ready)
        ├── transfer(queue | agent) ─▶ ENDED with a transfer target (the ACD routes the caller)
        └── caller or agent hangs up ─▶ ENDED (the other side is hung up)

An agent whose browser went away (a reloaded or crashed desk page: the leg ends with
`LOST_AGENT_CAUSE`, not a hang-up) is waited for `rejoin_grace` seconds while the caller hears
music; the desk's new page hands its new leg to `replace_agent_call` and the call goes on in
the phase it was in. If they do not come back, the caller goes back to the head of the queue
the call came from (a transfer with `front`), never hung up for the agent's failure.

Commands come from the agent's desk (or any owner); each checks the phase and raises
`SessionError` naming it when it does not apply (STYLE.md §4). `run()` returns when the
session is over; agents who leave it are handed to `on_agent_left` for their wrap-up.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from common.tasks import cancel
from media.clock import Clock, LoopClock, sleep
from media.player import AudioSource
from routing.channels import NotConnected
from routing.model import AgentConfig, RoutingError
from voice.call import Call, CallState

log = logging.getLogger(__name__)

# How a browser agent leg ends when the page went away without hanging up
# (`voice.webrtc.call_leg.watch`), and how long the session waits for the desk to rejoin.
LOST_AGENT_CAUSE = "agent-browser-gone"
REJOIN_GRACE_S = 20.0


class SessionError(RoutingError):
    """A command the session's current phase does not allow."""


class Phase(enum.Enum):
    CONNECTED = "connected"
    HELD = "held"
    CONSULTING = "consulting"
    ENDED = "ended"


_MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.CONNECTED: frozenset({Phase.HELD, Phase.ENDED}),
    Phase.HELD: frozenset({Phase.CONNECTED, Phase.CONSULTING, Phase.ENDED}),
    Phase.CONSULTING: frozenset({Phase.HELD, Phase.CONNECTED, Phase.ENDED}),
    Phase.ENDED: frozenset(),
}


class Bridged(Protocol):
    """A live bridge between two calls (`voice.bridging.CallBridge`)."""

    def set_muted(self, party: str, muted: bool) -> None: ...

    def hold(self, party: str, music: AudioSource | None) -> None: ...

    def resume(self, party: str) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Target:
    """Where a transfer goes: an agent's id or a queue's name. `front`: ahead of the callers
    waiting there (a caller whose agent was lost, not one an agent chose to send there)."""

    kind: str  # "agent" or "queue"
    name: str
    front: bool = False


@dataclass(frozen=True)
class SessionEnd:
    hung_up_by: str | None  # "caller", "agent", or None for a transfer
    transfer: Target | None = None
    duration: float = 0.0
    agent_lost: bool = False  # the agent's browser went away and did not come back


# What the session needs from the engine: bridging, a consulted agent's leg, and wrap-ups.
BridgeFactory = Callable[[Call, Call, tuple[str, str]], Bridged]
ConsultDialer = Callable[[AgentConfig, Call], Awaitable[Call | NotConnected]]
AgentLeft = Callable[[AgentConfig], Awaitable[None]]


class AgentSession:
    """One caller, the agent they talk to, and (while consulting) a second agent."""

    def __init__(
        self, caller: Call, agent: AgentConfig, agent_call: Call, *,
        bridge: BridgeFactory, music: Callable[[], AudioSource | None], now: Callable[[], float],
        clock: Clock | None = None,
        consult_dialer: ConsultDialer, on_agent_left: AgentLeft,
        on_change: Callable[[AgentSession], None] = lambda s: None,
        context: dict[str, Any] | None = None, rejoin_grace: float = REJOIN_GRACE_S,
    ) -> None:
        self.caller = caller
        # Shown with the call on the desk: the queue, the case, the caller's number.
        self.context = dict(context or {})
        self.agent = agent
        self.agent_call = agent_call
        self._bridge_factory = bridge
        self._music = music
        self._now = now
        self._consult_dialer = consult_dialer
        self._on_agent_left = on_agent_left
        self._on_change = on_change
        self.phase = Phase.CONNECTED
        self.muted = False
        self.consulted: AgentConfig | None = None
        self.consult_call: Call | None = None
        self.consult_phase: str | None = None  # "ringing" | "connected"
        self._consult_task: asyncio.Task[None] | None = None
        self._transfer: Target | None = None
        self._pending_consult: str | None = None
        self._wake = asyncio.Event()
        self._bridge: Bridged | None = None
        self._consult_bridge: Bridged | None = None
        self._rejoin_grace = rejoin_grace
        self._clock = clock or LoopClock()  # times the rejoin grace
        self._rejoined = asyncio.Event()
        self.reconnecting = False  # the agent's leg was lost; waiting for their desk
        self._hang_up_lost = False  # the agent hung up while reconnecting
        self.started = now()

    @property
    def bridge(self) -> Bridged | None:
        """The caller's bridge to the agent now (None while consulting or waiting for a
        rejoin): where a supervisor or a conference party joins the call."""
        return self._bridge

    def _set_phase(self, new: Phase) -> None:
        old = self.phase
        if new is old:
            return
        if new not in _MOVES[old]:
            raise SessionError(f"cannot move from {old.value} to {new.value}")
        self.phase = new
        log.info("call %s with agent %s: %s -> %s", self.caller.id, self.agent.id, old.value,
                 new.value)
        self._on_change(self)

    def view(self) -> dict[str, Any]:
        """What the agent's desk shows of the call."""
        consult = None if self.consulted is None else {
            "agent": self.consulted.id, "phase": self.consult_phase}
        return {**self.context, "call_id": self.caller.id, "phase": self.phase.value,
                "muted": self.muted, "held": self.phase in (Phase.HELD, Phase.CONSULTING),
                "consult": consult, "reconnecting": self.reconnecting}

    # -- commands -------------------------------------------------------------------------------
    def _need(self, *phases: Phase) -> None:
        if self.phase not in phases:
            raise SessionError(f"the call is {self.phase.value}")
        if self.reconnecting:  # no bridge to act on until the desk is back (hang up works)
            raise SessionError("the agent's audio is reconnecting")

    def hold(self, on: bool) -> None:
        if on:
            self._need(Phase.CONNECTED)
            assert self._bridge is not None
            self._bridge.hold("caller", self._music())
            self._set_phase(Phase.HELD)
        else:
            self._need(Phase.HELD)
            assert self._bridge is not None
            self._bridge.resume("caller")
            self._set_phase(Phase.CONNECTED)

    def mute(self, on: bool) -> None:
        self._need(Phase.CONNECTED, Phase.HELD)
        assert self._bridge is not None
        self._bridge.set_muted("agent", on)
        self.muted = on
        self._on_change(self)

    def dtmf(self, digits: str) -> None:
        """Send digits to the caller's side (an IVR the agent dialed through, a PIN pad)."""
        self._need(Phase.CONNECTED)
        self.caller.leg.send_dtmf(digits)

    def hangup(self) -> None:
        if self.reconnecting:  # the lost leg is already gone: end the wait for it
            self._hang_up_lost = True
            self._rejoined.set()
            return
        self._need(Phase.CONNECTED, Phase.HELD, Phase.CONSULTING)
        self.agent_call.hangup("agent-hung-up")

    def transfer(self, target: Target) -> None:
        """Blind transfer: the agent leaves now; the ACD takes the caller to `target`."""
        self._need(Phase.CONNECTED, Phase.HELD)
        self._transfer = target
        self._wake.set()

    def consult(self, agent: AgentConfig) -> None:
        """Put the caller on hold and ring `agent` for a consultation."""
        self._need(Phase.CONNECTED, Phase.HELD)
        if agent.id == self.agent.id:
            raise SessionError("cannot consult yourself")
        if self.phase is Phase.CONNECTED:
            self.hold(True)
        self.consulted = agent
        self.consult_phase = "ringing"
        self._set_phase(Phase.CONSULTING)
        self._consult_task = asyncio.create_task(self._ring_consult(agent),
                                                 name=f"consult-{self.caller.id}")

    def consult_complete(self) -> None:
        """Hand the caller to the consulted agent; this agent leaves."""
        self._need(Phase.CONSULTING)
        if self.consult_phase != "connected":
            raise SessionError("the consulted agent has not answered")
        self._consult_done("complete")

    def consult_cancel(self) -> None:
        self._need(Phase.CONSULTING)
        self._consult_done("cancel")

    def _consult_done(self, how: str) -> None:
        self._pending_consult = how
        self._wake.set()

    @property
    def rejoinable(self) -> bool:
        """Whether a new agent leg may take over now (not while consulting or after the end)."""
        return self.phase in (Phase.CONNECTED, Phase.HELD)

    def replace_agent_call(self, new: Call) -> Call:
        """The agent's desk came back with a new leg: it takes the old one's place in the
        bridge, with the hold and mute it had. Returns the old leg (the caller hangs it up);
        its end no longer ends the session."""
        if not self.rejoinable:
            raise SessionError(f"the call is {self.phase.value}")
        old = self.agent_call
        if self._bridge is not None:
            self._bridge.stop()
        self.agent_call = new
        self._bridge = self._bridge_factory(self.caller, new, ("caller", "agent"))
        if self.phase is Phase.HELD:
            self._bridge.hold("caller", self._music())
        if self.muted:
            self._bridge.set_muted("agent", True)
        self.reconnecting = False
        log.info("call %s: agent %s rejoined with a new leg", self.caller.id, self.agent.id)
        self._rejoined.set()
        self._wake.set()
        self._on_change(self)
        return old

    # -- running --------------------------------------------------------------------------------
    def start(self) -> None:
        """Join the caller and the agent (at once: commands may come before `run()` does)."""
        if self._bridge is None and self.phase is Phase.CONNECTED:
            self._bridge = self._bridge_factory(self.caller, self.agent_call,
                                                ("caller", "agent"))

    async def run(self) -> SessionEnd:
        """Until the caller or the (last) agent hangs up, or a blind transfer."""
        self.start()
        try:
            while True:
                end = await self._step()
                if end is not None:
                    return end
        finally:
            await self._teardown()

    async def _step(self) -> SessionEnd | None:
        agent_call = self.agent_call
        waits: dict[asyncio.Future[Any], str] = {
            asyncio.ensure_future(self.caller.wait_ended()): "caller",
            asyncio.ensure_future(agent_call.wait_ended()): "agent",
            asyncio.ensure_future(self._wake.wait()): "wake",
        }
        if self.consult_call is not None:
            waits[asyncio.ensure_future(self.consult_call.wait_ended())] = "consulted"
        if self._consult_task is not None:
            waits[self._consult_task] = "consult-rang"
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut, name in waits.items():
                if name != "consult-rang" and not fut.done():
                    fut.cancel()
            await asyncio.gather(*(f for f, n in waits.items() if n != "consult-rang"),
                                 return_exceptions=True)
        what = {waits[f] for f in done}
        self._wake.clear()
        if "caller" in what:
            return self._end("caller")
        if "agent" in what and self.agent_call is agent_call:
            if self.consult_call is not None and self.consult_phase == "connected":
                # The agent hung up while consulting: that completes the transfer.
                await self._complete_consult()
                return None
            if agent_call.end_cause == LOST_AGENT_CAUSE and self.rejoinable \
                    and self._rejoin_grace > 0:
                return await self._await_rejoin()
            return self._end("agent")
        if "consulted" in what:
            await self._drop_consult("the consulted agent hung up")
            return None
        if "consult-rang" in what:
            self._consult_task = None
            return None
        if self._pending_consult is not None:
            how, self._pending_consult = self._pending_consult, None
            if how == "complete":
                await self._complete_consult()
            else:
                await self._drop_consult("cancelled")
            return None
        if self._transfer is not None:
            target = self._transfer
            self._stop_bridges()
            self.caller.play(self._music())
            self.agent_call.hangup("transferred")
            self.phase = Phase.ENDED
            self._on_change(self)
            return SessionEnd(None, target, self._now() - self.started)
        return None

    async def _await_rejoin(self) -> SessionEnd | None:
        """The agent's browser went away: music for the caller until their desk rejoins
        (None: go on), the caller hangs up, or the grace runs out (the agent left)."""
        log.info("call %s: agent %s's browser went away; waiting %g s for the desk",
                 self.caller.id, self.agent.id, self._rejoin_grace)
        self.reconnecting = True
        self._rejoined.clear()
        if self._bridge is not None:
            self._bridge.stop()
            self._bridge = None
        self.caller.play(self._music())
        self._on_change(self)
        waits = (asyncio.ensure_future(self._rejoined.wait()),
                 asyncio.ensure_future(self.caller.wait_ended()),
                 asyncio.ensure_future(sleep(self._clock, self._rejoin_grace)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel(*waits)
        if self.caller.state is CallState.ENDED:
            lost, self.reconnecting = self.reconnecting, False
            return replace(self._end("caller"), agent_lost=lost)
        if self._hang_up_lost:
            self.reconnecting = False
            return self._end("agent")
        if not self.reconnecting:
            return None
        queue = self.context.get("queue")
        log.info("call %s: agent %s did not come back within %g s; the caller goes %s",
                 self.caller.id, self.agent.id, self._rejoin_grace,
                 f"back to the head of queue {queue}" if queue else "with them")
        self.reconnecting = False
        if not isinstance(queue, str) or not queue:
            return replace(self._end("agent"), agent_lost=True)
        self.phase = Phase.ENDED
        self._on_change(self)
        return SessionEnd(None, Target("queue", queue, front=True), self._now() - self.started,
                          agent_lost=True)

    def _end(self, who: str) -> SessionEnd:
        self._stop_bridges()
        for call in (self.caller, self.agent_call, self.consult_call):
            if call is not None:
                call.hangup(f"{who}-left")
        self.phase = Phase.ENDED
        self._on_change(self)
        return SessionEnd(who, None, self._now() - self.started)

    async def _ring_consult(self, agent: AgentConfig) -> None:
        outcome = await self._consult_dialer(agent, self.caller)
        if self.phase is not Phase.CONSULTING or self.consulted is not agent:
            if isinstance(outcome, Call):
                outcome.hangup("consult-cancelled")
            return
        if isinstance(outcome, NotConnected):
            log.info("call %s: consult with %s not answered (%s)", self.caller.id, agent.id,
                     outcome.result)
            self.consulted = None
            self.consult_phase = None
            self._set_phase(Phase.HELD)
            return
        self.consult_call = outcome
        self.consult_phase = "connected"
        assert self._bridge is not None
        # The agent leaves the caller's bridge (who hears music) for the consultation.
        self._bridge.stop()
        self._bridge = None
        self.caller.play(self._music())
        self._consult_bridge = self._bridge_factory(self.agent_call, outcome,
                                                    ("agent", "consulted"))
        self._on_change(self)

    async def _drop_consult(self, why: str) -> None:
        log.info("call %s: consultation ended (%s)", self.caller.id, why)
        if self._consult_task is not None and not self._consult_task.done():
            self._consult_task.cancel()
            await asyncio.gather(self._consult_task, return_exceptions=True)
        self._consult_task = None
        if self._consult_bridge is not None:
            self._consult_bridge.stop()
            self._consult_bridge = None
        if self.consult_call is not None:
            self.consult_call.hangup("consult-ended")
            consulted = self.consulted
            self.consult_call = None
            if consulted is not None:
                await self._on_agent_left(consulted)
        self.consulted = None
        self.consult_phase = None
        if self._bridge is None and self.agent_call.state is not CallState.ENDED:
            self._bridge = self._bridge_factory(self.caller, self.agent_call,
                                                ("caller", "agent"))
            self._bridge.hold("caller", self._music())
        self._set_phase(Phase.HELD)

    async def _complete_consult(self) -> None:
        assert self.consult_call is not None and self.consulted is not None
        if self._consult_bridge is not None:
            self._consult_bridge.stop()
            self._consult_bridge = None
        if self._bridge is not None:
            self._bridge.stop()
        leaving, leaving_call = self.agent, self.agent_call
        self.agent, self.agent_call = self.consulted, self.consult_call
        self.consulted = self.consult_call = None
        self.consult_phase = None
        self.muted = False
        leaving_call.hangup("transferred")
        self._bridge = self._bridge_factory(self.caller, self.agent_call, ("caller", "agent"))
        self.phase = Phase.CONNECTED
        log.info("call %s: handed from agent %s to %s", self.caller.id, leaving.id,
                 self.agent.id)
        self._on_change(self)
        await self._on_agent_left(leaving)

    def _stop_bridges(self) -> None:
        for bridge in (self._bridge, self._consult_bridge):
            if bridge is not None:
                bridge.stop()
        self._bridge = self._consult_bridge = None

    async def _teardown(self) -> None:
        self._stop_bridges()
        if self._consult_task is not None and not self._consult_task.done():
            self._consult_task.cancel()
            await asyncio.gather(self._consult_task, return_exceptions=True)
        if self.consult_call is not None:
            self.consult_call.hangup("session-ended")
            if self.consulted is not None:
                await self._on_agent_left(self.consulted)
