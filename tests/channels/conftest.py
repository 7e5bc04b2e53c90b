"""A real server (`centralita.server.Server`, in process, on loopback) with `twilio:` pointing
the real `twilio` client at the loopback stand-in (`tests.helpers.twilio_standin`)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, text

from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from channels.twilio_config import TwilioConfig
from tests.helpers.databases import database_fixtures
from tests.helpers.server import LOOPBACK, free_port, free_sip_port, random_rtp_block
from tests.helpers.twilio_standin import TwilioStandIn
from web.auth.tokens import digest

ACCOUNT = "AC" + "5" * 32
TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://contact.example.test/pbx"  # the server as Twilio sees it, behind a proxy
OUR_SMS = "+34910000000"
OUR_WHATSAPP = "+14155238886"
ADMIN_TOKEN = "ctk_tests_twilio_" + "y" * 32
HELP_TEXT = "Soporte <Acme> & más: 910 000 000"

pg_database, db_url = database_fixtures("centralita_twilio", "cases.db")


@dataclass
class Rig:
    server: Server
    base: str
    twilio: TwilioStandIn
    http: aiohttp.ClientSession
    db: str

    async def inbound(self, params: dict[str, str], **kw: Any) -> tuple[int, str]:
        return await self.twilio.post_webhook(PUBLIC + "/twilio/messaging", params, **kw)

    async def status_callback(self, params: dict[str, str], **kw: Any) -> tuple[int, str]:
        return await self.twilio.post_webhook(PUBLIC + "/twilio/messaging/status", params, **kw)

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, json=body, headers={
                "Authorization": f"Bearer {ADMIN_TOKEN}"}) as response:
            return response.status, await response.json()

    def count(self, table: str) -> int:
        engine = create_engine(self.db.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as db:
                return int(db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        finally:
            engine.dispose()


def sms(sid: str, body: str, sender: str = "+34612345678", **extra: str) -> dict[str, str]:
    """The fields of an inbound SMS webhook as Twilio sends them."""
    whatsapp = sender.startswith("whatsapp:")
    return {"ToCountry": "ES", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
            "SmsStatus": "received", "Body": body, "To": f"whatsapp:{OUR_WHATSAPP}" if whatsapp
            else OUR_SMS, "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT,
            "From": sender, "ApiVersion": "2010-04-01", **extra}


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """The server on SQLite; `@pytest.mark.parametrize("rig", ["postgresql"], indirect=True)`
    puts its cases on PostgreSQL instead."""
    database = getattr(request, "param", "sqlite")
    cases_url = None
    if database == "postgresql":
        from tests.helpers.postgres import empty_schema

        cases_url = empty_schema(request.getfixturevalue("pg_database"))
    # A one-step flow: its call is stored on the caller's case (the path, at hangup).
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hello.yaml").write_text(
        "name: hello\ndefault: true\nsteps:\n  - say: \"Hello.\"\n  - hangup\n")
    async with TwilioStandIn(ACCOUNT, TOKEN) as twilio:
        low, high = random_rtp_block()
        settings = Settings(
            sip_listen=HostPort(LOOPBACK, free_sip_port()),
            http_listen=HostPort(LOOPBACK, free_port(socket.SOCK_STREAM, also_tcp=False)),
            data_dir=tmp_path / "data", rtp_port_min=low, rtp_port_max=high,
            debug_api=True, transcription="off", flows_dir=flows, cases_url=cases_url,
            auth=AuthSettings(tokens=(
                ConfigTokenSettings("tests", "admin", digest(ADMIN_TOKEN)),)),
            twilio=TwilioConfig(
                account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC, sms_number=OUR_SMS,
                whatsapp_number=OUR_WHATSAPP, api_base_url=twilio.base_url,
                max_media_bytes=5 * 1024 * 1024, help_text=HELP_TEXT),
        )
        server = Server(settings)
        await server.start()
        base = f"http://{settings.http_listen}"
        twilio.forward(PUBLIC, base)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                yield Rig(server, base, twilio, http, settings.database_url)
            await twilio.drain()
        finally:
            await server.stop()
