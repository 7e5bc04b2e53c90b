"""Text routing over the real case store (SQLite and PostgreSQL): every new message on the
bus topic "messages" (inbound and outbound, a provider's retry not again), the open text
interactions listed with what routing needs, the agent and queue recorded, and a router
following the bus and restoring the open conversations of a store it did not see fill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cases.errors import InvalidInput
from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.store import MESSAGES_TOPIC, CaseStore
from routing.conversations import TextRouter
from routing.model import AgentConfig
from tests.helpers.databases import database_fixtures
from tests.routing.acd_rig import Factory, agent, queue, settle

pg_database, db_url = database_fixtures("centralita_textrouting", "cases.db")

CUSTOMER = "+34612345678"
OURS = "+15550001111"


class StepClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
async def store(db_url: str, bus: InProcessBus) -> AsyncIterator[CaseStore]:
    opened = await CaseStore.open(db_url, now=StepClock(), bus=bus)
    try:
        yield opened
    finally:
        await opened.close()


def sms_in(body: str, sid: str) -> MessageDraft:
    return MessageDraft(channel="sms", direction="inbound", sender=CUSTOMER, recipient=OURS,
                        body=body, external_id=sid, verified=True)


def sms_out(body: str) -> MessageDraft:
    return MessageDraft(channel="sms", direction="outbound", sender=OURS, recipient=CUSTOMER,
                        body=body)


async def test_every_new_message_is_published_on_the_messages_topic(
    store: CaseStore, bus: InProcessBus,
) -> None:
    async with bus.subscribe(MESSAGES_TOPIC) as events:
        first = await store.store_message(sms_in("hello", "SM1"))
        again = await store.store_message(sms_in("hello", "SM1"))  # Twilio's retry
        assert not again.created
        out = await store.store_message(sms_out("hi"))
        got = [await anext(aiter(events)) for _ in range(2)]
    assert [(e["direction"], e["interaction_id"], e["case_id"], e["channel"]) for e in got] == [
        ("inbound", first.interaction_id, first.case_id, "sms"),
        ("outbound", out.interaction_id, first.case_id, "sms")]
    assert got[0]["message"]["id"] == first.message_id
    assert got[0]["created_at"] == first.view["created_at"]
    assert bus.published == 4  # case + messages for each new message; the retry none


async def test_open_text_interactions_with_what_routing_needs(store: CaseStore) -> None:
    first = await store.store_message(sms_in("hello", "SM1"))
    await store.store_message(sms_out("hi"))
    await store.set_text_interaction(first.interaction_id, agent="ana", queue="help")
    [row] = await store.text_interactions()
    assert (row.id, row.case_id, row.channel, row.agent, row.queue, row.customer) == (
        first.interaction_id, first.case_id, "sms", "ana", "help", CUSTOMER)
    assert row.ended_at is None and row.previous_agent is None
    assert row.last_inbound_at is not None and row.last_outbound_at is not None
    assert row.last_outbound_at > row.last_inbound_at
    await store.end_interaction(first.interaction_id, outcome="completed")
    assert await store.text_interactions() == []
    [ended] = await store.text_interactions(interaction_id=first.interaction_id)
    assert ended.ended_at is not None
    second = await store.store_message(sms_in("me again", "SM2"))
    assert second.interaction_id != first.interaction_id
    [row] = await store.text_interactions()
    assert (row.id, row.agent, row.previous_agent) == (second.interaction_id, None, "ana")
    assert row.previous_ended_at == ended.ended_at
    with pytest.raises(InvalidInput):
        await store.set_text_interaction(second.interaction_id, agent="")


async def test_a_router_follows_the_bus_and_restores_what_was_open(
    store: CaseStore, bus: InProcessBus, make_rig: Factory,
) -> None:
    # Before the router: a conversation bob had (restored to him first), one nobody had.
    had = await store.store_message(sms_in("from before", "SM0"))
    await store.set_text_interaction(had.interaction_id, agent="bob", queue="help")
    chat = await store.store_message(MessageDraft(
        channel="chat", direction="inbound", sender="visitor:v1", recipient="web", body="hi",
        external_id="v1:1"))
    ana: AgentConfig = replace(agent("ana", "help"), max_concurrent=3,
                               capacity={"voice": 1, "chat": 2, "sms": 2})
    rig = await make_rig([queue("help", channels=("voice", "chat", "sms"))],
                         [ana, replace(ana, id="bob")], step=0.5)
    router = TextRouter(rig.acd, store)
    try:
        await router.follow(bus)
        assert await router.restore() == 2
        router.start()
        await rig.login("ana", "bob")
        await settle(rig.clock)
        assert router.offers_of("bob")[0]["conversation"]["id"] == had.interaction_id
        [to_ana] = router.offers_of("ana")
        assert to_ana["conversation"]["id"] == chat.interaction_id
        assert to_ana["conversation"]["customer"] == "visitor:v1"
        taken = await router.accept("ana", to_ana["offer_id"])
        [row] = await store.text_interactions(interaction_id=taken.id)
        assert (row.agent, row.queue) == ("ana", "help")
        # The visitor writes again: the bus takes it to ana, unread 2 (one before, one now).
        await store.store_message(MessageDraft(
            channel="chat", direction="inbound", sender="visitor:v1", recipient="web",
            body="still there?", external_id="v1:2"))
        for _ in range(20):
            await settle(rig.clock)
            if router.conversation(taken.id) is not None and taken.unread == 2:
                break
        assert taken.unread == 2
        await router.close("ana", taken.id)
        [ended] = await store.text_interactions(interaction_id=taken.id)
        assert ended.ended_at is not None
        assert await store.text_interactions() != []  # bob's SMS stays open
    finally:
        await router.stop()
    assert bus.subscriber_count(MESSAGES_TOPIC) == 0
