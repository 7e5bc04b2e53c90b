"""`SipConnector`: routing's calls carried out over SIP (`routing.channels.Connector`); it sits in
the composition root because it joins routing's interface to voice's calls.

Agents are reached at their configured `contact` URI (a desk phone, a softphone) or, without
one, at what `sip:<agent id>@<our host>` registered last with our registrar. Customers are
called back through the trunk (`sip:<E.164>@<trunk>`) when the dial plan allows the number
(`voice.dialplan`; a callback's number is the caller's, so a SIP URI is refused). What is not
answered, or not dialed, comes back as a `NotConnected` with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from media.player import ringback
from routing.channels import NotConnected, Offer
from routing.model import AgentConfig
from voice.bridging import RATE, CallBridge, media_of
from voice.call import Call, CallState
from voice.dialplan import DialPlan, DialRefused
from voice.outbound import Dialer, RingFailure, ring

log = logging.getLogger(__name__)


class Contacts(Protocol):
    """Where a registered AOR can be reached (`voice.sip.registrar.Registrar.lookup`)."""

    def __call__(self, aor: str) -> list[str]: ...


class SipConnector:
    """Rings agents and customers with the `CallManager` and bridges the answered calls.

    `plan` is the server's dial plan; without one, the default plan with `trunk_host`."""

    def __init__(
        self, calls: Callable[[], Dialer | None], *, host: str,
        contacts: Contacts | None = None, trunk_host: str | None = None,
        plan: DialPlan | None = None,
    ) -> None:
        self._calls = calls
        self._host = host
        self._contacts = contacts
        self._plan = plan if plan is not None else DialPlan(trunk=trunk_host)

    def agent_uri(self, agent: AgentConfig) -> str | None:
        if agent.contact:
            return agent.contact
        if self._contacts is None:
            return None
        found = self._contacts(f"sip:{agent.id}@{self._host}")
        return found[0] if found else None

    async def ring_agent(
        self, agent: AgentConfig, offer: Offer, *, ring_timeout: float, for_call: Call | None,
    ) -> Call | NotConnected:
        uri = self.agent_uri(agent)
        if uri is None:
            return NotConnected("unavailable", f"agent {agent.id} has no contact or registration")
        # What the desk phone shows: the caller's number, or what kind of offer this is.
        shown = offer.caller if offer.kind in ("call", "transfer") else offer.kind
        user = shown if shown.isalnum() else "centralita"
        return await self._ring(uri, f"sip:{user}@{self._host}", ring_timeout, for_call)

    async def ring_customer(self, number: str, *, ring_timeout: float) -> Call | NotConnected:
        try:
            uri = self._plan.customer_uri(number)
        except DialRefused as exc:
            # The last gate before the trunk: callbacks stored before the plan (or by a
            # routing engine without one) are checked here too.
            log.warning("customer not called: the dial plan refuses it: %s", exc.reason)
            return NotConnected("refused", exc.reason)
        return await self._ring(uri, f"sip:centralita@{self._host}", ring_timeout, None)

    async def _ring(
        self, uri: str, from_uri: str, ring_timeout: float, for_call: Call | None
    ) -> Call | NotConnected:
        dialer = self._calls()
        if dialer is None:
            return NotConnected("unavailable", "the call manager is not running")
        outcome = await ring(dialer, uri, from_uri=from_uri, ring_timeout=ring_timeout,
                             for_call=for_call)
        if isinstance(outcome, RingFailure):
            return NotConnected(outcome.result, outcome.reason)
        return outcome

    def ringback(self, call: Call, on: bool) -> None:
        media = media_of(call)
        if media is not None and call.state is not CallState.ENDED:
            media.play(ringback(RATE) if on else None)

    def bridge(self, a: Call, b: Call, names: tuple[str, str]) -> CallBridge:
        dialer = self._calls()
        if dialer is None:
            raise ValueError("the call manager is not running")
        return CallBridge(dialer.clock, a, b, names=names).start()


class DeskRinger(Protocol):
    """The agent desks' side of ringing (`centralita.desk.DeskHub`)."""

    def online(self, agent_id: str) -> bool: ...

    async def ring_agent(
        self, agent: AgentConfig, offer: Offer, *, ring_timeout: float, for_call: Call | None,
    ) -> Call | NotConnected: ...


class AgentConnector(SipConnector):
    """Rings an agent at their browser desk when it is open, at their SIP phone otherwise."""

    desks: DeskRinger | None = None

    async def ring_agent(
        self, agent: AgentConfig, offer: Offer, *, ring_timeout: float, for_call: Call | None,
    ) -> Call | NotConnected:
        if self.desks is not None and self.desks.online(agent.id):
            return await self.desks.ring_agent(agent, offer, ring_timeout=ring_timeout,
                                               for_call=for_call)
        return await super().ring_agent(agent, offer, ring_timeout=ring_timeout,
                                        for_call=for_call)
