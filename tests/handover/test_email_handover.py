"""Continue by email on the real server: the customer wrote an email (the real SMTP listener),
the agent hands over by email (`POST /api/cases/{id}/handover`), and the provider's relay
(aiosmtpd, STARTTLS, login) receives the summary's text and the chat link addressed to the
customer. Without a public URL configured the link starts with the server as the agent's
browser reached it."""

from __future__ import annotations

import re
import socket
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import aiosmtplib

from centralita.server import Server
from centralita.settings import load_settings
from tests.channels import test_email_smtp
from tests.channels.test_email_server import ADMIN_TOKEN, config_file
from tests.channels.test_email_smtp import ANA, FROM, Relay
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import free_port

smtp_relay = test_email_smtp.relay


async def test_continue_by_email(
    tmp_path: Path, smtp_relay: Relay, server_database: ServerDatabase
) -> None:
    relay = smtp_relay
    smtp_in = free_port(socket.SOCK_STREAM, also_tcp=False)
    settings = load_settings(config_file(tmp_path, relay, smtp_in, "chat: {}\n"), {})
    settings.cases_url = server_database.config().get("cases_url")
    server = Server(settings)
    await server.start()
    try:
        first = EmailMessage()
        first["From"], first["To"], first["Subject"] = ANA, FROM, "Broken router"
        first["Message-ID"] = "<first-contact@example.net>"
        first.set_content("My router 8842 blinks red since Monday.")
        await aiosmtplib.send(first, hostname="127.0.0.1", port=smtp_in, start_tls=True,
                              cert_bundle=str(settings.data_dir / "tls" / "sip.crt"))
        assert server.store is not None
        ref = await server.store.open_text_interaction(channel="email", address=ANA)
        await server.store.refresh_summary(ref.interaction_id)
        public_id = await server.store.public_id(ref.case_id)
        base = f"http://{settings.http_listen}"
        async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
            async with http.post(f"{base}/api/cases/{public_id}/handover",
                                 json={"channel": "email"}) as resp:
                sent = await resp.json()
                assert resp.status == 201, sent
            assert sent["channel"] == "email"
            answer = relay.message()
            assert answer["To"] == ANA
            assert answer["Subject"] == "Continue our conversation"
            body = answer.get_body(("plain",))
            assert body is not None
            content = body.get_content()
            assert "8842" in content
            link = re.search(re.escape(base) + r"/chat/continue\?t=(\S+)", content)
            assert link is not None, content
            async with http.get(f"{base}/chat/continue", params={"t": link.group(1)}) as page:
                assert page.status == 200
    finally:
        await server.stop()
