"""CSAT surveys (cases.csat) over the real database, SQLite and PostgreSQL: what counts as a
score, a survey recorded once per interaction, a reply answering the customer's latest
pending survey by that channel within the window (on any of their cases), and the journey's
CSAT per channel; and `CsatSurveys` deciding what to survey and by which channel (senders
recorded: the SMS path to the real Twilio client is tests/handover/test_csat_survey.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cases.csat import SurveyStore, score_in
from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.preferences import PreferenceStore
from cases.store import CaseStore
from centralita.csat_surveys import QUESTION, CsatSurveys
from tests.helpers.databases import database_fixtures

pg_database, db_url = database_fixtures("centralita_csat", "cases.db")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NUMBER = "+34600000001"
OURS = "+15550001111"


class SetClock:
    def __init__(self) -> None:
        self.current = T0

    def __call__(self) -> datetime:
        return self.current

    def at(self, hours: float) -> None:
        self.current = T0 + timedelta(hours=hours)


@pytest.mark.parametrize(("body", "score"), [
    ("4", 4), (" 5 ", 5), ("5/5", 5), ("1.", 1), ("3 stars", 3), ("4 estrellas", 4),
    ("2 out of 5", 2), ("0", None), ("6", None), ("45", None), ("4 but slow", None),
    ("thanks", None), ("", None),
])
def test_what_counts_as_a_score(body: str, score: int | None) -> None:
    assert score_in(body) == score


@pytest.fixture
async def stores(db_url: str) -> AsyncIterator[tuple[CaseStore, SurveyStore, PreferenceStore,
                                                     SetClock]]:
    clock = SetClock()
    cases = await CaseStore.open(db_url, now=clock, bus=InProcessBus(), default_region="ES")
    surveys = await SurveyStore.open(db_url, now=clock)
    prefs = await PreferenceStore.open(db_url, now=clock)
    try:
        yield cases, surveys, prefs, clock
    finally:
        await prefs.close()
        await surveys.close()
        await cases.close()


async def handled_sms(cases: CaseStore, sid: str, agent: str | None = "ana") -> tuple[int, int]:
    stored = await cases.store_message(MessageDraft(
        channel="sms", direction="inbound", sender=NUMBER, recipient=OURS, body="help",
        external_id=sid, verified=True))
    if agent is not None:
        await cases.set_text_interaction(stored.interaction_id, agent=agent, queue="q")
    await cases.end_interaction(stored.interaction_id, outcome="completed")
    return stored.case_id, stored.interaction_id


async def test_a_reply_answers_the_latest_pending_survey(
    stores: tuple[CaseStore, SurveyStore, PreferenceStore, SetClock],
) -> None:
    cases, surveys, _, clock = stores
    case_id, first = await handled_sms(cases, "SM1")
    assert await surveys.sent(case_id, first, "sms", "sms")
    assert not await surveys.sent(case_id, first, "sms", "sms")  # once per interaction
    clock.at(1)
    _, second = await handled_sms(cases, "SM2")
    assert await surveys.sent(case_id, second, "sms", "sms")
    clock.at(2)
    assert await surveys.answer(case_id, "whatsapp", 5) is None  # not sent by WhatsApp
    assert await surveys.answer(case_id, "sms", 4) == second  # the latest first
    assert await surveys.answer(case_id, "sms", 2) == first
    assert await surveys.answer(case_id, "sms", 3) is None  # none pending any more
    clock.at(3)
    _, third = await handled_sms(cases, "SM3")
    await surveys.sent(case_id, third, "sms", "sms")
    clock.at(3 + 73)  # past the three days
    assert await surveys.answer(case_id, "sms", 5) is None
    figures = await cases.journey()
    assert figures["csat"] == {"sms": {"surveys": 3, "responses": 2, "average": 3.0,
                                       "scores": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}}}


class Texts:
    def __init__(self) -> None:
        self.out: list[tuple[str, int, str | None, str]] = []

    async def send(self, case_id: int, channel: str, body: str, *,
                   to: str | None = None) -> Any:
        self.out.append((channel, case_id, to, body))
        return None


async def test_what_is_surveyed_and_by_which_channel(
    stores: tuple[CaseStore, SurveyStore, PreferenceStore, SetClock],
) -> None:
    cases, surveys, prefs, _ = stores
    texts = Texts()
    csat = CsatSurveys(surveys, prefs, channels=("voice", "sms"), sms=texts)
    # A call an agent took: by SMS (the customer's number); the same end again: once.
    call = await cases.start_voice_interaction(caller=NUMBER, call_id="c1")
    await cases.set_interaction_agent("c1", "ana")
    view: dict[str, Any] = {"id": call.interaction_id, "case_id": call.case_id,
                            "channel": "voice", "direction": "inbound", "agent": "ana"}
    assert await csat.on_ended({"interaction": view}) == "sms"
    assert await csat.on_ended({"interaction": view}) is None
    assert texts.out == [("sms", call.case_id, NUMBER, QUESTION["en"])]
    # Not surveyed: nobody handled it, a channel not listed, a thread we started.
    for changed in ({"agent": None}, {"channel": "email", "id": 999},
                    {"direction": "outbound", "id": 998}):
        assert await csat.on_ended({"interaction": {**view, **changed}}) is None
    # The customer answers "4" by SMS; a message that is no score answers nothing.
    message = {"type": "message", "case_id": call.case_id, "channel": "sms",
               "direction": "inbound", "message": {"body": "thanks!"}}
    assert await csat.on_message(message) is None
    assert await csat.on_message({**message, "message": {"body": "4"}}) == 4
    assert await csat.on_message({**message, "message": {"body": "5"}}) is None
    assert (csat.sent, csat.answered) == ({"sms": 1}, 1)
    got = await cases.journey()
    assert got["csat"]["voice"]["average"] == 4.0
