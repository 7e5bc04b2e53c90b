"""Text conversations (chat, SMS, WhatsApp, email) routed through the ACD.

    CaseStore.store_message ──bus "messages"──▶ TextRouter.ingest
        inbound, new interaction ──▶ WAITING in the first queue serving its channel
        inbound, assigned        ──▶ the same agent: unread+1 ("conversation" to their desk)
        outbound (an agent)      ──▶ response timers (routing.text_stats)
    dispatcher (kicked on every change) ──▶ offer to one eligible agent ──▶ accept / decline /
        timeout (then the next agent) ──▶ ASSIGNED ──close──▶ the interaction ends on the case

Eligible: logged in (voice state not OFFLINE or BREAK), serving the queue, holding its
skills, under their capacity for the channel and under `max_concurrent` counting their calls
(a call ringing or in progress) and their conversations offered or assigned. Among the
eligible, the conversation's preferred agent goes first (the agent who had it before they
logged out or before a restart, else the agent on a call with the customer now, else the one
who had the customer's previous conversation on the case when it closed less than the
queue's `sticky_for` ago); then the least loaded, longest since their last conversation. An agent who declined or let an offer lapse is not offered the same
conversation again while someone else can take it (and not before `offer_timeout` more
seconds when nobody else can).

The voice dispatcher counts the conversations each agent holds (`Acd.text_load`); a
conversation closing kicks it, an agent's state changing kicks this one. Line order is the
calls' (priority, then `seq`, numbers from the same counter); a customer's repeat contact
comes in at a raised priority (`Acd.repeat`, routing.repeat). Desk messages go through
`Acd.notify` (the contract: notes/text_routing_contract.md). Live state is in this process;
at start-up `restore()` puts the open text interactions back in line.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any, Protocol

from media.clock import Clock
from routing.acd import Acd
from routing.model import TEXT_CHANNELS, AgentConfig, AgentState, AgentStatus, QueueConfig
from routing.text_model import Conversation, ConvState, TextOffer, TextRoutingError
from routing.text_stats import ChannelFigures, TextStats, channel_figures

log = logging.getLogger(__name__)

_C = ConvState
# The feed's bus queue: a burst of this many messages while a pass runs is held; past it the
# oldest are dropped (counted and logged) rather than the bus blocking the channels.
FEED_QUEUE = 4096
# A desk that reloads logs its agent out and in again within seconds: their conversations
# stay theirs for this long (customer messages meanwhile still count as unread for them).
RELOGIN_GRACE = 30.0
# The figures' records of closed conversations are kept a week (pruned at most hourly).
KEEP_RECORDS = 7 * 86400.0
PRUNE_EVERY = 3600.0
# Not logged in, or not ready: no new conversations.
_AWAY = frozenset({AgentState.OFFLINE, AgentState.BREAK})


class TextInteraction(Protocol):
    """What the case store knows of one text interaction (`cases.store.TextInteractionRow`)."""

    @property
    def id(self) -> int: ...
    @property
    def case_id(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def queue(self) -> str | None: ...
    @property
    def customer(self) -> str | None: ...
    @property
    def last_inbound_at(self) -> datetime | None: ...
    @property
    def last_outbound_at(self) -> datetime | None: ...
    @property
    def previous_agent(self) -> str | None: ...
    @property
    def previous_ended_at(self) -> datetime | None: ...


class MessageBus(Protocol):
    """The case event bus as the router follows it (`cases.events.EventBus`)."""

    def subscribe(self, topic: str, *, maxsize: int = ...) -> Any: ...


class TextCases(Protocol):
    """The case store as the router uses it (`cases.store.CaseStore` implements it)."""

    async def text_interactions(
        self, *, interaction_id: int | None = None
    ) -> Collection[TextInteraction]: ...

    async def set_text_interaction(
        self, interaction_id: int, *, agent: str | None = None, queue: str | None = None
    ) -> None: ...

    async def end_interaction(
        self, interaction_id: int, *, outcome: str, summary: str | None = None
    ) -> None: ...


class TextRouter:
    """Routes text conversations to agents; see the module docstring. Reachable by the desk
    as `acd.text_router` (and `RoutingStack.text`)."""

    def __init__(
        self, acd: Acd, cases: TextCases | None, *, clock: Clock | None = None,
        wall: Callable[[], float] | None = None, relogin_grace: float = RELOGIN_GRACE,
    ) -> None:
        """`relogin_grace`: seconds an agent who logged out (a desk reloaded, a dropped
        connection) keeps their conversations before they go back in line."""
        self.acd = acd
        self.relogin_grace = relogin_grace
        self._leaving: dict[str, Any] = {}  # agent -> the timer that requeues their conversations
        self.cases = cases
        self.clock = clock or acd.clock
        self.wall = wall or acd.wall
        self.stats = TextStats()
        self._convs: dict[int, Conversation] = {}
        self._offers: dict[str, TextOffer] = {}
        self._last_taken: dict[str, float] = {}  # agent -> mono of their last conversation
        self._held: dict[str, Counter[str]] = {}  # agent -> channel -> offered + assigned
        self._unroutable: set[int] = set()
        self._kick = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subscription: Any = None
        self._pruned = 0.0  # wall time the closed records were last pruned
        acd.text_load = self.load_of
        acd.text_router = self
        watchers = getattr(acd.store, "state_watchers", None)
        if isinstance(watchers, list):
            watchers.append(self._agent_changed)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the dispatcher (owned here; `stop` cancels and awaits it)."""
        self._own(self._dispatch_loop(), "text-dispatch")

    async def follow(self, bus: MessageBus, topic: str = "messages") -> None:
        """Subscribe to the case bus's `topic` (every new message) and feed the router from
        it until `stop`. Await it before `restore` so no message falls between the two."""
        subscription = bus.subscribe(topic, maxsize=FEED_QUEUE)
        await subscription.__aenter__()
        self._subscription = subscription
        self._own(self._feed(subscription), "text-feed")

    async def stop(self) -> None:
        """Stop dispatching and following the bus (`close` is the desk's command)."""
        for timer in self._leaving.values():
            timer.cancel()
        for offer in self._offers.values():
            if offer.cancel_timer is not None:
                offer.cancel_timer.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._subscription is not None:
            await self._subscription.__aexit__(None, None, None)
            self._subscription = None

    def _own(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def kick(self) -> None:
        self._kick.set()

    async def _feed(self, subscription: Any) -> None:
        lost = 0
        async for payload in subscription:
            if subscription.dropped > lost:
                lost = subscription.dropped
                log.warning("text routing fell behind the message bus: %d events lost", lost)
            try:
                await self.ingest(payload)
            except Exception:
                log.exception("text routing: a message event failed")

    async def restore(self) -> int:
        """Put the open text interactions back in line (a restart loses no conversation):
        the agent who had one is its preferred agent. Returns how many came back."""
        if self.cases is None:
            return 0
        rows = sorted(await self.cases.text_interactions(), key=lambda r: (r.started_at, r.id))
        count = 0
        for row in rows:
            if row.id in self._convs:
                continue
            conv = await self._new_conversation(row, restored=True)
            count += conv is not None
        self.kick()
        log.info("text routing: %d open conversations back in line", count)
        return count

    # -- what the case store tells ---------------------------------------------------------------
    async def ingest(self, event: dict[str, Any]) -> None:
        """One event of the bus topic "messages" (see cases.store.CaseStore.store_message)."""
        if event.get("type") != "message" or event.get("channel") not in TEXT_CHANNELS:
            return
        interaction_id = event.get("interaction_id")
        if not isinstance(interaction_id, int):
            return
        now = self.wall()
        conv = self._convs.get(interaction_id)
        case_id = event.get("case_id")
        if conv is not None and isinstance(case_id, int):
            conv.case_id = case_id  # a merge moves interactions to the surviving case
        if event.get("direction") == "outbound":
            if conv is not None:
                self.stats.agent_replied(conv.id, now)
                conv.waiting_since_wall = None
                conv.unread = 0
                conv.last_message_wall = now
                self._tell_agent(conv)
            return
        if conv is None:
            conv = await self._arrived(interaction_id, event.get("message"))
            if conv is not None:
                self.kick()
            return
        self.stats.customer_wrote(conv.id, now)
        conv.unread += 1
        conv.last_message_wall = now
        if conv.waiting_since_wall is None:
            conv.waiting_since_wall = now
        self._tell_agent(conv)

    async def _arrived(self, interaction_id: int, message: object) -> Conversation | None:
        """The first customer message of an interaction the router does not hold: a new
        conversation in line (None when it is closed already or no queue serves it)."""
        if interaction_id in self._unroutable or self.cases is None:
            return None
        rows = await self.cases.text_interactions(interaction_id=interaction_id)
        row = next(iter(rows), None)
        if row is None or row.ended_at is not None or interaction_id in self._convs:
            return None
        conv = await self._new_conversation(row, restored=False)
        if conv is not None and isinstance(message, dict) \
                and isinstance(message.get("sender"), str):
            conv.customer = message["sender"]
        return conv

    async def _new_conversation(self, row: TextInteraction, *, restored: bool) -> Conversation | None:
        queue = self._queue_for(row.channel, row.queue)
        if queue is None:
            self._unroutable.add(row.id)
            log.warning("text routing: no queue serves %s; interaction %d is not routed",
                        row.channel, row.id)
            return None
        now_wall = self.wall()
        enqueued = row.started_at.timestamp() if restored else now_wall
        # A repeat contact goes ahead of the line (routing.repeat), as a repeat caller does.
        check = self.acd.repeat
        repeat = await check.of_case(row.case_id, queue) if check is not None else None
        conv = Conversation(
            id=row.id, case_id=row.case_id, channel=row.channel, queue=queue.name,
            seq=await self.acd.store.next_seq(), enqueued_mono=self.clock.now(),
            enqueued_wall=enqueued, unread=1, customer=row.customer,
            priority=repeat.boost if repeat is not None else 0, repeat=repeat)
        inbound = row.last_inbound_at.timestamp() if row.last_inbound_at else None
        outbound = row.last_outbound_at.timestamp() if row.last_outbound_at else None
        conv.last_message_wall = max((t for t in (inbound, outbound) if t is not None),
                                     default=now_wall if not restored else None)
        if not restored or (inbound is not None and (outbound is None or inbound > outbound)):
            conv.waiting_since_wall = inbound if restored else now_wall
        if row.agent is not None:
            conv.preferred = row.agent  # it was theirs (before a restart, or they wrote first)
        elif (talking := self._on_the_case(row.case_id)) is not None:
            conv.preferred = talking  # they are on a call with this customer (who texts back)
        elif row.previous_agent is not None and row.previous_ended_at is not None \
                and now_wall - row.previous_ended_at.timestamp() <= queue.sticky_for:
            conv.preferred = row.previous_agent
        if row.id in self._convs:  # a concurrent event made it meanwhile
            return self._convs[row.id]
        self._convs[row.id] = conv
        self.stats.entered(conv.id, queue.name, conv.channel, enqueued)
        if restored and outbound is not None:
            self.stats.agent_replied(conv.id, outbound)
        log.info("conversation %d (%s, case %d) waits in queue %s%s", conv.id, conv.channel,
                 conv.case_id, queue.name,
                 f", preferring agent {conv.preferred}" if conv.preferred else "")
        return conv

    def _on_the_case(self, case_id: int) -> str | None:
        """The agent on a call of case `case_id` now (an SMS or email sent from the case during
        the call is answered to them), else the agent holding another open conversation of the
        case (a chat the agent's SMS handed over to), if any."""
        for agent_id, session in self.acd.sessions.items():
            if session.context.get("case_id") == case_id:
                return agent_id
        for conv in self._convs.values():
            if conv.case_id == case_id and conv.agent is not None:
                return conv.agent
        return None

    def _queue_for(self, channel: str, named: str | None) -> QueueConfig | None:
        """The queue the interaction names, if it serves the channel; else the first queue
        (file order) that serves it."""
        queues = self.acd.queues
        if named is not None and named in queues and channel in queues[named].channels:
            return queues[named]
        return next((q for q in queues.values() if channel in q.channels), None)

    # -- load and eligibility --------------------------------------------------------------------
    def load_of(self, agent_id: str, channel: str | None = None) -> int:
        """The conversations offered to or assigned to the agent (of `channel`, or all).

        Kept as counters moved at each offer, withdrawal, close and requeue (`_hold`), so a
        dispatch pass (and the voice dispatcher's `text_load`) costs no scan of every
        conversation per agent; `count_load` recounts, for checks."""
        held = self._held.get(agent_id)
        if held is None:
            return 0
        return held.total() if channel is None else held[channel]

    def count_load(self, agent_id: str, channel: str | None = None) -> int:
        """`load_of` counted from the conversations and offers themselves."""
        assigned = sum(1 for c in self._convs.values()
                       if c.state is _C.ASSIGNED and c.agent == agent_id
                       and (channel is None or c.channel == channel))
        return assigned + sum(1 for o in self._offers.values()
                              if o.agent == agent_id
                              and (channel is None or o.conversation.channel == channel))

    def _hold(self, agent_id: str, channel: str, delta: int) -> None:
        held = self._held.setdefault(agent_id, Counter())
        held[channel] += delta
        if held[channel] <= 0:
            del held[channel]

    @staticmethod
    def _voice_load(status: AgentStatus) -> int:
        # A call ringing the agent (RESERVED) will take their place if answered.
        return status.active + (1 if status.state is AgentState.RESERVED else 0)

    def _has_room(self, agent: AgentConfig, status: AgentStatus) -> bool:
        return (status.state not in _AWAY
                and self.load_of(agent.id) + self._voice_load(status) < agent.max_concurrent)

    def _can_take(self, agent: AgentConfig, status: AgentStatus, conv: Conversation,
                  queue: QueueConfig) -> bool:
        return (status.state not in _AWAY and queue.name in agent.queues
                and all(agent.skills.get(skill, 0) >= 1 for skill in queue.skills)
                and self.load_of(agent.id, conv.channel) < agent.capacity_for(conv.channel)
                and self.load_of(agent.id) + self._voice_load(status) < agent.max_concurrent)

    # -- dispatching -----------------------------------------------------------------------------
    async def _dispatch_loop(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            try:
                await self._dispatch()
            except Exception:
                log.exception("text dispatch pass failed; the next change retries")

    async def _dispatch(self) -> None:
        waiting = sorted((c for c in self._convs.values() if c.state is _C.WAITING),
                         key=lambda c: (-c.priority, c.seq))
        if not waiting:
            return
        statuses = await self.acd.store.statuses()
        now = self.clock.now()
        # Only agents with room are looked at; room only shrinks during a pass, and when
        # nobody has any the rest of the line waits (a long line costs nothing then).
        roomy = [a for a in self.acd.agents.values()
                 if (s := statuses.get(a.id)) is not None and self._has_room(a, s)]
        for conv in waiting:
            if not roomy:
                break
            if conv.state is not _C.WAITING:
                continue
            queue = self.acd.queues.get(conv.queue)
            if queue is None or conv.channel not in queue.channels:
                queue = self._queue_for(conv.channel, None)
                if queue is None:
                    continue
                conv.queue = queue.name
            able = [a for a in roomy if self._can_take(a, statuses[a.id], conv, queue)]
            fresh = [a for a in able if a.id not in conv.passed]
            if not fresh:
                # Everyone who could take it passed: again, once they have had a rest.
                fresh = [a for a in able if now - conv.passed[a.id] >= queue.offer_timeout]
            if not fresh:
                continue
            agent = self._pick(conv, fresh)
            self._offer(conv, queue, agent)
            if not self._has_room(agent, statuses[agent.id]):
                roomy.remove(agent)

    def _pick(self, conv: Conversation, agents: list[AgentConfig]) -> AgentConfig:
        for agent in agents:
            if agent.id == conv.preferred:
                return agent
        return min(agents, key=lambda a: (self.load_of(a.id), self._last_taken.get(a.id, 0.0),
                                          a.id))

    def _offer(self, conv: Conversation, queue: QueueConfig, agent: AgentConfig) -> None:
        conv.set_state(_C.OFFERED)
        offer = TextOffer(uuid.uuid4().hex, conv, agent.id, queue.offer_timeout)
        conv.offer_id = offer.id
        self._offers[offer.id] = offer
        self._hold(agent.id, conv.channel, +1)
        offer.cancel_timer = self.clock.call_later(queue.offer_timeout, self._lapsed, offer.id)
        self._last_taken[agent.id] = self.clock.now()
        log.info("conversation %d offered to agent %s (offer %s)", conv.id, agent.id, offer.id)
        self.acd.notify(agent.id, offer.message())

    def _lapsed(self, offer_id: str) -> None:
        offer = self._offers.get(offer_id)
        if offer is not None:
            log.info("agent %s let the offer of conversation %d lapse", offer.agent,
                     offer.conversation.id)
            self._withdraw(offer, "timeout", passed=True)

    def _withdraw(self, offer: TextOffer, reason: str, *, passed: bool) -> None:
        """End `offer`: its conversation waits again (unless closed); the agent is told."""
        if self._offers.pop(offer.id, None) is not None:
            self._hold(offer.agent, offer.conversation.channel, -1)
        if offer.cancel_timer is not None:
            offer.cancel_timer.cancel()
        conv = offer.conversation
        conv.offer_id = None
        if passed:
            conv.passed[offer.agent] = self.clock.now()
            queue = self.acd.queues.get(conv.queue)
            if queue is not None:  # look again when they may be offered it once more
                self.clock.call_later(queue.offer_timeout, self.kick)
        if conv.state is _C.OFFERED:
            conv.set_state(_C.WAITING)
        self.acd.notify(offer.agent, {"type": "conversation_offer_withdrawn",
                                      "offer_id": offer.id, "reason": reason})
        self.kick()
        self.acd.kick()

    def _agent_changed(self, status: AgentStatus) -> None:
        """A store state watcher: an agent who logs out gives their conversations back (they
        stay preferred); one who goes on a break loses their pending offers."""
        if status.state in _AWAY:
            for offer in [o for o in self._offers.values() if o.agent == status.agent_id]:
                self._withdraw(offer, "timeout", passed=False)
        agent_id = status.agent_id
        if status.state is AgentState.OFFLINE:
            if agent_id not in self._leaving:
                self._leaving[agent_id] = self.clock.call_later(
                    self.relogin_grace, self._gone, agent_id)
        else:
            timer = self._leaving.pop(agent_id, None)
            if timer is not None:  # back within the grace: their conversations stay theirs
                timer.cancel()
        self.kick()

    def _gone(self, agent_id: str) -> None:
        """The agent stayed logged out past the grace: their conversations wait again, with
        them as preferred agent."""
        self._leaving.pop(agent_id, None)
        for conv in self._convs.values():
            if conv.state is _C.ASSIGNED and conv.agent == agent_id:
                self._hold(agent_id, conv.channel, -1)
                conv.set_state(_C.WAITING)
                conv.agent = None
                conv.preferred = agent_id
                log.info("conversation %d back in queue %s: agent %s logged out", conv.id,
                         conv.queue, agent_id)
        self.kick()
        self.acd.kick()

    # -- the desk's commands ---------------------------------------------------------------------
    def _offer_of(self, agent_id: str, offer_id: object) -> TextOffer:
        offer = self._offers.get(offer_id) if isinstance(offer_id, str) else None
        if offer is None:
            raise TextRoutingError("bad_offer", "no such offer (it was withdrawn or taken)")
        if offer.agent != agent_id:
            raise TextRoutingError("not_yours", "this offer was made to another agent")
        return offer

    def _mine(self, agent_id: str, conversation_id: object) -> Conversation:
        conv = self._convs.get(conversation_id) if isinstance(conversation_id, int) else None
        if conv is None:
            raise TextRoutingError("no_conversation", f"no open conversation {conversation_id}")
        if conv.state is not _C.ASSIGNED or conv.agent != agent_id:
            raise TextRoutingError("not_yours", f"conversation {conv.id} is not assigned to you")
        return conv

    async def accept(self, agent_id: str, offer_id: str) -> Conversation:
        """The agent takes the offered conversation: it is theirs, and the case says so."""
        offer = self._offer_of(agent_id, offer_id)
        agent = self.acd.agents.get(agent_id)
        if agent is None:
            raise TextRoutingError("not_yours", f"no agent {agent_id}")
        # The offer counts in the load already; more than the limits means they changed
        # (an agent's capacity edited through the API) since it was made.
        status = await self.acd.store.agent_status(agent_id)
        channel = offer.conversation.channel
        if (self.load_of(agent_id, channel) > agent.capacity_for(channel)
                or self.load_of(agent_id) + self._voice_load(status) > agent.max_concurrent):
            self._withdraw(offer, "taken", passed=False)
            raise TextRoutingError("over_capacity", f"you are at your capacity for {channel}")
        if offer.id not in self._offers:  # withdrawn while the status was read
            raise TextRoutingError("bad_offer", "no such offer (it was withdrawn or taken)")
        self._offers.pop(offer.id, None)
        if offer.cancel_timer is not None:
            offer.cancel_timer.cancel()
        conv = offer.conversation
        conv.offer_id = None
        conv.set_state(_C.ASSIGNED)
        conv.agent = agent_id
        conv.preferred = None
        conv.passed.clear()
        log.info("conversation %d assigned to agent %s", conv.id, agent_id)
        self._tell_agent(conv)
        if self.cases is not None:
            try:
                await self.cases.set_text_interaction(conv.id, agent=agent_id, queue=conv.queue)
            except Exception:
                log.exception("conversation %d: the case did not record its agent", conv.id)
        # A caller of this case waiting in a queue after taking a chat link (handover) is
        # released now: their contact goes on here.
        try:
            await self.acd.release_deflected(conv.case_id)
        except Exception:
            log.exception("conversation %d: releasing the deflected caller failed", conv.id)
        return conv

    async def decline(self, agent_id: str, offer_id: str) -> None:
        """The agent refuses the offer: the next agent is offered it."""
        offer = self._offer_of(agent_id, offer_id)
        log.info("agent %s declined conversation %d", agent_id, offer.conversation.id)
        self._withdraw(offer, "declined", passed=True)

    def read(self, agent_id: str, conversation_id: int) -> Conversation:
        """The agent has read the conversation: unread back to 0."""
        conv = self._mine(agent_id, conversation_id)
        conv.unread = 0
        self._tell_agent(conv)
        return conv

    async def close(self, agent_id: str, conversation_id: int) -> Conversation:
        """The agent is done: the interaction ends on the case (the customer's next message
        opens a new conversation, offered first to this agent within `sticky_for`)."""
        conv = self._mine(agent_id, conversation_id)
        await self._end(conv, "completed")
        log.info("conversation %d closed by agent %s", conv.id, agent_id)
        return conv

    async def withdraw(self, conversation_id: int) -> bool:
        """End a live conversation in any state without an agent (its customer's data is
        being erased: `routing.erase`); False if there is none."""
        conv = self._convs.get(conversation_id)
        if conv is None:
            return False
        await self._end(conv, "erased")
        return True

    async def _end(self, conv: Conversation, outcome: str) -> None:
        if conv.offer_id is not None and conv.offer_id in self._offers:
            offer = self._offers[conv.offer_id]
            conv.set_state(_C.CLOSED)
            self._withdraw(offer, "closed", passed=False)
        elif conv.state is not _C.CLOSED:
            if conv.state is _C.ASSIGNED and conv.agent is not None:
                self._hold(conv.agent, conv.channel, -1)
            conv.set_state(_C.CLOSED)
        self._convs.pop(conv.id, None)
        self.stats.closed(conv.id, self.wall())
        if self.wall() - self._pruned >= PRUNE_EVERY:
            self._pruned = self.wall()
            self.stats.forget_before(self._pruned - KEEP_RECORDS)
        if conv.agent is not None:
            self.acd.notify(conv.agent, {"type": "conversation_closed", "id": conv.id})
        self.kick()
        self.acd.kick()
        if self.cases is not None:
            try:
                await self.cases.end_interaction(conv.id, outcome=outcome)
            except Exception as exc:  # already ended elsewhere: nothing to undo
                log.warning("conversation %d: ending its interaction failed: %s", conv.id,
                            type(exc).__name__)

    # -- views -----------------------------------------------------------------------------------
    def _tell_agent(self, conv: Conversation) -> None:
        if conv.state is _C.ASSIGNED and conv.agent is not None:
            self.acd.notify(conv.agent, {"type": "conversation", "conversation": conv.to_dict()})

    def conversation(self, conversation_id: int) -> Conversation | None:
        return self._convs.get(conversation_id)

    def conversations(self) -> list[Conversation]:
        """Every open conversation, in line order."""
        return sorted(self._convs.values(), key=lambda c: (-c.priority, c.seq))

    def conversations_of(self, agent_id: str) -> list[Conversation]:
        """The conversations assigned to the agent now, oldest first."""
        return [c for c in self.conversations()
                if c.state is _C.ASSIGNED and c.agent == agent_id]

    def offers_of(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's pending offers, as the `conversation_offer` messages sent for them."""
        return [o.message() for o in self._offers.values() if o.agent == agent_id]

    def live_cases(self, agent_id: str) -> set[int]:
        """The cases of the conversations offered to or assigned to the agent."""
        found = {c.case_id for c in self.conversations_of(agent_id)}
        return found | {o.conversation.case_id for o in self._offers.values()
                        if o.agent == agent_id}

    def live_agents(self, case_id: int) -> set[str]:
        """The agents a conversation of `case_id` is offered to or assigned to."""
        found = {c.agent for c in self._convs.values()
                 if c.case_id == case_id and c.agent is not None and c.state is _C.ASSIGNED}
        return found | {o.agent for o in self._offers.values()
                        if o.conversation.case_id == case_id}

    def figures(self, queue: str, *, since: float | None = None,
                until: float | None = None) -> dict[str, ChannelFigures]:
        """`queue`'s figures per text channel it serves (see routing.text_stats)."""
        cfg = self.acd.queues[queue]
        now = self.wall()
        records = self.stats.of_queue(queue)
        out: dict[str, ChannelFigures] = {}
        for channel in (c for c in cfg.channels if c in TEXT_CHANNELS):
            line: Iterable[float] = [c.enqueued_wall for c in self._convs.values()
                                     if c.queue == queue and c.channel == channel
                                     and c.state in (_C.WAITING, _C.OFFERED)]
            out[channel] = channel_figures(records, channel=channel, now=now, in_line=line,
                                           threshold=cfg.response_target(channel),
                                           since=since, until=until)
        return out
