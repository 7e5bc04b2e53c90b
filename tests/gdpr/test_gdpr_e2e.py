"""GDPR erasure on a real server process, filled through real peers: a pjsua2 call (a known
caller number, account digits, a spoken sentence transcribed by whisper, recorded, a callback
asked for in the IVR and kept in the Redis routing store), an SMS with a photo (MMS) and an
answer through the Twilio stand-in, an email out and the customer's reply in over SMTP
(aiosmtpd). A second person texts too.

The archive of `GET /api/customers/{id}/export` holds all of it; after
`DELETE /api/customers/{id}` no table of the database, no byte of any file under the data
dir and no Redis key of the routing prefix holds the person's phone (E.164 or national),
email, name or any word of their transcript, texts or emails, and the recording and the
photo are gone; the second person's messages and photo are all there. Run with the case
database on SQLite (its file's bytes searched too) and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
import uuid
import zipfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
import yaml
from redis.asyncio import Redis

from tests.channels import test_email_smtp
from tests.channels.test_email_smtp import Relay
from tests.conftest import ServerFactory
from tests.e2e.api import get_json
from tests.gdpr.scan import file_hits, patterns, redis_hits, table_hits
from tests.helpers.redis_server import REDIS_URL, require_redis
from tests.helpers.server import ServerOptions, ServerProcess, free_port
from tests.helpers.twilio_standin import TwilioStandIn
from tests.ops.test_log_privacy import (
    ACCOUNT_SID,
    CALLER,
    DTMF_AT_S,
    NATIONAL,
    PUBLIC,
    config,
    sms,
    spoken,
    transcript_words,
)
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

relay = test_email_smtp.relay
__all__ = ["relay", "spoken"]  # fixtures, used by name

ACCOUNT_DIGITS = "582946"
NAME = "Wilhelmina Kowalczyk"
EMAIL = "wilhelmina.kowalczyk@example.net"
SMS_IN = "Quiero cambiar el ornitorrinco del pedido"
SMS_OUT = "Cambiamos su quetzalcoatl manana"
EMAIL_SUBJECT = "Pterodactyl invoice"
EMAIL_OUT = "Your xylophone marmalade is on its way"
EMAIL_REPLY = f"Thanks, the brontosaurus arrived. Regards, {NAME}"
PHOTO = b"\xff\xd8\xff\xe0 JPEG of an axolotl named Gertrudis"

OTHER = "+34611222333"
OTHER_SMS = "Necesito el hipopotamo azul"
OTHER_PHOTO = b"\xff\xd8\xff\xe0 JPEG of a narwhal named Bonifacio"

FLOW = """\
name: gdpr
default: true
steps:
  - say: "Welcome."
  - label: account
    gather: {prompt: "Enter your account number, then hash.", variable: account,
             terminator: "#", max_digits: 10, timeout: 8}
  - label: question
    gather: {prompt: "Billing or support?", input: speech, variable: question,
             timeout: 10, phrases: {billing: [billing, invoice], support: [support, help]}}
  - callback: {queue: q}
  - say: "We will call you back."
  - hangup
