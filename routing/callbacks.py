"""Callbacks: a caller who would rather be called back keeps their place in line.

    callback asked for ──▶ Callback stored (the caller's `seq`) ──▶ entry "cb-<id>" in line
    at the head of the line ──▶ agent reserved and rung ──▶ customer rung (agent hears ringback)
        answered ──▶ joined to the agent: DONE
        busy / no answer / failed ──▶ WAITING, due `retry_after` s later; FAILED after
                                      `max_attempts`

A callback is an entry with the original caller's `seq`, so it is served in the place the
caller had; when it reaches the head the engine reserves an agent and `Callbacks.offer` rings
them first, then calls the customer and joins the two. The customer is tried up to
`max_attempts` times in all, `retry_after` seconds apart, and each attempt is written on the
customer's case. An agent who does not answer costs the customer no attempt: the callback is
due again at once.

The engine (`routing.acd.Acd`) owns the dispatcher and the offer tasks; `Callbacks` owns the
callbacks it holds and their retry timers, and reaches back into the engine only through the
operations in `Engine`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from ivr.services import QueueOutcome, QueueRequest, ServiceUnavailable
from media.clock import Clock, TimerHandle
from routing.channels import CaseLog, Connector, NotConnected, Offer, case_of
from routing.model import (
    AgentConfig,
    AgentState,
    Callback,
    CallbackState,
    QueueConfig,
    QueueEntry,
    QueueRecord,
)
from routing.session import SessionEnd, Target
from routing.store import RoutingStore
from voice.call import Call, CallState

log = logging.getLogger(__name__)

_A = AgentState
# A DTMF-dialable callback number (digits, optional leading +).
_MAX_NUMBER = 16


def dialable(number: str) -> bool:
    """Whether `number` can be called back (3 to 16 digits, an optional leading +)."""
    digits = number[1:] if number.startswith("+") else number
    return 3 <= len(digits) <= _MAX_NUMBER and digits.isascii() and digits.isdigit()


class CallbackGate(Protocol):
    """Who may be called back, and at what number (`voice.dialplan.DialPlan`)."""

    def callback_refusal(self, call: Call | None, number: str | None) -> str | None:
        """Why `number` may not be called back for `call` (None: allowed). `number` None:
        may `call` ask at all; `call` None: a stored callback's number alone."""
        ...


class ShapeOnly:
    """The gate of an engine built without a dial plan (the ACD's own unit tests): the
    number's shape alone. `centralita` always passes the server's `DialPlan`, which also
    requires a trusted call and an allowed number; the connector checks the number again."""

    def callback_refusal(self, call: Call | None, number: str | None) -> str | None:
        if number is None or dialable(number):
            return None
        return "not a dialable number"


class CallbackRefused(ServiceUnavailable):
    """A callback the gate refuses: the caller's flow takes its `on_unavailable` path."""


@dataclass(frozen=True)
class Engine:
    """What a callback needs of the ACD engine: bound methods of `routing.acd.Acd`."""

    kick: Callable[[], None]  # something changed: dispatch again
    offer_done: Callable[[str], None]  # the offer for this entry id is over
    ring: Callable[[AgentConfig, Offer, QueueConfig, Call | None],
                   Awaitable[Call | NotConnected]]  # ring a reserved agent
    release: Callable[[AgentConfig, str], Awaitable[None]]  # reserved -> available
    missed: Callable[[AgentConfig, QueueEntry | None, NotConnected],
                     Awaitable[None]]  # the reserved agent did not take the offer
    connected: Callable[[QueueConfig, Call, AgentConfig, Call],
                        Awaitable[tuple[SessionEnd, AgentConfig]]]  # the caller-agent session
    after_call: Callable[[QueueConfig, AgentConfig, QueueRecord],
                         Awaitable[None]]  # record the talk, wrap up
    end_wrapup_in: Callable[[str, float], None]  # the agent's wrap-up ends in this many s
    transferred: Callable[[Call, QueueConfig, Target, AgentConfig],
                          Awaitable[QueueOutcome]]  # the agent passed the customer on


