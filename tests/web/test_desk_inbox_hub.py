"""The desk's text-conversation commands and messages: the protocol's four commands (and what
bad input gets), and `centralita.desk.DeskHub` between the desk and routing's text router on
the ACD rig (fake clock, no browser): `hello` carries the agent's conversations and offers,
routing's `conversation*` messages reach the desk with the case's public id (in the order they
were said, even when a case's id must be looked up first), the agent's commands reach the
router and its refusals come back as errors naming the field, and the cases of an agent's
conversations and offers are among their live cases (they may read them) until closed.

The router is `FakeRouter`, the contract's (notes: text routing contract) `TextRouter` as the
hub sees it; the real one is exercised by the end-to-end tests (tests/e2e/test_desk_inbox*).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cases.store import CaseStore
from centralita.desk import DeskHub
from media.ticker import MediaTicker
from routing.acd import Acd
from tests.routing.acd_rig import Factory, agent, make_rig, queue
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


# --- a text router as the contract has it ---------------------------------------------------


class TextRoutingError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Conv:
    id: int
    case_id: int
    channel: str = "chat"
    state: str = "offered"
    agent: str | None = None
    unread: int = 1
    customer: str | None = "Lucía"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "case_id": self.case_id, "channel": self.channel,
                "queue": "help", "state": self.state, "agent": self.agent,
                "unread": self.unread, "last_message_at": "2026-12-06T10:00:00+00:00",
                "waiting_since": "2026-12-06T10:00:00+00:00", "customer": self.customer}


@dataclass
class FakeRouter:
    """Offers and conversations kept in dicts; tells desks through `acd.notify`."""

    acd: Acd
    conversations: dict[int, Conv] = field(default_factory=dict)
    offers: dict[str, tuple[str, int]] = field(default_factory=dict)
    calls: list[tuple[str, str, object]] = field(default_factory=list)

    def offer(self, agent_id: str, offer_id: str, conv: Conv) -> None:
        self.conversations[conv.id] = conv
        self.offers[offer_id] = (agent_id, conv.id)
        self.acd.notify(agent_id, {"type": "conversation_offer", "offer_id": offer_id,
                                   "timeout": 30, "conversation": conv.to_dict()})

    def _offered(self, agent_id: str, offer_id: str) -> Conv:
        found = self.offers.get(offer_id)
        if found is None or found[0] != agent_id:
            raise TextRoutingError("bad_offer", "that conversation is no longer offered to you")
        return self.conversations[found[1]]

    def _mine(self, agent_id: str, conversation_id: int) -> Conv:
        conv = self.conversations.get(conversation_id)
        if conv is None:
            raise TextRoutingError("no_conversation", "no such conversation")
        if conv.agent != agent_id:
            raise TextRoutingError("not_yours", "that conversation is another agent's")
        return conv

    async def accept(self, agent_id: str, offer_id: str) -> Conv:
        self.calls.append(("accept", agent_id, offer_id))
        conv = self._offered(agent_id, offer_id)
        del self.offers[offer_id]
        conv.state, conv.agent = "assigned", agent_id
        return conv

    async def decline(self, agent_id: str, offer_id: str) -> None:
        self.calls.append(("decline", agent_id, offer_id))
        self._offered(agent_id, offer_id)
        del self.offers[offer_id]

    async def read(self, agent_id: str, conversation_id: int) -> Conv:
        self.calls.append(("read", agent_id, conversation_id))
        conv = self._mine(agent_id, conversation_id)
        conv.unread = 0
        return conv

    async def close(self, agent_id: str, conversation_id: int) -> Conv:
        self.calls.append(("close", agent_id, conversation_id))
        conv = self._mine(agent_id, conversation_id)
        conv.state = "closed"
        return conv

    async def conversations_of(self, agent_id: str) -> list[Conv]:
        return [c for c in self.conversations.values()
                if c.agent == agent_id and c.state == "assigned"]

    async def offers_of(self, agent_id: str) -> list[dict[str, Any]]:
        return [{"type": "conversation_offer", "offer_id": offer_id, "timeout": 30,
                 "conversation": self.conversations[conv_id].to_dict()}
                for offer_id, (agent, conv_id) in self.offers.items() if agent == agent_id]


class Link:
    """An open desk that keeps what it is sent."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def of(self, *kinds: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] in kinds]


async def settle() -> None:
    """Let the hub's sends run (a public id may come from the store's thread)."""
    for _ in range(20):
        await asyncio.sleep(0.01)


@dataclass
class Rig:
    hub: DeskHub
    router: FakeRouter
    cases: CaseStore
    chat_case: int
    sms_case: int


@pytest.fixture
async def rig(make_rig: Factory, tmp_path: Path) -> Any:
    cases = await CaseStore.open(f"sqlite:///{tmp_path}/inbox.db")
    acd_rig = await make_rig([queue("help")], [agent("a1", "help"), agent("a2", "help")])
    hub = DeskHub(acd_rig.acd, acd_rig.admin, ticker=MediaTicker(), cases=cases,
                  host_addresses=None)
    router = FakeRouter(acd_rig.acd)
    hub.attach_text(router)
    chat = await cases.open_text_interaction(channel="chat", address="visitor:v-1")
    sms = await cases.open_text_interaction(channel="sms", address="+34612345678")
    try:
        yield Rig(hub, router, cases, chat.case_id, sms.case_id)
    finally:
        await hub.close()
        await cases.close()