"""


async def ended_call(server: ServerProcess, *, within: float) -> tuple[
        list[dict[str, Any]], str, dict[str, Any]]:
    """The debug call list, the case and the voice interaction of the one call, once it
    ended with its IVR path stored (a callback may add a text interaction after it)."""
    deadline = time.monotonic() + within
    while True:
        calls = await get_json(server, "/api/debug/calls")
        if calls and calls[-1]["state"] == "ended":
            case_id = (await get_json(
                server, f"/api/calls/{calls[-1]['call_id']}/case"))["case_id"]
            timeline = await get_json(server, f"/api/cases/{case_id}")
            voice = [i for i in timeline["interactions"] if i["channel"] == "voice"]
            if voice and voice[0]["ended_at"] and any(
                    e["kind"] == "path" for e in voice[0]["ivr_events"]):
                return calls, case_id, voice[0]
        assert time.monotonic() < deadline, f"the call did not end in {within:g}s: {calls}"
        await asyncio.sleep(0.3)


async def api(server: ServerProcess, method: str, path: str, body: Any = None) -> Any:
    async with (aiohttp.ClientSession(headers=server.auth_headers) as http,
                http.request(method, server.http_base + path, json=body) as resp):
        assert 200 <= resp.status < 300, (path, resp.status, await resp.text())
        return await resp.json()


async def download(server: ServerProcess, path: str) -> bytes:
    async with (aiohttp.ClientSession(headers=server.auth_headers) as http,
                http.get(server.http_base + path) as resp):
        assert resp.status == 200, (path, resp.status, await resp.text())
        assert resp.headers["Content-Type"] == "application/zip"
        return await resp.read()


def mms(sid: str, sender: str, body: str, media_url: str) -> dict[str, str]:
    form = sms(sid, body)
    form.update(From=sender, NumMedia="1", MediaUrl0=media_url, MediaContentType0="image/jpeg")
    return form


def person_needles(heard: set[str]) -> dict[str, str]:
    """What of the person no store may hold after the erasure: their words as written, and
    the long words whisper heard in the call (`heard`)."""
    words = {w for text in (SMS_IN, SMS_OUT, EMAIL_SUBJECT, EMAIL_OUT, EMAIL_REPLY)
             for w in re.findall(r"[A-Za-z]{7,}", text)} | heard
    return {"phone (national)": NATIONAL, "phone (E.164)": CALLER[1:], "email": EMAIL,
            "email (user)": EMAIL.split("@")[0], "name (first)": NAME.split()[0],
            "name (last)": NAME.split()[1], "account digits": ACCOUNT_DIGITS,
            "photo": "axolotl named Gertrudis",
            **{f"word {w}": w for w in sorted(words)}}


async def test_after_erase_no_store_holds_the_callers_values(
    server_factory: ServerFactory, tmp_path: Path, relay: Relay, spoken: Path, db_url: str
) -> None:
    await require_redis()
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "gdpr.yaml").write_text(FLOW)
    routing = tmp_path / "routing.yaml"
    routing.write_text(yaml.safe_dump({"queues": [{
        "name": "q", "moh": None, "announce_every": 0, "wrapup": 0.5, "offer_timeout": 10,
        "channels": ["voice", "sms", "email"]}],
        "agents": []}))
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    smtp_in = free_port(__import__("socket").SOCK_STREAM, also_tcp=False)
    redis = Redis.from_url(REDIS_URL)
    async with TwilioStandIn(ACCOUNT_SID, "twilio-auth-token-for-privacy") as twilio:
        conf = config(tmp_path, twilio, relay, smtp_in, flows)
        conf["recordings"] = {"enabled": True}
        if not db_url.startswith("sqlite"):
            conf["cases_url"] = db_url
        conf["routing"] = {"store": "redis", "redis_url": REDIS_URL, "key_prefix": prefix}
        server = await server_factory(ServerOptions(
            config=conf, extra_args=["--routing", str(routing)], startup_timeout=120))
        twilio.forward(PUBLIC, server.http_base)
        try:
            await fill_and_erase(server, twilio, relay, smtp_in, spoken, redis, prefix,
                                 db_url if "cases_url" in conf else None)
        finally:
            async for key in redis.scan_iter(match=prefix + "*"):
                await redis.delete(key)
            await redis.aclose()


async def fill_and_erase(server: ServerProcess, twilio: TwilioStandIn, relay: Relay,
                         smtp_in: int, spoken: Path, redis: Redis, prefix: str,
                         cases_url: str | None) -> None:
    # The call: number, account digits, a spoken sentence, a callback; recorded.
    result = await place_call(
        f"sip:100@{server.sip_target}", from_user=CALLER, play=spoken,
        dtmf=ACCOUNT_DIGITS + "#", dtmf_delay=DTMF_AT_S, duration=24.0)
    assert result.connected, result
    calls, case_id, interaction = await ended_call(server, within=60.0)
    assert any(e["kind"] == "callback" for e in interaction["ivr_events"]), \
        interaction["ivr_events"]
    [callback] = (await get_json(server, "/api/callbacks?state=waiting"))["callbacks"]
    assert callback["number"] in (CALLER, NATIONAL)

    # SMS with a photo in, an answer out; the other person texts a photo too.
    photo = twilio.add_media("photo.jpg", PHOTO, "image/jpeg")
    status, _ = await twilio.post_webhook(PUBLIC + "/twilio/messaging",
                                          mms("SM" + "a" * 32, CALLER, SMS_IN, photo))
    assert status == 200
    other_photo = twilio.add_media("other.jpg", OTHER_PHOTO, "image/jpeg")
    status, _ = await twilio.post_webhook(PUBLIC + "/twilio/messaging",
                                          mms("SM" + "b" * 32, OTHER, OTHER_SMS, other_photo))
    assert status == 200
    await api(server, "POST", f"/api/cases/{case_id}/messages",
              {"channel": "sms", "body": SMS_OUT})
    await twilio.drain()

    # Email out to the customer, and their reply in.
    await api(server, "POST", f"/api/cases/{case_id}/emails",
              {"to": EMAIL, "subject": EMAIL_SUBJECT, "body": EMAIL_OUT})
    await asyncio.wait_for(relay.arrived.wait(), 15)
    sent = relay.message()
    reply = EmailMessage()
    reply["From"], reply["To"] = f"{NAME} <{EMAIL}>", str(sent["Reply-To"])
    reply["Subject"] = "Re: " + EMAIL_SUBJECT
    reply["In-Reply-To"] = str(sent["Message-ID"])
    reply.set_content(EMAIL_REPLY)
    await aiosmtplib.send(reply, hostname="127.0.0.1", port=smtp_in, start_tls=True,
                          validate_certs=False)
    deadline = time.monotonic() + 20
    while True:
        timeline = await get_json(server, f"/api/cases/{case_id}")
        bodies = [m["body"] for i in timeline["interactions"] for m in i.get("messages", [])]
        if any(EMAIL_REPLY in b for b in bodies) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert any(EMAIL_REPLY in b for b in bodies) and any(SMS_IN in b for b in bodies), bodies
    heard = transcript_words(timeline)
    assert heard, "whisper stored no transcript of the spoken sentence"
    customer_id = timeline["customer"]["id"]
    data = server.data_dir
    database = cases_url or f"sqlite:///{data}/cases.db"
    assert list((data / "recordings").rglob("*.opus")) or list((data / "recordings").rglob("*.wav"))
    assert len(list((data / "attachments").iterdir())) == 2

    # The export: one zip with the rows, the recording and the photo.
    archive = zipfile.ZipFile(io.BytesIO(await download(
        server, f"/api/customers/{customer_id}/export")))
    names = archive.namelist()
    blob = b"".join(archive.read(n) for n in names).decode("latin-1")
    needles = patterns(person_needles(heard))
    missing = [what for what, p in needles.items() if not p.search(blob)]
    assert not missing, f"the export lacks: {missing}"
    assert any(n.startswith("recordings/") and not n.endswith(".json") for n in names), names
    assert "routing/callbacks.json" in names and "cases/transcript_segments.json" in names
    assert OTHER_SMS.encode() not in b"".join(archive.read(n) for n in names)

    # Erase, through the API; again is the same audit.
    erased = (await api(server, "DELETE", f"/api/customers/{customer_id}"))["erasure"]
    assert erased["state"] == "erased", erased
    counts = erased["counts"]
    assert counts["recordings.files"] >= 1 and counts["attachments.files"] == 1, counts
    assert counts["routing.callbacks"] == 1 and counts["routing.callbacks_cancelled"] == 1
    assert counts["cases.transcript_segments"] >= 1, counts
    # Their SMS and email conversations waited in line (nobody logged in): withdrawn.
    assert counts["live.conversations"] == 2, counts
    assert (await api(server, "DELETE", f"/api/customers/{customer_id}"))["erasure"] == erased
    assert (await api(server, "GET", f"/api/customers/{customer_id}/erasure"))["erasure"] \
        == erased
    for method, path, status in (
            ("GET", f"/api/cases/{case_id}", 404),
            ("GET", f"/api/customers/{customer_id}/export", 404),
            ("DELETE", "/api/customers/12ab", 400),
            ("DELETE", "/api/customers/0", 400),
            ("DELETE", "/api/customers/987654", 404),
            ("GET", "/api/customers/987654/erasure", 404)):
        async with (aiohttp.ClientSession(headers=server.auth_headers) as http,
                    http.request(method, server.http_base + path) as resp):
            assert resp.status == status, (method, path, resp.status, await resp.text())
    assert (await get_json(server, "/api/callbacks?state=waiting"))["callbacks"] == []

    # Nothing of the person anywhere: tables, files (bytes), Redis, the debug call list.
    assert table_hits(database, needles) == []
    assert file_hits(data, needles) == []
    assert await redis_hits(redis, prefix, needles) == []
    assert not list((data / "recordings").rglob("*.opus"))
    assert not list((data / "recordings").rglob("*.wav"))
    debug_calls = await get_json(server, "/api/debug/calls")
    assert all(c["call_id"] != calls[-1]["call_id"] for c in debug_calls)
    assert not any(p.search(str(erased)) for p in needles.values())

    # The other person is whole.
    theirs = patterns({"phone": OTHER[3:], "sms": "hipopotamo", "photo": "narwhal named"})
    assert {h.split(": ", 1)[1] for h in table_hits(database, theirs)} \
        == {"phone", "sms"}
    assert [h for h in file_hits(data / "attachments", theirs) if h.endswith("photo")]