class Callbacks:
    """The callbacks waiting in line (or being dialed), and their retry timers."""

    def __init__(
        self, store: RoutingStore, connector: Connector, *, clock: Clock,
        wall: Callable[[], float], cases: CaseLog | None, queues: Mapping[str, QueueConfig],
        engine: Engine, gate: CallbackGate | None = None,
    ) -> None:
        self._store = store
        self.gate: CallbackGate = gate if gate is not None else ShapeOnly()
        self._connector = connector
        self._clock = clock
        self._wall = wall
        self._cases = cases
        self._queues = queues  # the engine's own table: queues added later are seen
        self._engine = engine
        self._callbacks: dict[str, Callback] = {}
        self._retry_timers: dict[str, TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._callbacks)

    async def load(self) -> None:
        """At start-up: bring back the stored pending callbacks, each in its old place."""
        await self.adopt(await self._store.load())

    async def adopt(self, callbacks: list[Callback]) -> int:
        """Line up waiting callbacks this node now owns (its own at start-up, or a dead
        node's taken over), each in its old place; how many were lined up."""
        adopted = 0
        for cb in callbacks:
            if cb.queue not in self._queues:
                log.error("callback %s waits for queue %s, which is not configured", cb.id,
                          cb.queue)
                continue
            await self._line_up(cb)
            adopted += 1
        return adopted

    def close(self) -> None:
        """Stop the retry timers."""
        for timer in self._retry_timers.values():
            timer.cancel()

    # -- asking for one -------------------------------------------------------------------------
    async def request(self, call: Call, queue: QueueConfig, request: QueueRequest,
                      number: str) -> Callback:
        """A callback asked for outside a queue (the IVR's `callback` step): it lines up now."""
        seq = await self._store.next_seq()
        return await self._add(call, queue, number, seq, self._wall(), request.priority,
                               request.skills)

    async def keep_place(self, call: Call, queue: QueueConfig, entry: QueueEntry,
                         number: str) -> Callback:
        """A waiting caller takes a callback: it keeps `entry`'s place and arrival time."""
        return await self._add(call, queue, number, entry.seq, entry.enqueued_wall,
                               entry.priority, entry.skills)

    async def _add(
        self, call: Call, queue: QueueConfig, number: str, seq: int, since: float,
        priority: int, skills: tuple[str, ...],
    ) -> Callback:
        refused = self.gate.callback_refusal(call, number)
        if refused is not None:
            log.info("call %s: callback refused: %s", call.id, refused)
            raise CallbackRefused(f"callback refused: {refused}")
        case_id = await case_of(self._cases, call)  # None: the callback stands anyway
        cb = Callback(id=uuid.uuid4().hex, queue=queue.name, number=number, seq=seq,
                      created_wall=since, priority=priority, skills=skills, case_id=case_id,
                      call_id=call.id)
        await self._store.add_callback(cb)
        await self._store.add_record(QueueRecord(id=f"cb-{cb.id}", queue=queue.name,
                                                 kind="callback", enqueued_wall=since))
        log.info("call %s: callback %s stored for queue %s (place %d)", call.id, cb.id,
                 queue.name, seq)
        await self._note(cb, f"Callback requested in queue {queue.name}; the caller keeps "
                             "their place in line.")
        await self._line_up(cb)
        return cb

    async def cancel(self, callback_id: str) -> bool:
        """Cancel a waiting callback (not one being dialed); False if there is none."""
        cb = self._callbacks.get(callback_id)
        if cb is None:
            return False
        gone = replace(cb, state=CallbackState.CANCELLED)
        if await self._store.update_callback(gone, expect=frozenset({CallbackState.WAITING})) \
                is None:
            return False
        self._callbacks.pop(callback_id, None)
        timer = self._retry_timers.pop(callback_id, None)
        if timer is not None:
            timer.cancel()
        await self._store.remove_entry(f"cb-{callback_id}")
        # Its record leaves the line too (left open, it would count as waiting for ever).
        await self._store.update_record(QueueRecord(
            id=f"cb-{callback_id}", queue=cb.queue, kind="callback",
            enqueued_wall=cb.created_wall, outcome="cancelled", left_wall=self._wall()))
        return True

    # -- in line --------------------------------------------------------------------------------
    async def _line_up(self, cb: Callback) -> None:
        """Put a waiting callback in line with its original place and arrival time."""
        self._callbacks[cb.id] = cb
        waited = max(0.0, self._wall() - cb.created_wall)
        await self._store.add_entry(QueueEntry(
            id=f"cb-{cb.id}", queue=cb.queue, seq=cb.seq,
            enqueued_mono=self._clock.now() - waited, enqueued_wall=cb.created_wall,
            priority=cb.priority, skills=cb.skills, kind="callback", callback_id=cb.id,
        ))
        self._schedule_retry(cb)
        self._engine.kick()

    def _schedule_retry(self, cb: Callback) -> None:
        delay = cb.next_attempt_wall - self._wall()
        if delay > 0:
            old = self._retry_timers.pop(cb.id, None)
            if old is not None:
                old.cancel()
            self._retry_timers[cb.id] = self._clock.call_later(delay, self._retry_due, cb.id)

    def _retry_due(self, callback_id: str) -> None:
        # Timed on the monotonic clock, due by the wall clock: if the wall clock was stepped
        # back or runs slow meanwhile, the attempt is not due yet. Wait again rather than kick
        # for nothing and leave the callback waiting until something else happens.
        self._retry_timers.pop(callback_id, None)
        cb = self._callbacks.get(callback_id)
        if cb is not None and cb.next_attempt_wall > self._wall():
            self._schedule_retry(cb)
        else:
            self._engine.kick()

    def due(self, entry: QueueEntry, wall: float) -> bool:
        """Whether `entry` may be offered now: a callback waiting for its retry time may not."""
        if entry.kind != "callback" or entry.callback_id is None:
            return True
        cb = self._callbacks.get(entry.callback_id)
        # A callback being dialed stays in line (its place) but is not offered again.
        return cb is not None and cb.state is CallbackState.WAITING \
            and cb.next_attempt_wall <= wall

    async def _note(self, cb: Callback, text: str) -> None:
        if self._cases is None or cb.case_id is None:
            return
        try:
            await self._cases.note(cb.case_id, text)
        except Exception:  # the case note is a courtesy; the callback goes on without it
            log.exception("callback %s: cannot write a note on case %s", cb.id, cb.case_id)

    # -- the attempt ----------------------------------------------------------------------------
    async def offer(self, queue: QueueConfig, entry: QueueEntry, agent: AgentConfig) -> None:
        """The callback `entry` reached the head and `agent` is reserved for it: ring the
        agent, then the customer. Runs as the engine's offer task for `entry`."""
        cb = self._callbacks.get(entry.callback_id or "")
        try:
            if cb is None:
                await self._engine.release(agent, "callback-gone")
                return
            dialing = replace(cb, state=CallbackState.DIALING)
            if await self._store.update_callback(
                    dialing, expect=frozenset({CallbackState.WAITING})) is None:
                await self._engine.release(agent, "callback-taken")
                return
            self._callbacks[cb.id] = cb = dialing
            refused = self.gate.callback_refusal(None, cb.number)
            if refused is not None:
                # Stored before the dial plan allowed it no more: it never will be. Settled
                # now, before an agent is rung for a customer who will not be called.
                await self._engine.release(agent, "callback-refused")
                await self._refuse(cb, refused)
                return
            await self._attempt(queue, entry, agent, cb)
        except asyncio.CancelledError:
            await self._engine.release(agent, "withdrawn")
            raise
        finally:
            self._engine.offer_done(entry.id)

    async def _attempt(self, queue: QueueConfig, entry: QueueEntry, agent: AgentConfig,
                       cb: Callback) -> None:
        agent_call: Call | None = None
        try:
            offer = Offer("callback", cb.call_id or cb.id, queue.name, cb.number, cb.case_id)
            ringing = await self._engine.ring(agent, offer, queue, None)
            if isinstance(ringing, NotConnected):
                await self._engine.missed(agent, entry, ringing)
                await self._back_in_line(cb, None)
                return
            agent_call = ringing
            await self._store.transition(agent.id, _A.ON_CALL, now=self._clock.now(),
                                         expect=frozenset({_A.RESERVED}), active_delta=1)
            await self._call_customer(queue, entry, agent, agent_call, cb)
        except Exception:
            # A fault on the way (a connector, the store): the attempt counts as failed, the
            # agent is freed and the callback goes back to waiting. Left as it was, it would
            # stay DIALING with its agent on a call forever.
            log.exception("callback %s: the attempt failed", cb.id)
            if agent_call is not None:
                agent_call.hangup("callback-failed")
            await self._free(agent)
            if self._callbacks.get(cb.id) is cb:
                await self._back_in_line(replace(cb, attempts=cb.attempts + 1), "failed")

    async def _free(self, agent: AgentConfig) -> None:
        """The agent of a broken attempt: reserved -> available, on call -> wrap-up (0 s)."""
        status = await self._store.agent_status(agent.id)
        if status.state is _A.RESERVED:
            await self._engine.release(agent, "callback-failed")
        elif status.state is _A.ON_CALL:
            await self._store.transition(agent.id, _A.WRAP_UP, now=self._clock.now(),
                                         expect=frozenset({_A.ON_CALL}), active_delta=-1)
            self._engine.end_wrapup_in(agent.id, 0.0)

    async def _call_customer(
        self, queue: QueueConfig, entry: QueueEntry, agent: AgentConfig, agent_call: Call,
        cb: Callback,
    ) -> None:
        attempt = cb.attempts + 1
        self._connector.ringback(agent_call, True)
        try:
            customer = await self._connector.ring_customer(
                cb.number, ring_timeout=queue.callback.ring_timeout)
        finally:
            self._connector.ringback(agent_call, False)
        if isinstance(customer, NotConnected) or agent_call.state is CallState.ENDED:
            if not isinstance(customer, NotConnected):
                customer.hangup("agent-left")
            agent_call.hangup("callback-not-answered")
            await self._store.transition(agent.id, _A.WRAP_UP, now=self._clock.now(),
                                         expect=frozenset({_A.ON_CALL}), active_delta=-1)
            self._engine.end_wrapup_in(agent.id, 0.0)
            if isinstance(customer, NotConnected):
                await self._back_in_line(replace(cb, attempts=attempt), customer.result)
            else:
                # The agent hung up while the customer's phone rang: not the customer's
                # doing, so it costs them no attempt; the callback is due again at once.
                log.info("callback %s: the agent left before the customer answered", cb.id)
                await self._back_in_line(cb, None)
            return
        await self._store.remove_entry(entry.id)
        done = replace(cb, state=CallbackState.DONE, attempts=attempt, last_result="answered")
        await self._store.update_callback(done)
        self._callbacks.pop(cb.id, None)
        record = QueueRecord(id=f"cb-{cb.id}", queue=queue.name, kind="callback",
                             enqueued_wall=cb.created_wall, outcome="answered",
                             left_wall=self._wall(), answered_wall=self._wall(),
                             agent_id=agent.id)
        await self._store.update_record(record)
        await self._note(cb, f"Callback attempt {attempt}: connected to agent {agent.id}.")
        log.info("callback %s connected to agent %s (attempt %d)", cb.id, agent.id, attempt)
        end, last = await self._engine.connected(queue, customer, agent, agent_call)
        await self._engine.after_call(queue, last, record)
        if end.transfer is not None:
            # The agent passed the customer on (or their desk was lost): the customer's call
            # goes on there. No flow follows a callback, so what is left of it ends here.
            outcome = await self._engine.transferred(customer, queue, end.transfer, last)
            log.info("callback %s: after the transfer: %s", cb.id, outcome.result)
            customer.hangup("callback-done")

    async def _refuse(self, cb: Callback, reason: str) -> None:
        """A callback the dial plan refuses: FAILED at once, out of line, noted on the case."""
        log.warning("callback %s not placed: %s", cb.id, reason)
        await self._note(cb, f"Callback not placed: {reason}.")
        await self._back_in_line(replace(cb, attempts=max(cb.attempts, 1)), "refused",
                                 final=True)

    async def _back_in_line(self, cb: Callback, result: str | None, *,
                            final: bool = False) -> None:
        """After a failed attempt (or an agent who didn't answer), wait for the next try."""
        queue = self._queues[cb.queue]
        policy = queue.callback
        if result is None:  # the agent, not the customer, failed: try again at once
            back = replace(cb, state=CallbackState.WAITING)
        elif final or cb.attempts >= policy.max_attempts:
            back = replace(cb, state=CallbackState.FAILED, last_result=result)
        else:
            back = replace(cb, state=CallbackState.WAITING, last_result=result,
                           next_attempt_wall=self._wall() + policy.retry_after)
        await self._store.update_callback(back)
        if result is not None:
            log.info("callback %s attempt %d: %s", cb.id, cb.attempts, result)
            verdict = "no more attempts" if back.state is CallbackState.FAILED else \
                f"next attempt in {policy.retry_after:g} s"
            await self._note(back, f"Callback attempt {cb.attempts} of {policy.max_attempts}: "
                                   f"{result}; {verdict}.")
        if back.state is CallbackState.FAILED:
            self._callbacks.pop(cb.id, None)
            await self._store.remove_entry(f"cb-{cb.id}")
            rec = QueueRecord(id=f"cb-{cb.id}", queue=cb.queue, kind="callback",
                              enqueued_wall=cb.created_wall, outcome="timeout",
                              left_wall=self._wall())
            try:
                await self._store.update_record(rec)
            except Exception:  # the figures lose one record; the callback is settled anyway
                log.exception("callback %s: its queue record could not be closed", cb.id)
            return
        self._callbacks[cb.id] = back
        self._schedule_retry(back)
