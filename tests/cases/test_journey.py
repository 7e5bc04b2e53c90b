"""Journey figures (cases.journey) over the real case store, on SQLite and PostgreSQL: contacts
per case, first-contact resolution across channels, time to resolution, and the asks for a
fact the case already had; and the cohort by period and by queue (the API:
tests/web/test_journey_api.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cases.errors import InvalidInput
from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.store import CaseStore
from tests.helpers.databases import database_fixtures

pg_database, db_url = database_fixtures("centralita_journey", "cases.db")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANA_NUMBER = "+34600000001"   # three calls: asked twice for her order, resolved on the third
BEA_NUMBER = "+34600000002"   # one SMS, case closed: resolved at the first contact
CARL_NUMBER = "+34600000003"  # one call through the sales queue, not resolved
OURS = "+15550001111"


class SetClock:
    """The store's clock, set by the test (every row's time is known)."""

    def __init__(self) -> None:
        self.current = T0

    def __call__(self) -> datetime:
        return self.current

    def at(self, minutes: float) -> None:
        self.current = T0 + timedelta(minutes=minutes)


def order_digits(variable: str = "order_number") -> dict[str, Any]:
    return {"digits": "456", "outcome": "match", "variable": variable}


async def call(store: CaseStore, clock: SetClock, number: str, call_id: str, *,
               start: float, end: float, events: Sequence[tuple[str, dict[str, Any]]] = (),
               agent: str | None = None, disposition: str | None = None) -> int:
    """A call from `number` from minute `start` to `end` with its IVR events; the agent's
    wrap-up disposition as the desk writes it."""
    clock.at(start)
    ref = await store.start_voice_interaction(caller=number, call_id=call_id)
    for n, (kind, value) in enumerate(events):
        clock.at(start + 0.1 * (n + 1))
        await store.add_ivr_event(ref.interaction_id, kind=kind, value=value, step="ask")
    if agent is not None:
        await store.set_interaction_agent(call_id, agent)
    clock.at(end)
    await store.end_interaction(ref.interaction_id, outcome="completed")
    if disposition is not None:
        await store.add_note(ref.case_id, author=agent or "ana",
                             text=f"Disposition: {disposition}.\nAll done.")
    return ref.case_id


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[tuple[CaseStore, SetClock]]:
    clock = SetClock()
    opened = await CaseStore.open(db_url, now=clock, bus=InProcessBus(), default_region="ES")
    try:
        yield opened, clock
    finally:
        await opened.close()


async def fill(store: CaseStore, clock: SetClock) -> dict[str, int]:
    """The three customers' journeys (and one we only texted)."""
    ana = await call(store, clock, ANA_NUMBER, "a1", start=0, end=5,
                     events=[("digits", order_digits())])
    # Asked again for the order the case has from the first call.
    await call(store, clock, ANA_NUMBER, "a2", start=60, end=64,
               events=[("digits", order_digits()), ("digits", {"digits": "1",
                                                               "outcome": "match"})])
    # The flow took it from the case (skip_if_known): no ask; resolved by the agent.
    await call(store, clock, ANA_NUMBER, "a3", start=120, end=130,
               events=[("variable", {"order_number": "456"})], agent="ana",
               disposition="resolved")
    clock.at(10)
    bea = await store.store_message(MessageDraft(
        channel="sms", direction="inbound", sender=BEA_NUMBER, recipient=OURS,
        body="Where is my parcel?", external_id="SM1", verified=True))
    clock.at(40)
    await store.close_case(bea.case_id)
    carl = await call(store, clock, CARL_NUMBER, "c1", start=200, end=203,
                      events=[("queue", {"queue": "sales", "result": "answered"}),
                              ("digits", order_digits("account"))])
    clock.at(300)
    await store.store_message(MessageDraft(
        channel="sms", direction="outbound", sender=OURS, recipient="+34600000009",
        body="Your order shipped."))
    return {"ana": ana, "bea": bea.case_id, "carl": carl}


async def test_journey_figures_of_every_case(store: tuple[CaseStore, SetClock]) -> None:
    cases, clock = store
    await fill(cases, clock)
    got = await cases.journey()
    assert got["cases"] == 3  # the customer we only texted made no contact
    assert got["contacts"] == 5
    assert got["contacts_per_case"] == pytest.approx(5 / 3, abs=1e-3)
    assert got["contacts_by_channel"] == {"sms": 1, "voice": 4}
    assert got["resolved"] == 2
    assert got["first_contact_resolution"] == {"cases": 1, "rate": 0.5}
    # Ana: from her first call (minute 0) to the end of the resolving one (130); Bea: from
    # her SMS (10) to the case's close (40).
    assert got["time_to_resolution"] == {"mean_s": (130 * 60 + 30 * 60) / 2,
                                         "median_s": (130 * 60 + 30 * 60) / 2}
    assert got["by_first_channel"] == {
        "sms": {"cases": 1, "resolved": 1, "first_contact_resolution": 1.0},
        "voice": {"cases": 2, "resolved": 1, "first_contact_resolution": 0.0}}
    # Asks with a variable: Ana's two order asks and Carl's account ask; one repeated.
    assert got["asked_again"] == {"asks": 3, "repeated": 1, "contacts": 1, "share": 0.2}


async def test_the_cohort_by_period_and_by_queue(store: tuple[CaseStore, SetClock]) -> None:
    cases, clock = store
    await fill(cases, clock)
    later = await cases.journey(since=T0 + timedelta(minutes=1))
    assert (later["cases"], later["contacts"]) == (2, 2)  # Ana's first contact is earlier
    assert later["asked_again"]["repeated"] == 0
    window = await cases.journey(since=T0, until=T0 + timedelta(minutes=10))
    assert window["cases"] == 1 and window["contacts_by_channel"] == {"voice": 3}
    sales = await cases.journey(queue="sales")
    assert (sales["cases"], sales["resolved"], sales["asked_again"]["asks"]) == (1, 0, 1)
    assert sales["first_contact_resolution"] == {"cases": 0, "rate": None}
    assert sales["time_to_resolution"] == {"mean_s": None, "median_s": None}
    empty = await cases.journey(queue="nobody")
    assert empty["cases"] == 0 and empty["contacts_per_case"] is None
    assert empty["asked_again"]["share"] is None
    with pytest.raises(InvalidInput):
        await cases.journey(since=T0, until=T0 - timedelta(seconds=1))


async def test_an_agents_fact_counts_only_when_kept_before_the_ask(
    store: tuple[CaseStore, SetClock],
) -> None:
    cases, clock = store
    case_id = await call(cases, clock, ANA_NUMBER, "a1", start=0, end=1)
    clock.at(2)
    await cases.add_fact(case_id, "account", "77", origin="agent")
    await call(cases, clock, ANA_NUMBER, "a2", start=3, end=4,
               events=[("digits", order_digits("account")), ("digits", order_digits())])
    got = await cases.journey()
    assert got["asked_again"] == {"asks": 2, "repeated": 1, "contacts": 1, "share": 0.5}
