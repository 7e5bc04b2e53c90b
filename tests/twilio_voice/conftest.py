"""A real server (`centralita.server.Server`, in process, on loopback) with a `twilio:`
section, IVR flows by dialed number, and the loopback Twilio stand-in that signs webhooks.

`Rig.call(to=...)` does what Twilio does for an incoming call: posts the signed voice
webhook, reads the TwiML, and opens the `<Stream>` with a `MediaStreamsClient`.
"""

from __future__ import annotations

import secrets
import socket
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from channels.twilio_config import TwilioConfig
from media.frames import Pcm
from recordings.config import RecordingConfig
from tests.helpers.databases import ServerDatabase
from tests.helpers.media_streams_client import MediaStreamsClient, twiml_stream
from tests.helpers.server import LOOPBACK, free_port, free_sip_port, random_rtp_block
from tests.helpers.twilio_standin import TwilioStandIn
from web.auth.tokens import digest

ACCOUNT = "AC" + "5" * 32
TOKEN = "twilio-auth-token-for-voice-tests"
PUBLIC = "https://contact.example.test/pbx"
STREAM_PUBLIC = "wss://contact.example.test/pbx/twilio/stream"
ADMIN_TOKEN = "ctk_tests_twilio_voice_" + "z" * 32
CALLER = "+34612345678"
MENU, BARGE, VOICEMAIL = "+34910000001", "+34910000002", "+34910000003"
SPOKEN_BARGE = "+34910000004"
SPOKEN_MENU = "+34910000006"


def noise(seconds: float, seed: int, level: float = 6000.0) -> Pcm:
    """Deterministic noise: no two of its 20 ms frames alike, so alignment is unambiguous."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0, level, int(8000 * seconds)), -32768, 32767).astype(np.int16)


def write_wav(path: Path, pcm: Pcm) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm.astype("<i2").tobytes())


FLOWS = {
    "menu.yaml": f"""\
name: tw-menu
numbers: ["{MENU}"]
steps:
  - play: noise.wav
  - label: menu
    menu:
      prompt: "For billing press 1. For support press 2."
      choices:
        - {{digits: "1", goto: billing}}
        - {{digits: "2", goto: support}}
      timeout: 10
      retries: 1
      on_failure: goodbye
      variable: choice
  - label: billing
    set: {{team: billing}}
  - goto: goodbye
  - label: support
    set: {{team: support}}
  - label: goodbye
    say: "Goodbye."
  - hangup
""",
    "barge.yaml": f"""\
name: tw-barge
numbers: ["{BARGE}"]
steps:
  - play: {{file: long.wav, interrupt: dtmf}}
  - say: "Thank you."
  - hangup
""",
    "spoken.yaml": f"""\
name: tw-spoken-barge
numbers: ["{SPOKEN_BARGE}"]
steps:
  - play: {{file: long.wav, interrupt: speech}}
  - say: "Thank you."
  - hangup
""",
    "spoken-menu.yaml": f"""\
name: tw-spoken-menu
numbers: ["{SPOKEN_MENU}"]
steps:
  - label: menu
    menu:
      prompt: "Billing or support?"
      choices:
        - {{digits: "1", phrases: [billing, bill, invoice, payment], goto: billing}}
        - {{digits: "2", phrases: [support, help, technical], goto: support}}
      input: both
      timeout: 10
      retries: 1
      on_failure: goodbye
      variable: choice
  - label: billing
    set: {{team: billing}}
  - goto: goodbye
  - label: support
    set: {{team: support}}
  - label: goodbye
    say: "Goodbye."
  - hangup
""",
    "voicemail.yaml": f"""\
name: tw-voicemail
numbers: ["{VOICEMAIL}"]
steps:
  - voicemail: {{prompt: "Leave a message.", max_seconds: 8, silence_seconds: 1.5, beep: false}}
  - hangup
""",
    "default.yaml": """\
name: tw-default
default: true
steps:
  - say: "Hello."
  - hangup
""",
}


ACD_FLOW = """\
name: tw-acd
default: true
steps:
  - queue: {name: support, on_timeout: after}
  - hangup
  - label: after
    say: "Sorry, nobody could take your call."
  - hangup
