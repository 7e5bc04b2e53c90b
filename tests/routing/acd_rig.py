"""The ACD engine's test rig: a FakeClock, a leg that plays 20 ms a frame on its timers, a
fake `Connector` that rings agents and customers with scripted delays and ends joined calls at
scripted times, fake case notes and TTS, and a wall clock that follows the fake clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from ivr.services import QueueOutcome, QueueRequest
from media.clock import FakeClock, TimerHandle, sleep
from media.frames import Pcm
from media.player import AudioSource
from routing import waiting
from routing.acd import Acd
from routing.admin import AcdService
from routing.channels import NotConnected, Offer
from routing.model import (
    AgentConfig,
    AgentState,
    AgentStatus,
    QueueConfig,
    QueueRecord,
)
from routing.store import MemoryRoutingStore
from voice.call import Call, CallState, Direction

WALL0 = 1_700_000_000.0
FRAME_S = 0.02
# Loop turns after each clock step: enough for the longest chain of hand-offs the engine
# makes at one instant (a wrap-up timer -> agent free -> dispatch -> offer -> answer -> the
# caller's coroutine -> join), so everything scripted for time t happens at t.
SETTLE_ROUNDS = 60


# -- driving the fake clock ---------------------------------------------------------------------
async def settle(clock: FakeClock, rounds: int = SETTLE_ROUNDS) -> None:
    """Let tasks run; timers that fall due meanwhile (call_later(0)) fire, as on a loop."""
    for i in range(rounds):
        await asyncio.sleep(0)
        if i % 10 == 9:
            clock.advance(0)


async def run_for(clock: FakeClock, seconds: float, step: float = FRAME_S) -> None:
    """Advance `clock` by `seconds` in `step`s, letting every task run after each step."""
    start = clock.now()
    end = round(start + seconds, 6)
    await settle(clock)
    for k in itertools.count(1):
        # Each step lands on a rounded absolute time (not now + step): no drift, so the
        # times of a script are met exactly.
        target = min(end, round(start + k * step, 6))
        clock.advance(target - clock.now())
        await settle(clock)
        if target >= end:
            break


# -- fakes --------------------------------------------------------------------------------------
class ClockLeg:
    """A call leg that plays its source a 20 ms frame per fake-clock timer."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.source: AudioSource | None = None
        self.on_done: Callable[[], None] | None = None
        self.frames_played = 0
        self.hung_up = False
        self._timer: TimerHandle | None = None

    def ring(self) -> None: ...

    async def answer(self) -> None: ...

    async def hold(self) -> None: ...

    async def unhold(self) -> None: ...

    def send_dtmf(self, digits: str) -> None: ...

    def leg_media(self) -> None:
        return None

    def hangup(self) -> None:
        self.hung_up = True
        self.play(None)

    def play(self, source: AudioSource | None, on_done: Any = None) -> None:
        self.source, self.on_done = source, on_done
        if source is None and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        elif source is not None and self._timer is None:
            self._timer = self.clock.call_later(FRAME_S, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.source is None:
            return
        if self.source.next_frame() is None:
            done, self.on_done, self.source = self.on_done, None, None
            if done is not None:
                done()
            return
        self.frames_played += 1
        self._timer = self.clock.call_later(FRAME_S, self._tick)


class FakeTts:
    """Every text is 0.4 s of silence; remembers what was said and whether it could be cached."""

    def __init__(self) -> None:
        self.said: list[tuple[str, bool]] = []

    async def synthesize(self, text: str, *, cache: bool = True) -> Pcm:
        self.said.append((text, cache))
        return np.zeros(int(0.4 * waiting.RATE), np.int16)


@dataclass(frozen=True)
class Ring:
    """One scripted attempt to reach a customer: `answer` after `after` s (then talk for
    `talk` s before hanging up), or `busy` / `failed` after `after` s, or `no-answer`."""

    result: str
    after: float = 0.0
    talk: float | None = None


@dataclass(frozen=True)
class Ev:
    """What the fake connector did, at clock time `t`."""

    t: float
    kind: str
    who: str  # an agent id or a customer number; "join": the caller's call id or the number
    about: str = ""  # ring-agent: the caller's call id ("callback" for a callback)


class FakeConnector:
    """Agents answer after `agent_answer[id]` seconds (absent: never); customers follow their
    `customers[number]` script, one `Ring` per attempt; a bridged caller hangs up
    `talk[call id]` seconds after the bridge is made (absent: when the test ends a call)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.agent_answer: dict[str, float] = {}
        self.customers: dict[str, list[Ring]] = {}
        self.talk: dict[str, float] = {}
        self.events: list[Ev] = []
        self.agent_calls: dict[str, list[Call]] = {}
        self.offers_made: list[Offer] = []
        self.broken: set[str] = set()  # agents whose ring raises
        self.broken_numbers: set[str] = set()  # customers whose ring raises
        self._n = itertools.count(1)

    def _log(self, kind: str, who: str, about: str = "") -> None:
        self.events.append(Ev(self.clock.now(), kind, who, about))

    def of(self, *kinds: str) -> list[Ev]:
        return [e for e in self.events if e.kind in kinds]

    async def _wait(self, seconds: float, unless_ended: Call | None) -> bool:
        """Sleep on the clock; True if `unless_ended` ended first."""
        if seconds <= 0:  # at once, not at the clock's next step
            return unless_ended is not None and unless_ended.state is CallState.ENDED
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(sleep(self.clock, seconds))}
        if unless_ended is not None:
            waits.add(asyncio.ensure_future(unless_ended.wait_ended()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waits:
                fut.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        return unless_ended is not None and unless_ended.state is CallState.ENDED

    def _answered(self, name: str, dialed: str, caller: str) -> Call:
        call = Call(f"{name}-{next(self._n)}", Direction.OUTBOUND, ClockLeg(self.clock),
                    caller=caller, dialed=dialed)
        call.connected()
        return call

    async def ring_agent(
        self, agent: AgentConfig, offer: Offer, *, ring_timeout: float, for_call: Call | None,
    ) -> Call | NotConnected:
        self._log("ring-agent", agent.id, offer.call_id if offer.kind == "call" else offer.kind)
        self.offers_made.append(offer)
        if agent.id in self.broken:
            raise RuntimeError(f"no route to agent {agent.id}")
        after = self.agent_answer.get(agent.id)
        answers = after is not None and after <= ring_timeout
        if await self._wait(after if after is not None and answers else ring_timeout, for_call):
            self._log("agent-abandoned", agent.id)
            return NotConnected("abandoned")
        if not answers:
            self._log("agent-no-answer", agent.id)
            return NotConnected("no-answer")
        call = self._answered(agent.id, agent.id, "centralita")
        self.agent_calls.setdefault(agent.id, []).append(call)
        self._log("agent-answered", agent.id)
        return call

    async def ring_customer(self, number: str, *, ring_timeout: float) -> Call | NotConnected:
        self._log("ring-customer", number)
        if number in self.broken_numbers:
            raise RuntimeError(f"no route to {number}")
        script = self.customers.get(number, [])
        ring = script.pop(0) if script else Ring("no-answer")
        answers = ring.result == "answer" and ring.after <= ring_timeout
        await self._wait(ring.after if ring.result != "no-answer" and (
            answers or ring.result != "answer") else ring_timeout, None)
        if not answers:
            result = "no-answer" if ring.result == "answer" else ring.result
            self._log(f"customer-{result}", number)
            return NotConnected(result)
        call = self._answered("customer", number, "centralita")
        if ring.talk is not None:
            self.talk[call.id] = ring.talk
        self._log("customer-answered", number)
        return call

    def ringback(self, call: Call, on: bool) -> None:
        self._log("ringback-on" if on else "ringback-off", call.dialed)

    def bridge(self, a: Call, b: Call, names: tuple[str, str]) -> FakeBridge:
        """Join `a` (the caller, or the customer called back) to `b` (the agent); a caller
        with a scripted talk time hangs up that long after being joined."""
        party = a.dialed if a.direction is Direction.OUTBOUND else a.id
        self._log("join", party, b.dialed)
        talk = self.talk.get(a.id)
        timer = None if talk is None else self.clock.call_later(talk, a.ended, "remote-bye")
        return FakeBridge(self, party, b.dialed, timer)


class FakeBridge:
    """A bridge that only remembers it was stopped (the session hangs the calls up)."""

    def __init__(self, connector: FakeConnector, party: str, agent_id: str,
                 timer: TimerHandle | None) -> None:
        self.connector, self.party, self.agent_id, self.timer = connector, party, agent_id, timer
        self.stopped = False

    def set_muted(self, party: str, muted: bool) -> None: ...

    def hold(self, party: str, music: AudioSource | None) -> None: ...

    def resume(self, party: str) -> None: ...

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            if self.timer is not None:
                self.timer.cancel()
            self.connector._log("unjoin", self.party, self.agent_id)


class FakeCases:
    """Cases by call id; the notes written on them, in order."""

    def __init__(self) -> None:
        self.case_for: dict[str, int] = {}
        self.notes: list[tuple[int, str]] = []

    async def case_of_call(self, call: Call) -> int | None:
        return self.case_for.get(call.id)

    async def note(self, case_id: int, text: str) -> None:
        self.notes.append((case_id, text))


class WallClock:
    """UNIX time that follows the fake clock from WALL0, and can be stepped (NTP)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.offset = 0.0

    def __call__(self) -> float:
        return WALL0 + self.clock.now() + self.offset


# -- the rig --------------------------------------------------------------------------------------
def queue(name: str, **kw: Any) -> QueueConfig:
    """A queue where audio does not matter: silence, no announcements, no callback key."""
    base: dict[str, Any] = {"moh": None, "announce_every": 0.0, "callback_key": None,
                            "wrapup": 0.0}
    base.update(kw)
    return QueueConfig(name, **base)


def agent(agent_id: str, *queues: str, **skills: int) -> AgentConfig:
    return AgentConfig(agent_id, skills=dict(skills), queues=queues)


@dataclass
class Rig:
    clock: FakeClock
    store: MemoryRoutingStore
    connector: FakeConnector
    cases: FakeCases
    tts: FakeTts
    acd: Acd
    admin: AcdService
    wall: WallClock
    step: float = FRAME_S
    calls: dict[str, Call] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task[QueueOutcome]] = field(default_factory=dict)
    arrivals: dict[str, float] = field(default_factory=dict)

    async def at(self, t: float) -> None:
        """Run the engine until clock time `t`."""
        assert t >= self.clock.now() - 1e-9, f"the script goes back in time to {t}"
        await run_for(self.clock, t - self.clock.now(), self.step)

    async def login(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            await self.admin.set_agent_state(agent_id, AgentState.AVAILABLE, None)
        await settle(self.clock)

    async def answered_call(self, number: str, call_id: str = "C") -> Call:
        """A caller's answered call outside any queue (an IVR's `callback` step asks for one)."""
        call = Call(call_id, Direction.INBOUND, ClockLeg(self.clock), caller=number)
        await call.answer()
        return call

    async def arrive(
        self, call_id: str, queue_name: str, *, priority: int = 0, skills: tuple[str, ...] = (),
        caller: str = "", talk: float | None = None,
    ) -> Call:
        """A caller answered by the IVR enters `queue_name`; talks `talk` s once joined."""
        call = Call(call_id, Direction.INBOUND, ClockLeg(self.clock),
                    caller=caller or f"+1555010{len(self.calls):04d}", dialed="100")
        await call.answer()
        self.calls[call_id] = call
        self.arrivals[call_id] = self.clock.now()
        if talk is not None:
            self.connector.talk[call_id] = talk
        request = QueueRequest(queue_name, priority=priority, skills=skills)
        self.tasks[call_id] = asyncio.create_task(self.acd.enqueue(call, request))
        await settle(self.clock)
        return call

    def hang_up_at(self, t: float, call_id: str) -> None:
        self.clock.call_later(t - self.clock.now(), self.calls[call_id].ended, "remote-bye")

    def press_at(self, t: float, call_id: str, digit: str) -> None:
        self.clock.call_later(t - self.clock.now(), self.calls[call_id].digit, digit, 100,
                              "rfc4733")

    def outcome(self, call_id: str) -> QueueOutcome:
        task = self.tasks[call_id]
        assert task.done(), f"{call_id} is still in the queue"
        return task.result()

    async def status(self, agent_id: str) -> AgentStatus:
        return await self.store.agent_status(agent_id)

    def offers(self) -> list[tuple[float, str, str]]:
        """(time, agent, caller's call id or "callback") of every offer made."""
        return [(e.t, e.who, e.about) for e in self.connector.of("ring-agent")]

    async def records(self, queue_name: str) -> dict[str, QueueRecord]:
        """The queue's records keyed by the caller's call id, "cb-" + it for a callback's
        own record (every caller in a script arrives at a different time)."""
        by_arrival = {WALL0 + t: call_id for call_id, t in self.arrivals.items()}
        out: dict[str, QueueRecord] = {}
        for rec in await self.store.records(queue=queue_name):
            call_id = by_arrival[rec.enqueued_wall]
            out[call_id if rec.kind == "call" else f"cb-{call_id}"] = rec
        return out

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.acd.close()
        await self.store.close()


Factory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig() -> AsyncIterator[Factory]:
    made: list[Rig] = []

    async def make(queues: Iterable[QueueConfig], agents: Iterable[AgentConfig], *,
                   answer: dict[str, float] | None = None, step: float = FRAME_S) -> Rig:
        clock = FakeClock()
        store = MemoryRoutingStore()
        connector = FakeConnector(clock)
        connector.agent_answer.update(answer or {})
        cases = FakeCases()
        tts = FakeTts()
        wall = WallClock(clock)
        acd = Acd(store, connector, clock=clock, wall=wall, tts=tts,
                  cases=cases, queues=queues, agents=agents)
        await acd.start()
        rig = Rig(clock, store, connector, cases, tts, acd, AcdService(acd), wall, step=step)
        made.append(rig)
        return rig

    try:
        yield make
    finally:
        for rig in made:
            await rig.close()


