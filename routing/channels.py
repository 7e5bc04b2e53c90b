"""How routing's decisions are carried out: the calls it places and joins.

Routing decides, voice executes (DESIGN.md). The engine asks a `Connector` to ring an agent
(a desk phone or softphone over SIP today, a browser leg when the agent desk lands), to call a
customer back, to play ringback, and to bridge two answered calls. `centralita.sip_connector.SipConnector`
is the SIP implementation. A `CaseLog` writes what happened to a callback onto the customer's
case.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from routing.model import AgentConfig
    from routing.repeat import Repeat
    from routing.session import Bridged
    from voice.call import Call

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotConnected:
    """Why a call routing placed was not answered: `no-answer`, `busy`, `failed`,
    `unavailable` (no way to reach the party) or `abandoned` (the caller left meanwhile)."""

    result: str
    reason: str = ""


@dataclass(frozen=True)
class Offer:
    """What an agent is offered: `kind` call, callback, transfer or consult; the caller's
    number (personal data: shown to the agent, never logged) and the case for the screen pop;
    `repeat` when the customer is making a repeat contact (routing.repeat)."""

    kind: str
    call_id: str
    queue: str
    caller: str
    case_id: int | None = None
    from_agent: str | None = None
    repeat: Repeat | None = None


@dataclass(frozen=True)
class Joined:
    """How a bridge ended: its length and who hung up first (`caller`/`agent`, or None)."""

    duration: float
    hung_up_by: str | None


class Connector(Protocol):
    async def ring_agent(
        self, agent: AgentConfig, offer: Offer, *, ring_timeout: float, for_call: Call | None,
    ) -> Call | NotConnected:
        """Offer to `agent`: their answered call, or why not. `for_call`'s hang-up aborts."""
        ...

    async def ring_customer(self, number: str, *, ring_timeout: float) -> Call | NotConnected:
        """Call a customer back on `number`."""
        ...

    def ringback(self, call: Call, on: bool) -> None:
        """Start or stop ringback tone on `call` (an agent waiting for the customer)."""
        ...

    def bridge(self, a: Call, b: Call, names: tuple[str, str]) -> Bridged:
        """Join two answered calls' audio (ValueError if one cannot be bridged)."""
        ...


class CaseLog(Protocol):
    async def case_of_call(self, call: Call) -> int | None:
        """The case the call is on (opening its interaction if nothing else has yet)."""
        ...

    async def note(self, case_id: int, text: str) -> None:
        """Add a routing note to the case's timeline."""
        ...


async def case_of(cases: CaseLog | None, call: Call) -> int | None:
    """The call's case, or None when there is no case log or it fails (logged): routing goes
    on without the case rather than fail a caller over it."""
    if cases is None:
        return None
    try:
        return await cases.case_of_call(call)
    except Exception:
        log.exception("call %s: its case is not known", call.id)
        return None