async def test_hello_carries_conversations_and_offers_with_public_ids(rig: Rig) -> None:
    rig.router.conversations[5] = Conv(5, rig.chat_case, state="assigned", agent="a1", unread=2)
    rig.router.conversations[6] = Conv(6, rig.sms_case, channel="sms", state="assigned",
                                       agent="a2")
    rig.router.conversations[7] = Conv(7, rig.sms_case, channel="sms")
    rig.router.offers["co-7"] = ("a1", 7)
    link = Link("a1")
    await rig.hub.connect(link)
    [hello] = link.of("hello")
    chat_public = await rig.cases.public_id(rig.chat_case)
    sms_public = await rig.cases.public_id(rig.sms_case)
    assert [(c["id"], c["case_id"], c["unread"]) for c in hello["conversations"]] == \
        [(5, chat_public, 2)]
    [offer] = hello["conversation_offers"]
    assert offer["offer_id"] == "co-7" and offer["conversation"]["case_id"] == sms_public
    assert set(rig.hub.live_cases("a1")) == {rig.chat_case, rig.sms_case}
    assert set(rig.hub.live_agents(rig.chat_case)) == {"a1"}


async def test_without_a_text_router_hello_is_empty_and_commands_are_refused(
    make_rig: Factory
) -> None:
    acd_rig = await make_rig([queue("help")], [agent("a1", "help")])
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


async def test_offer_accept_read_close_through_the_hub(rig: Rig) -> None:
    link = Link("a1")
    await rig.hub.connect(link)
    public = await rig.cases.public_id(rig.chat_case)
    rig.router.offer("a1", "co-1", Conv(11, rig.chat_case))
    await settle()
    [offer] = link.of("conversation_offer")
    assert offer["conversation"]["case_id"] == public and offer["timeout"] == 30
    assert rig.chat_case in rig.hub.live_cases("a1")  # the agent may read what is offered

    await rig.hub.command(link, ConversationAccept("co-1"))
    [accepted] = link.of("conversation")
    assert accepted["conversation"]["state"] == "assigned"
    assert accepted["conversation"]["case_id"] == public
    assert rig.chat_case in rig.hub.live_cases("a1")

    # A new message: routing says so (unread + 1) and the page opens it (read).
    conv = rig.router.conversations[11]
    conv.unread = 3
    rig.hub.acd.notify("a1", {"type": "conversation", "conversation": conv.to_dict()})
    await settle()
    assert link.of("conversation")[-1]["conversation"]["unread"] == 3
    await rig.hub.command(link, ConversationRead(11))
    assert link.of("conversation")[-1]["conversation"]["unread"] == 0

    await rig.hub.command(link, ConversationClose(11))
    assert link.sent[-1] == {"type": "conversation_closed", "id": 11}
    assert rig.chat_case not in rig.hub.live_cases("a1")
    assert [c[0] for c in rig.router.calls] == ["accept", "read", "close"]


async def test_refusals_come_back_naming_the_field(rig: Rig) -> None:
    link = Link("a1")
    await rig.hub.connect(link)
    with pytest.raises(DeskError) as stale:
        await rig.hub.command(link, ConversationAccept("gone"))
    assert (stale.value.code, stale.value.where) == ("bad_offer", "offer_id")
    assert "no longer offered" in stale.value.message
    rig.router.conversations[4] = Conv(4, rig.sms_case, state="assigned", agent="a2")
    with pytest.raises(DeskError) as theirs:
        await rig.hub.command(link, ConversationClose(4))
    assert (theirs.value.code, theirs.value.where) == ("not_yours", "id")
    with pytest.raises(DeskError) as none:
        await rig.hub.command(link, ConversationRead(404))
    assert (none.value.code, none.value.where) == ("no_conversation", "id")
    assert rig.router.conversations[4].state == "assigned"  # nothing changed


async def test_a_decline_and_a_withdrawn_offer_leave_the_case_unreadable(rig: Rig) -> None:
    link = Link("a1")
    await rig.hub.connect(link)
    rig.router.offer("a1", "co-1", Conv(11, rig.chat_case))
    rig.router.offer("a1", "co-2", Conv(12, rig.sms_case, channel="sms"))
    await settle()
    assert set(rig.hub.live_cases("a1")) == {rig.chat_case, rig.sms_case}
    await rig.hub.command(link, ConversationDecline("co-1"))
    assert set(rig.hub.live_cases("a1")) == {rig.sms_case}
    rig.hub.acd.notify("a1", {"type": "conversation_offer_withdrawn", "offer_id": "co-2",
                              "reason": "timeout"})
    await settle()
    assert not rig.hub.live_cases("a1")
    assert link.sent[-1]["type"] == "conversation_offer_withdrawn"


async def test_messages_keep_their_order_while_a_public_id_is_looked_up(rig: Rig) -> None:
    link = Link("a1")
    await rig.hub.connect(link)
    # The case was never seen: its public id needs the store; the withdrawal that follows
    # (no case id, sendable at once) must not overtake the offer.
    rig.router.offer("a1", "co-9", Conv(21, rig.sms_case, channel="sms"))
    rig.hub.acd.notify("a1", {"type": "conversation_offer_withdrawn", "offer_id": "co-9",
                              "reason": "taken"})
    for _ in range(100):
        await asyncio.sleep(0.01)
        if link.of("conversation_offer_withdrawn"):
            break
    kinds = [m["type"] for m in link.of("conversation_offer", "conversation_offer_withdrawn")]
    assert kinds == ["conversation_offer", "conversation_offer_withdrawn"]
    assert link.of("conversation_offer")[0]["conversation"]["case_id"] == \
        await rig.cases.public_id(rig.sms_case)
