"""Messages on the case (SQLite and PostgreSQL): text interactions opened and closed, the store
idempotent on the channel's id, delivery status moving forward only, bad input refused with
nothing lost, and the timeline interleaving every channel in time order."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from cases.errors import InvalidInput, NotFound
from cases.events import InProcessBus
from cases.messages import MAX_BODY_CHARS, Attachment, MessageDraft
from cases.store import CaseStore
from tests.cases.conftest import FakeClock

CUSTOMER = "+34612345678"
OURS = "+34910000000"


def sms_in(sid: str = "SM1", body: str | bytes = "Hello", **kw: Any) -> MessageDraft:
    fields: dict[str, Any] = {
        "channel": "sms", "direction": "inbound", "sender": CUSTOMER, "recipient": OURS,
        "body": body, "external_id": sid, "verified": True,
    }
    fields.update(kw)
    return MessageDraft(**fields)


def sms_out(**kw: Any) -> MessageDraft:
    fields: dict[str, Any] = {
        "channel": "sms", "direction": "outbound", "sender": OURS, "recipient": CUSTOMER,
        "body": "On it",
    }
    fields.update(kw)
    return MessageDraft(**fields)


async def test_inbound_sms_lands_on_the_case(store: CaseStore, bus: InProcessBus) -> None:
    async with bus.subscribe("case:1") as events:
        stored = await store.store_message(sms_in())
        event = await asyncio.wait_for(events.__aiter__().__anext__(), 5)
    assert stored.created and stored.case_id == 1
    assert event["type"] == "message" and event["message"]["id"] == stored.message_id
    timeline = await store.timeline(stored.case_id)
    (interaction,) = timeline["interactions"]
    assert (interaction["channel"], interaction["direction"], interaction["dialed"]) == (
        "sms", "inbound", OURS,
    )
    (message,) = interaction["messages"]
    assert message["body"] == "Hello" and message["status"] == "received"
    assert message["sender"] == CUSTOMER and message["external_id"] == "SM1"
    assert [h["status"] for h in message["status_history"]] == ["received"]


async def test_a_retry_stores_nothing_twice(store: CaseStore) -> None:
    first = await store.store_message(sms_in(body="Hello"))
    # Twilio retries the webhook; a replay may even carry another body: the stored one wins.
    again = await store.store_message(sms_in(body="Hello (changed)"))
    assert not again.created
    assert (again.message_id, again.case_id, again.interaction_id) == (
        first.message_id, first.case_id, first.interaction_id,
    )
    assert again.view["body"] == "Hello"
    # Concurrent deliveries of one new message (PostgreSQL runs them on 4 connections).
    racing = await asyncio.gather(*(store.store_message(sms_in("SM2", "race")) for _ in range(6)))
    assert len({r.message_id for r in racing}) == 1
    assert sum(r.created for r in racing) == 1
    # The same id on another channel is another message.
    other = await store.store_message(
        MessageDraft(
            channel="whatsapp", direction="inbound", sender=f"whatsapp:{CUSTOMER}",
            recipient=f"whatsapp:{OURS}", body="Hello", external_id="SM1",
        )
    )
    assert other.created and other.message_id != first.message_id
    messages = [
        m for i in (await store.timeline(first.case_id))["interactions"] for m in i["messages"]
    ]
    assert [(m["channel"], m["external_id"]) for m in messages] == [
        ("sms", "SM1"), ("sms", "SM2"), ("whatsapp", "SM1"),
    ]


async def test_status_moves_forward_only(store: CaseStore, clock: FakeClock) -> None:
    inbound = await store.store_message(sms_in())
    out = await store.store_message(sms_out())
    assert out.interaction_id == inbound.interaction_id and out.view["status"] == "queued"
    await store.assign_external_id(out.message_id, "SMout")
    await store.assign_external_id(out.message_id, "SMout")  # the same id again: no-op
    sent = await store.update_message_status("sent", channel="sms", external_id="SMout")
    delivered = await store.update_message_status("delivered", channel="sms", external_id="SMout")
    late = await store.update_message_status("sent", channel="sms", external_id="SMout")
    assert sent.applied and delivered.applied and not late.applied
    view = late.view
    assert view["status"] == "delivered"
    assert [(h["status"], h["applied"]) for h in view["status_history"]] == [
        ("queued", True), ("sent", True), ("delivered", True), ("sent", False),
    ]
    assert view["sent_at"] == view["status_history"][1]["at"]
    assert view["delivered_at"] == view["status_history"][2]["at"]
    assert (await store.update_message_status("read", message_id=out.message_id)).applied

    failing = await store.store_message(sms_out(body="second"))
    failed = await store.update_message_status(
        "failed", message_id=failing.message_id, error_code="30003"
    )
    assert failed.applied and failed.view["error_code"] == "30003"
    after = await store.update_message_status("delivered", message_id=failing.message_id)
    assert not after.applied and after.view["status"] == "failed"
    assert after.view["delivered_at"] is None

    with pytest.raises(NotFound):
        await store.update_message_status("delivered", channel="sms", external_id="SMnope")
    with pytest.raises(InvalidInput) as info:
        await store.update_message_status("lost", message_id=out.message_id)
    assert info.value.where == "status"
    with pytest.raises(InvalidInput) as info:
        await store.assign_external_id(out.message_id, "SMother")
    assert info.value.where == "external_id"


async def test_text_interactions_open_and_close(store: CaseStore) -> None:
    ref = await store.open_text_interaction(channel="chat", address="visitor-1", our_address="web")
    again = await store.open_text_interaction(channel="chat", address="visitor-1")
    assert again == ref
    first = await store.store_message(
        MessageDraft(channel="chat", direction="inbound", sender="visitor-1", recipient="web",
                     body="hi", external_id="m1")
    )
    assert first.interaction_id == ref.interaction_id
    await store.end_interaction(ref.interaction_id, outcome="resolved")
    later = await store.store_message(
        MessageDraft(channel="chat", direction="inbound", sender="visitor-1", recipient="web",
                     body="one more thing", external_id="m2")
    )
    assert later.case_id == ref.case_id and later.interaction_id != ref.interaction_id
    # An adapter that threads a reply itself (an email token) names the interaction.
    threaded = await store.store_message(
        MessageDraft(channel="chat", direction="outbound", sender="web", recipient="visitor-1",
                     body="sure", status="sent", interaction_id=ref.interaction_id)
    )
    assert threaded.interaction_id == ref.interaction_id
    assert threaded.view["sent_at"] is not None
    with pytest.raises(InvalidInput) as info:
        await store.store_message(sms_out(interaction_id=ref.interaction_id))
    assert info.value.where == "message.interaction_id"
    with pytest.raises(NotFound):
        await store.store_message(sms_out(interaction_id=999))
    with pytest.raises(InvalidInput) as info:
        await store.open_text_interaction(channel="voice", address=CUSTOMER)
    assert info.value.where == "channel"


async def test_attachments_keep_their_metadata(store: CaseStore) -> None:
    stored = await store.store_message(
        sms_in("MM1", body="", attachments=[
            Attachment("photo.jpg", "image/jpeg", 48_213, "media/MM1/0"),
            Attachment("note.txt", "text/plain; charset=utf-8", 12, "media/MM1/1"),
        ])
    )
    assert [
        (a["filename"], a["content_type"], a["size"], a["storage_key"])
        for a in stored.view["attachments"]
    ] == [
        ("photo.jpg", "image/jpeg", 48_213, "media/MM1/0"),
        ("note.txt", "text/plain; charset=utf-8", 12, "media/MM1/1"),
    ]
    timeline = await store.timeline(stored.case_id)
    assert timeline["interactions"][0]["messages"][0]["attachments"] == stored.view["attachments"]


@pytest.mark.parametrize(
    ("draft", "where", "says"),
    [
        (sms_in("SMx", sender="+34 612"), "message.sender", "phone number"),
        (sms_in("SMx", sender="not a number"), "message.sender", "phone number"),
        (sms_in("SMx", body="x" * (MAX_BODY_CHARS + 1)), "message.body", f"at most {MAX_BODY_CHARS}"),
        (sms_in("SMx", body=b"caf\xc3\xa9 \xff\xfe"), "message.body", "UTF-8 (at byte 6)"),
        (sms_in("SMx", body="caf\udcc3"), "message.body", "lone surrogate at character 3"),
        (sms_in("SMx", body="a\x00b"), "message.body", "NUL"),
        (sms_in("SMx", html="<p>\x00</p>"), "message.html", "NUL"),
        (sms_in("SMx", body="   "), "message.body", "body or an attachment"),
        (sms_in("SMx", channel="fax"), "message.channel", "must be one of"),
        (sms_in("SMx", channel="voice"), "message.channel", "must be one of"),
        (sms_in("SMx", direction="sideways"), "message.direction", "must be one of"),
        (sms_in("SMx", external_id=" "), "message.external_id", "empty"),
        (sms_in("SMx", status="queued"), "message.status", "inbound"),
        (sms_in("SMx", sender="x\x00"), "message.sender", "NUL"),
        (sms_in("SMx", attachments=[Attachment("a.jpg", "image/jpeg", -1, "k")]),
         "message.attachments[0].size", "size"),
        (sms_in("SMx", attachments=[Attachment("../etc/passwd", "text/plain", 1, "k")]),
         "message.attachments[0].filename", "path"),
        (sms_in("SMx", attachments=[Attachment("a.jpg", "jpeg", 1, "k")]),
         "message.attachments[0].content_type", "media type"),
        (sms_in("SMx", attachments=[Attachment("a", "text/plain", 1, "k")] * 51),
         "message.attachments", "at most 50"),
        (sms_in("SMx", attachments=None), "message.attachments", "a list"),
        (sms_in("SMx", interaction_id="1"), "message.interaction_id", "integer"),
        (MessageDraft(channel="email", direction="inbound", sender="not-an-address",
                      recipient="x@y.es", body="hi"), "message.sender", "email"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_lost(
    store: CaseStore, draft: MessageDraft, where: str, says: str
) -> None:
    kept = await store.store_message(sms_in("SM1", attachments=[
        Attachment("a.jpg", "image/jpeg", 10, "media/a")
    ]))
    before = await store.timeline(kept.case_id)
    with pytest.raises(InvalidInput) as info:
        await store.store_message(draft)
    assert info.value.where == where
    assert says in info.value.what
    assert await store.timeline(kept.case_id) == before
    # The refused message was not half-written under its id either.
    retry = await store.store_message(sms_in("SMx", body="fine now"))
    assert retry.created


async def test_timeline_interleaves_every_channel_in_time_order(
    store: CaseStore, clock: FakeClock
) -> None:
    call = await store.start_voice_interaction(caller=CUSTOMER, call_id="call-1")  # 09:00:00
    await store.add_ivr_event(call.interaction_id, kind="digits", value={"digits": "2"})  # :01
    sms = await store.store_message(sms_in())  # 09:00:02
    await store.add_segment(  # transcript of the call: stays inside the call's entry
        call.interaction_id, speaker="caller", start=1.0, end=2.0, text="hello", confidence=0.9,
        engine="test",
    )
    await store.add_note(call.case_id, author="ana", text="called, then texted")
    await store.store_message(sms_out())
    timeline = await store.timeline(call.case_id)
    assert sms.case_id == call.case_id
    entries = timeline["entries"]
    assert [e["type"] for e in entries] == ["call", "ivr", "message", "note", "message"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert entries[0]["call"]["segments"][0]["text"] == "hello"
    assert [entries[2]["message"]["direction"], entries[4]["message"]["direction"]] == [
        "inbound", "outbound",
    ]
    assert entries[3]["note"]["text"] == "called, then texted"


async def test_timeline_ties_keep_a_stable_order(store: CaseStore, clock: FakeClock) -> None:
    clock.step = timedelta(0)  # everything at one instant
    await store.store_message(sms_in())
    call = await store.start_voice_interaction(caller=CUSTOMER, call_id="call-1")
    await store.add_note(call.case_id, author="ana", text="n")
    await store.add_ivr_event(call.interaction_id, kind="digits", value={"digits": "1"})
    entries = (await store.timeline(call.case_id))["entries"]
    assert [e["type"] for e in entries] == ["call", "ivr", "message", "note"]


def email_in(message_id: str = "<m1@mail.example.net>", **kw: Any) -> MessageDraft:
    fields: dict[str, Any] = {
        "channel": "email", "direction": "inbound", "sender": "ana@example.net",
        "recipient": "support@example.com", "body": "Hello", "external_id": message_id,
    }
    fields.update(kw)
    return MessageDraft(**fields)


async def test_an_email_keeps_its_subject_on_the_timeline(store: CaseStore) -> None:
    stored = await store.store_message(email_in(subject="  Order 4411 — refund  "))
    assert stored.view["subject"] == "Order 4411 — refund"  # trimmed, as shown
    out = await store.store_message(email_in(
        None, direction="outbound", sender="support@example.com", recipient="ana@example.net",
        subject=b"Re: Order 4411 \xe2\x80\x94 refund"))
    sms = await store.store_message(sms_in())
    blank = await store.store_message(email_in("<m2@mail.example.net>", subject="   "))
    timeline = await store.timeline(stored.case_id)
    shown = {e["message"]["id"]: e["message"]["subject"] for e in timeline["entries"]
             if e["type"] == "message"}
    assert shown[stored.message_id] == "Order 4411 — refund"
    assert shown[out.message_id] == "Re: Order 4411 — refund"
    assert shown[blank.message_id] is None
    assert sms.view["subject"] is None  # SMS has none (another customer's case)
    # The longest one line RFC 5322 allows is kept whole.
    longest = await store.store_message(email_in("<m3@mail.example.net>", subject="s" * 998))
    assert longest.view["subject"] == "s" * 998


@pytest.mark.parametrize(
    ("subject", "says"),
    [
        ("Hi\r\nBcc: all@example.com", "single line"),
        ("Hi\nthere", "single line"),
        ("Hi\u2028there", "single line"),
        ("Hi\x1bthere", "single line"),
        ("s" * 999, "at most 998"),
        ("Hi\x00", "NUL"),
        (b"caf\xc3\x28", "not valid UTF-8"),
        ("caf\udcc3", "lone surrogate"),
        (42, "must be text"),
    ],
    ids=["crlf-header", "lf", "line-separator", "escape", "999-chars", "nul", "bad-utf8",
         "surrogate", "not-text"],
)
async def test_a_bad_subject_is_refused_and_nothing_is_lost(
    store: CaseStore, subject: object, says: str
) -> None:
    kept = await store.store_message(email_in())
    before = await store.timeline(kept.case_id)
    with pytest.raises(InvalidInput) as info:
        await store.store_message(email_in("<bad@mail.example.net>", subject=subject))
    assert info.value.where == "message.subject"
    assert says in info.value.what
    assert await store.timeline(kept.case_id) == before
    assert await store.find_message_by_external_id("email", "<bad@mail.example.net>") is None


async def test_a_message_is_found_by_its_channel_id(store: CaseStore) -> None:
    sms = await store.store_message(sms_in("SM1"))
    email = await store.store_message(email_in())
    found = await store.find_message_by_external_id("email", "<m1@mail.example.net>")
    assert found is not None
    assert (found.case_id, found.interaction_id, found.message_id) == (
        email.case_id, email.interaction_id, email.message_id)
    assert (found.direction, found.sender) == ("inbound", "ana@example.net")
    by_sid = await store.find_message_by_external_id("sms", "SM1")
    assert by_sid is not None and by_sid.message_id == sms.message_id
    # Unique per channel: the same id on another channel, or an unknown one, is nothing.
    assert await store.find_message_by_external_id("whatsapp", "SM1") is None
    assert await store.find_message_by_external_id("email", "<m9@mail.example.net>") is None
    with pytest.raises(InvalidInput) as info:
        await store.find_message_by_external_id("fax", "SM1")
    assert info.value.where == "channel"
    with pytest.raises(InvalidInput) as info:
        await store.find_message_by_external_id("sms", " ")
    assert info.value.where == "external_id"
