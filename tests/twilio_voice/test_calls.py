"""Twilio calls on a real server: signed webhook -> TwiML -> Media Streams socket -> the same
IVR, case and DTMF path as a SIP call; audio both ways on the µ-law path; barge-in."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from media.codecs.g711 import ulaw_decode, ulaw_encode
from media.frames import Pcm
from tests.helpers.media_streams_client import Received
from tests.speech.audio import have_tools, speak
from tests.twilio_voice.conftest import (
    ACCOUNT,
    ADMIN_TOKEN,
    BARGE,
    CALLER,
    MENU,
    PUBLIC,
    SPOKEN_BARGE,
    SPOKEN_MENU,
    VOICEMAIL,
    Rig,
    noise,
)

pytestmark = pytest.mark.slow


async def ended_interaction(rig: Rig, call_sid: str, within: float = 20.0) -> dict[str, Any]:
    """The call's interaction on its case, once the IVR stored its path and it ended."""
    deadline = time.monotonic() + within
    while True:
        status, found = await rig.api("GET", f"/api/calls/{call_sid}/case")
        if status == 200:
            status, timeline = await rig.api("GET", f"/api/cases/{found['case_id']}")
            assert status == 200, timeline
            interaction: dict[str, Any] = timeline["interactions"][-1]
            if interaction["ended_at"] and any(e["kind"] == "path"
                                               for e in interaction["ivr_events"]):
                interaction["case"] = timeline
                return interaction
        assert time.monotonic() < deadline, (status, found)
        await asyncio.sleep(0.2)


def correlation(got: Pcm, want: Pcm) -> float:
    n = min(len(got), len(want))
    assert n > 0
    return float(np.corrcoef(got[:n].astype(float), want[:n].astype(float))[0, 1])


def best_alignment(recorded: Pcm, sent: Pcm) -> float:
    """Correlation of `sent` with the stretch of `recorded` that matches it best."""
    spectrum = np.fft.irfft(np.fft.rfft(recorded.astype(float), 2 * len(recorded))
                            * np.conj(np.fft.rfft(sent.astype(float), 2 * len(recorded))))
    lag = int(np.argmax(spectrum[: len(recorded)]))
    return correlation(recorded[lag : lag + len(sent)], sent)


async def test_menu_by_dtmf_reaches_the_callers_case_and_audio_comes_back_whole(
        rig: Rig, tmp_path: Path) -> None:
    client = await rig.call(MENU)
    sid = client.call_sid
    try:
        client.start_microphone()
        # The first prompt (1 s of noise) is paced out, then marked; the echo says it was heard.
        await client.wait_for(lambda r: len(r.marks) >= 1 and r.echoed)
        await client.wait_for(lambda r: len(r.media) > 50 + 10)  # the menu prompt plays
        await client.dtmf("2")
        await client.wait_closed(within=30)  # "Goodbye.", then the server hangs up
    finally:
        await client.close()
    received = client.received
    assert received.bad == []
    # Outbound audio: what the server played is what the caller got, sample for sample in
    # µ-law (first the 1 s noise prompt, 50 frames).
    prompt = noise(1.0, seed=1)
    got = received.received_pcm()[: len(prompt)]
    assert correlation(got, prompt) >= 0.99
    interaction = await ended_interaction(rig, sid)
    events = interaction["ivr_events"]
    menu = [e["value"] for e in events if e["step"] == "menu" and e["kind"] == "digits"]
    assert menu and menu[-1]["digits"] == "2" and menu[-1]["outcome"] == "match", events
    variables = [(e["step"], e["value"]) for e in events if e["kind"] == "variable"]
    assert ("support", {"team": "support"}) in variables, events
    # The caller's number resolves to a customer as any call's does.
    assert interaction["case"]["identities"] == [{"kind": "phone", "value": CALLER}]
    assert interaction["channel"] == "voice"
    # The server still serves: the stream is gone from the live registry.
    assert rig.server.twilio_voice is not None and rig.server.twilio_voice.live == {}


async def test_caller_audio_reaches_the_ivr_whole(rig: Rig) -> None:
    message = noise(1.5, seed=7)
    client = await rig.call(VOICEMAIL)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: bool(r.echoed))  # "Leave a message." heard
        client.speak(message)
        await client.wait_closed(within=30)  # 1.5 s of silence ends the message
    finally:
        await client.close()
    interaction = await ended_interaction(rig, client.call_sid)
    [voicemail] = [e["value"] for e in interaction["ivr_events"] if e["kind"] == "voicemail"]
    with wave.open(voicemail["path"], "rb") as recorded:
        pcm = np.frombuffer(recorded.readframes(recorded.getnframes()), "<i2")
    # What the caller said went through µ-law; compare with what µ-law keeps of it.
    sent = ulaw_decode(ulaw_encode(message))
    assert best_alignment(pcm, sent) >= 0.99


def frames_of(pcm: Pcm) -> list[bytes]:
    codes = ulaw_encode(pcm).tobytes()
    return [codes[i : i + 160] for i in range(0, len(codes) - 159, 160)]


async def test_a_digit_during_a_prompt_clears_it(rig: Rig) -> None:
    prompt = frames_of(noise(10.0, seed=2))
    index = {frame: i for i, frame in enumerate(prompt)}
    client = await rig.call(BARGE)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: len(r.media) >= 50)  # 1 s into a 10 s prompt
        pressed = client.now()
        await client.dtmf("5")
        await client.wait_for(lambda r: bool(r.clears))
        await client.wait_closed(within=30)  # "Thank you.", then hang-up
    finally:
        await client.close()
    received: Received = client.received
    cleared = received.clears[0]
    of_prompt = [(t, index.get(p)) for t, p in received.media]
    before = [i for t, i in of_prompt if t <= cleared and i is not None]
    after = [i for t, i in of_prompt if t > cleared and i is not None]
    assert before == list(range(len(before)))  # the prompt, in order, up to the clear
    assert after == []  # ... and nothing of it after
    heard_after = [t for t, p in received.played if t > pressed and p in index]
    print(f"digit -> clear {1000 * (cleared - pressed):.0f} ms; prompt heard after the "
          f"digit {20 * len(heard_after)} ms; prompt frames sent after it "
          f"{sum(1 for t, i in of_prompt if t > pressed and i is not None)}")
    assert 20 * len(heard_after) <= 100
    interaction = await ended_interaction(rig, client.call_sid)
    assert interaction["ended_at"]


