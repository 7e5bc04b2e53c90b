"""The preferred channel on a real server (in process, loopback): a pjsua2 caller waiting in a
queue while the only agent (a pjsua2 desk phone) is on another call asks for a callback; the
confirmation goes out as an SMS (the real `twilio` client to the loopback stand-in) saying
the callback is coming in about 5 minutes (one caller ahead of nobody, one agent busy, the
queue's 300 s handle time) and how to choose another channel; the customer replies "Email"
through the signed webhook, and their case's preferred channel is email, chosen by them, as
the desk's API shows (the desk offers it first when it hands the case over)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cases.store import CaseStore
from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from channels.twilio_config import TwilioConfig
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import LOOPBACK, free_port, free_sip_port, random_rtp_block
from tests.helpers.twilio_standin import TwilioStandIn
from voice.pjsua.client import PjsuaListener, place_call
from web.auth.tokens import digest

pytestmark = pytest.mark.slow

ACCOUNT = "AC" + "7" * 32
TOKEN = "twilio-auth-token-for-preference-tests"
PUBLIC = "https://contact.example.test/pbx"
OUR_SMS = "+34910000000"
NUMBER = "612345678"  # a Spanish mobile: in the default dial plan (region ES)
E164 = "+34612345678"
OTHER = "612000009"
ADMIN_TOKEN = "ctk_tests_preferred_" + "p" * 32
# The callback key during the entry announcement, "1" (this number) in the offer menu, "1" to
# confirm (as tests/e2e/test_acd_callback.py).
CALLBACK_KEYS = ((1.5, "1"), (4.5, "1"), (7.5, "1"))
FLOW = """name: queue
default: true
steps:
  - queue: {name: q, on_timeout: after}
  - hangup
  - label: after
    say: "Sorry."
  - hangup
"""
ROUTING = """queues:
  - name: q
    moh: null
    announce_every: 0
    callback_key: "1"
    wrapup: 1.5
    offer_timeout: 20
    default_handle_time: 300
agents:
  - id: ana
    contact: "{contact}"
    queues: [q]
"""


@dataclass
class Live:
    server: Server
    base: str
    http: aiohttp.ClientSession
    twilio: TwilioStandIn
    sip: str  # the URI callers dial

    @property
    def store(self) -> CaseStore:
        assert self.server.store is not None
        return self.server.store

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=body, headers={
                "Authorization": f"Bearer {ADMIN_TOKEN}"}) as response:
            return response.status, await response.json()


async def until(check: Callable[[], Any], what: str, within: float = 30.0) -> Any:
    for _ in range(int(within / 0.1)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def live(
    tmp_path: Path, server_database: ServerDatabase
) -> AsyncIterator[tuple[Live, PjsuaListener]]:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "queue.yaml").write_text(FLOW)
    async with PjsuaListener(duration=40.0) as desk, TwilioStandIn(ACCOUNT, TOKEN) as twilio, \
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        (tmp_path / "routing.yaml").write_text(ROUTING.format(contact=desk.uri))
        low, high = random_rtp_block()
        settings = Settings(
            sip_listen=HostPort(LOOPBACK, free_sip_port()),
            http_listen=HostPort(LOOPBACK, free_port(socket.SOCK_STREAM, also_tcp=False)),
            data_dir=tmp_path / "data", rtp_port_min=low, rtp_port_max=high,
            transcription="off", routing_file=tmp_path / "routing.yaml", flows_dir=flows,
            cases_url=server_database.config().get("cases_url"),
            auth=AuthSettings(tokens=(
                ConfigTokenSettings("tests", "admin", digest(ADMIN_TOKEN)),)),
            twilio=TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC,
                                sms_number=OUR_SMS, api_base_url=twilio.base_url))
        server = Server(settings)
        await server.start()
        twilio.forward(PUBLIC, f"http://{settings.http_listen}")
        try:
            yield Live(server, f"http://{settings.http_listen}", http, twilio,
                       f"sip:100@{settings.sip_listen}"), desk
        finally:
            await server.stop()


def sms_in(sid: str, body: str) -> dict[str, str]:
    return {"SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
            "Body": body, "To": OUR_SMS, "NumSegments": "1", "MessageSid": sid,
            "AccountSid": ACCOUNT, "From": E164, "ApiVersion": "2010-04-01"}


async def test_a_callback_is_confirmed_by_sms_and_a_reply_chooses_email(
    live: tuple[Live, PjsuaListener],
) -> None:
    server, _ = live
    status, _ = await server.api("PUT", "/api/agents/ana/state", {"state": "available"})
    assert status == 200

    async def ana_is(state: str) -> bool:
        code, board = await server.api("GET", "/api/routing/live")
        return code == 200 and board["agents"]["ana"]["state"] == state

    busy = asyncio.ensure_future(place_call(server.sip, from_user=OTHER, duration=35.0))
    try:
        await until(lambda: ana_is("on_call"), "ana on the first call")
        result = await place_call(server.sip, from_user=NUMBER, dtmf_at=CALLBACK_KEYS,
                                  duration=30.0)
        assert result.connected and result.remote_hangup, result

        async def confirmation() -> Any:
            return [r for r in server.twilio.requests
                    if r.form.get("To") == E164 and "callback" in r.form.get("Body", "")]

        [sent] = await until(confirmation, "the callback confirmation by SMS")
        assert sent.form["Body"] == ("Your callback is coming in about 5 minutes. Reply SMS, "
                                     "WHATSAPP or EMAIL to choose how we contact you.")
        ref = await server.store.find_text_interaction(channel="sms", address=E164)
        assert ref is not None
        public = await server.store.public_id(ref.case_id)
        code, before = await server.api("GET", f"/api/cases/{public}/preferred_channel")
        assert code == 200 and (before["channel"], before["source"]) == ("voice", "inferred")
        status, _ = await server.twilio.post_webhook(PUBLIC + "/twilio/messaging",
                                                     sms_in("SM" + "5" * 32, "Email"))
        assert status == 200

        async def chosen() -> Any:
            code, found = await server.api("GET", f"/api/cases/{public}/preferred_channel")
            return found if code == 200 and found["source"] == "explicit" else None

        after = await until(chosen, "the customer's choice")
        assert after["channel"] == "email"

        async def noted() -> bool:
            notes = (await server.store.timeline(ref.case_id))["notes"]
            return any("chose email" in note["text"] for note in notes)

        # The note is written just after the choice (seen missed on PostgreSQL when read at
        # once): the choice is what the API answers, the note follows it.
        await until(noted, "the note of the customer's choice")
        # An agent can set it too (the customer told them), and bad values are named.
        code, body = await server.api("PUT", f"/api/cases/{public}/preferred_channel",
                                      {"channel": "fax"})
        assert code == 400 and body["error"]["where"] == "channel"
        code, body = await server.api("PUT", f"/api/cases/{public}/preferred_channel",
                                      {"channel": "whatsapp"})
        assert code == 200 and (body["channel"], body["source"]) == ("whatsapp", "explicit")
    finally:
        busy.cancel()
        await asyncio.gather(busy, return_exceptions=True)
