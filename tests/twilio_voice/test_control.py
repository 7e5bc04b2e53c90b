"""Call control through Twilio's REST API: the real `twilio.rest.Client` against the loopback
stand-in, on a live Media Streams call; transfers pass the dial plan first."""

from __future__ import annotations

import pytest

from tests.twilio_voice.conftest import ACCOUNT, BARGE, Rig, new_call_sid
from tests.twilio_voice.test_calls import ended_interaction

pytestmark = pytest.mark.slow


async def test_hangup_transfer_and_redirect_reach_twilio_through_its_client(rig: Rig) -> None:
    client = await rig.call(BARGE)
    sid = client.call_sid
    try:
        client.start_microphone()
        await client.wait_for(lambda r: len(r.media) > 5)
        # A transfer to a PSTN number: <Dial> by Twilio, after the dial plan allowed it.
        status, body = await rig.api("POST", f"/api/twilio/calls/{sid}/transfer",
                                     {"to": "910 000 099"})
        assert status == 200, body
        assert body == {"call_sid": sid, "dialed": "+34910000099"}
        [update] = rig.twilio.call_updates
        assert (update.account_sid, update.sid) == (ACCOUNT, sid)
        assert update.form["Twiml"] == ('<?xml version="1.0" encoding="UTF-8"?><Response>'
                                        '<Dial timeout="30">+34910000099</Dial></Response>')
        # A premium-rate number never reaches Twilio.
        status, body = await rig.api("POST", f"/api/twilio/calls/{sid}/transfer",
                                     {"to": "+34803123456"})
        assert status == 409 and "premium-rate" in body["error"]["message"], body
        assert len(rig.twilio.call_updates) == 1
        # Redirect to other TwiML (admins only: TwiML can dial anything).
        twiml = "<Response><Say>Please hold.</Say></Response>"
        status, body = await rig.api("POST", f"/api/twilio/calls/{sid}/redirect",
                                     {"twiml": twiml})
        assert status == 200, body
        assert rig.twilio.call_updates[-1].form == {"Twiml": twiml}
        # Twilio's refusal is reported with its code.
        rig.twilio.refuse_next(21220, "Call is not in-progress. Cannot redirect.")
        status, body = await rig.api("POST", f"/api/twilio/calls/{sid}/hangup")
        assert status == 502 and body["error"]["provider_code"] == "21220", body
        # Hang up: Status=completed; Twilio then stops the stream.
        status, body = await rig.api("POST", f"/api/twilio/calls/{sid}/hangup")
        assert status == 200 and body["status"] == "completed", body
        assert rig.twilio.call_updates[-1].form == {"Status": "completed"}
        await client.stop()
    finally:
        await client.close()
    assert (await ended_interaction(rig, sid))["ended_at"]


async def test_bad_requests_name_what_is_wrong(rig: Rig) -> None:
    status, body = await rig.api("POST", "/api/twilio/calls/CA123/hangup")
    assert status == 400 and body["error"]["where"] == "sid"
    sid = new_call_sid()
    status, body = await rig.api("POST", f"/api/twilio/calls/{sid}/transfer", {})
    assert status == 400 and body["error"]["where"] == "to"
    status, body = await rig.api("POST", f"/api/twilio/calls/{sid}/redirect",
                                 {"twiml": "hello"})
    assert status == 400 and body["error"]["where"] == "twiml"
    status, body = await rig.api("POST", f"/api/twilio/calls/{sid}/hangup", {"x": 1})
    assert status == 400 and body["error"]["where"] == "x"
    assert rig.twilio.call_updates == []
