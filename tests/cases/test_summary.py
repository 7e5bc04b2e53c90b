"""The interaction summary on scripted calls with known facts (English and Spanish): every
reference fact is in the summary with its source, no sensitive value appears unmasked; and
the summary kept on the case: made when a call or a text conversation ends, refreshed live
during a call, remade by the wrap-up note."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from cases.events import InProcessBus
from cases.messages import MessageDraft
from cases.store import CaseStore
from cases.summary import (
    AgentNote,
    InteractionRecord,
    IvrInput,
    Segment,
    short_text,
    summarise,
)
from centralita.call_cases import CallInteractions

STARTED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Script:
    """A scripted call: lines (speaker, text), IVR inputs, the wrap-up note, and what the
    summary must show (`facts`: key -> value) and never show (`secrets`)."""

    name: str
    lines: tuple[tuple[str, str], ...]
    facts: dict[str, str]
    secrets: tuple[str, ...] = ()
    ivr: tuple[IvrInput, ...] = ()
    wrapup: str | None = None
    reason_words: tuple[str, ...] = ()
    region: str = "US"
    promises: tuple[str, ...] = field(default=())


def menu(choice: str) -> IvrInput:
    return IvrInput("digits", "menu", 0, {"digits": choice, "outcome": "match"}, False, 2.0)


SCRIPTS: tuple[Script, ...] = (
    Script("damaged order", (
        ("agent", "Thanks for calling, how can I help you today?"),
        ("caller", "Hi. I'm calling because my order four five six arrived damaged."),
        ("caller", "The screen was cracked when I opened the box yesterday."),
        ("agent", "I'm sorry. I will send you a replacement and you'll receive an email."),
    ), {"order_number": "456", "date": "2026-03-09"}, ivr=(menu("2"),),
        wrapup="Disposition: replacement sent.\nFollow up if not delivered by Friday.",
        reason_words=("arrived damaged",), promises=("I will send you a replacement",)),
    Script("double charge", (
        ("caller", "Hello, I was charged twice, forty nine dollars and ninety nine cents."),
        ("caller", "My account number is seven seven one two three four."),
        ("agent", "I see both charges. I'll refund one of them today."),
    ), {"amount": "49.99 USD", "account_number": "771234"},
        wrapup="Disposition: refund issued.", reason_words=("charged twice",)),
    Script("card payment", (
        ("caller", "I want to pay my invoice five five five one two."),
        ("caller", "My card number is four one one one one one one one one one one one one "
                   "one one one and the security code is one two three."),
        ("agent", "Thank you, the payment went through."),
    ), {"invoice_number": "55512", "card_number": "***1111", "security_code": "***"},
        secrets=("4111111111111111", "4111 1111 1111 1111", "one two three", " 123")),
    Script("sensitive ivr", (
        ("caller", "I need to change the delivery address for my order."),
    ), {"order_number": "884201", "pin": "***"}, secrets=("9321",), ivr=(
        IvrInput("digits", "ask_order", 1, {"digits": "884201", "outcome": "match",
                                            "variable": "order_number"}, False, 3.0),
        IvrInput("digits", "ask_pin", 2, {"digits": "***", "outcome": "match",
                                          "variable": "pin"}, True, 6.0),
    ), reason_words=("delivery address",)),
    Script("email and phone", (
        ("caller", "Please send the quote to maria dot lopez at example dot com."),
        ("caller", "Or call me back on six five oh, five five five, oh one two three."),
        ("agent", "I will email the quote this afternoon."),
    ), {"email": "maria.lopez@example.com", "phone": "+16505550123"},
        wrapup="Disposition: quote requested.\nCall back tomorrow if no reply."),
    Script("tracking", (
        ("caller", "My parcel has not arrived, the tracking number is nine eight seven six "
                   "five four three two."),
        ("caller", "It was supposed to come on March the fifth."),
    ), {"tracking_number": "98765432", "date": "2026-03-05"},
        reason_words=("parcel",)),
    Script("reference with letters", (
        ("caller", "I am calling about my booking, the reference is AB-7781."),
        ("caller", "I would like to move it to April twenty first, 2026."),
    ), {"reference_number": "AB-7781", "date": "2026-04-21"}),
    Script("pedido dañado", (
        ("agent", "Buenos días, ¿en qué puedo ayudarle?"),
        ("caller", "Hola, llamo por mi pedido cuatro cinco seis, llegó roto."),
        ("caller", "Me cobraron cuarenta y cinco euros el tres de marzo."),
        ("agent", "Le enviaremos un reembolso esta semana."),
    ), {"order_number": "456", "amount": "45.00 EUR", "date": "2026-03-03"},
        region="ES", wrapup="Disposition: reembolso.", promises=("Le enviaremos",)),
    Script("cuenta y correo", (
        ("caller", "Buenas tardes, quiero cambiar el correo de mi cuenta."),
        ("caller", "El número de cuenta es doble cinco cero uno y el correo nuevo es "
                   "juan punto perez arroba ejemplo punto es."),
    ), {"account_number": "5501", "email": "juan.perez@ejemplo.es"}, region="ES"),
    Script("tarjeta", (
        ("caller", "Quiero pagar la factura ochocientos doce."),
        ("caller", "Mi tarjeta es cinco cinco cinco cinco cinco cinco cinco cinco cinco cinco "
                   "cinco cinco cuatro cuatro cuatro cuatro, el código de seguridad es "
                   "nueve ocho siete."),
    ), {"invoice_number": "812", "card_number": "***4444", "security_code": "***"},
        secrets=("5555555555554444", "987"), region="ES"),
    Script("typed digits", (
        ("caller", "My order is 4-5-6-7-8 and I paid $120.50 on 3/2/2026."),
    ), {"order_number": "45678", "amount": "120.50 USD", "date": "2026-03-02"}),
    Script("twenty three", (
        ("caller", "Ticket number twenty three, ninety one, please, it's about a refund."),
        ("caller", "I was told it would be done within ten days."),
    ), {"ticket_number": "2391"}),
)


def record_of(script: Script, *, ended: bool = True) -> InteractionRecord:
    segments = tuple(Segment(speaker, 10.0 + 5 * i, 14.0 + 5 * i, text)
                     for i, (speaker, text) in enumerate(script.lines))
    notes = (AgentNote("ana", script.wrapup),) if script.wrapup else ()
    return InteractionRecord(1, "voice", STARTED, agent="ana",
                             outcome="completed" if ended else None, ended=ended,
                             segments=segments, ivr=script.ivr, notes=notes)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_every_reference_fact_is_in_the_summary(script: Script) -> None:
    summary = summarise(record_of(script), region=script.region).to_json()
    facts = {(f["key"], f["value"]) for f in summary["facts"]}
    for key, value in script.facts.items():
        assert (key, value) in facts, (key, value, facts)
        assert value in summary["text"], (value, summary["text"])
    dumped = json.dumps(summary, ensure_ascii=False)
    for secret in script.secrets:
        assert secret not in dumped, secret
    for word in script.reason_words:
        assert word in " ".join(summary["reason"]["statements"]).lower()
    for promise in script.promises:
        assert any(promise in p for p in summary["actions"]["promises"])
    # The same record always gives the same summary.
    assert summarise(record_of(script), region=script.region).to_json() == summary


def test_sources_say_where_each_fact_was_given() -> None:
    summary = summarise(record_of(SCRIPTS[3]))
    by_key = {f.key: f.source for f in summary.facts}
    assert by_key["order_number"].origin == "ivr" and by_key["order_number"].ivr_step \
        == "ask_order" and by_key["order_number"].second == 3.0
    assert by_key["pin"].ivr_step == "ask_pin"
    first = summarise(record_of(SCRIPTS[0]))
    order = next(f for f in first.facts if f.key == "order_number")
    assert order.source.origin == "speech" and order.source.second == 15.0
    assert order.language == "en"
    spanish = summarise(record_of(SCRIPTS[7]), region="ES")
    assert spanish.language == "es" and spanish.text.startswith("Motivo:")


def test_summary_parts() -> None:
    summary = summarise(record_of(SCRIPTS[0]))
    assert summary.ivr_path == ["menu: 2"]
    assert summary.statements[0].startswith("I'm calling because my order 456 arrived")
    assert summary.disposition == "replacement sent"
    assert summary.outcome == "replacement sent"
    assert any("Follow up" in s for s in summary.next_steps)
    assert summary.keywords and all(not any(c.isdigit() for c in k) for k in summary.keywords)
    live = summarise(record_of(SCRIPTS[5], ended=False))
    assert live.in_progress and live.outcome == "in progress"


# -- on the case -----------------------------------------------------------------------------

async def test_a_call_summary_lands_on_the_case_and_is_kept_live(
    store: CaseStore, bus: InProcessBus
) -> None:
    interactions = CallInteractions(store)
    ref = await interactions.start_voice_interaction(caller="+15550100199", call_id="s1")
    async with bus.subscribe(f"case:{ref.case_id}") as events:
        await interactions.add_segment(
            ref.interaction_id, speaker="caller", start=1.0, end=4.0,
            text="Hi, my order four five six arrived damaged.", confidence=0.9, engine="t")
        live: dict[str, Any] | None = None
        async for event in events:
            if event["type"] == "summary":
                live = event["summary"]
                break
    assert live is not None and live["in_progress"] is True
    assert ("order_number", "456") in {(f["key"], f["value"]) for f in live["facts"]}
    await interactions.end_interaction(ref.interaction_id, outcome="completed")
    timeline = await store.timeline(ref.case_id)
    top = timeline["summary"]
    assert top["interaction_id"] == ref.interaction_id and top["in_progress"] is False
    assert top["outcome"] == "completed" and "order 456" in top["text"]
    assert timeline["interactions"][0]["summary"] == top["text"]
    assert [f["key"] for f in timeline["facts"]] == ["order_number"]


async def test_a_text_conversation_summary_when_it_ends(store: CaseStore) -> None:
    draft = MessageDraft(channel="sms", direction="inbound", sender="+15550100123",
                         recipient="+15550000000",
                         body="Hi, where is my order 98123? I paid 30 dollars.",
                         external_id="SM1")
    stored = await store.store_message(draft)
    await store.end_interaction(stored.interaction_id, outcome="closed")
    timeline = await store.timeline(stored.case_id)
    facts = {(f["key"], f["value"], f["source"]["message_id"]) for f in timeline["facts"]}
    assert facts == {("order_number", "98123", stored.message_id),
                     ("amount", "30.00 USD", stored.message_id)}
    assert "order 98123" in timeline["summary"]["text"]


async def test_a_given_summary_text_is_kept(store: CaseStore) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="s3")
    await store.add_segment(ref.interaction_id, speaker="caller", start=0, end=2,
                            text="My order is four five six.", confidence=None, engine="t")
    await store.end_interaction(ref.interaction_id, outcome="completed", summary="order late")
    timeline = await store.timeline(ref.case_id)
    assert timeline["interactions"][0]["summary"] == "order late"
    assert timeline["summary"]["facts"][0]["value"] == "456"


def test_a_sensitive_gather_masked_whole_is_a_masked_fact_named_by_its_step() -> None:
    # What ivr.session.mask makes of a sensitive gather's value: every scalar masked.
    masked = IvrInput("digits", "ask_pin", 2, {"digits": "***", "outcome": "***",
                                               "variable": "***"}, True, 6.0)
    record = InteractionRecord(1, "voice", STARTED, ended=True, ivr=(masked,))
    (fact,) = summarise(record).facts
    assert (fact.key, fact.value, fact.masked, fact.source.ivr_step) == (
        "ask_pin", "***", True, "ask_pin")


async def test_a_failing_summariser_never_loses_the_end_nor_logs_what_was_said(
    store: CaseStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import cases.summary_store

    def broken(record: InteractionRecord, **_: object) -> None:
        raise ValueError(f"cannot read {record.segments[0].text}")

    monkeypatch.setattr(cases.summary_store, "summarise", broken)
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="s4")
    await store.add_segment(ref.interaction_id, speaker="caller", start=0, end=2,
                            text="my card is 4111 1111 1111 1111", confidence=None, engine="t")
    await store.end_interaction(ref.interaction_id, outcome="completed")
    timeline = await store.timeline(ref.case_id)
    assert timeline["interactions"][0]["outcome"] == "completed"
    assert timeline["interactions"][0]["summary"] is None
    assert "summary of interaction" in caplog.text and "ValueError" in caplog.text
    assert "4111" not in caplog.text


def test_the_short_text_an_sms_may_carry() -> None:
    made = summarise(record_of(SCRIPTS[0])).to_json()
    short = short_text(made)
    assert short.startswith("You told us: \u201cI'm calling because my order 456 arrived")
    assert "456" in short and len(short) <= 300
    card = summarise(record_of(SCRIPTS[2])).to_json()
    assert "*" not in short_text(card) and "1111" not in short_text(card)
    assert "55512" in short_text(card)
    spanish = short_text(summarise(record_of(SCRIPTS[7]), region="ES").to_json())
    assert spanish.startswith("Nos dijo:") and "456" in spanish
    edited = {**made, "text": "Parcel 456: replacement on its way.",
              "edited": {"by": "ana", "at": None, "fields": ["text"]}}
    assert short_text(edited) == "Parcel 456: replacement on its way."
    assert len(short_text({**edited, "text": "word " * 200}, limit=50)) <= 50


def test_the_short_text_carries_a_reason_the_recogniser_cut_in_two() -> None:
    """A pause mid-sentence ends an utterance (a loaded line, a breath): the caller's reason
    arrives as two punctuated segments. The SMS carries both, put back together, not only
    the half before the pause (which said nothing of why they called)."""
    record = InteractionRecord(1, "voice", STARTED, segments=(
        Segment("caller", 7.0, 9.1, "I am calling because my parcel."),
        Segment("caller", 9.4, 12.0, "arrived damaged and the screen is cracked."),
    ))
    short = short_text(summarise(record).to_json())
    assert short.startswith(
        "You told us: \u201cI am calling because my parcel arrived damaged and the screen is "
        "cracked\u201d"), short
    two = InteractionRecord(1, "voice", STARTED, segments=(
        Segment("caller", 7.0, 9.1, "My parcel arrived damaged."),
        Segment("caller", 9.4, 12.0, "I would like a replacement."),
    ))
    assert short_text(summarise(two).to_json()).startswith(
        "You told us: \u201cMy parcel arrived damaged. I would like a replacement\u201d")
