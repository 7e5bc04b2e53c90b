"""SMS and WhatsApp through Twilio on the real server, with the real `twilio` client talking to
the loopback stand-in, which signs its status callbacks and webhooks as Twilio does."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from channels.base import OutboundText, Refused, Sender
from tests.channels.conftest import OUR_SMS, PUBLIC, Rig, sms
from tests.helpers.twilio_standin import TwilioStandIn
from voice.pjsua.client import place_call

SID1, SID2, SID3, SID4 = ("SM" + c * 32 for c in "1234")


async def _case_of_call(rig: Rig) -> str:
    """The case of the last call, once its interaction is stored (shortly after it starts)."""
    deadline = time.monotonic() + 15
    while True:
        status, calls = await rig.api("GET", "/api/debug/calls")
        assert status == 200 and calls, calls
        status, found = await rig.api("GET", f"/api/calls/{calls[-1]['call_id']}/case")
        if status == 200:
            return str(found["case_id"])
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.2)


async def _messages(rig: Rig, case_id: str) -> list[dict[str, Any]]:
    status, timeline = await rig.api("GET", f"/api/cases/{case_id}")
    assert status == 200, timeline
    return [m for i in timeline["interactions"] for m in i.get("messages", [])]


async def _wait_status(rig: Rig, case_id: str, external_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        found = [m for m in await _messages(rig, case_id) if m["external_id"] == external_id]
        if found and found[0]["status"] == status:
            return found[0]
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_sms_round_trip_on_the_case_of_the_caller(rig: Rig) -> None:
    # The customer calls first, dialling nationally (default region ES)...
    result = await place_call(f"sip:100@{rig.server.settings.sip_listen}",
                              from_user="612345678", duration=1.0)
    assert result.connected, result
    case_id = await _case_of_call(rig)
    # ... then texts in E.164 and on WhatsApp: one customer, one case.
    assert (await rig.inbound(sms(SID1, "Hola, sobre mi pedido")))[0] == 200
    wa = sms(SID2, "Os escribo por WhatsApp", sender="whatsapp:+34612345678")
    assert (await rig.inbound(wa))[0] == 200
    status, timeline = await rig.api("GET", f"/api/cases/{case_id}")
    assert timeline["identities"] == [{"kind": "phone", "value": "+34612345678"}]
    channels = [i["channel"] for i in timeline["interactions"]]
    assert channels == ["voice", "sms", "whatsapp"]
    inbound = await _messages(rig, case_id)
    assert [(m["external_id"], m["status"]) for m in inbound] == [(SID1, "received"),
                                                                  (SID2, "received")]

    # The agent answers from the case: out through the real client to the stand-in...
    status, sent = await rig.api("POST", f"/api/cases/{case_id}/messages",
                                 {"channel": "sms", "body": "Le llamamos mañana"})
    assert status == 201, sent
    assert sent["case_id"] == case_id
    assert sent["segments"] == {"count": 1, "encoding": "GSM-7", "units": 18}
    [request] = rig.twilio.requests
    assert request.form["To"] == "+34612345678"
    assert request.form["From"] == OUR_SMS
    assert request.form["Body"] == "Le llamamos mañana"
    assert request.form["StatusCallback"] == PUBLIC + "/twilio/messaging/status"
    assert sent["message"]["external_id"] == request.sid
    # ... and the stand-in's signed callbacks move it to delivered.
    message = await _wait_status(rig, case_id, str(request.sid), "delivered")
    assert [e["status"] for e in message["status_history"]] == ["queued", "sent", "delivered"]
    await rig.twilio.drain()
    assert [(c.status, c.http_status) for c in rig.twilio.callbacks] == [
        ("sent", 200), ("delivered", 200)]

    # WhatsApp replies go from our WhatsApp number to the customer's WhatsApp address.
    status, sent = await rig.api("POST", f"/api/cases/{case_id}/messages",
                                 {"channel": "whatsapp", "body": "¡Hecho! 👍"})
    assert status == 201, sent
    assert rig.twilio.requests[-1].form["To"] == "whatsapp:+34612345678"
    assert rig.twilio.requests[-1].form["From"] == "whatsapp:+14155238886"


async def test_forged_unsigned_and_replayed_webhooks_get_403_and_store_nothing(rig: Rig) -> None:
    params = sms(SID1, "first")
    assert (await rig.inbound(params))[0] == 200
    assert rig.count("messages") == 1
    customers = rig.count("customers")
    forger = TwilioStandIn("AC" + "5" * 32, "not-the-token")
    forged = forger.sign(PUBLIC + "/twilio/messaging", sms(SID2, "forged"))
    assert (await rig.inbound(sms(SID2, "forged"), signature=forged))[0] == 403
    assert (await rig.inbound(sms(SID2, "unsigned"), signature=None))[0] == 403
    assert (await rig.inbound(sms(SID2, "empty"), signature=""))[0] == 403
    # A replay of a genuine request with another body: the signature no longer matches.
    genuine = sms(SID3, "pay 10 EUR")
    signature = rig.twilio.sign(PUBLIC + "/twilio/messaging", genuine)
    replay = {**genuine, "Body": "pay 1000 EUR"}
    status, text = await rig.inbound(replay, signature=signature)
    assert status == 403 and "X-Twilio-Signature" in text
    # Signed for another URL (the server's own address, not the public one): 403 too.
    local = rig.twilio.sign(rig.base + "/twilio/messaging", genuine)
    assert (await rig.inbound(genuine, signature=local))[0] == 403
    assert (rig.count("messages"), rig.count("customers")) == (1, customers)
    # Status callbacks are verified the same way: a forged "delivered" moves nothing.
    forged_status = {"MessageSid": SID1, "MessageStatus": "failed", "AccountSid": "AC" + "5" * 32}
    assert (await rig.status_callback(forged_status, signature="bm90IGEgc2lnbmF0dXJl"))[0] == 403
    assert rig.count("message_status_events") == 1


@pytest.mark.parametrize("rig", ["sqlite", "postgresql"], indirect=True)
async def test_a_retried_webhook_stores_once(rig: Rig) -> None:
    params = sms(SID1, "¿Hay alguien?")
    for _ in range(3):
        assert (await rig.inbound(params))[0] == 200
    assert rig.count("messages") == 1
    # Retries racing each other (Twilio retries while the first is still being handled).
    racing = sms(SID2, "¿Y ahora?", sender="+34699000111")
    answers = await asyncio.gather(*(rig.inbound(racing) for _ in range(6)))
    assert [status for status, _ in answers] == [200] * 6
    assert (rig.count("messages"), rig.count("customers")) == (2, 2)


async def test_stop_blocks_sms_with_a_clear_error_and_start_allows_again(rig: Rig) -> None:
    await rig.inbound(sms(SID1, "hola"))
    case_id = await _first_case(rig)
    assert (await rig.api("POST", f"/api/cases/{case_id}/messages",
                          {"channel": "sms", "body": "uno"}))[0] == 201
    assert (await rig.inbound(sms(SID2, " Stop ")))[0] == 200
    status, refused = await rig.api("POST", f"/api/cases/{case_id}/messages",
                                    {"channel": "sms", "body": "dos"})
    assert status == 409, refused
    assert refused["error"]["code"] == "opted_out"
    assert "STOP" in refused["error"]["message"] and "START" in refused["error"]["message"]
    assert len(rig.twilio.requests) == 1  # nothing reached Twilio
    # The STOP itself is on the case.
    assert any(m["body"] == " Stop " for m in await _messages(rig, case_id))
    assert (await rig.inbound(sms(SID3, "unstop")))[0] == 200
    assert (await rig.api("POST", f"/api/cases/{case_id}/messages",
                          {"channel": "sms", "body": "tres"}))[0] == 201
    assert len(rig.twilio.requests) == 2


async def _first_case(rig: Rig) -> str:
    assert rig.server.store is not None
    public: str = await rig.server.store.public_id(1)
    return public


async def test_bad_input_gets_a_clear_400_and_loses_nothing(rig: Rig) -> None:
    assert (await rig.inbound(sms(SID1, "kept")))[0] == 200
    case_id = await _first_case(rig)
    before = await _messages(rig, case_id)

    status, text = await rig.inbound(sms(SID2, "x" * 5000))
    assert status == 400 and '"where": "Body"' in text and "4096" in text
    missing = {k: v for k, v in sms(SID2, "no sender").items() if k != "From"}
    status, text = await rig.inbound(missing)
    assert status == 400 and '"where": "From"' in text and "missing" in text
    # Invalid UTF-8 in Body (%FF): refused before anything else is read.
    raw = b"MessageSid=" + SID2.encode() + b"&From=%2B34612345678&To=%2B34910000000&Body=%FFx"
    status, text = await rig.inbound({}, body=raw, signature="anything")
    assert status == 400 and '"where": "Body"' in text and "UTF-8" in text
    # A 20 MB media file (Twilio's own limit is 5 MB): refused, not stored.
    url = rig.twilio.add_media("big.jpg", b"\xff" * (20 * 1024 * 1024), "image/jpeg")
    status, text = await rig.inbound(sms(SID2, "photo", NumMedia="1", MediaUrl0=url,
                                         MediaContentType0="image/jpeg"))
    assert status == 400 and '"where": "MediaUrl0"' in text and "limit" in text
    # A body too large to be Twilio's is not even read.
    status, _ = await rig.inbound({}, body=b"Body=" + b"x" * 300_000, signature="x")
    assert status == 413
    assert await _messages(rig, case_id) == before
    assert rig.count("messages") == 1
    assert not list((rig.server.settings.data_dir / "attachments").glob("*"))


async def test_mms_media_is_fetched_into_the_attachment_store(rig: Rig) -> None:
    photo = b"\x89PNG\r\n\x1a\n" + b"p" * 5000
    url = rig.twilio.add_media("ME1", photo, "image/png")
    params = sms(SID1, "", NumMedia="1", MediaUrl0=url, MediaContentType0="image/png")
    status, text = await rig.inbound(params)
    assert status == 200, text
    [message] = await _messages(rig, await _first_case(rig))
    [attachment] = message["attachments"]
    assert (attachment["content_type"], attachment["size"]) == ("image/png", len(photo))
    files = list((rig.server.settings.data_dir / "attachments").iterdir())
    assert [f.read_bytes() for f in files] == [photo]


async def test_undelivered_and_refused_messages_carry_twilio_error_codes(rig: Rig) -> None:
    await rig.inbound(sms(SID1, "hola"))
    case_id = await _first_case(rig)
    rig.twilio.final_status, rig.twilio.final_error = "undelivered", "30003"
    status, sent = await rig.api("POST", f"/api/cases/{case_id}/messages",
                                 {"channel": "sms", "body": "¿Sigue ahí?"})
    assert status == 201 and sent["segments"]["encoding"] == "UCS-2"
    message = await _wait_status(rig, case_id, sent["message"]["external_id"], "undelivered")
    assert message["error_code"] == "30003"
    rig.twilio.refuse_next(21610, "Attempt to send to unsubscribed recipient")
    status, failed = await rig.api("POST", f"/api/cases/{case_id}/messages",
                                   {"channel": "sms", "body": "otra"})
    assert status == 502 and failed["error"]["provider_code"] == "21610", failed
    assert [m["status"] for m in await _messages(rig, case_id)][-1] == "failed"


async def test_sending_refuses_what_the_dial_plan_and_twilio_would(rig: Rig) -> None:
    # A premium-rate number on the case: the dial plan refuses it, Twilio never hears of it.
    assert (await rig.inbound(sms(SID1, "hola", sender="+34803123456")))[0] == 200
    case_id = await _first_case(rig)
    status, refused = await rig.api("POST", f"/api/cases/{case_id}/messages",
                                    {"channel": "sms", "body": "hola"})
    assert status == 409 and refused["error"]["code"] == "dial_plan", refused
    status, refused = await rig.api("POST", f"/api/cases/{case_id}/messages",
                                    {"channel": "sms", "body": "x" * 1601})
    assert status == 409 and refused["error"]["code"] == "body", refused
    assert rig.twilio.requests == []


async def test_callbacks_that_overtake_the_rest_answer_still_find_their_message(rig: Rig) -> None:
    await rig.inbound(sms(SID1, "hola"))
    case_id = await _first_case(rig)
    rig.twilio.answer_delay = 0.5  # both callbacks arrive before we learn the MessageSid
    status, sent = await rig.api("POST", f"/api/cases/{case_id}/messages",
                                 {"channel": "sms", "body": "rápido"})
    assert status == 201, sent
    await rig.twilio.drain()
    assert sorted(c.http_status for c in rig.twilio.callbacks) == [200, 200]
    await _wait_status(rig, case_id, sent["message"]["external_id"], "delivered")


async def test_status_for_an_unknown_message_is_404_and_stop_is_per_channel(rig: Rig) -> None:
    unknown = {"MessageSid": SID4, "MessageStatus": "delivered", "To": "+34612345678"}
    status, text = await rig.status_callback(unknown)
    assert status == 404 and "MessageSid" in text
    await rig.inbound(sms(SID1, "STOP"))
    case_id = await _first_case(rig)
    assert (await rig.api("POST", f"/api/cases/{case_id}/messages",
                          {"channel": "sms", "body": "no"}))[0] == 409
    # STOP on SMS says nothing about WhatsApp, where the customer opts out separately.
    assert (await rig.api("POST", f"/api/cases/{case_id}/messages",
                          {"channel": "whatsapp", "body": "sí"}))[0] == 201


async def test_the_sender_interface_checks_then_sends(rig: Rig) -> None:
    assert rig.server.twilio is not None
    sender: Sender = rig.server.twilio.sender("sms")
    sent = await sender.send(OutboundText("sms", "612345678", "a" * 161))
    assert (sent.status, sent.segments) == ("queued", 2)
    assert rig.twilio.requests[-1].sid == sent.external_id
    assert rig.twilio.requests[-1].form["To"] == "+34612345678"
    await rig.inbound(sms(SID1, "quit"))
    with pytest.raises(Refused) as refused:
        await sender.send(OutboundText("sms", "+34612345678", "más"))
    assert refused.value.code == "opted_out"
    with pytest.raises(Refused):
        await sender.send(OutboundText("sms", "+34803123456", "premium"))
    assert len(rig.twilio.requests) == 1


async def test_help_is_answered_with_the_operators_text_and_kept_on_the_case(rig: Rig) -> None:
    status, twiml = await rig.inbound(sms(SID1, "Info"))
    assert status == 200
    assert twiml.endswith("<Response><Message>Soporte &lt;Acme&gt; &amp; más: 910 000 000"
                          "</Message></Response>")
    status, twiml = await rig.inbound(sms(SID2, "hola"))
    assert twiml.endswith("<Response></Response>")
    assert [m["body"] for m in await _messages(rig, await _first_case(rig))] == ["Info", "hola"]
