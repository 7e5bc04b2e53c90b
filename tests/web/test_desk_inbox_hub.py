"""The desk's text-conversation commands and messages: the protocol's four commands (and what
bad input gets), and `centralita.desk.DeskHub` between the desk and routing's real
`TextRouter` on the ACD rig (fake clock, no browser) over a real case store (SQLite and
PostgreSQL) and its event bus: an inbound SMS is offered to the agent's desk with the case's
public id, `hello` carries the agent's conversations and offers, the agent's commands reach the
router (a read marks the customer's messages read on the case) and its refusals come back as
errors naming the field, and the cases of an agent's conversations and offers are among their
live cases (they may read and write on them) until closed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.store import CaseStore
from centralita.desk import DeskHub
from media.ticker import MediaTicker
from routing.conversations import TextRouter
from routing.model import AgentConfig, AgentState
from tests.helpers.databases import database_fixtures
from tests.routing.acd_rig import Factory, make_rig, queue
from web.desk.protocol import (
    ConversationAccept,
    ConversationClose,
    ConversationDecline,
    ConversationRead,
    DeskError,
    DeskProtocolError,
    parse_command,
    parse_command_text,
)

__all__ = ["make_rig"]  # the ACD rig's fixture
pg_database, db_url = database_fixtures("centralita_desk_inbox", "inbox.db")

# --- the protocol ---------------------------------------------------------------------------

GOOD = [
    ({"type": "conversation_accept", "offer_id": "co-1"}, ConversationAccept("co-1")),
    ({"type": "conversation_decline", "offer_id": "co-1"}, ConversationDecline("co-1")),
    ({"type": "conversation_read", "id": 12}, ConversationRead(12)),
    ({"type": "conversation_close", "id": 9_007_199_254_740_991}, ConversationClose(2**53 - 1)),
]


def test_conversation_commands_round_trip() -> None:
    for raw, expected in GOOD:
        assert parse_command(raw) == expected
        assert parse_command_text(json.dumps(raw)).to_json() == raw


@pytest.mark.parametrize(("raw", "where", "says"), [
    ({"type": "conversation_accept"}, "offer_id", "offer_id is required"),
    ({"type": "conversation_accept", "offer_id": 7}, "offer_id", "must be a string"),
    ({"type": "conversation_decline", "offer_id": ""}, "offer_id", "1-128 characters"),
    ({"type": "conversation_decline", "offer_id": "a b"}, "offer_id", "an offer id"),
    ({"type": "conversation_accept", "offer_id": "x", "sdp": "v=0"}, "sdp", "unknown field"),
    ({"type": "conversation_read"}, "id", "id is required"),
    ({"type": "conversation_read", "id": "12"}, "id", "must be an integer id"),
    ({"type": "conversation_read", "id": True}, "id", "must be an integer id"),
    ({"type": "conversation_read", "id": 1.5}, "id", "must be an integer id"),
    ({"type": "conversation_close", "id": 0}, "id", "between 1 and"),
    ({"type": "conversation_close", "id": -3}, "id", "between 1 and"),
    ({"type": "conversation_close", "id": 2**64}, "id", "between 1 and"),
    ({"type": "conversation_close", "id": None}, "id", "must be an integer id"),
])
def test_bad_conversation_commands_name_the_field(raw: dict[str, Any], where: str,
                                                    says: str) -> None:
    with pytest.raises(DeskProtocolError) as bad:
        parse_command(raw)
    assert bad.value.where == where
    assert says in bad.value.message
    assert bad.value.to_json() == {"type": "error", "code": bad.value.code,
                                   "message": bad.value.message, "where": where}


def test_a_fractional_id_in_the_frame_text_is_refused_too() -> None:
    with pytest.raises(DeskProtocolError) as bad:
        parse_command_text('{"type": "conversation_read", "id": 3.0}')
    assert bad.value.where == "id"


# --- the hub over the real text router ------------------------------------------------------

OUR_NUMBER = "+34910000000"
CUSTOMER = "+34612345678"
OTHER = "+34699000111"


class Link:
    """An open desk that keeps what it is sent."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def of(self, *kinds: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] in kinds]

    async def next(self, kind: str, count: int = 1) -> dict[str, Any]:
        """The `count`-th message of `kind` (waits up to 5 s: the router and the store's
        thread run on their own)."""
        for _ in range(500):
            found = self.of(kind)
            if len(found) >= count:
                return found[count - 1]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {kind} #{count}; got {[m['type'] for m in self.sent]}")


@dataclass
class Rig:
    hub: DeskHub
    router: TextRouter
    cases: CaseStore

    async def sms_in(self, sender: str, body: str, sid: str) -> int:
        """A customer's SMS stored on their case (as the Twilio webhook does): its case id."""
        stored = await self.cases.store_message(MessageDraft(
            channel="sms", direction="inbound", sender=sender, recipient=OUR_NUMBER,
            body=body, external_id=sid, verified=True))
        return stored.case_id

    async def available(self, agent_id: str) -> None:
        await self.hub.service.set_agent_state(agent_id, AgentState.AVAILABLE, None)


