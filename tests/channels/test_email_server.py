"""The email channel as `centralita serve` runs it: the `email:` section of a real config file,
the composition root (`centralita.server.Server`, in process, on loopback) starting the SMTP
listener, a first email from a new customer to the inbox address, the agent's answer through
the HTTP API and the provider's relay (aiosmtpd, STARTTLS + AUTH), the reply key 0600.
The customer's mail arrives over STARTTLS with the server's certificate."""

from __future__ import annotations

import socket
import stat
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import aiosmtplib
import pytest

from centralita.server import Server
from centralita.settings import ConfigError, load_settings
from channels.email_token import KEY_FILE
from tests.channels import test_email_smtp
from tests.channels.test_email_smtp import (
    ANA,
    FROM,
    RELAY_PASSWORD,
    RELAY_USER,
    REPLY_DOMAIN,
    Relay,
)
from tests.helpers.databases import ServerDatabase
from tests.helpers.server import free_port, loopback_config

# The provider's relay, as in the round-trip tests.
smtp_relay = test_email_smtp.relay
ADMIN_TOKEN = "ctk_tests_email_" + "z" * 32


def config_file(tmp_path: Path, relay: Relay, smtp_in: int, extra: str = "") -> Path:
    (tmp_path / "smtp-password").write_text(RELAY_PASSWORD + "\n")
    (tmp_path / "admin-token").write_text(ADMIN_TOKEN + "\n")
    config = tmp_path / "centralita.yaml"
    config.write_text(loopback_config(tmp_path / "data") + f"""auth:
  tokens:
    - {{name: tests, role: admin, token_file: "{tmp_path / 'admin-token'}"}}
email:
  smtp_host: 127.0.0.1
  smtp_port: {relay.port}
  starttls: true
  ca_file: "{relay.cert}"
  username: {RELAY_USER}
  password_file: "{tmp_path / 'smtp-password'}"
  from_address: "Support@Example.com"
  reply_domain: {REPLY_DOMAIN}
  listen: "127.0.0.1:{smtp_in}"
{extra}""")
    return config


async def test_serve_takes_an_email_and_answers_it(
    tmp_path: Path, smtp_relay: Relay, server_database: ServerDatabase
) -> None:
    relay = smtp_relay
    smtp_in = free_port(socket.SOCK_STREAM, also_tcp=False)
    settings = load_settings(config_file(tmp_path, relay, smtp_in), {})
    settings.cases_url = server_database.config().get("cases_url")
    assert settings.email is not None and settings.email.password == RELAY_PASSWORD
    assert settings.email.from_address == FROM  # normalised
    server = Server(settings)
    await server.start()
    try:
        first = EmailMessage()
        first["From"], first["To"], first["Subject"] = ANA, FROM, "Broken router"
        first["Message-ID"] = "<first-contact@example.net>"
        first.set_content("My router blinks red.")
        # The customer's MTA upgrades with STARTTLS (the server's certificate, verified).
        await aiosmtplib.send(first, hostname="127.0.0.1", port=smtp_in, start_tls=True,
                              cert_bundle=str(settings.data_dir / "tls" / "sip.crt"))

        assert server.store is not None
        ref = await server.store.open_text_interaction(channel="email", address=ANA)
        public_id = await server.store.public_id(ref.case_id)
        base = f"http://{settings.http_listen}"
        async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
            async with http.get(f"{base}/api/cases/{public_id}") as resp:
                timeline = await resp.json()
            [received] = [e["message"] for e in timeline["entries"] if e["type"] == "message"]
            assert received["body"].strip() == "My router blinks red."
            async with http.post(f"{base}/api/cases/{public_id}/emails", json={
                    "subject": "Re: Broken router", "body": "Please restart it.",
                    "in_reply_to_message": received["id"]}) as resp:
                assert resp.status == 201, await resp.text()
        answer = relay.message()
        assert answer["To"] == ANA and answer["In-Reply-To"] == "<first-contact@example.net>"
        assert str(answer["Reply-To"]).endswith("@" + REPLY_DOMAIN)
        assert relay.logins == [RELAY_USER] and relay.tls_sessions == 1
        key = settings.data_dir / KEY_FILE
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    finally:
        await server.stop()
    # The listener is closed with the server.
    with pytest.raises((aiosmtplib.SMTPConnectError, OSError)):
        await aiosmtplib.send(first, hostname="127.0.0.1", port=smtp_in, start_tls=False,
                              timeout=5)


@pytest.mark.parametrize(("extra", "message"), [
    ("  smtp_port: 0\n", "email.smtp_port must be a port number"),
    ("  tls: true\n", "starttls and tls exclude each other"),
    ("  listen: nowhere\n", "email.listen: expected HOST:PORT"),
    ("  max_message_bytes: 10\n", "email.max_message_bytes must be a number of bytes"),
    ("  inbox_addresses: [not-an-address]\n", "email.inbox_addresses[0]: not an email address"),
    ("  colour: blue\n", "unknown key 'colour'"),
])
def test_bad_email_settings_name_the_key(tmp_path: Path, relay_stub: Relay, extra: str,
                                          message: str) -> None:
    config = config_file(tmp_path, relay_stub, 2525)
    text = config.read_text()
    for line in extra.splitlines():
        key = line.split(":")[0]
        text = "\n".join(x for x in text.splitlines() if not x.startswith(key + ":")) + "\n"
    config.write_text(text + extra)
    with pytest.raises(ConfigError) as exc:
        load_settings(config, {})
    assert message in str(exc.value)
    assert str(config) in str(exc.value)


@pytest.fixture
def relay_stub(tmp_path: Path) -> Relay:
    return Relay("127.0.0.1", 2526, tmp_path / "ca.pem")
