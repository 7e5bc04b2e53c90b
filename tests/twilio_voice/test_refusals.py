"""What is not Twilio's, or not this call's, is refused; a broken stream ends cleanly; and the
server goes on serving. Each case says so in one log line and stores nothing."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from tests.helpers.media_streams_client import MediaStreamsClient, twiml_stream
from tests.helpers.twilio_standin import TwilioStandIn
from tests.twilio_voice.conftest import (
    ACCOUNT,
    BARGE,
    MENU,
    PUBLIC,
    STREAM_PUBLIC,
    Rig,
    new_call_sid,
)
from tests.twilio_voice.test_calls import ended_interaction

pytestmark = pytest.mark.slow


async def no_case(rig: Rig, call_sid: str) -> bool:
    status, _ = await rig.api("GET", f"/api/calls/{call_sid}/case")
    return status == 404


async def healthy_call(rig: Rig) -> None:
    """A whole call still works: the server goes on serving."""
    client = await rig.call(MENU)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: bool(r.echoed))
        await client.dtmf("1")
        await client.wait_closed(within=30)
    finally:
        await client.close()
    events = (await ended_interaction(rig, client.call_sid))["ivr_events"]
    assert any(e["kind"] == "variable" and e["value"] == {"team": "billing"} for e in events)


async def test_forged_and_unsigned_webhooks_get_403_and_no_stream(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    sid = new_call_sid()
    forger = TwilioStandIn(ACCOUNT, "not-the-auth-token")
    params = {"AccountSid": ACCOUNT, "CallSid": sid, "CallStatus": "ringing",
              "From": "+34612345678", "To": MENU}
    with caplog.at_level(logging.WARNING):
        forged = forger.sign(PUBLIC + "/twilio/voice", params)
        status, text = await rig.webhook(sid, MENU, signature=forged)
        assert status == 403 and "X-Twilio-Signature" in text and "<Stream" not in text
        assert (await rig.webhook(sid, MENU, signature=None))[0] == 403
        # Signed for the server's own address rather than the public one: forged too.
        local = rig.twilio.sign(rig.base + "/twilio/voice", params)
        assert (await rig.webhook(sid, MENU, signature=local))[0] == 403
        # The status callback is checked the same way.
        assert (await rig.webhook(sid, MENU, path="/twilio/voice/status",
                                  signature=forged))[0] == 403
    assert "twilio voice webhook refused" in caplog.text
    assert await no_case(rig, sid)
    # A signed one with a malformed field: 400 naming it.
    status, text = await rig.webhook("CA123", MENU)
    assert status == 400 and "CallSid" in text


async def open_socket(rig: Rig, call_sid: str, params: dict[str, str],
                      signature: str | None = None) -> MediaStreamsClient:
    client = MediaStreamsClient(rig.ws_url(), account_sid=ACCOUNT, call_sid=call_sid,
                                params=params, signature=signature)
    await client.open()
    return client


async def test_a_socket_without_a_valid_token_is_closed_before_any_call(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    sid = new_call_sid()
    with caplog.at_level(logging.WARNING):
        for params in ({}, {"token": "bm90.YSB0b2tlbg"}, {"From": "+1", "token": "x"}):
            client = await open_socket(rig, sid, params)
            try:
                await client.wait_closed(within=10)
            finally:
                await client.close()
            assert client.close_code == 1008, params
            assert "token" in client.close_reason
            assert client.received.media == []
        # A socket that never says start: closed too (here: says something else first).
        client = MediaStreamsClient(rig.ws_url(), account_sid=ACCOUNT, call_sid=sid,
                                    params={})
        await client.connect()
        await client.send_text("{not json")
        await client.wait_closed(within=10)
        await client.close()
        assert client.close_code == 1008 and "malformed" in client.close_reason
    assert caplog.text.count("twilio stream refused") >= 4
    assert await no_case(rig, sid)
    # A wrong X-Twilio-Signature on the upgrade is refused before it.
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await open_socket(rig, sid, {}, signature="bm90IGEgc2lnbmF0dXJl")
    assert refused.value.status == 403
    assert rig.server.twilio_voice is not None
    assert rig.server.twilio_voice.stats.accepted == 0
    await healthy_call(rig)


async def test_a_replayed_token_is_refused(rig: Rig) -> None:
    sid = new_call_sid()
    status, twiml = await rig.webhook(sid, MENU)
    assert status == 200
    url, params = twiml_stream(twiml)
    assert url == STREAM_PUBLIC
    first = await open_socket(rig, sid, params, signature=rig.twilio.sign(url, {}))
    try:
        await first.wait_for(lambda r: len(r.media) > 5)
        # The same start again, on a second socket, while the first call runs ...
        replay = await open_socket(rig, sid, params, signature=rig.twilio.sign(url, {}))
        await replay.wait_closed(within=10)
        await replay.close()
        assert replay.close_code == 1008 and "already used" in replay.close_reason
        assert replay.received.media == []
    finally:
        await first.stop()
    # ... and after it ended.
    again = await open_socket(rig, sid, params)
    await again.wait_closed(within=10)
    await again.close()
    assert again.close_code == 1008 and "already used" in again.close_reason
    interaction = await ended_interaction(rig, sid)
    assert interaction["ended_at"]


async def test_malformed_frames_mid_call_are_dropped_and_the_call_goes_on(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    client = await rig.call(MENU)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: len(r.media) > 10)
        with caplog.at_level(logging.WARNING):
            await client.send_text("{not json")
            bad_payload = client.media_message(b"\xff" * 160)
            bad_payload["media"]["payload"] = "%%%not base64"
            await client.send_json(bad_payload)
            await client.send_json({**client.media_message(b"\xff" * 160),
                                    "streamSid": "MZ" + "0" * 32})
        await client.wait_for(lambda r: bool(r.echoed))
        await client.dtmf("1")
        await client.wait_closed(within=30)
    finally:
        await client.close()
    assert client.close_code == 1000
    events = (await ended_interaction(rig, client.call_sid))["ivr_events"]
    assert any(e["kind"] == "variable" and e["value"] == {"team": "billing"} for e in events)
    assert "malformed frame dropped" in caplog.text and "not JSON" in caplog.text
    assert rig.server.twilio_voice is not None
    assert rig.server.twilio_voice.stats.bad_frames == 3


async def test_a_socket_dropped_mid_call_ends_the_call_and_stop_ends_it_too(rig: Rig) -> None:
    dropped = await rig.call(BARGE)
    dropped.start_microphone()
    await dropped.wait_for(lambda r: len(r.media) > 20)  # mid-prompt
    await dropped.close()  # no stop: the connection just goes
    interaction = await ended_interaction(rig, dropped.call_sid)
    assert interaction["ended_at"]
    stopped = await rig.call(BARGE)
    stopped.start_microphone()
    await stopped.wait_for(lambda r: len(r.media) > 20)
    await stopped.stop()
    assert (await ended_interaction(rig, stopped.call_sid))["ended_at"]
    voice = rig.server.twilio_voice
    assert voice is not None
    for _ in range(50):
        if not voice.live:
            break
        await asyncio.sleep(0.1)
    assert voice.live == {}
    assert len(rig.server.ticker) == 0 or all(
        kind != "TwilioStreamLeg" for kind in rig.server.ticker.member_kinds())
    await healthy_call(rig)


async def test_one_call_has_one_stream_even_with_two_valid_tokens(rig: Rig) -> None:
    sid = new_call_sid()
    tokens = []
    for _ in range(2):  # Twilio retried the webhook: two answers, two tokens
        status, twiml = await rig.webhook(sid, MENU)
        assert status == 200
        tokens.append(twiml_stream(twiml)[1])
    first = await open_socket(rig, sid, tokens[0])
    try:
        await first.wait_for(lambda r: len(r.media) > 5)
        second = await open_socket(rig, sid, tokens[1])
        await second.wait_closed(within=10)
        await second.close()
        assert second.close_code == 1008 and "already live" in second.close_reason
    finally:
        await first.stop()
    assert (await ended_interaction(rig, sid))["ended_at"]


async def test_shutdown_hangs_up_live_streams_cleanly(rig: Rig) -> None:
    client = await rig.call(BARGE)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: len(r.media) > 10)
        voice = rig.server.twilio_voice
        assert voice is not None and len(voice.live) == 1
        await voice.close()  # what Server.stop does first
        await client.wait_closed(within=10)
    finally:
        await client.close()
    assert client.close_code == 1000 and voice.live == {}
    assert (await ended_interaction(rig, client.call_sid))["ended_at"]
