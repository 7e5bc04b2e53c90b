"""The ACD engine: callers wait in queues, agents are offered calls, callbacks keep their place.

    IVR `queue` ──enqueue──▶ entry in the store ──kick──▶ dispatcher: strategies.assign()
         │                        ▲                          │ reserve agent (compare-and-set)
         │  WaitingRoom (music,   │ callback keeps `seq`     ▼
         │  announcements, key)   │                       offer task: ring the agent
         ▼                        │                          │ answered ─▶ caller's coroutine
    answered ◀── join (bridge) ◀──┘                          │ no answer ─▶ agent BREAK "missed-offer"
         └── after the call: agent WRAP_UP for the queue's wrap-up time, then AVAILABLE

One dispatcher task matches waiting entries to free agents whenever something changes (an
entry added, an agent freed, a callback's retry time reached). Each offer runs in its own task
owned by the engine; the caller's own coroutine (the IVR's `queue` step) waits for the first of:
an agent answered, the caller left the waiting room (hung up or took a callback), the queue's
maximum wait. Callbacks (stored, retried, offered agent first) are `routing.callbacks`; the
engine dispatches their entries like any other and runs their offers as its own tasks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from common.tasks import cancel
from ivr.services import QueueOutcome, QueueRequest, ServiceUnavailable
from media.clock import Clock, TimerHandle, sleep
from media.player import AudioSource, Player
from routing.callback_notice import CallbackNotice
from routing.callbacks import CallbackGate, Callbacks, Engine
from routing.channels import CaseLog, Connector, NotConnected, Offer, case_of
from routing.eta import HandleTimes, estimate_wait
from routing.model import (
    AgentConfig,
    AgentState,
    AgentStatus,
    Callback,
    QueueConfig,
    QueueEntry,
    QueueRecord,
)
from routing.repeat import Repeat, RepeatCheck
from routing.session import AgentSession, SessionEnd, Target
from routing.store import RoutingStore
from routing.strategies import assign, order_entries
from routing.waiting import (
    Deflector,
    Tts,
    WaitingRoom,
    WaitOutcome,
    WaitStatus,
    music_for,
    say_callback_confirmed,
    say_released,
)
from voice.call import Call, CallState

if TYPE_CHECKING:
    from routing.conversations import TextRouter

log = logging.getLogger(__name__)

_A = AgentState
# Logged in and able to take calls now or after the current one: what staffing counts.
_STAFFED = frozenset({_A.AVAILABLE, _A.RESERVED, _A.ON_CALL, _A.WRAP_UP})
# Before the dispatcher has counted the line and the staff: first in line, wait unknown (an
# announcement leaves it out rather than promise "less than a minute" to an unstaffed queue).
_UNCOUNTED = WaitStatus(1, math.nan)


@dataclass
class _Waiter:
    """A live caller in a queue: the answered agent call arrives on `answered`."""

    entry: QueueEntry
    call: Call
    answered: asyncio.Future[tuple[AgentConfig, Call]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    room: WaitingRoom | None = None
    room_task: asyncio.Future[WaitOutcome] | None = None
    released: bool = False  # a chat of the caller's case was accepted (see release_deflected)


class Acd:
    """Implements `ivr.services.Router` (and, with `routing.admin`, the routing API)."""

    def __init__(
        self, store: RoutingStore, connector: Connector, *, clock: Clock,
        wall: Callable[[], float], tts: Tts, cases: CaseLog | None = None,
        queues: Iterable[QueueConfig] = (), agents: Iterable[AgentConfig] = (),
        callback_gate: CallbackGate | None = None,
    ) -> None:
        """`callback_gate`: who may be called back at what number (the server's dial plan;
        without one, only the number's shape is checked)."""
        self.store = store
        self.connector = connector
        self.clock = clock
        self.wall = wall
        self.tts = tts
        self.cases = cases
        self.queues: dict[str, QueueConfig] = {q.name: q for q in queues}
        self.agents: dict[str, AgentConfig] = {a.id: a for a in agents}
        self.handle_times: dict[str, HandleTimes] = {}
        self._waiters: dict[str, _Waiter] = {}
        self._offers: dict[str, asyncio.Task[None]] = {}
        self._last: dict[str, str | None] = {}
        self._positions: dict[str, WaitStatus] = {}
        self._wrapups: dict[str, TimerHandle] = {}
        self._lost_agents: set[str] = set()  # browser gone mid-call: offline when it ends
        self.sessions: dict[str, AgentSession] = {}  # by the agent talking
        self.last_calls: dict[str, tuple[str, int | None]] = {}  # agent -> (call id, case id)
        # Who wants to hear about calls and agents (the agent desks): (agent id, message).
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        # Told when a caller is joined to an agent's call (to transcribe the agent's side).
        self.on_bridged: Callable[[Call, Call], Awaitable[None]] | None = None
        # The text conversations each agent holds (offered or assigned), counted against
        # their `max_concurrent` with their calls; set by `routing.conversations.TextRouter`,
        # which is reachable here as `text_router` for the desk.
        self.text_load: Callable[[str], int] = lambda agent_id: 0
        self.text_router: TextRouter | None = None
        # Texts a waiting caller a chat link when they press a queue's `deflect_key`
        # (handover, set by the composition root); None: the key is not offered.
        self.deflector: Deflector | None = None
        # Raises the priority of a customer's repeat contacts (routing.repeat; set by the
        # composition root from the routing file's `repeat_contacts`); None: off.
        self.repeat: RepeatCheck | None = None
        self._repeats: dict[str, Repeat] = {}  # call id -> its repeat, for the screen pop
        # Tells the customer their callback is lined up and about when (set by the
        # composition root: the customer's preferred channel); None: nobody is told.
        self.on_callback: CallbackNotice | None = None
        self._kick = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._callbacks = Callbacks(
            store, connector, clock=clock, wall=wall, cases=cases, queues=self.queues,
            engine=Engine(kick=self.kick, offer_done=self._offer_done, ring=self._ring,
                          release=self._release, missed=self._missed, connected=self._connected,
                          after_call=self._after_call,
                          end_wrapup_in=self._schedule_wrapup_end,
                          transferred=self._transferred),
            gate=callback_gate)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bring back the pending callbacks and start dispatching."""
        await self._callbacks.load()
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="acd-dispatch")
        log.info("ACD up: %d queues, %d agents, %d callbacks waiting", len(self.queues),
                 len(self.agents), len(self._callbacks))

    async def adopt_callbacks(self, callbacks: list[Callback]) -> int:
        """Waiting callbacks taken over from a dead node: lined up here in their old places
        (`routing.redis_store.RedisRoutingStore.take_over_dead`)."""
        adopted = await self._callbacks.adopt(callbacks)
        self.kick()  # the dead node's agents may be free now too
        return adopted

    async def close(self) -> None:
        """Stop dispatching and every offer in flight (their calls are hung up)."""
        for timer in self._wrapups.values():
            timer.cancel()
        self._callbacks.close()
        await cancel(*(t for t in (self._dispatcher, *self._tasks) if t is not None))
        self._dispatcher = None

    def kick(self) -> None:
        """Something changed: match waiting entries to free agents again."""
        self._kick.set()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ACD task %s failed", task.get_name(), exc_info=task.exception())

    # -- the caller's side (ivr.services.Router) ------------------------------------------------
    def _queue(self, name: str) -> QueueConfig:
        queue = self.queues.get(name)
        if queue is None:
            raise ServiceUnavailable(f"there is no queue named {name!r}")
        return queue

    async def enqueue(self, call: Call, request: QueueRequest) -> QueueOutcome:
        """Hold `call` in the queue until an agent answers, it leaves, or it overflows."""
        queue = self._queue(request.queue)
        if queue.hints:  # from here on the call's transcript favours the queue's phrases
            call.hints = tuple(dict.fromkeys((*call.hints, *queue.hints)))
        repeat = None
        if self.repeat is not None:
            repeat = await self.repeat.of_case(await self._case_of(call), queue)
        entry = QueueEntry(
            id=uuid.uuid4().hex, queue=queue.name, seq=await self.store.next_seq(),
            enqueued_mono=self.clock.now(), enqueued_wall=self.wall(),
            priority=request.priority + (repeat.boost if repeat is not None else 0),
            skills=request.skills, kind="call", call_id=call.id,
        )
        if repeat is None:
            return await self._wait(call, queue, entry)
        self._repeats[call.id] = repeat  # told to every agent offered this call
        try:
            return await self._wait(call, queue, entry)
        finally:
            self._repeats.pop(call.id, None)

    async def request_callback(self, call: Call, request: QueueRequest, number: str) -> str:
        """A callback asked for outside a queue (the IVR's `callback` step): it lines up now."""
        cb = await self._callbacks.request(call, self._queue(request.queue), request, number)
        self._notice(call, cb.queue, cb.id)
        return cb.id

    async def cancel_callback(self, callback_id: str) -> bool:
        """Cancel a waiting callback (not one being dialed); False if there is none."""
        return await self._callbacks.cancel(callback_id)

    async def _wait(self, call: Call, queue: QueueConfig, entry: QueueEntry) -> QueueOutcome:
        # This queue's figures count from entering it: an overflowed caller keeps their place
        # (the entry's seq and arrival) but the receiving queue's ASA starts now.
        record = QueueRecord(id=entry.id, queue=queue.name, kind="call",
                             enqueued_wall=self.wall())
        await self.store.add_record(record)
        waiter = _Waiter(entry, call)
        self._waiters[entry.id] = waiter
        await self.store.add_entry(entry)
        self._refresh_position(entry)
        self.kick()
        room = WaitingRoom(call, queue, clock=self.clock, tts=self.tts,
                           status=lambda: self._positions.get(entry.id, _UNCOUNTED),
                           callback_gate=self._callbacks.gate, deflector=self.deflector)
        waiter.room = room
        room_task = waiter.room_task = asyncio.ensure_future(room.run())
        waits: set[asyncio.Future[Any]] = {waiter.answered, room_task}
        deadline = None
        if queue.max_wait is not None:
            deadline = asyncio.ensure_future(sleep(self.clock, queue.max_wait))
            waits.add(deadline)
        # The IVR cancels this step when the caller hangs up: the bookkeeping still happens.
        cancelled = False
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            cancelled = True
        finally:
            await cancel(room_task, *(d for d in (deadline,) if d))
            self._waiters.pop(entry.id, None)
            self._positions.pop(entry.id, None)
            if not waiter.answered.done():
                await self._withdraw(entry)
        if waiter.answered.done():
            agent, agent_call = waiter.answered.result()
            # The talk and the agent's wrap-up belong to the engine, not to the IVR step
            # (which is cancelled when the caller hangs up).
            talk = self._spawn(self._talk(queue, call, agent, agent_call, record),
                               f"talk-{entry.id}")
            if cancelled:
                raise asyncio.CancelledError
            return await asyncio.shield(talk)
        # A caller who was texted a chat link and left (or was released when the chat was
        # accepted) was served on another channel: `deflected`, never an abandon.
        gone = "deflected" if room.deflected else "abandoned"
        if waiter.released and not cancelled and call.state is not CallState.ENDED:
            await self._left(record, "deflected")
            log.info("call %s: its chat was accepted; released from queue %s", call.id,
                     queue.name)
            await say_released(call, self.tts, self.clock)
            call.hangup("deflected")
            return QueueOutcome("deflected")
        if cancelled:
            await self._left(record, gone)
            log.info("call %s %s queue %s", call.id, gone, queue.name)
            raise asyncio.CancelledError
        outcome = room_task.result() if room_task.done() and not room_task.cancelled() else None
        if isinstance(outcome, WaitOutcome) and outcome.kind == "callback" and outcome.number:
            return await self._to_callback(call, queue, entry, record, outcome.number)
        if call.state is CallState.ENDED:
            await self._left(record, gone)
            log.info("call %s %s queue %s", call.id, gone, queue.name)
            return QueueOutcome(gone)
        return await self._overflow(call, queue, entry, record)

    async def release_deflected(self, case_id: int) -> int:
        """A chat of case `case_id` was accepted: the callers of that case who were texted a
        chat link while waiting leave the queue (told so, then hung up; outcome
        `deflected`). How many were released."""
        released = 0
        for waiter in list(self._waiters.values()):
            room = waiter.room
            if room is None or not room.deflected or waiter.call.state is CallState.ENDED:
                continue
            if await self._case_of(waiter.call) != case_id:
                continue
            released += 1
            # The caller's own coroutine (`_wait`) says goodbye and hangs up once its waiting
            # room has stopped (no music or prompt of the room plays over the goodbye).
            waiter.released = True
            if waiter.room_task is not None:
                waiter.room_task.cancel()
        return released

    async def _withdraw(self, entry: QueueEntry) -> None:
        """Take the entry out of line and stop any offer made for it."""
        await self.store.remove_entry(entry.id)
        offer = self._offers.get(entry.id)
        if offer is not None and not offer.done():
            await cancel(offer)
            # An offer cancelled before its first step never ran its own clean-up (a task
            # cancelled that early does not enter its body): free its agent here.
            self._offers.pop(entry.id, None)
            # One atomic step: a reservation made meanwhile for another entry stays.
            for released in await self.store.release_reservation(entry.id,
                                                                 now=self.clock.now()):
                log.info("agent %s released (withdrawn before the offer ran)",
                         released.agent_id)
        self.kick()

    async def _left(self, record: QueueRecord, outcome: str, **changes: Any) -> QueueRecord:
        record = replace(record, outcome=outcome, left_wall=self.wall(), **changes)
        await self.store.update_record(record)
        return record

    async def _talk(
        self, queue: QueueConfig, call: Call, agent: AgentConfig, agent_call: Call,
        record: QueueRecord,
    ) -> QueueOutcome:
        now = self.wall()
        record = await self._left(record, "answered", answered_wall=now, agent_id=agent.id)
        log.info("call %s: queue %s answered by agent %s after %.1f s", call.id, queue.name,
                 agent.id, now - record.enqueued_wall)
        return await self._talk_on(queue, call, agent, agent_call, record)

    async def _connected(
        self, queue: QueueConfig, caller: Call, agent: AgentConfig, agent_call: Call
    ) -> tuple[SessionEnd, AgentConfig]:
        """Run the caller-agent session; returns how it ended and the agent it ended with."""
        case_id = await self._case_of(caller)

        async def agent_left(left: AgentConfig) -> None:
            self.sessions.pop(left.id, None)
            self.last_calls[left.id] = (caller.id, case_id)
            await self._agent_free(queue, left)
            # After a consultation the caller may be talking to someone new.
            self.sessions[session.agent.id] = session
            self._spawn(self.bridged(caller, session.agent_call), f"bridged-{caller.id}")

        session = AgentSession(
            caller, agent, agent_call,
            bridge=self.connector.bridge, music=lambda: self._music(queue),
            now=self.clock.now, clock=self.clock, consult_dialer=self._consult_dialer(queue, caller, case_id),
            on_agent_left=agent_left,
            on_change=self._session_changed,
            context={"queue": queue.name, "case_id": case_id, "caller": caller.caller},
        )
        session.start()
        self.sessions[agent.id] = session
        self._session_changed(session)
        self._spawn(self.bridged(caller, agent_call), f"bridged-{caller.id}")
        try:
            end = await session.run()
            if end.agent_lost:
                self._lost_agents.add(session.agent.id)
        except Exception:
            # A failing bridge must not leave the agent on a call forever: end it, wrap up.
            log.exception("call %s: the session with agent %s failed", caller.id,
                          session.agent.id)
            caller.hangup("session-failed")
            session.agent_call.hangup("session-failed")
            end = SessionEnd(None, None, self.clock.now() - session.started)
        finally:
            self.sessions.pop(session.agent.id, None)
            self.last_calls[session.agent.id] = (caller.id, case_id)
        return end, session.agent

    async def bridged(self, caller: Call, agent_call: Call) -> None:
        """`agent_call` now carries the caller's agent (answered, handed over by a consult,
        or a desk's rejoined leg): run the `on_bridged` hook, whose failure costs nothing."""
        if self.on_bridged is None:
            return
        try:
            await self.on_bridged(caller, agent_call)
        except Exception:
            log.exception("call %s: the bridged hook failed", caller.id)

    def _music(self, queue: QueueConfig) -> AudioSource | None:
        """Music on hold: the queue's, or the default one for a queue that waits in silence
        (a caller put on hold must hear that the line is still there)."""
        samples = music_for(queue.moh or "default")
        return None if samples is None else Player(samples, 8000, loop=True)

    def _session_changed(self, session: AgentSession) -> None:
        view = session.view()
        self.notify(session.agent.id, {"type": "call", **view})
        if session.consulted is not None:
            self.notify(session.consulted.id, {"type": "call", **view, "role": "consulted"})

    def notify(self, agent_id: str, message: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(agent_id, message)
            except Exception:
                log.exception("a routing listener failed")

    def _consult_dialer(
        self, queue: QueueConfig, caller: Call, case_id: int | None
    ) -> Callable[[AgentConfig, Call], Coroutine[Any, Any, Call | NotConnected]]:
        async def dial(agent: AgentConfig, for_call: Call) -> Call | NotConnected:
            return await self._direct_offer(
                queue, agent, Offer("consult", caller.id, queue.name, caller.caller, case_id),
                for_call)
        return dial

    async def _direct_offer(
        self, queue: QueueConfig, agent: AgentConfig, offer: Offer, for_call: Call | None
    ) -> Call | NotConnected:
        """Ring one named agent (a transfer or consultation): reserved first, like any offer."""
        reserved = await self.store.transition(
            agent.id, _A.RESERVED, now=self.clock.now(), expect=frozenset({_A.AVAILABLE}),
            reserved_for=f"{offer.kind}-{offer.call_id}")
        if reserved is None:
            return NotConnected("busy", f"agent {agent.id} is not available")
        try:
            outcome = await self.connector.ring_agent(agent, offer, ring_timeout=queue.offer_timeout,
                                                      for_call=for_call)
        except BaseException:
            await self._release(agent, "withdrawn")
            raise
        if isinstance(outcome, NotConnected):
            await self._missed(agent, None, outcome)
            return outcome
        await self.store.transition(agent.id, _A.ON_CALL, now=self.clock.now(),
                                    expect=frozenset({_A.RESERVED}), active_delta=1)
        return outcome

    async def _transferred(
        self, call: Call, queue: QueueConfig, target: Target, by: AgentConfig
    ) -> QueueOutcome:
        """A blind transfer: to a queue (the caller keeps waiting there) or to one agent."""
        if call.state is CallState.ENDED:
            return QueueOutcome("abandoned")
        if target.kind == "queue" and target.name in self.queues:
            to = self.queues[target.name]
            # `front`: the agent was lost (their browser never came back), so the caller goes
            # ahead of those waiting (seq 0), as when a transfer to an agent fails.
            seq = 0 if target.front else await self.store.next_seq()
            entry = QueueEntry(id=uuid.uuid4().hex, queue=to.name, seq=seq,
                               enqueued_mono=self.clock.now(), enqueued_wall=self.wall(),
                               kind="call", call_id=call.id)
            log.info("call %s: %s to queue %s", call.id,
                     f"back from lost agent {by.id}" if target.front
                     else f"transferred by agent {by.id}", to.name)
            return await self._wait(call, to, entry)
        agent = self.agents.get(target.name)
        if agent is None:
            return QueueOutcome("timeout", {"transfer": "unknown target"})
        offer = Offer("transfer", call.id, queue.name, call.caller, await self._case_of(call),
                      from_agent=by.id)
        outcome = await self._direct_offer(queue, agent, offer, call)
        if isinstance(outcome, NotConnected):
            # Nobody took it: back to the queue it came from, at the front of its priority.
            log.info("call %s: transfer to agent %s failed (%s); back to queue %s", call.id,
                     agent.id, outcome.result, queue.name)
            entry = QueueEntry(id=uuid.uuid4().hex, queue=queue.name, seq=0,
                               enqueued_mono=self.clock.now(), enqueued_wall=self.wall(),
                               kind="call", call_id=call.id)
            return await self._wait(call, queue, entry)
        record = QueueRecord(id=uuid.uuid4().hex, queue=queue.name, kind="call",
                             enqueued_wall=self.wall(), outcome="answered",
                             left_wall=self.wall(), answered_wall=self.wall(), agent_id=agent.id)
        await self.store.add_record(record)
        return await self._talk_on(queue, call, agent, outcome, record)

    async def _talk_on(self, queue: QueueConfig, call: Call, agent: AgentConfig,
                       agent_call: Call, record: QueueRecord) -> QueueOutcome:
        end, last = await self._connected(queue, call, agent, agent_call)
        await self._after_call(queue, last, record)
        if end.transfer is not None:
            return await self._transferred(call, queue, end.transfer, last)
        return QueueOutcome("answered", {"agent": agent.id, "duration": round(end.duration, 2),
                                         "hung_up_by": end.hung_up_by})

    async def _case_of(self, call: Call) -> int | None:
        return await case_of(self.cases, call)

    async def _agent_free(self, queue: QueueConfig, agent: AgentConfig) -> None:
        """An agent left a call (not the last one on it): wrap up, then available; an agent
        whose browser went away mid-call and never came back goes offline instead."""
        await self.store.transition(agent.id, _A.WRAP_UP, now=self.clock.now(),
                                    expect=frozenset({_A.ON_CALL}), active_delta=-1)
        if agent.id in self._lost_agents:
            self._lost_agents.discard(agent.id)
            log.info("agent %s: their desk did not come back; offline", agent.id)
            await self.store.transition(agent.id, _A.OFFLINE, now=self.clock.now(),
                                        expect=frozenset({_A.WRAP_UP}))
            return
        self._schedule_wrapup_end(agent.id, queue.wrapup)
        self.notify(agent.id, {"type": "wrapup", "seconds": queue.wrapup,
                               "call_id": self.last_calls.get(agent.id, ("", None))[0],
                               "case_id": self.last_calls.get(agent.id, ("", None))[1]})

    async def finish_wrapup(self, agent_id: str) -> bool:
        """The agent saved their wrap-up: available now (False if not wrapping up)."""
        self.cancel_wrapup(agent_id)
        moved = await self.store.transition(agent_id, _A.AVAILABLE, now=self.clock.now(),
                                            expect=frozenset({_A.WRAP_UP}))
        if moved is not None:
            self.kick()
        return moved is not None

    async def _after_call(self, queue: QueueConfig, agent: AgentConfig,
                          record: QueueRecord) -> None:
        """The talk ended: record it, wrap up, then the agent is free again."""
        record = replace(record, ended_wall=self.wall(), wrapup_s=queue.wrapup)
        await self.store.update_record(record)
        if record.answered_wall is not None and record.ended_wall is not None:
            talk = max(0.0, record.ended_wall - record.answered_wall)
            self.handle_times.setdefault(queue.name, HandleTimes()).add(talk + queue.wrapup)
        await self._agent_free(queue, agent)

    def _schedule_wrapup_end(self, agent_id: str, seconds: float) -> None:
        old = self._wrapups.pop(agent_id, None)
        if old is not None:
            old.cancel()

        def end() -> None:
            self._wrapups.pop(agent_id, None)
            self._spawn(self._end_wrapup(agent_id), f"wrapup-{agent_id}")

        self._wrapups[agent_id] = self.clock.call_later(seconds, end)

    async def _end_wrapup(self, agent_id: str) -> None:
        if await self.store.transition(agent_id, _A.AVAILABLE, now=self.clock.now(),
                                       expect=frozenset({_A.WRAP_UP})):
            self.kick()

    def cancel_wrapup(self, agent_id: str) -> None:
        """The agent changed state by hand: their pending wrap-up timer no longer applies."""
        timer = self._wrapups.pop(agent_id, None)
        if timer is not None:
            timer.cancel()

    # -- leaving without an agent ---------------------------------------------------------------
    async def _to_callback(
        self, call: Call, queue: QueueConfig, entry: QueueEntry, record: QueueRecord,
        number: str,
    ) -> QueueOutcome:
        cb = await self._callbacks.keep_place(call, queue, entry, number)
        self._notice(call, cb.queue, cb.id)
        await self._left(record, "callback")
        await say_callback_confirmed(call, self.tts, self.clock)
        call.hangup("callback-requested")
        return QueueOutcome("callback", {"id": cb.id})

    async def _overflow(
        self, call: Call, queue: QueueConfig, entry: QueueEntry, record: QueueRecord
    ) -> QueueOutcome:
        over = queue.overflow
        kind = over.kind if over is not None else "timeout"
        await self._left(record, "overflow" if over is not None else "timeout")
        log.info("call %s: queue %s maximum wait reached, overflow %s", call.id, queue.name,
                 kind)
        if over is not None and over.kind == "queue" and over.target in self.queues:
            target = self.queues[over.target]
            # The caller keeps their place: same seq, same arrival time for aging.
            moved = replace(entry, id=uuid.uuid4().hex, queue=target.name)
            return await self._wait(call, target, moved)
        if over is not None and over.kind == "callback":
            refused = self._callbacks.gate.callback_refusal(call, call.caller)
            if refused is None:
                return await self._to_callback(call, queue, entry, record, call.caller)
            log.info("call %s: no overflow callback: %s", call.id, refused)
        if over is not None and over.kind == "hangup":
            call.hangup("queue-timeout")
        return QueueOutcome("timeout", {"overflow": kind, "queue": queue.name})

    def _notice(self, call: Call, queue: str, callback_id: str) -> None:
        """Tell the customer about their new callback (`on_callback`), in an owned task."""
        notice = self.on_callback
        if notice is None:
            return

        async def tell() -> None:
            cb = await self.store.callback(callback_id)
            if cb is not None:
                await notice(call, cb, await self.wait_of(queue, f"cb-{callback_id}"))

        self._spawn(tell(), f"callback-notice-{callback_id}")

    async def wait_of(self, queue_name: str, entry_id: str) -> float:
        """Estimated seconds until entry `entry_id` of `queue_name` reaches an agent, at its
        place in line now (`routing.eta.estimate_wait`); NaN when it is not in line."""
        queue = self.queues[queue_name]
        line = order_entries(await self.store.entries(queue_name), now=self.clock.now(),
                             aging_per_s=queue.aging_per_s)
        position = next((n for n, e in enumerate(line, start=1) if e.id == entry_id), None)
        if position is None:
            return math.nan
        statuses = await self.store.statuses()
        staffed = available = 0
        for agent in self.agents.values():
            status = statuses.get(agent.id)
            if queue_name in agent.queues and status is not None and status.state in _STAFFED:
                staffed += 1
                available += status.state is _A.AVAILABLE
        average = self.handle_times.get(queue_name, HandleTimes()).average(
            queue.default_handle_time)
        return estimate_wait(position, average_handle=average, staffed=staffed,
                             available=available)

    # -- dispatching ----------------------------------------------------------------------------
    async def _dispatch_loop(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            try:
                await self._dispatch()
            except Exception:
                log.exception("ACD dispatch pass failed; the next change retries")

    async def _dispatch(self) -> None:
        now, wall = self.clock.now(), self.wall()
        statuses = await self.store.statuses()
        lines = {name: await self.store.entries(name) for name in self.queues}
        self._update_positions(lines, statuses)
        # The queue whose head has waited longest goes first when agents serve several.
        order = sorted(lines, key=lambda n: min((e.enqueued_mono for e in lines[n]),
                                                default=now))
        for name in order:
            queue = self.queues[name]
            ready = [e for e in lines[name]
                     if e.id not in self._offers and self._callbacks.due(e, wall)]
            if not ready:
                continue
            # `statuses` holds every agent that ever moved: the others are OFFLINE.
            raw = {a.id: statuses.get(a.id) or AgentStatus(a.id)
                   for a in self.agents.values() if name in a.queues}
            agents = {a.id: (a, self._with_text(raw[a.id]))
                      for a in self.agents.values() if name in a.queues}
            picks: list[tuple[QueueEntry, AgentConfig]] = []
            for entry, candidate in assign(queue, ready, agents, now=now,
                                           last=self._last.get(name)):
                agent = candidate.agent
                if raw[agent.id].active + self.text_load(agent.id) >= agent.max_concurrent:
                    self.kick()  # a text offer took the last place since this pass began
                    continue
                picks.append((entry, agent))
            # One compare-and-set per pair, all in one store call (one Redis round trip).
            results = await self.store.reserve([(a.id, e.id) for e, a in picks], now=now)
            for (entry, agent), reserved in zip(picks, results, strict=True):
                if reserved is None:
                    self.kick()  # taken by another queue (or node) this pass: look again
                    continue
                statuses[agent.id] = reserved
                self._last[name] = agent.id
                offer = self._offer_call if entry.kind == "call" else self._callbacks.offer
                self._offers[entry.id] = self._spawn(offer(queue, entry, agent),
                                                     f"offer-{entry.id}")

    def _with_text(self, status: AgentStatus) -> AgentStatus:
        """`status` with the agent's text conversations counted in `active`: the total the
        strategies hold against `max_concurrent`."""
        load = self.text_load(status.agent_id)
        return replace(status, active=status.active + load) if load else status

    def _refresh_position(self, entry: QueueEntry) -> None:
        self._positions.setdefault(entry.id, _UNCOUNTED)

    def _update_positions(self, lines: dict[str, list[QueueEntry]],
                          statuses: dict[str, Any]) -> None:
        now = self.clock.now()
        for name, entries in lines.items():
            queue = self.queues[name]
            staffed = available = 0
            for agent in self.agents.values():
                status = statuses.get(agent.id)
                if name in agent.queues and status is not None and status.state in _STAFFED:
                    staffed += 1
                    available += status.state is _A.AVAILABLE
            average = self.handle_times.get(name, HandleTimes()).average(
                queue.default_handle_time)
            ordered = order_entries(entries, now=now, aging_per_s=queue.aging_per_s)
            for position, entry in enumerate(ordered, start=1):
                if entry.id in self._waiters:
                    wait = estimate_wait(position, average_handle=average, staffed=staffed,
                                         available=available)
                    self._positions[entry.id] = WaitStatus(position, wait)

    def position_of(self, entry_id: str) -> WaitStatus | None:
        return self._positions.get(entry_id)

    # -- offers ---------------------------------------------------------------------------------
    async def _offer_call(self, queue: QueueConfig, entry: QueueEntry,
                          agent: AgentConfig) -> None:
        waiter = self._waiters.get(entry.id)
        try:
            if waiter is None or waiter.answered.done():
                await self._release(agent, "entry-gone")
                return
            offer = Offer("call", waiter.call.id, queue.name, waiter.call.caller,
                          await self._case_of(waiter.call),
                          repeat=self._repeats.get(waiter.call.id))
            outcome = await self._ring(agent, offer, queue, waiter.call)
            if isinstance(outcome, NotConnected):
                await self._missed(agent, entry, outcome)
                return
            if await self.store.remove_entry(entry.id) is None or waiter.answered.done() \
                    or waiter.call.state is CallState.ENDED:
                outcome.hangup("caller-gone")
                await self._release(agent, "caller-gone")
                return
            await self.store.transition(agent.id, _A.ON_CALL, now=self.clock.now(),
                                        expect=frozenset({_A.RESERVED}), active_delta=1)
            waiter.answered.set_result((agent, outcome))
        except asyncio.CancelledError:
            # Withdrawn (the caller left, took a callback, or overflowed): the ring was
            # CANCELled; the agent did nothing wrong.
            await self._release(agent, "withdrawn")
            raise
        finally:
            self._offer_done(entry.id)

    def _offer_done(self, entry_id: str) -> None:
        self._offers.pop(entry_id, None)
        self.kick()

    async def _ring(self, agent: AgentConfig, offer: Offer, queue: QueueConfig,
                    for_call: Call | None) -> Call | NotConnected:
        try:
            return await self.connector.ring_agent(agent, offer, ring_timeout=queue.offer_timeout,
                                                   for_call=for_call)
        except Exception:
            # A fault on the way to the agent, not an answer: treated as unreachable (not
            # ready), so the offer goes to someone else instead of leaving the agent reserved
            # forever or ringing the same failing phone again at once.
            log.exception("agent %s: ringing failed", agent.id)
            return NotConnected("unavailable", "the connector failed")

    async def _release(self, agent: AgentConfig, why: str) -> None:
        await self.store.transition(agent.id, _A.AVAILABLE, now=self.clock.now(),
                                    expect=frozenset({_A.RESERVED}))
        log.info("agent %s released (%s)", agent.id, why)

    async def _missed(self, agent: AgentConfig, entry: QueueEntry | None,
                      why: NotConnected) -> None:
        """The agent did not take the offer: skipped and set not ready (the caller waits on)."""
        if why.result == "abandoned":
            await self._release(agent, "caller-gone")
            return
        # A declined offer also sets not ready: otherwise the same agent (longest idle) would
        # be offered the same caller again at once.
        reason = {"unavailable": "unreachable", "declined": "declined"}.get(why.result,
                                                                             "missed-offer")
        await self.store.transition(agent.id, _A.BREAK, now=self.clock.now(),
                                    expect=frozenset({_A.RESERVED}), reason=reason)
        # The reason names the failure (a SIP status, a socket error, a timeout), never the
        # caller: what to look at when an agent's phone keeps refusing.
        log.info("agent %s did not take %s (%s: %s): not ready", agent.id,
                 f"entry {entry.id}" if entry is not None else "a direct offer", why.result,
                 why.reason or "no reason given")
