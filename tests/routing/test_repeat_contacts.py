"""Repeat contacts go ahead (routing.repeat): the routing file's policy, a repeat caller
served before a first-time caller who arrived earlier (ACD rig), and a repeat SMS customer
offered before a first-time one over the real case store (SQLite and PostgreSQL), which
counts only the contacts the customer started."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.store import CaseStore
from routing.config import parse_queue, parse_routing, queue_to_dict
from routing.conversations import TextRouter
from routing.model import AgentConfig, InvalidConfig
from routing.repeat import RepeatCheck, RepeatPolicy
from tests.helpers.databases import database_fixtures
from tests.routing.acd_rig import Factory, agent, queue, settle

pg_database, db_url = database_fixtures("centralita_repeat", "cases.db")

OURS = "+15550001111"
REPEAT = "+34600000001"
FIRST_TIMER = "+34600000002"
TEXTED = "+34600000003"


# -- the routing file ------------------------------------------------------------------------
ROUTING = """\
repeat_contacts:
  contacts: 3
  days: 7
  priority_boost: 10
queues:
  - name: help
  - name: sales
    repeat_boost: 0
agents: []
"""


def test_the_routing_file_sets_the_policy_and_a_queue_its_own_boost() -> None:
    config = parse_routing(ROUTING, "routing.yaml")
    assert config.repeat == RepeatPolicy(contacts=3, days=7.0, boost=10)
    help_q, sales = config.queues["help"], config.queues["sales"]
    assert (help_q.repeat_boost, sales.repeat_boost) == (None, 0)
    assert config.repeat.boost_for(2, help_q) == 0
    assert config.repeat.boost_for(3, help_q) == 10
    assert config.repeat.boost_for(5, sales) == 0
    assert parse_queue(queue_to_dict(sales)) == sales
    assert parse_routing("queues: [{name: q}]\n", "r.yaml").repeat is None


@pytest.mark.parametrize(("text", "where", "says"), [
    ("repeat_contacts: {contacts: 3, days: 7}\n", "repeat_contacts",
     'missing required key "priority_boost"'),
    ("repeat_contacts: {contacts: 1, days: 7, priority_boost: 5}\n",
     "repeat_contacts.contacts", "integer 2-1000"),
    ("repeat_contacts: {contacts: 3, days: 400, priority_boost: 5}\n",
     "repeat_contacts.days", "at most 365 days"),
    ("repeat_contacts: {contacts: 3, days: 7, priorty_boost: 5}\n",
     "repeat_contacts.priorty_boost", 'did you mean "priority_boost"'),
    ("queues: [{name: q, repeat_boost: -1}]\n", "queues[0].repeat_boost", "integer 0-1000"),
])
def test_a_wrong_policy_is_refused_naming_where(text: str, where: str, says: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_routing(text, "routing.yaml")
    assert where in caught.value.where and says in caught.value.reason, str(caught.value)


# -- calls (the ACD rig) -----------------------------------------------------------------------
class Counts:
    """`routing.repeat.ContactCounter` with a fixed count per case."""

    def __init__(self, counts: dict[int, int]) -> None:
        self.counts = counts
        self.asked: list[tuple[int, float, bool]] = []

    async def recent_contacts(self, case_id: int, *, days: float,
                              inbound_only: bool = False) -> int:
        self.asked.append((case_id, days, inbound_only))
        return self.counts.get(case_id, 1)


async def test_a_third_call_in_the_window_is_served_before_an_earlier_first_caller(
    make_rig: Factory,
) -> None:
    rig = await make_rig([queue("help")], [agent("ana", "help")], answer={"ana": 1.0})
    counts = Counts({7: 3, 8: 1})
    rig.acd.repeat = RepeatCheck(RepeatPolicy(contacts=3, days=7, boost=10), counts)
    rig.cases.case_for.update({"first": 8, "again": 7})
    await rig.arrive("first", "help", talk=5.0)
    await rig.arrive("again", "help", talk=5.0)
    await rig.at(1.0)
    await rig.login("ana")
    await rig.at(30.0)
    assert [about for _, _, about in rig.offers()] == ["again", "first"]
    assert counts.asked == [(8, 7.0, True), (7, 7.0, True)]
    first_offer, second_offer = rig.connector.offers_made
    assert first_offer.repeat is not None and second_offer.repeat is None
    assert first_offer.repeat.to_dict() == {"contacts": 3, "days": 7.0, "boost": 10}
    assert rig.outcome("again").result == rig.outcome("first").result == "answered"


async def test_without_a_policy_or_below_it_the_line_is_arrival_order(make_rig: Factory) -> None:
    rig = await make_rig([queue("help")], [agent("ana", "help")], answer={"ana": 1.0})
    rig.acd.repeat = RepeatCheck(RepeatPolicy(contacts=3, days=7, boost=10), Counts({7: 2}))
    rig.cases.case_for.update({"first": 8, "again": 7})
    await rig.arrive("first", "help", talk=5.0)
    await rig.arrive("again", "help", talk=5.0)
    await rig.login("ana")
    await rig.at(30.0)
    assert [about for _, _, about in rig.offers()] == ["first", "again"]
    assert all(offer.repeat is None for offer in rig.connector.offers_made)


# -- text conversations over the real case store ----------------------------------------------
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


def sms(sender: str, body: str, sid: str) -> MessageDraft:
    return MessageDraft(channel="sms", direction="inbound", sender=sender, recipient=OURS,
                        body=body, external_id=sid, verified=True)


async def contact(store: CaseStore, sender: str, sid: str) -> None:
    """One earlier SMS contact of `sender`, over and done with."""
    stored = await store.store_message(sms(sender, "earlier", sid))
    await store.end_interaction(stored.interaction_id, outcome="completed")


async def test_a_third_sms_contact_is_offered_before_an_earlier_first_one(
    store: CaseStore, bus: InProcessBus, make_rig: Factory,
) -> None:
    await contact(store, REPEAT, "SM1")
    await contact(store, REPEAT, "SM2")
    # Two texts we sent to another customer are not contacts they made.
    for _ in range(2):
        sent = await store.store_message(MessageDraft(
            channel="sms", direction="outbound", sender=OURS, recipient=TEXTED,
            body="your order shipped"))
        await store.end_interaction(sent.interaction_id, outcome="completed")
    ana: AgentConfig = replace(agent("ana", "help"), max_concurrent=1,
                               capacity={"voice": 1, "sms": 1})
    rig = await make_rig([queue("help", channels=("voice", "sms"))], [ana], step=0.5)
    rig.acd.repeat = RepeatCheck(RepeatPolicy(contacts=3, days=7, boost=10), store)
    router = TextRouter(rig.acd, store)
    try:
        await router.follow(bus)
        router.start()
        first = await store.store_message(sms(FIRST_TIMER, "hello", "SM3"))
        texted = await store.store_message(sms(TEXTED, "where is it?", "SM4"))
        again = await store.store_message(sms(REPEAT, "me again", "SM5"))
        for _ in range(100):  # the store answers from its worker thread: real time
            await settle(rig.clock)
            if len(router.conversations()) == 3:
                break
            await asyncio.sleep(0.05)
        line = router.conversations()
        assert [c.id for c in line] == [again.interaction_id, first.interaction_id,
                                        texted.interaction_id]
        assert [c.priority for c in line] == [10, 0, 0]
        await rig.login("ana")
        await settle(rig.clock)
        [offer] = router.offers_of("ana")
        assert offer["conversation"]["id"] == again.interaction_id
        assert offer["conversation"]["repeat"] == {"contacts": 3, "days": 7.0, "boost": 10}
        taken = await router.accept("ana", offer["offer_id"])
        await router.close("ana", taken.id)
        await settle(rig.clock)
        [offer] = router.offers_of("ana")
        assert offer["conversation"]["id"] == first.interaction_id
        assert offer["conversation"]["repeat"] is None
    finally:
        await router.stop()
    assert await store.recent_contacts(again.case_id, days=7, inbound_only=True) == 3
    assert await store.recent_contacts(texted.case_id, days=7, inbound_only=True) == 1
    assert await store.recent_contacts(texted.case_id, days=7) == 3