"""
ROUTING = """\
queues:
  - {name: support, moh: null, announce_every: 0, callback_key: null, wrapup: 30,
     offer_timeout: 30}
agents:
  - {id: ana, name: Ana, queues: [support]}
"""


@dataclass
class Rig:
    server: Server
    base: str
    twilio: TwilioStandIn
    http: aiohttp.ClientSession
    flows: Path

    def ws_url(self, public: str = STREAM_PUBLIC) -> str:
        return public.replace("wss://contact.example.test/pbx", "ws" + self.base[4:])

    async def webhook(self, call_sid: str, to: str, *, caller: str = CALLER,
                      path: str = "/twilio/voice", **kw: Any) -> tuple[int, str]:
        params = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": call_sid,
                  "CallStatus": "ringing", "Called": to, "Caller": caller,
                  "Direction": "inbound", "From": caller, "To": to}
        return await self.twilio.post_webhook(PUBLIC + path, params, **kw)

    async def call(self, to: str, *, call_sid: str | None = None,
                   signed_socket: bool = True) -> MediaStreamsClient:
        """Webhook -> TwiML -> an open stream (connected + start sent)."""
        sid = call_sid or new_call_sid()
        status, twiml = await self.webhook(sid, to)
        assert status == 200, twiml
        url, params = twiml_stream(twiml)
        assert url == STREAM_PUBLIC
        signature = self.twilio.sign(url, {}) if signed_socket else None
        client = MediaStreamsClient(self.ws_url(url), account_sid=ACCOUNT, call_sid=sid,
                                    params=params, signature=signature)
        await client.open()
        return client

    @property
    def http_base(self) -> str:  # what tests.e2e's desk helpers read
        return self.base

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=body, headers={
                "Authorization": f"Bearer {ADMIN_TOKEN}"}) as response:
            return response.status, await response.json()


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


@pytest.fixture
async def rig(
    tmp_path: Path, request: pytest.FixtureRequest, server_database: ServerDatabase
) -> AsyncIterator[Rig]:
    """The server, its cases on SQLite and on PostgreSQL (`server_database`);
    `@pytest.mark.parametrize("rig", ["recorded"], indirect=True)` records its calls
    (uncompressed WAV)."""
    recorded = getattr(request, "param", None) == "recorded"
    acd = getattr(request, "param", None) in ("acd", "acd-transcribed")
    transcribed = getattr(request, "param", None) in ("transcribed", "acd-transcribed")
    flows = tmp_path / "flows"
    flows.mkdir()
    for name, text in FLOWS.items():
        (flows / name).write_text(text)
    write_wav(flows / "noise.wav", noise(1.0, seed=1))
    routing = None
    if acd:
        # Every other number goes to the support queue; Ana's desk serves it.
        (flows / "default.yaml").write_text(ACD_FLOW)
        routing = tmp_path / "routing.yaml"
        routing.write_text(ROUTING)
    write_wav(flows / "long.wav", noise(10.0, seed=2))
    async with TwilioStandIn(ACCOUNT, TOKEN) as twilio:
        low, high = random_rtp_block()
        settings = Settings(
            sip_listen=HostPort(LOOPBACK, free_sip_port()),
            http_listen=HostPort(LOOPBACK, free_port(socket.SOCK_STREAM, also_tcp=False)),
            data_dir=tmp_path / "data", rtp_port_min=low, rtp_port_max=high,
            cases_url=server_database.config().get("cases_url"), debug_api=True, transcription="whisper" if transcribed else "off",
            flows_dir=flows,
            recordings=RecordingConfig(enabled=recorded, compress=False),
            routing_file=routing,
            auth=AuthSettings(tokens=(
                ConfigTokenSettings("tests", "admin", digest(ADMIN_TOKEN)),)),
            twilio=TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC,
                                sms_number="+34910000000", api_base_url=twilio.base_url),
        )
        server = Server(settings)
        await server.start()
        base = f"http://{settings.http_listen}"
        twilio.forward(PUBLIC, base)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                yield Rig(server, base, twilio, http, flows)
        finally:
            await server.stop()
