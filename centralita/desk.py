"""`DeskHub`: the agent desks (browser softphones) as the ACD sees them, and the other way.

It implements `web.desk.protocol.DeskService` (what each desk's WebSocket drives) and the
browser half of routing's `Connector.ring_agent`: an offer is sent to the agent's desk; on
Answer the browser posts its WebRTC offer, the server answers it with a `WebRtcLeg`, and the
agent's `Call` (ACTIVE once media flows) goes back to the ACD, which bridges it to the caller.
Call controls (mute, hold, DTMF, transfer, consult, hang up) go to the agent's
`routing.session.AgentSession`; the wrap-up's disposition and notes are a note on the case.
A page opened (or reloaded) while its agent is on a call rejoins it: its new leg replaces the
old one in the session's bridge.

Cases and who may read them: desks see a case only by its public id (offers, call updates,
wrap-ups), never by its sequential key. The hub records on the case the agent a call is
connected to (`CaseStore.set_interaction_agent`, the stored fact behind `web.case_access`),
and answers `web.case_access.LiveCases`: the cases offered to an agent (ringing) or on their
call now.

Text conversations (chat, SMS, WhatsApp, email) are routing's `TextRouter`
(`routing.conversations`, found as `acd.text_router`): the hub turns the desk's four
conversation commands into its calls (its refusals into errors naming the field), puts the
agent's conversations and pending offers in `hello`, relays its `conversation*` messages
(sent through `acd.notify`, like calls') with the case's public id in place of the integer
one, and counts the cases of an agent's conversations and offers among their live cases
(they may read and write on them).

It sits in the composition root because it joins three packages (web's protocol, routing's
engine, voice's WebRTC leg) that don't import each other.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from cases.errors import CaseError
from cases.store import CaseStore
from cases.summary import short_text
from centralita.desk_relay import DeskRelay
from common.tasks import cancel
from media.ticker import MediaTicker
from routing.acd import Acd
from routing.admin import AcdService
from routing.channels import NotConnected, Offer
from routing.conversations import TextRouter
from routing.model import AgentConfig, AgentState, AgentStateError, AgentStatus, RoutingError
from routing.session import SessionError, Target
from routing.text_model import TextRoutingError
from voice.call import Call
from voice.webrtc.call_leg import answer_browser, until_connected, watch
from voice.webrtc.errors import WebRtcError
from web.desk.protocol import (
    Accept,
    AgentTarget,
    Consult,
    ConsultCancel,
    ConsultComplete,
    ConversationAccept,
    ConversationClose,
    ConversationDecline,
    ConversationRead,
    Decline,
    DeskCommand,
    DeskError,
    DeskLink,
    DeskProtocolError,
    Hangup,
    Hold,
    Mute,
    Rejoin,
    SendDtmf,
    SetState,
    Transfer,
    Wrapup,
    parse_command,
)

log = logging.getLogger(__name__)

_NO_MEDIA = "the browser's media did not connect"


# Connected phases of a call (routing.session.Phase): the agent took it.
_TAKEN = frozenset({"connected", "held", "consulting"})

@dataclass
class _Pending:
    agent_id: str
    answer: asyncio.Future[str | None]  # the browser's SDP, or None for a decline
    case_id: int | None = None


class DeskHub:
    """The open desks by agent id, their offers, and their commands."""

    def __init__(
        self, acd: Acd, service: AcdService, *, ticker: MediaTicker,
        cases: CaseStore | None, host_addresses: Sequence[str] | None,
    ) -> None:
        self.acd = acd
        self.service = service
        self.ticker = ticker
        self.cases = cases
        self.host_addresses = host_addresses
        self.links: dict[str, DeskLink] = {}
        self._offers: dict[str, _Pending] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # The server is stopping: a desk closing now did not leave (`stopping`).
        self._stopping = False
        # Desks on other nodes (centralita.desk_relay), when nodes share Redis.
        self.relay: DeskRelay | None = None
        self._public_ids: dict[int, str] = {}  # case id -> public id (they never change)
        self._recorded: set[tuple[str, str]] = set()  # (call id, agent) stored on the case
        self._coached: dict[str, dict[str, str]] = {}  # agent -> {call_id, mode} of a supervisor
        # The last send to each desk still waiting for a public id: later messages queue
        # behind it so a desk gets them in the order routing said them.
        self._tails: dict[str, asyncio.Future[Any]] = {}
        acd.listeners.append(self._routing_event)
        watchers = getattr(acd.store, "state_watchers", None)
        if isinstance(watchers, list):
            watchers.append(self._state_changed)

    def online(self, agent_id: str) -> bool:
        """Whether the agent has a desk open, here or on another node."""
        return agent_id in self.links or (
            self.relay is not None and self.relay.node_of(agent_id) is not None)

    @property
    def text(self) -> TextRouter | None:
        """Routing's text router (it registers itself on the ACD), None without one."""
        router = self.acd.text_router
        return router if isinstance(router, TextRouter) else None

    # -- web.case_access.LiveCases --------------------------------------------------------------
    def live_cases(self, agent_id: str) -> Collection[int]:
        """The cases offered to `agent_id` (ringing) or on their call (taken or consulted)."""
        found = {p.case_id for p in self._offers.values()
                 if p.agent_id == agent_id and p.case_id is not None and not p.answer.done()}
        for talking, session in self.acd.sessions.items():
            consulted = session.consulted.id if session.consulted is not None else None
            case_id = session.context.get("case_id")
            if agent_id in (talking, consulted) and isinstance(case_id, int):
                found.add(case_id)
        if self.text is not None:
            found.update(self.text.live_cases(agent_id))
        return found

    def live_agents(self, case_id: int) -> Collection[str]:
        """The agents a call of `case_id` rings for or is with now."""
        found = {p.agent_id for p in self._offers.values()
                 if p.case_id == case_id and not p.answer.done()}
        for talking, session in self.acd.sessions.items():
            if session.context.get("case_id") == case_id:
                found.add(talking)
                if session.consulted is not None:
                    found.add(session.consulted.id)
        if self.text is not None:
            found.update(self.text.live_agents(case_id))
        return found

    # -- public case ids ------------------------------------------------------------------------
    async def _public_id(self, case_id: int | None) -> str | None:
        """The public id of `case_id` (what the page may see), None if there is none."""
        if case_id is None or self.cases is None:
            return None
        known = self._public_ids.get(case_id)
        if known is not None:
            return known
        try:
            public = await self.cases.public_id(case_id)
        except CaseError as exc:
            log.warning("case %s: no public id for the desk: %s", case_id, exc)
            return None
        self._public_ids[case_id] = public
        return public

    async def _with_public_id(self, message: dict[str, Any]) -> dict[str, Any]:
        """`message` with the public id in place of each integer case id it carries: its own
        `case_id`, and its `conversation`'s (a text conversation's messages)."""
        conversation = message.get("conversation")
        if isinstance(conversation, dict) and isinstance(conversation.get("case_id"), int):
            message = {**message, "conversation": {
                **conversation, "case_id": await self._public_id(conversation["case_id"])}}
        case_id = message.get("case_id")
        if "case_id" not in message or (case_id is not None and not isinstance(case_id, int)):
            return message
        return {**message, "case_id": await self._public_id(case_id)}

    def _known_public(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """`message` with public case ids from what is known already; None if one needs a
        look-up first."""
        out = message
        conversation = message.get("conversation")
        if isinstance(conversation, dict) and isinstance(conversation.get("case_id"), int):
            public = self._public_ids.get(conversation["case_id"])
            if public is None:
                return None
            out = {**out, "conversation": {**conversation, "case_id": public}}
        case_id = message.get("case_id")
        if isinstance(case_id, int):
            public = self._public_ids.get(case_id)
            if public is None:
                return None
            out = {**out, "case_id": public}
        return out

    def _record_agent(self, agent_id: str, message: dict[str, Any]) -> None:
        """Store who took a call on its case, once per call and agent."""
        call_id, case_id = message.get("call_id"), message.get("case_id")
        if message.get("type") != "call" or self.cases is None or not isinstance(call_id, str) \
                or case_id is None or message.get("role") == "consulted":
            return
        key = (call_id, agent_id)
        if message.get("phase") == "ended":
            self._recorded.discard(key)
        elif message.get("phase") in _TAKEN and key not in self._recorded:
            self._recorded.add(key)
            self._spawn(self._store_agent(call_id, agent_id))

    async def _store_agent(self, call_id: str, agent_id: str) -> None:
        assert self.cases is not None
        try:
            await self.cases.set_interaction_agent(call_id, agent_id)
        except CaseError as exc:
            log.warning("call %s: agent %s not recorded on its case: %s", call_id, agent_id, exc)

    # -- pushing to desks -----------------------------------------------------------------------
    def _push(self, agent_id: str, message: dict[str, Any]) -> None:
        link = self.links.get(agent_id)
        if link is None:
            if self.relay is not None and self.relay.node_of(agent_id) is not None:
                self._spawn(self._relay_push(agent_id, message))
            return
        # A text offer waits for its case's summary (`_with_summary`), in order like a look-up.
        known = None if message.get("type") == "conversation_offer" \
            else self._known_public(message)
        if known is not None and agent_id not in self._tails:
            self._spawn(link.send(known))
            return
        # A case not seen yet (no offer went before): look its public id up, and keep what
        # follows for this desk behind it, in order.
        previous = self._tails.get(agent_id)
        tail = asyncio.ensure_future(self._send_public(link, message, previous))
        self._tails[agent_id] = tail
        self._tasks.add(tail)
        tail.add_done_callback(self._tasks.discard)
        tail.add_done_callback(lambda done: self._drop_tail(agent_id, done))

    def _drop_tail(self, agent_id: str, done: asyncio.Future[Any]) -> None:
        if self._tails.get(agent_id) is done:
            del self._tails[agent_id]

    async def _send_public(
        self, link: DeskLink, message: dict[str, Any], after: asyncio.Future[Any] | None
    ) -> None:
        if after is not None:
            await asyncio.gather(after, return_exceptions=True)
        await link.send(await self._with_public_id(await self._with_summary(message)))

    async def _with_summary(self, message: dict[str, Any]) -> dict[str, Any]:
        """A text offer with its case's latest summary (`summary`: the call before, what the
        customer said and gave): the agent sees why they write before accepting."""
        conversation = message.get("conversation")
        if message.get("type") != "conversation_offer" or self.cases is None \
                or not isinstance(conversation, dict) \
                or not isinstance(conversation.get("case_id"), int):
            return message
        try:
            timeline = await self.cases.timeline(conversation["case_id"])
        except CaseError as exc:
            log.warning("case %s: no summary for the offer: %s", conversation["case_id"], exc)
            return message
        summary = timeline.get("summary")
        if not isinstance(summary, dict):
            return message
        return {**message, "summary": short_text(summary)}

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _routing_event(self, agent_id: str, message: dict[str, Any]) -> None:
        self._record_agent(agent_id, message)
        self._push(agent_id, message)

    def _state_changed(self, status: AgentStatus) -> None:
        self._push(status.agent_id, {"type": "state", **_state(status, self.acd.clock.now())})
        self._push_directory()

    def _push_directory(self) -> None:
        if self.links:
            self._spawn(self._send_directory())

    async def _send_directory(self) -> None:
        """The same directory to every open desk: built once per change, not once per desk."""
        message = {"type": "directory", **await self._directory()}
        for link in list(self.links.values()):
            await link.send(message)

    async def _directory(self) -> dict[str, Any]:
        statuses = await self.acd.store.statuses()
        agents = [{"id": a.id, "name": a.name or a.id,
                   "state": statuses[a.id].state.value if a.id in statuses else "offline"}
                  for a in self.acd.agents.values()]
        return {"agents": agents, "queues": sorted(self.acd.queues)}

    # -- DeskService ----------------------------------------------------------------------------
    async def connect(self, link: DeskLink) -> None:
        old = self.links.get(link.agent_id)
        self.links[link.agent_id] = link
        if self.relay is not None:
            await self.relay.claim(link.agent_id)  # offers from other nodes come here now
        if old is not None and old is not link:
            log.info("agent %s: desk replaced by a new one", link.agent_id)
        agent = self.acd.agents.get(link.agent_id)
        status = await self.acd.store.agent_status(link.agent_id)
        session = self.acd.sessions.get(link.agent_id)
        await link.send({
            "type": "hello",
            "agent": {"id": link.agent_id, "name": (agent.name or agent.id) if agent else None,
                      "configured": agent is not None},
            "state": _state(status, self.acd.clock.now()),
            "call": None if session is None
            else await self._with_public_id({"type": "call", **session.view()}),
            "directory": await self._directory(),
            "coached": self._coached.get(link.agent_id) if session is not None
            and self._coached.get(link.agent_id, {}).get("call_id") == session.caller.id
            else None,
            **await self._text_hello(link.agent_id),
        })

    async def _text_hello(self, agent_id: str) -> dict[str, Any]:
        """The agent's text conversations and the offers waiting for their answer."""
        if self.text is None:
            return {"conversations": [], "conversation_offers": []}
        conversations = [c.to_dict() for c in self.text.conversations_of(agent_id)]
        offers = self.text.offers_of(agent_id)
        return {
            "conversations": [(await self._with_public_id({"conversation": c}))["conversation"]
                              for c in conversations],
            "conversation_offers": [await self._with_public_id(await self._with_summary(o))
                                    for o in offers],
        }

    async def disconnect(self, link: DeskLink) -> None:
        if self.links.get(link.agent_id) is not link:
            return
        del self.links[link.agent_id]
        if self.relay is not None:
            await self.relay.release(link.agent_id)
        for pending in list(self._offers.values()):
            if pending.agent_id == link.agent_id and not pending.answer.done():
                pending.answer.set_result(None)
        if self._stopping:
            return
        # A closed desk can't take calls: an idle agent goes offline (one on a call stays).
        status = await self.acd.store.agent_status(link.agent_id)
        if status.state in (AgentState.AVAILABLE, AgentState.BREAK, AgentState.WRAP_UP):
            self.acd.cancel_wrapup(link.agent_id)
            await self.acd.store.transition(link.agent_id, AgentState.OFFLINE,
                                            now=self.acd.clock.now(),
                                            expect=frozenset({status.state}))

    async def command(self, link: DeskLink, message: DeskCommand) -> None:
        agent_id = link.agent_id
        if self.relay is not None:
            owner = self.relay.owner_of(agent_id, message, local=self._serves(agent_id, message))
            if owner is not None:
                await self.relay.forward(owner, agent_id, message)
                return
        try:
            await self._command(agent_id, link, message)
        except SessionError as exc:
            raise DeskError("not_now", str(exc)) from exc
        except AgentStateError as exc:
            raise DeskError("illegal_state", str(exc), "state") from exc
        except KeyError as exc:
            raise DeskError("not_an_agent", f"{agent_id} is not configured as an agent") from exc
        except RoutingError as exc:
            raise DeskError("refused", str(exc)) from exc

    def _serves(self, agent_id: str, message: DeskCommand) -> bool:
        """Whether this node has the offer, call or wrap-up `message` acts on."""
        if isinstance(message, Accept | Decline):
            return message.offer_id in self._offers
        if isinstance(message, Wrapup):
            return agent_id in self.acd.last_calls or agent_id in self.acd.sessions
        return agent_id in self.acd.sessions

    async def _command(self, agent_id: str, link: DeskLink | None,
                       message: DeskCommand) -> None:
        if isinstance(message, SetState):
            state = AgentState(message.state)
            await self.service.set_agent_state(agent_id, state, message.reason)
        elif isinstance(message, Accept | Decline):
            pending = self._offers.get(message.offer_id)
            if pending is None or pending.agent_id != agent_id or pending.answer.done():
                raise DeskError("no_offer", "that offer is not open any more", "offer_id")
            pending.answer.set_result(message.sdp if isinstance(message, Accept) else None)
        elif isinstance(message, Wrapup):
            await self._wrapup(agent_id, message)
        elif isinstance(message, Rejoin):
            await self._rejoin(agent_id, message)
        elif isinstance(message, ConversationAccept | ConversationDecline | ConversationRead
                        | ConversationClose):
            await self._conversation_command(agent_id, message)
        else:
            self._session_command(agent_id, message)

    async def _conversation_command(
        self, agent_id: str,
        message: ConversationAccept | ConversationDecline | ConversationRead | ConversationClose,
    ) -> None:
        """A text conversation command, to routing's `TextRouter`, which tells the desk the
        outcome itself (`conversation` / `conversation_closed` through `acd.notify`); its
        refusals come back as errors naming the command's field. A read also marks the
        customer's messages read on the case (`CaseStore.mark_read`)."""
        router = self.text
        if router is None:
            raise DeskError("no_text_routing", "text conversations are not routed on this server")
        try:
            if isinstance(message, ConversationAccept):
                await router.accept(agent_id, message.offer_id)
            elif isinstance(message, ConversationDecline):
                await router.decline(agent_id, message.offer_id)
            elif isinstance(message, ConversationRead):
                router.read(agent_id, message.id)
                await self._mark_read(message.id)
            else:
                await router.close(agent_id, message.id)
        except TextRoutingError as exc:
            offer = isinstance(message, ConversationAccept | ConversationDecline)
            raise DeskError(exc.code, exc.message, "offer_id" if offer else "id") from exc

    async def _mark_read(self, conversation_id: int) -> None:
        """The customer's messages of the conversation become `read` on the case (the chat
        widget shows it to the visitor); a store that fails costs the receipt, not the read."""
        if self.cases is None:
            return
        try:
            await self.cases.mark_read(conversation_id)
        except CaseError as exc:
            log.warning("conversation %s: read receipts not stored: %s", conversation_id, exc)

    def _session_command(self, agent_id: str, message: DeskCommand) -> None:
        session = self.acd.sessions.get(agent_id)
        if session is None:
            raise DeskError("no_call", "there is no call to act on")
        if isinstance(message, Mute):
            session.mute(message.on)
        elif isinstance(message, Hold):
            session.hold(message.on)
        elif isinstance(message, SendDtmf):
            session.dtmf(message.digits)
        elif isinstance(message, Hangup):
            session.hangup()
        elif isinstance(message, Transfer):
            if isinstance(message.to, AgentTarget):
                self._agent(message.to.agent, "to.agent")
                session.transfer(Target("agent", message.to.agent))
            else:
                if message.to.queue not in self.acd.queues:
                    raise DeskError("unknown_target", f"no queue {message.to.queue!r}",
                                    "to.queue")
                session.transfer(Target("queue", message.to.queue))
        elif isinstance(message, Consult):
            session.consult(self._agent(message.to.agent, "to.agent"))
        elif isinstance(message, ConsultComplete):
            session.consult_complete()
        elif isinstance(message, ConsultCancel):
            session.consult_cancel()
        else:
            raise DeskError("unsupported", f"{type(message).__name__} is not handled")

    def _agent(self, agent_id: str, where: str) -> AgentConfig:
        agent = self.acd.agents.get(agent_id)
        if agent is None:
            raise DeskError("unknown_target", f"no agent {agent_id!r}", where)
        return agent

    async def _wrapup(self, agent_id: str, message: Wrapup) -> None:
        call_id, case_id = self.acd.last_calls.get(agent_id, ("", None))
        if case_id is not None and self.cases is not None:
            text = f"Disposition: {message.disposition}."
            if message.notes.strip():
                text += f"\n{message.notes.strip()}"
            await self.cases.add_note(case_id, author=agent_id, text=text)
        await self.acd.finish_wrapup(agent_id)
        await self._send(agent_id, {"type": "wrapup_saved", "call_id": call_id,
                                    "case_id": await self._public_id(case_id)})

    def coached(self, agent_id: str, call_id: str, mode: str | None) -> None:
        """Tell the agent's desk a supervisor is on their call (`mode`: listen, whisper or
        barge) or has left it (None), so the page can show they are being coached. Kept, so
        a desk opened again during the call is told in its hello."""
        if mode is None:
            self._coached.pop(agent_id, None)
        else:
            self._coached[agent_id] = {"call_id": call_id, "mode": mode}
        self._push(agent_id, {"type": "coached", "call_id": call_id, "mode": mode})

    async def _send(self, agent_id: str, message: dict[str, Any]) -> None:
        link = self.links.get(agent_id)
        if link is not None:
            await link.send(message)
        elif self.relay is not None:
            await self._relay_push(agent_id, message)

    async def _relay_push(self, agent_id: str, message: dict[str, Any]) -> None:
        """To the agent's desk on another node, with public case ids (its page sees no other)."""
        assert self.relay is not None
        await self.relay.push(agent_id,
                              await self._with_public_id(await self._with_summary(message)))

    # -- desks on other nodes (centralita.desk_relay) ------------------------------------------
    async def deliver(self, agent_id: str, message: dict[str, Any]) -> None:
        """A message another node relays to this node's desk of `agent_id`."""
        link = self.links.get(agent_id)
        if link is not None:
            await link.send(message)

    async def remote_command(self, agent_id: str, data: dict[str, Any],
                             reply: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """A desk command relayed from the node holding the agent's desk, for an offer or a
        call of this node; a refusal goes back to that desk as an error."""
        try:
            await self._command(agent_id, None, parse_command(data))
        except DeskProtocolError as exc:
            await reply({"type": "error", **exc.to_json()})
        except DeskError as exc:
            await reply({"type": "error", **exc.to_json()})
        except (SessionError, AgentStateError, KeyError, RoutingError) as exc:
            await reply({"type": "error", "code": "refused", "message": str(exc)})

    # -- offers (routing's Connector, for agents at a desk) -------------------------------------
    async def ring_agent(
        self, agent: AgentConfig, offer: Offer, *, ring_timeout: float, for_call: Call | None,
    ) -> Call | NotConnected:
        link = self.links.get(agent.id)
        if link is None and not self.online(agent.id):
            return NotConnected("unavailable", f"agent {agent.id} has no desk open")
        offer_id = uuid.uuid4().hex
        pending = _Pending(agent.id, asyncio.get_running_loop().create_future(), offer.case_id)
        self._offers[offer_id] = pending
        try:
            # A desk on another node gets it relayed; its answer comes back the same way, and
            # the browser's leg is made here, with this node's media (centralita.desk_relay).
            await self._send(agent.id, {
                "type": "offer", "offer_id": offer_id, "kind": offer.kind,
                "call_id": offer.call_id, "queue": offer.queue, "caller": offer.caller,
                "case_id": await self._public_id(offer.case_id), "timeout": ring_timeout,
                "ivr_inputs": await self._ivr_inputs(offer), "from_agent": offer.from_agent,
                "repeat": offer.repeat.to_dict() if offer.repeat is not None else None,
            })
            sdp = await self._wait_answer(pending, ring_timeout, for_call)
            if isinstance(sdp, NotConnected):
                await self._send(agent.id, {"type": "offer_withdrawn", "offer_id": offer_id,
                                            "reason": sdp.result})
                return sdp
            return await self._answer(agent, offer_id, sdp)
        except asyncio.CancelledError:
            # Routing withdrew the offer (the caller hung up or took a callback first): the
            # page stops ringing now rather than at its own timeout.
            self._push(agent.id, {"type": "offer_withdrawn", "offer_id": offer_id,
                                  "reason": "withdrawn"})
            raise
        finally:
            self._offers.pop(offer_id, None)

    async def _wait_answer(
        self, pending: _Pending, ring_timeout: float, for_call: Call | None
    ) -> str | NotConnected:
        waits: set[asyncio.Future[Any]] = {pending.answer}
        gone = asyncio.ensure_future(for_call.wait_ended()) if for_call is not None else None
        if gone is not None:
            waits.add(gone)
        try:
            done, _ = await asyncio.wait(waits, timeout=ring_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            if gone is not None:
                await cancel(gone)
        if pending.answer in done:
            sdp = pending.answer.result()
            return NotConnected("declined", "the agent declined") if sdp is None else sdp
        if gone is not None and gone in done:
            return NotConnected("abandoned", "the caller hung up while it rang")
        return NotConnected("no-answer", f"not answered within {ring_timeout:g} s")

    async def _answer(self, agent: AgentConfig, offer_id: str, sdp: str) -> Call | NotConnected:
        leg = await self._browser_leg(agent.id, sdp, {"offer_id": offer_id})
        return NotConnected("failed", leg) if isinstance(leg, str) else leg

    async def _browser_leg(self, agent_id: str, sdp: str, ref: dict[str, str]) -> Call | str:
        """Answer the browser's WebRTC offer (`ref` says what for, in `answer_sdp`): the
        agent's connected leg, or why there is none."""
        try:
            call, answer_sdp = await answer_browser(
                sdp, ticker=self.ticker, agent_id=agent_id, host_addresses=self.host_addresses)
        except (WebRtcError, ValueError) as exc:
            log.warning("agent %s: the browser's offer was refused: %s", agent_id, exc)
            await self._send(agent_id, {"type": "error", "code": "bad_offer",
                                        "message": str(exc), "where": "sdp"})
            return f"bad WebRTC offer: {exc}"
        await self._send(agent_id, {"type": "answer_sdp", **ref, "sdp": answer_sdp})
        try:
            connected = await until_connected(call)
        except asyncio.CancelledError:
            call.hangup("withdrawn")  # a leg nobody will bridge: not left open to the page
            raise
        if not connected:
            return _NO_MEDIA
        self._spawn(watch(call))
        return call

    async def _rejoin(self, agent_id: str, message: Rejoin) -> None:
        """A new page for an agent on a call: its leg takes the old one's place."""
        session = self.acd.sessions.get(agent_id)
        if session is None or session.caller.id != message.call_id:
            raise DeskError("no_call", "that call is over or not yours", "call_id")
        if not session.rejoinable:
            raise DeskError("not_now", f"cannot rejoin a call that is {session.phase.value}")
        leg = await self._browser_leg(agent_id, message.sdp, {"rejoin": message.call_id})
        if leg == _NO_MEDIA:
            raise DeskError("no_media", leg)
        if isinstance(leg, str):
            return  # the page was told why (bad_offer)
        if self.acd.sessions.get(agent_id) is not session or not session.rejoinable:
            leg.hangup("rejoin-too-late")
            raise DeskError("no_call", "the call ended while the page reconnected", "call_id")
        old = session.replace_agent_call(leg)
        old.hangup("desk-rejoined")
        self._spawn(self.acd.bridged(session.caller, leg))
        log.info("agent %s: desk rejoined call %s", agent_id, message.call_id)

    async def _ivr_inputs(self, offer: Offer) -> list[dict[str, Any]]:
        """What the caller gave the IVR on this call (already masked where sensitive)."""
        if self.cases is None or offer.case_id is None:
            return []
        try:
            timeline = await self.cases.timeline(offer.case_id)
        except Exception:
            log.exception("case %s: timeline for the screen pop", offer.case_id)
            return []
        for interaction in timeline.get("interactions", []):
            if interaction.get("call_id") == offer.call_id:
                return [{"kind": e.get("kind"), "value": e.get("value"), "step": e.get("step")}
                        for e in interaction.get("ivr_events", [])]
        return []

    def stopping(self) -> None:
        """The server is shutting down: the desks it closes now were not closed by their
        agents, so nobody is set offline. With a shared routing store the agents' states wait
        for their pages to reconnect (to the restarted node or another); in process they end
        with the process anyway."""
        self._stopping = True

    async def close(self) -> None:
        for pending in self._offers.values():
            if not pending.answer.done():
                pending.answer.set_result(None)
        await cancel(*self._tasks)


def _state(status: AgentStatus, now: float) -> dict[str, Any]:
    return {"state": status.state.value, "reason": status.reason,
            "since": round(max(0.0, now - status.since), 1)}
