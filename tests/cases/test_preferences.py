"""A customer's preferred channel (cases.preferences) over the real database, SQLite and
PostgreSQL: the keywords of a reply, inferred from recent inbound contacts, chosen (and
forgotten), with the customer's addresses; and `PreferredChannels`: a reply that chooses
a channel (through the real case store and its bus), and the channel a callback
confirmation goes by (senders recorded: the SMS/email paths to real peers are
tests/handover/test_preferred_channel.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cases.errors import InvalidInput, NotFound
from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.preferences import PreferenceStore, choice_in
from cases.store import MESSAGES_TOPIC, CaseStore
from centralita.preferred_channel import PreferredChannels, callback_text
from channels.base import Refused
from routing.model import Callback
from tests.helpers.databases import database_fixtures

pg_database, db_url = database_fixtures("centralita_preferences", "cases.db")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NUMBER = "+34600000001"
OURS = "+15550001111"


class SetClock:
    def __init__(self) -> None:
        self.current = T0

    def __call__(self) -> datetime:
        return self.current

    def at(self, days: float) -> None:
        self.current = T0 + timedelta(days=days)


@pytest.mark.parametrize(("body", "channel"), [
    ("EMAIL", "email"), (" email. ", "email"), ("E-mail", "email"), ("correo", "email"),
    ("WhatsApp", "whatsapp"), ("whats app!", "whatsapp"), ("SMS", "sms"), ("texto", "sms"),
    ("prefiero WhatsApp", "whatsapp"), ("I prefer email", "email"), ("Chat", "chat"),
    ("Llamada", "voice"), ("teléfono", "voice"),
    ("I will email you the photos", None), ("stop", None), ("", None), ("por favor", None),
    ("email " * 20, None),
])
def test_a_reply_chooses_a_channel_only_when_it_is_the_keyword(body: str,
                                                               channel: str | None) -> None:
    assert choice_in(body) == channel


@pytest.fixture
async def stores(db_url: str) -> AsyncIterator[tuple[CaseStore, PreferenceStore, SetClock,
                                                     InProcessBus]]:
    clock = SetClock()
    bus = InProcessBus()
    cases = await CaseStore.open(db_url, now=clock, bus=bus, default_region="ES")
    prefs = await PreferenceStore.open(db_url, now=clock)
    try:
        yield cases, prefs, clock, bus
    finally:
        await prefs.close()
        await cases.close()


def sms(body: str, sid: str) -> MessageDraft:
    return MessageDraft(channel="sms", direction="inbound", sender=NUMBER, recipient=OURS,
                        body=body, external_id=sid, verified=True)


async def test_inferred_from_recent_inbound_contacts_then_chosen(
    stores: tuple[CaseStore, PreferenceStore, SetClock, InProcessBus],
) -> None:
    cases, prefs, clock, _ = stores
    ref = await cases.start_voice_interaction(caller=NUMBER, call_id="c1")
    assert (await prefs.of_case(ref.case_id)).channel == "voice"
    await cases.end_interaction(ref.interaction_id, outcome="completed")
    for n in (1, 2):  # two SMS threads later: SMS is how they reach us most
        clock.at(n)
        stored = await cases.store_message(sms("hello", f"SM{n}"))
        await cases.end_interaction(stored.interaction_id, outcome="completed")
    found = await prefs.of_case(ref.case_id)
    assert (found.channel, found.source, found.since) == ("sms", "inferred", T0 + timedelta(2))
    assert found.address_for("sms") == NUMBER and found.address_for("email") is None
    # 100 days on, their contacts are too old; a text we send them is not how they reach us.
    clock.at(101)
    await cases.store_message(MessageDraft(channel="sms", direction="outbound", sender=OURS,
                                           recipient=NUMBER, body="Your order shipped."))
    assert (await prefs.of_case(ref.case_id)).source == "none"
    chosen = await prefs.choose_for_case(ref.case_id, "email")
    assert (chosen.channel, chosen.source, chosen.since) == ("email", "explicit", clock.current)
    assert (await prefs.of_case(ref.case_id)).to_dict() == {
        "channel": "email", "source": "explicit", "since": clock.current.isoformat()}
    forgot = await prefs.choose_for_case(ref.case_id, None)
    assert (forgot.channel, forgot.source) == (None, "none")
    with pytest.raises(InvalidInput) as bad:
        await prefs.choose_for_case(ref.case_id, "pigeon")
    assert bad.value.where == "channel"
    with pytest.raises(NotFound):
        await prefs.of_case(ref.case_id + 1000)


class Sent:
    """Recording senders: what went out, or Refused for the channels told to refuse."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.out: list[tuple[str, int, str | None, str]] = []

    async def send(self, case_id: int, channel: str, body: str, *,
                   to: str | None = None) -> Any:
        if channel in self.refuse:
            raise Refused(f"{channel} is not set up", code="not_configured")
        self.out.append((channel, case_id, to, body))
        return None


