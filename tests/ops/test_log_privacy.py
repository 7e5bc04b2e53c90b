"""No personal data in any log line: a real server process logging JSON at DEBUG level takes
a scripted call (pjsua2: a known caller number, account digits on the keypad, a spoken
question transcribed by whisper), an SMS exchange through the Twilio stand-in and an email
exchange through aiosmtpd, all with known distinctive values; then every line the server
wrote is searched for them. A hit fails and names the line.

The same run checks the log format: every line is one JSON object with time, level, logger
and message, and the call's lines carry its call, case and interaction ids and IVR node.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest

from tests.channels import test_email_smtp
from tests.channels.test_email_smtp import RELAY_PASSWORD, RELAY_USER, Relay
from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.server import ServerOptions, ServerProcess, free_port
from tests.helpers.twilio_standin import TwilioStandIn
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

relay = test_email_smtp.relay

# The scenario's personal values: distinctive enough that a hit is never chance.
CALLER = "+34699123457"
NATIONAL = "699123457"
ACCOUNT_DIGITS = "739184"
SMS_IN = "Quiero cambiar el ornitorrinco del pedido"
SMS_OUT = "Cambiamos su quetzalcoatl manana"
CUSTOMER_EMAIL = "wilhelmina.kowalczyk@example.net"
EMAIL_SUBJECT = "Pterodactyl invoice"
EMAIL_OUT = "Your xylophone marmalade is on its way"
EMAIL_REPLY = "Thanks, the brontosaurus arrived"
SPOKEN = "My neighbour Wellington repairs violins in Barcelona"

ACCOUNT_SID = "AC" + "7" * 32
TWILIO_TOKEN = "twilio-auth-token-for-privacy"
PUBLIC = "https://contact.example.test/pbx"
OUR_SMS = "+34910000001"
INBOX = "support@example.com"
REPLY_DOMAIN = "reply.example.com"

FLOW = """\
name: privacy
default: true
steps:
  - say: "Welcome."
  - label: account
    gather: {prompt: "Enter your account number, then hash.", variable: account,
             terminator: "#", max_digits: 10, timeout: 8}
  - label: question
    gather: {prompt: "Billing or support?", input: speech, variable: question,
             timeout: 10, phrases: {billing: [billing, invoice], support: [support, help]}}
  - say: "Thank you."
  - hangup
