"""The CSAT survey on a real server (in process, loopback, real HTTP, the real `twilio` client
against the loopback stand-in): a customer's SMS conversation, taken and closed by an agent,
is followed by the one-question survey on SMS; the customer's signed reply "4" is its answer,
and the journey figures (`GET /api/journey`) show CSAT 4 for SMS; a reply that is no score
answers nothing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from centralita.csat_surveys import QUESTION
from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from channels.twilio_config import TwilioConfig
from routing.conversations import TextRouter
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import LOOPBACK, free_port, free_sip_port, random_rtp_block
from tests.helpers.twilio_standin import TwilioStandIn
from web.auth.tokens import digest

pytestmark = pytest.mark.slow

ACCOUNT = "AC" + "5" * 32
TOKEN = "twilio-auth-token-for-csat-tests"
PUBLIC = "https://contact.example.test/pbx"
OUR_SMS = "+34910000000"
CUSTOMER = "+34612345678"
ADMIN_TOKEN = "ctk_tests_csat_" + "c" * 32
ROUTING = """csat: {channels: [voice, sms]}
queues:
  - name: support
    channels: [voice, sms]
    offer_timeout: 30
agents:
  - id: ana
    max_concurrent: 3
    capacity: {voice: 1, sms: 2}
    queues: [support]
"""


@dataclass
class Live:
    server: Server
    base: str
    http: aiohttp.ClientSession
    twilio: TwilioStandIn

    @property
    def router(self) -> TextRouter:
        assert self.server.routing is not None and self.server.routing.text is not None
        return self.server.routing.text

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=body, headers={
                "Authorization": f"Bearer {ADMIN_TOKEN}"}) as response:
            return response.status, await response.json()


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 20.0) -> Any:
    for _ in range(int(within / 0.05)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def live(tmp_path: Path, server_database: ServerDatabase) -> AsyncIterator[Live]:
    (tmp_path / "routing.yaml").write_text(ROUTING)
    async with TwilioStandIn(ACCOUNT, TOKEN) as twilio, aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30)) as http:
        low, high = random_rtp_block()
        settings = Settings(
            sip_listen=HostPort(LOOPBACK, free_sip_port()),
            http_listen=HostPort(LOOPBACK, free_port(socket.SOCK_STREAM, also_tcp=False)),
            data_dir=tmp_path / "data", rtp_port_min=low, rtp_port_max=high,
            transcription="off", routing_file=tmp_path / "routing.yaml",
            cases_url=server_database.config().get("cases_url"),
            auth=AuthSettings(tokens=(
                ConfigTokenSettings("tests", "admin", digest(ADMIN_TOKEN)),)),
            twilio=TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC,
                                sms_number=OUR_SMS, api_base_url=twilio.base_url))
        server = Server(settings)
        await server.start()
        twilio.forward(PUBLIC, f"http://{settings.http_listen}")
        try:
            yield Live(server, f"http://{settings.http_listen}", http, twilio)
        finally:
            await server.stop()


def sms(sid: str, body: str) -> dict[str, str]:
    return {"SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
            "Body": body, "To": OUR_SMS, "NumSegments": "1", "MessageSid": sid,
            "AccountSid": ACCOUNT, "From": CUSTOMER, "ApiVersion": "2010-04-01"}


async def test_an_sms_contact_is_surveyed_and_the_reply_counts(live: Live) -> None:
    await live.api("PUT", "/api/agents/ana/state", {"state": "available"})
    status, _ = await live.twilio.post_webhook(PUBLIC + "/twilio/messaging",
                                               sms("SM" + "1" * 32, "My parcel is late."))
    assert status == 200

    async def offered() -> Any:
        return live.router.offers_of("ana")

    [offer] = await until(offered, "the offer to ana")
    taken = await live.router.accept("ana", offer["offer_id"])
    await live.router.close("ana", taken.id)

    async def survey() -> Any:
        return [r for r in live.twilio.requests if r.form.get("Body") == QUESTION["en"]]

    [sent] = await until(survey, "the survey SMS")
    assert sent.form["To"] == CUSTOMER

    async def csat() -> Any:
        code, figures = await live.api("GET", "/api/journey")
        assert code == 200, figures
        found = figures["csat"].get("sms")
        return found if found and found["responses"] else None

    status, _ = await live.twilio.post_webhook(PUBLIC + "/twilio/messaging",
                                               sms("SM" + "2" * 32, "Thanks a lot"))
    assert status == 200
    status, _ = await live.twilio.post_webhook(PUBLIC + "/twilio/messaging",
                                               sms("SM" + "3" * 32, "4"))
    assert status == 200
    answered = await until(csat, "the answer in the journey figures")
    assert answered == {"surveys": 1, "responses": 1, "average": 4.0,
                        "scores": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}}
    # One survey only: the reply thread (an outbound one, the survey's) is never surveyed.
    assert len(await survey()) == 1