class Mailer:
    def __init__(self) -> None:
        self.out: list[tuple[int, str, str]] = []

    async def send(self, case_id: int, *, subject: str, body: str, to: str | None = None,
                   in_reply_to_message: int | None = None,
                   agent: str | None = None) -> dict[str, Any]:
        self.out.append((case_id, subject, body))
        return {}


async def test_a_reply_chooses_and_callbacks_are_confirmed_there(
    stores: tuple[CaseStore, PreferenceStore, SetClock, InProcessBus],
) -> None:
    cases, prefs, _, bus = stores
    texts, mails = Sent(refuse={"whatsapp"}), Mailer()
    channels = PreferredChannels(prefs, cases, sms=texts, email=mails)
    await channels.follow(bus, MESSAGES_TOPIC)
    try:
        ref = await cases.start_voice_interaction(caller=NUMBER, call_id="c1")
        callback = Callback(id="cb1", queue="q", number="612345678", seq=1, created_wall=0.0,
                            case_id=ref.case_id)
        # Inferred "voice": not a channel to text on, so SMS to the number called back.
        assert await channels.confirm(callback, 300.0) == "sms"
        assert texts.out[-1] == ("sms", ref.case_id, "612345678", callback_text(300.0, "en"))
        assert "about 5 minutes" in texts.out[-1][3] and "Reply SMS, WHATSAPP or EMAIL" \
            in texts.out[-1][3]
        # The customer replies "WhatsApp": chosen (and noted on the case).
        await cases.store_message(sms("WhatsApp", "SM1"))
        for _ in range(100):
            if channels.chosen:
                break
            await asyncio.sleep(0.02)
        assert (await prefs.of_case(ref.case_id)).source == "explicit"
        notes = (await cases.timeline(ref.case_id))["notes"]
        assert any("chose WhatsApp" in n["text"] for n in notes)
        # WhatsApp refused (not set up here): SMS instead.
        assert await channels.confirm(callback, 30.0, "es") == "sms"
        assert texts.out[-1][3].startswith("Le llamaremos en un minuto")
        # Email chosen but no address known for them: SMS; with an address: email.
        await prefs.choose_for_case(ref.case_id, "email")
        assert await channels.confirm(callback, float("inf")) == "sms"
        assert texts.out[-1][3].startswith("We will call you back as soon as")
        customer = (await prefs.of_case(ref.case_id)).customer_id
        await cases.add_identity(customer, kind="email", value="ana@example.com")
        assert await channels.confirm(callback, 600.0) == "email"
        assert mails.out == [(ref.case_id, "Your callback", callback_text(600.0, "en"))]
        # No case (a callback of an anonymous caller): nobody to tell.
        nobody = Callback(id="cb2", queue="q", number="612345678", seq=2, created_wall=0.0)
        assert await channels.confirm(nobody, 60.0) is None
    finally:
        await channels.close()
    assert bus.subscriber_count(MESSAGES_TOPIC) == 0
    assert channels.confirmed == {"sms": 3, "email": 1}