"""
DTMF_AT_S = 2.5
SPEECH_AT_S = 8.0


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`SPOKEN` as an 8 kHz mono WAV starting `SPEECH_AT_S` after the answer."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    directory = tmp_path_factory.mktemp("privacy-speech")
    raw, wav = directory / "raw.wav", directory / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), SPOKEN],
                   check=True, timeout=60)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e",
                    "signed-integer", str(wav), "pad", str(SPEECH_AT_S), "4.0"],
                   check=True, timeout=60)
    return wav


def sms(sid: str, body: str) -> dict[str, str]:
    return {"ToCountry": "ES", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
            "SmsStatus": "received", "Body": body, "To": OUR_SMS, "NumSegments": "1",
            "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": CALLER,
            "ApiVersion": "2010-04-01"}


async def api(server: ServerProcess, method: str, path: str, body: Any = None) -> Any:
    async with (aiohttp.ClientSession(headers=server.auth_headers) as http,
                http.request(method, server.http_base + path, json=body) as resp):
        assert 200 <= resp.status < 300, (path, resp.status, await resp.text())
        return await resp.json()


def config(tmp_path: Path, twilio: TwilioStandIn, relay: Relay, smtp_in: int,
           flows: Path) -> dict[str, Any]:
    (tmp_path / "twilio-token").write_text(TWILIO_TOKEN + "\n")
    (tmp_path / "smtp-password").write_text(RELAY_PASSWORD + "\n")
    return {
        "flows_dir": str(flows),
        "log_format": "json",
        "twilio": {"account_sid": ACCOUNT_SID, "auth_token_file": str(tmp_path / "twilio-token"),
                   "public_url": PUBLIC, "sms_number": OUR_SMS,
                   "api_base_url": twilio.base_url},
        "email": {"smtp_host": "127.0.0.1", "smtp_port": relay.port, "starttls": True,
                  "ca_file": str(relay.cert), "username": RELAY_USER,
                  "password_file": str(tmp_path / "smtp-password"), "from_address": INBOX,
                  "reply_domain": REPLY_DOMAIN, "listen": f"127.0.0.1:{smtp_in}",
                  "inbox_addresses": [INBOX]},
    }


def needles(transcript_words: set[str]) -> dict[str, re.Pattern[str]]:
    """What must appear in no log line, by name."""
    words = {
        "caller number": re.escape(NATIONAL),
        "caller number (spaced)": r"699[ .-]?12[ .-]?34[ .-]?57|699[ .-]123[ .-]457",
        "account digits": re.escape(ACCOUNT_DIGITS),
        "account digits (spaced)": r"7\D{1,3}3\D{1,3}9\D{1,3}1\D{1,3}8\D{1,3}4",
        "customer email": re.escape(CUSTOMER_EMAIL.split("@")[0]),
    }
    for text in (SMS_IN, SMS_OUT, EMAIL_SUBJECT, EMAIL_OUT, EMAIL_REPLY, SPOKEN):
        for word in text.split():
            if len(word) >= 7:
                words[f"word {word!r}"] = re.escape(word)
    for word in transcript_words:
        words[f"transcript word {word!r}"] = re.escape(word)
    return {name: re.compile(pattern, re.IGNORECASE) for name, pattern in words.items()}


def transcript_words(timeline: dict[str, Any]) -> set[str]:
    """The long words whisper stored for the call (segments and the spoken IVR answer)."""
    texts = [s["text"] for i in timeline["interactions"] for s in i.get("segments", [])]
    texts += [str(e["value"].get("text", "")) for i in timeline["interactions"]
              for e in i.get("ivr_events", []) if isinstance(e.get("value"), dict)]
    return {w for t in texts for w in re.findall(r"[A-Za-z]{7,}", t)}


async def test_no_personal_value_of_a_call_sms_and_email_reaches_the_log(
    server_factory: ServerFactory, tmp_path: Path, relay: Relay, spoken: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "privacy.yaml").write_text(FLOW)
    smtp_in = free_port(socket.SOCK_STREAM, also_tcp=False)
    async with TwilioStandIn(ACCOUNT_SID, TWILIO_TOKEN) as twilio:
        server = await server_factory(ServerOptions(
            config=config(tmp_path, twilio, relay, smtp_in, flows),
            extra_args=["-v"], startup_timeout=120))
        twilio.forward(PUBLIC, server.http_base)

        # The call: the caller's number, account digits, a spoken question.
        result = await place_call(
            f"sip:100@{server.sip_target}", from_user=CALLER, play=spoken,
            dtmf=ACCOUNT_DIGITS + "#", dtmf_delay=DTMF_AT_S, duration=22.0)
        assert result.connected, result
        interaction = await ended_interaction(server, within=40.0, path_recorded=True)
        calls = await get_json(server, "/api/debug/calls")
        case_id = (await get_json(server, f"/api/calls/{calls[-1]['call_id']}/case"))["case_id"]
        entered = [e["value"] for e in interaction["ivr_events"] if e["step"] == "account"
                   and e["kind"] == "digits"]
        assert entered and entered[0]["digits"] == ACCOUNT_DIGITS, interaction["ivr_events"]

        # SMS in from the same number, the agent's answer out through the stand-in.
        status, _ = await twilio.post_webhook(PUBLIC + "/twilio/messaging",
                                              sms("SM" + "e" * 32, SMS_IN))
        assert status == 200
        await api(server, "POST", f"/api/cases/{case_id}/messages",
                  {"channel": "sms", "body": SMS_OUT})
        await twilio.drain()
        assert [r.form["Body"] for r in twilio.requests] == [SMS_OUT]

        # Email out from the case to the customer, and their reply in over SMTP.
        await api(server, "POST", f"/api/cases/{case_id}/emails",
                  {"to": CUSTOMER_EMAIL, "subject": EMAIL_SUBJECT, "body": EMAIL_OUT})
        await asyncio.wait_for(relay.arrived.wait(), 15)
        sent = relay.message()
        reply = EmailMessage()
        reply["From"], reply["To"] = CUSTOMER_EMAIL, str(sent["Reply-To"])
        reply["Subject"] = "Re: " + EMAIL_SUBJECT
        reply["In-Reply-To"] = str(sent["Message-ID"])
        reply.set_content(EMAIL_REPLY)
        await aiosmtplib.send(reply, hostname="127.0.0.1", port=smtp_in, start_tls=True,
                              validate_certs=False)

        # An email the listener refuses (not to one of our addresses): a refusal logs too.
        stray = EmailMessage()
        stray["From"], stray["To"] = CUSTOMER_EMAIL, "nobody@elsewhere.example"
        stray["Subject"] = EMAIL_SUBJECT
        stray.set_content(EMAIL_REPLY)
        with pytest.raises(aiosmtplib.SMTPException):
            await aiosmtplib.send(stray, hostname="127.0.0.1", port=smtp_in, start_tls=True,
                                  validate_certs=False)

        # Everything landed on the one case (so every value really passed through).
        deadline = time.monotonic() + 20
        while True:
            timeline = await get_json(server, f"/api/cases/{case_id}")
            bodies = [m["body"] for i in timeline["interactions"] for m in i.get("messages", [])]
            if any(EMAIL_REPLY in b for b in bodies) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        assert any(SMS_IN in b for b in bodies) and any(SMS_OUT in b for b in bodies), bodies
        assert any(EMAIL_OUT in b for b in bodies), bodies
        assert any(EMAIL_REPLY in b for b in bodies), bodies
        heard = transcript_words(timeline)
        assert heard, "whisper stored no transcript of the spoken question"

        metrics = await _get_text(server, "/metrics")
    await server.stop()

    lines = [*server.stderr_path.read_text("utf-8", "replace").splitlines(),
             *server.stdout_path.read_text("utf-8", "replace").splitlines()]
    records = _json_lines(lines)
    hits = [f"{name}: {line[:300]}" for line in lines
            for name, pattern in needles(heard).items() if pattern.search(line)]
    assert not hits, "personal data in the log:\n" + "\n".join(hits[:40])

    # The context: the call's lines name its call, case and interaction, and IVR node.
    call_lines = [r for r in records if r.get("call_id") == calls[-1]["call_id"]]
    assert call_lines, "no log line carries the call id"
    assert any("case_id" in r and "interaction_id" in r for r in call_lines), call_lines[-5:]
    assert any(str(r.get("node", "")).endswith(":account") for r in call_lines), call_lines[-5:]
    assert any(r.get("channel") == "twilio" for r in records)
    assert any(r["level"] == "DEBUG" for r in records)
    # The same run's metrics saw the messages and the database writes.
    assert 'centralita_messages{channel="sms",status="received"} 1.0' in metrics
    assert "centralita_db_write_seconds_count" in metrics
    # ... and timed each transcript segment from the end of its utterance.
    segments = [s for i in timeline["interactions"] for s in i.get("segments", [])]
    assert segments, "whisper stored no transcript segment of the call"
    assert f"centralita_asr_segment_latency_seconds_count {float(len(segments))}" in metrics
    assert "centralita_asr_queue_depth 0.0" in metrics
    # ... and the pjsua2 call's RTP figures, once at its end.
    assert "centralita_rtp_loss_ratio_count 1.0" in metrics
    assert "centralita_rtp_jitter_seconds_count 1.0" in metrics


async def _get_text(server: ServerProcess, path: str) -> str:
    async with (aiohttp.ClientSession(headers=server.auth_headers) as http,
                http.get(server.http_base + path) as resp):
        assert resp.status == 200
        return await resp.text()


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    """Every line as JSON (one object each, with time, level, logger and message)."""
    records = []
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"a log line is not JSON: {line[:300]}") from None
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= set(record), line
        records.append(record)
    return records