async def test_a_final_status_callback_ends_the_streaming_call(rig: Rig) -> None:
    client = await rig.call(BARGE)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: len(r.media) > 10)
        # Twilio says the call is over (the caller hung up on the PSTN side, say) before the
        # socket goes: the server ends the call and closes the stream itself.
        params = {"AccountSid": ACCOUNT, "CallSid": client.call_sid,
                  "CallStatus": "completed", "From": CALLER, "To": BARGE,
                  "CallDuration": "3"}
        status, _ = await rig.twilio.post_webhook(PUBLIC + "/twilio/voice/status", params)
        assert status == 200
        await client.wait_closed(within=10)
    finally:
        await client.close()
    assert client.close_code == 1000
    assert (await ended_interaction(rig, client.call_sid))["ended_at"]


async def test_speech_during_a_prompt_clears_it(rig: Rig) -> None:
    if not have_tools():
        pytest.fail("espeak-ng and sox are needed (scripts/setup.sh installs them)")
    words = speak("Hello, I would like to speak to someone please.", 8000)
    prompt = frames_of(noise(10.0, seed=2))
    index = {frame: i for i, frame in enumerate(prompt)}
    client = await rig.call(SPOKEN_BARGE)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: len(r.media) >= 50)
        spoke = client.now()
        client.speak(words)
        await client.wait_for(lambda r: bool(r.clears))
        await client.wait_closed(within=30)
    finally:
        await client.close()
    received = client.received
    cleared = received.clears[0]
    after = [p for t, p in received.media if t > cleared and p in index]
    assert after == []  # nothing of the prompt once it was cleared
    # The VAD needs 200 ms of speech (ivr.media.prompt.BARGE_IN_SPEECH_MS) after the
    # jitter buffer's 40 ms and espeak's lead-in: printed, not judged.
    print(f"speech -> clear {1000 * (cleared - spoke):.0f} ms")


@pytest.mark.parametrize("rig", ["recorded"], indirect=True)
async def test_the_call_is_recorded_like_any_other(rig: Rig) -> None:
    message = noise(1.5, seed=11)
    client = await rig.call(VOICEMAIL)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: bool(r.echoed))
        client.speak(message)
        await client.wait_closed(within=30)
    finally:
        await client.close()
    interaction = await ended_interaction(rig, client.call_sid)
    deadline = time.monotonic() + 20
    while True:
        status, found = await rig.api("GET", f"/api/recordings?interaction={interaction['id']}")
        assert status == 200, found
        done = [r for r in found["recordings"] if r["status"] != "recording"]
        if done:
            break
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.2)
    [recording] = done
    assert recording["call_id"] == client.call_sid and recording["channels"] == 2
    async with rig.http.get(f"{rig.base}/api/recordings/{recording['id']}/audio",
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as response:
        assert response.status == 200
        data = await response.read()
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    # Caller on the left: what they said, through µ-law, whole.
    assert best_alignment(stereo[:, 0].copy(), ulaw_decode(ulaw_encode(message))) >= 0.99
    # The other side: what the caller heard ("Leave a message.") is there too.
    assert np.abs(stereo[:, 1]).max() > 1000


@pytest.mark.parametrize("rig", ["transcribed"], indirect=True)
async def test_menu_by_real_speech(rig: Rig) -> None:
    if not have_tools():
        pytest.fail("espeak-ng and sox are needed (scripts/setup.sh installs them)")
    said = speak("I need help with technical support.", 8000)
    client = await rig.call(SPOKEN_MENU)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: bool(r.echoed))  # "Billing or support?" heard
        client.speak(said)
        await client.wait_closed(within=60)  # recognised, "Goodbye.", hang-up
    finally:
        await client.close()
    events = (await ended_interaction(rig, client.call_sid, within=40))["ivr_events"]
    spoken = [e["value"] for e in events if e["step"] == "menu" and e["kind"] == "speech"]
    assert spoken and spoken[-1]["outcome"] == "match", events
    assert spoken[-1]["engine"] == "whisper"
    assert ("support", {"team": "support"}) in [
        (e["step"], e["value"]) for e in events if e["kind"] == "variable"], events


async def test_a_twilio_call_and_an_sms_from_the_same_number_share_the_case(rig: Rig) -> None:
    client = await rig.call(MENU)
    try:
        client.start_microphone()
        await client.wait_for(lambda r: bool(r.echoed))
        await client.dtmf("1")
        await client.wait_closed(within=30)
    finally:
        await client.close()
    call_case = (await ended_interaction(rig, client.call_sid))["case"]
    sid = "SM" + "9" * 32
    sms = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": CALLER,
           "To": "+34910000000", "Body": "About my call just now", "NumMedia": "0"}
    status, _ = await rig.twilio.post_webhook(PUBLIC + "/twilio/messaging", sms)
    assert status == 200
    _, timeline = await rig.api("GET", f"/api/cases/{call_case['case']['id']}")
    assert [i["channel"] for i in timeline["interactions"]] == ["voice", "sms"], timeline
    assert timeline["identities"] == [{"kind": "phone", "value": CALLER}]
