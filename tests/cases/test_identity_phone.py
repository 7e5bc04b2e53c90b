"""Phone numbers through `phonenumbers` with the deployment's default region, and one person
on every channel: a call dialled nationally, an SMS and a WhatsApp message from the same
mobile are one customer with one case (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cases.errors import InvalidInput
from cases.events import InProcessBus
from cases.identity import IdentityParser, normalize_phone
from cases.messages import MessageDraft
from cases.store import CaseStore
from tests.cases.conftest import FakeClock


@pytest.fixture
async def es_store(db_url: str, clock: FakeClock, bus: InProcessBus) -> AsyncIterator[CaseStore]:
    """A store whose default region is Spain."""
    opened = await CaseStore.open(db_url, now=clock, bus=bus, default_region="ES")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.parametrize(
    "raw",
    [
        "612 345 678",
        "612345678",
        "612-34-56-78",
        "+34 612 34 56 78",
        "0034 612 345 678",
        "tel:612345678",
        "sip:612345678@trunk.example;user=phone",
        "whatsapp:+34612345678",
    ],
)
def test_spanish_mobile_forms_agree(raw: str) -> None:
    assert IdentityParser("es").phone(raw) == "+34612345678"


def test_national_number_is_not_read_as_international() -> None:
    # Before phonenumbers: "612 345 678" became "+612345678", an Australian number.
    assert normalize_phone("612 345 678", region="ES") != "+612345678"
    with pytest.raises(InvalidInput) as info:
        normalize_phone("612 345 678", where="caller")
    assert info.value.where == "caller"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(555) 010-0199", "US", "+15550100199"),
        ("1 555 010 0199", "US", "+15550100199"),
        ("011 34 612 345 678", "US", "+34612345678"),  # the US international prefix
        ("0011 34 612 345 678", "AU", "+34612345678"),  # Australia's
        ("0034 612 345 678", "US", "+34612345678"),  # 00 still means + (a carrier's form)
        ("020 7946 0018", "GB", "+442079460018"),  # the national trunk 0 goes
        ("+15550100199", "ES", "+15550100199"),  # international stays what it says
    ],
)
def test_region_rules(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region=region) == expected


@pytest.mark.parametrize(
    "raw",
    ["+34 612", "612 34", "+999 612 345 678", "+34 612 345 678 901 234", "612 CALL ME", "", "+"],
)
def test_impossible_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_phone(raw, region="ES", where="message.sender")
    assert info.value.where == "message.sender"


@pytest.mark.parametrize("region", ["XX", "Spain", "", 34])
def test_unknown_region_is_refused(region: object) -> None:
    with pytest.raises(InvalidInput) as info:
        IdentityParser(region)  # type: ignore[arg-type]
    assert info.value.where == "default_region"


async def test_unknown_region_fails_before_opening(tmp_path: object) -> None:
    with pytest.raises(InvalidInput):
        await CaseStore.open(f"sqlite:///{tmp_path}/never.db", default_region="XX")


async def test_call_sms_and_whatsapp_land_on_one_customer_and_case(es_store: CaseStore) -> None:
    call = await es_store.start_voice_interaction(caller="612345678", call_id="call-1")
    sms = await es_store.store_message(
        MessageDraft(
            channel="sms", direction="inbound", sender="+34612345678", recipient="+34910000000",
            body="I called earlier", external_id="SM1", verified=True,
        )
    )
    whatsapp = await es_store.store_message(
        MessageDraft(
            channel="whatsapp", direction="inbound", sender="whatsapp:+34612345678",
            recipient="whatsapp:+34910000000", body="and here too", external_id="SM2",
            verified=True,
        )
    )
    assert sms.customer_id == whatsapp.customer_id == call.customer_id
    assert sms.case_id == whatsapp.case_id == call.case_id
    timeline = await es_store.timeline(call.case_id)
    assert timeline["identities"] == [{"kind": "phone", "value": "+34612345678"}]
    assert [i["channel"] for i in timeline["interactions"]] == ["voice", "sms", "whatsapp"]
    # The addresses are kept as the channel gave them (replies go to `whatsapp:+34...`).
    assert timeline["interactions"][2]["messages"][0]["sender"] == "whatsapp:+34612345678"


async def test_without_a_region_a_national_caller_is_nobody_in_particular(
    store: CaseStore,
) -> None:
    # No region configured: the national caller cannot be placed in a country, so it gets no
    # identity, and an Australian +612345678 texting later is someone else.
    call = await store.start_voice_interaction(caller="612345678", call_id="call-1")
    sms = await store.store_message(
        MessageDraft(
            channel="sms", direction="inbound", sender="+612345678", recipient="+34910000000",
            body="hello", external_id="SM1",
        )
    )
    assert sms.customer_id != call.customer_id
    assert (await store.timeline(call.case_id))["identities"] == []


async def test_email_and_chat_identities(es_store: CaseStore) -> None:
    first = await es_store.store_message(
        MessageDraft(
            channel="email", direction="inbound", sender="Ana Pérez <Ana.Perez@Example.COM>",
            recipient="support@centralita.example", body="Hello", external_id="<m1@example.com>",
        )
    )
    second = await es_store.store_message(
        MessageDraft(
            channel="email", direction="inbound", sender="ana.perez@example.com",
            recipient="support@centralita.example", body="Again", external_id="<m2@example.com>",
        )
    )
    assert (second.customer_id, second.case_id) == (first.customer_id, first.case_id)
    chat = [
        await es_store.store_message(
            MessageDraft(
                channel="chat", direction="inbound", sender=" visitor-Abc ", recipient="widget",
                body=text, external_id=f"c{n}",
            )
        )
        for n, text in enumerate(["hi", "anyone?"])
    ]
    assert chat[0].case_id == chat[1].case_id != first.case_id
    # Visitor ids are opaque: case matters.
    other = await es_store.store_message(
        MessageDraft(
            channel="chat", direction="inbound", sender="visitor-abc", recipient="widget",
            body="hi", external_id="c9",
        )
    )
    assert other.customer_id != chat[0].customer_id
    timeline = await es_store.timeline(first.case_id)
    assert timeline["identities"] == [{"kind": "email", "value": "ana.perez@example.com"}]