def texter(agent_id: str) -> AgentConfig:
    return AgentConfig(agent_id, queues=("texts",), capacity={"voice": 1, "sms": 2},
                       max_concurrent=3)


@pytest.fixture
async def rig(make_rig: Factory, db_url: str) -> AsyncIterator[Rig]:
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, bus=bus)
    acd_rig = await make_rig([queue("texts", channels=("voice", "sms"), offer_timeout=60)],
                             [texter("a1"), texter("a2")])
    hub = DeskHub(acd_rig.acd, acd_rig.admin, ticker=MediaTicker(), cases=cases,
                  host_addresses=None)
    router = TextRouter(acd_rig.acd, cases)
    await router.follow(bus)
    await router.restore()
    router.start()
    try:
        yield Rig(hub, router, cases)
    finally:
        await router.stop()
        await hub.close()
        await cases.close()


async def test_without_a_text_router_hello_is_empty_and_commands_are_refused(
    make_rig: Factory
) -> None:
    acd_rig = await make_rig([queue("help")], [AgentConfig("a1", queues=("help",))])
    hub = DeskHub(acd_rig.acd, acd_rig.admin, ticker=MediaTicker(), cases=None,
                  host_addresses=None)
    link = Link("a1")
    await hub.connect(link)
    [hello] = link.of("hello")
    assert hello["conversations"] == [] and hello["conversation_offers"] == []
    with pytest.raises(DeskError) as refused:
        await hub.command(link, ConversationRead(3))
    assert refused.value.code == "no_text_routing"
    await hub.close()


async def test_an_sms_is_offered_accepted_read_and_closed_through_the_desk(rig: Rig) -> None:
    link = Link("a1")
    await rig.hub.connect(link)
    await rig.available("a1")
    case_id = await rig.sms_in(CUSTOMER, "Hola, mi pedido no llega", "SM" + "1" * 32)
    public = await rig.cases.public_id(case_id)

    offer = await link.next("conversation_offer")
    conv = offer["conversation"]
    assert (conv["case_id"], conv["channel"], conv["state"]) == (public, "sms", "offered")
    assert conv["waiting_since"] is not None
    assert case_id in rig.hub.live_cases("a1")  # the agent may read what is offered
    assert "a1" in rig.hub.live_agents(case_id)

    await rig.hub.command(link, ConversationAccept(offer["offer_id"]))
    accepted = await link.next("conversation")
    assert accepted["conversation"]["state"] == "assigned"
    assert accepted["conversation"]["case_id"] == public
    assert accepted["conversation"]["agent"] == "a1"
    assert case_id in rig.hub.live_cases("a1")

    # A reconnecting desk gets it back in its hello.
    again = Link("a1")
    await rig.hub.connect(again)
    [hello] = again.of("hello")
    assert [(c["id"], c["case_id"]) for c in hello["conversations"]] == [(conv["id"], public)]
    assert hello["conversation_offers"] == []

    # The customer writes again: unread goes up; the agent opens it: back to 0.
    await rig.sms_in(CUSTOMER, "¿Hola?", "SM" + "2" * 32)
    unread = await again.next("conversation", 1)
    assert unread["conversation"]["unread"] >= 1
    statuses = [m["status"] for i in (await rig.cases.timeline(case_id))["interactions"]
                for m in i["messages"]]
    assert statuses == ["received", "received"]
    await rig.hub.command(again, ConversationRead(conv["id"]))
    for _ in range(200):
        if again.of("conversation")[-1]["conversation"]["unread"] == 0:
            break
        await asyncio.sleep(0.01)
    assert again.of("conversation")[-1]["conversation"]["unread"] == 0
    # ... and the customer's messages are read on the case (receipts).
    statuses = [m["status"] for i in (await rig.cases.timeline(case_id))["interactions"]
                for m in i["messages"]]
    assert statuses == ["read", "read"]

    await rig.hub.command(again, ConversationClose(conv["id"]))
    closed = await again.next("conversation_closed")
    assert closed == {"type": "conversation_closed", "id": conv["id"]}
    assert case_id not in rig.hub.live_cases("a1")
    timeline = await rig.cases.timeline(case_id)
    [interaction] = timeline["interactions"]
    assert interaction["ended_at"] is not None and interaction["agent"] == "a1"


async def test_hello_carries_a_pending_offer_with_its_public_id(rig: Rig) -> None:
    link = Link("a1")
    await rig.hub.connect(link)
    await rig.available("a1")
    case_id = await rig.sms_in(CUSTOMER, "hola", "SM" + "3" * 32)
    offer = await link.next("conversation_offer")
    again = Link("a1")
    await rig.hub.connect(again)
    [hello] = again.of("hello")
    [pending] = hello["conversation_offers"]
    assert pending["offer_id"] == offer["offer_id"]
    assert pending["conversation"]["case_id"] == await rig.cases.public_id(case_id)


async def test_refusals_come_back_naming_the_field(rig: Rig) -> None:
    a1, a2 = Link("a1"), Link("a2")
    await rig.hub.connect(a1)
    await rig.hub.connect(a2)
    await rig.available("a1")
    await rig.sms_in(CUSTOMER, "hola", "SM" + "4" * 32)
    offer = await a1.next("conversation_offer")
    with pytest.raises(DeskError) as theirs:  # a2 answers a1's offer
        await rig.hub.command(a2, ConversationAccept(offer["offer_id"]))
    assert (theirs.value.code, theirs.value.where) == ("not_yours", "offer_id")
    with pytest.raises(DeskError) as stale:
        await rig.hub.command(a1, ConversationAccept("no-such-offer"))
    assert (stale.value.code, stale.value.where) == ("bad_offer", "offer_id")
    await rig.hub.command(a1, ConversationAccept(offer["offer_id"]))
    conv_id = offer["conversation"]["id"]
    with pytest.raises(DeskError) as not_a2s:
        await rig.hub.command(a2, ConversationClose(conv_id))
    assert (not_a2s.value.code, not_a2s.value.where) == ("not_yours", "id")
    with pytest.raises(DeskError) as none:
        await rig.hub.command(a1, ConversationRead(999_999))
    assert (none.value.code, none.value.where) == ("no_conversation", "id")
    assert rig.router.conversation(conv_id) is not None  # nothing changed
    assert rig.router.conversation(conv_id).agent == "a1"  # type: ignore[union-attr]


async def test_a_declined_offer_goes_to_the_next_agent_and_leaves_the_case(rig: Rig) -> None:
    a1, a2 = Link("a1"), Link("a2")
    await rig.hub.connect(a1)
    await rig.hub.connect(a2)
    await rig.available("a1")
    case_id = await rig.sms_in(OTHER, "hola", "SM" + "5" * 32)
    offer = await a1.next("conversation_offer")
    await rig.available("a2")
    await rig.hub.command(a1, ConversationDecline(offer["offer_id"]))
    withdrawn = await a1.next("conversation_offer_withdrawn")
    assert (withdrawn["offer_id"], withdrawn["reason"]) == (offer["offer_id"], "declined")
    assert case_id not in rig.hub.live_cases("a1")
    passed = await a2.next("conversation_offer")
    assert passed["conversation"]["id"] == offer["conversation"]["id"]
    assert case_id in rig.hub.live_cases("a2")


async def test_messages_keep_their_order_while_a_public_id_is_looked_up(rig: Rig) -> None:
    link = Link("a1")
    await rig.hub.connect(link)
    ref = await rig.cases.open_text_interaction(channel="sms", address=OTHER)
    # The case was never seen: its public id needs the store; the withdrawal that follows
    # (no case id, sendable at once) must not overtake the offer.
    conversation = {"id": ref.interaction_id, "case_id": ref.case_id, "channel": "sms"}
    rig.hub.acd.notify("a1", {"type": "conversation_offer", "offer_id": "co-9", "timeout": 30,
                              "conversation": conversation})
    rig.hub.acd.notify("a1", {"type": "conversation_offer_withdrawn", "offer_id": "co-9",
                              "reason": "taken"})
    await link.next("conversation_offer_withdrawn")
    kinds = [m["type"] for m in link.of("conversation_offer", "conversation_offer_withdrawn")]
    assert kinds == ["conversation_offer", "conversation_offer_withdrawn"]
    assert link.of("conversation_offer")[0]["conversation"]["case_id"] == \
        await rig.cases.public_id(ref.case_id)


async def test_a_text_offer_carries_the_summary_of_the_call_before(rig: Rig) -> None:
    # The customer called first (a statement with an order number) and writes now: the offer
    # says why before the agent accepts; a customer with no summary gets none.
    ref = await rig.cases.start_voice_interaction(caller=CUSTOMER, call_id="call-before")
    await rig.cases.add_segment(ref.interaction_id, speaker="caller", start=0.5, end=4.0,
                                text="my order four five six seven has not arrived",
                                confidence=0.9, engine="test")
    await rig.cases.end_interaction(ref.interaction_id, outcome="completed")
    link = Link("a1")
    await rig.hub.connect(link)
    await rig.available("a1")
    await rig.sms_in(CUSTOMER, "any news?", "SM" + "7" * 32)
    offer = await link.next("conversation_offer")
    assert "4567" in offer["summary"], offer
    again = Link("a1")
    await rig.hub.connect(again)  # a page opened now gets it in its hello too
    [pending] = again.of("hello")[0]["conversation_offers"]
    assert pending["summary"] == offer["summary"]
    await rig.hub.command(link, ConversationAccept(offer["offer_id"]))
    await rig.hub.service.set_agent_state("a1", AgentState.BREAK, None)  # a2 gets the next
    await rig.sms_in(OTHER, "hello", "SM" + "8" * 32)
    await rig.available("a2")
    other = Link("a2")
    await rig.hub.connect(other)
    fresh = await other.next("conversation_offer")
    assert "summary" not in fresh, fresh
