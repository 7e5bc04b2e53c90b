"""The email channel end to end over real SMTP on loopback, on SQLite and PostgreSQL.

Two real SMTP servers (aiosmtpd), both on 127.0.0.1:
- the provider's relay (STARTTLS with a throwaway certificate, AUTH LOGIN/PLAIN required),
  which captures what the server sends;
- our own listener (`channels.email_in.EmailListener`), which the customer's replies reach,
  sent with aiosmtplib like any mail server would.
The agent writes through the real HTTP route (`POST /api/cases/{id}/emails`) behind the real
auth, and the case is read back through `GET /api/cases/{id}`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from cases.events import InProcessBus
from cases.store import CaseStore
from centralita.tls import self_signed
from channels.attachments import AttachmentStore
from channels.email_cases import CaseEmails
from channels.email_config import EmailSettings
from channels.email_in import EmailInbound, EmailListener
from channels.email_out import EmailSender
from channels.email_token import ReplyTokens, load_secret
from media.clock import FakeClock
from tests.helpers.databases import database_fixtures
from tests.helpers.webapp import start_app
from tests.web.conftest import CHEAP, bearer, make_auth
from web.app import build_app
from web.auth import Role
from web.auth.passwords import PasswordHasher
from web.auth.store import UserStore
from web.cases_api import add_case_routes
from web.email_api import add_email_routes

pg_database, db_url = database_fixtures("centralita_email", "cases.db")

FROM = "support@example.com"
REPLY_DOMAIN = "reply.example.com"
ANA = "ana.perez@example.net"
BOB = "bob@example.org"
RELAY_USER, RELAY_PASSWORD = "centralita", "relay-secret-123"
MiB = 1024 * 1024


@dataclass
class Relay:
    """The provider's relay: what it accepted, and who logged in."""

    host: str
    port: int
    cert: Path
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls_sessions: int = 0
    refuse: set[str] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def message(self, index: int = -1) -> EmailMessage:
        msg = BytesParser(policy=policy.default).parsebytes(self.received[index][2])
        assert isinstance(msg, EmailMessage)
        return msg


class _RelayHandler:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if address in self.relay.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if session.ssl is not None:
            self.relay.tls_sessions += 1
        content = envelope.original_content or b""
        assert isinstance(content, bytes)
        self.relay.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        self.relay.arrived.set()
        return "250 queued"


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Relay]:
    cert, key = tmp_path / "relay.crt", tmp_path / "relay.key"
    self_signed(cert, key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    state = Relay("127.0.0.1", 0, cert)

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == RELAY_USER.encode() \
            and data.password == RELAY_PASSWORD.encode()
        if ok:
            state.logins.append(RELAY_USER)
        return AuthResult(success=ok)

    handler = _RelayHandler(state)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, tls_context=context, require_starttls=True, auth_required=True,
                     authenticator=authenticate, hostname="localhost"),
        "127.0.0.1", 0)
    state.port = int(server.sockets[0].getsockname()[1])
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class Rig:
    store: CaseStore
    tokens: ReplyTokens
    attachments: AttachmentStore
    listener: EmailListener
    base: str
    http: aiohttp.ClientSession
    relay: Relay

    async def post_email(self, public_id: str, **body: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"{self.base}/api/cases/{public_id}/emails",
                                  json=body) as resp:
            return resp.status, await resp.json()

    async def case(self, public_id: str) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/api/cases/{public_id}") as resp:
            assert resp.status == 200
            data: dict[str, Any] = await resp.json()
            return data

    async def messages(self, public_id: str) -> list[dict[str, Any]]:
        timeline = await self.case(public_id)
        return [e["message"] for e in timeline["entries"] if e["type"] == "message"]

    async def deliver(self, msg: EmailMessage | bytes, to: str) -> None:
        """The customer's mail server delivering to our listener."""
        await aiosmtplib.send(msg, sender=ANA, recipients=[to], hostname="127.0.0.1",
                              port=self.listener.port, start_tls=False, timeout=30)


def email_settings(relay: Relay, **overrides: Any) -> EmailSettings:
    values: dict[str, Any] = dict(
        smtp_host=relay.host, smtp_port=relay.port, starttls=True, ca_file=relay.cert,
        username=RELAY_USER, password=RELAY_PASSWORD, from_address=FROM,
        reply_domain=REPLY_DOMAIN, inbox_addresses=frozenset({FROM}))
    values.update(overrides)
    return EmailSettings(**values)


@pytest.fixture
async def rig(db_url: str, tmp_path: Path, relay: Relay) -> AsyncIterator[Rig]:
    bus = InProcessBus()
    store = await CaseStore.open(db_url, bus=bus)
    users = await UserStore.open(f"sqlite:///{tmp_path}/users.db", hasher=PasswordHasher(CHEAP))
    settings = email_settings(relay)
    tokens = ReplyTokens(load_secret(tmp_path / "data"), REPLY_DOMAIN)
    attachments = AttachmentStore(tmp_path / "data" / "attachments")
    sender = EmailSender(settings, tokens, now=store_clock)
    inbound = EmailInbound(store, tokens, attachments,
                           max_attachment_bytes=settings.max_attachment_bytes,
                           inbox_addresses=settings.inbox_addresses)
    listener = EmailListener(inbound, settings, host="127.0.0.1", port=0)
    await listener.start()
    app = build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))
    add_case_routes(app, store, bus)
    add_email_routes(app, CaseEmails(store, sender, from_address=FROM))
    runner, base = await start_app(app)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                 headers=bearer(Role.ADMIN))
    try:
        yield Rig(store, tokens, attachments, listener, base, http, relay)
    finally:
        await http.close()
        await runner.cleanup()
        await listener.stop()
        await users.close()
        await store.close()


def store_clock() -> datetime:
    return datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


async def voice_case(store: CaseStore, number: str, call_id: str) -> str:
    ref = await store.start_voice_interaction(caller=number, call_id=call_id)
    return await store.public_id(ref.case_id)


def customer_reply(agent_mail: EmailMessage, text: str, *, sender: str = ANA,
                   attachment: bytes | None = None) -> EmailMessage:
    """What a mail client writes when the customer hits Reply: quoted history below."""
    reply = EmailMessage()
    reply["From"] = f"Ana Pérez <{sender}>"
    reply["To"] = str(agent_mail["Reply-To"])
    reply["Subject"] = "Re: " + str(agent_mail["Subject"])
    reply["Date"] = email.utils.format_datetime(store_clock())
    reply["Message-ID"] = email.utils.make_msgid(domain="mail.example.net")
    reply["In-Reply-To"] = str(agent_mail["Message-ID"])
    reply["References"] = str(agent_mail["Message-ID"])
    agent_text = agent_mail.get_body(("plain",))
    assert agent_text is not None
    quoted = "\n".join("> " + line for line in agent_text.get_content().splitlines())
    reply.set_content(f"{text}\n\nOn Mon, 3 Mar 2025 at 10:00, Support <{FROM}> wrote:\n"
                      f"{quoted}\n")
    if attachment is not None:
        reply.add_attachment(attachment, maintype="application", subtype="pdf",
                             filename="factura.pdf")
    return reply


async def test_agent_email_and_customer_reply_on_one_case(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    public_id = await voice_case(rig.store, "+34612345678", "call-email-1")
    status, sent = await rig.post_email(public_id, to=ANA, subject="Your order 4411",
                                        body="Hello Ana,\nyour refund is on its way.")
    assert status == 201, sent
    assert sent["status"] == "sent" and sent["direction"] == "outbound"
    # The relay got it over STARTTLS after our login, from us to Ana.
    assert rig.relay.logins == [RELAY_USER] and rig.relay.tls_sessions == 1
    mail_from, rcpts, _ = rig.relay.received[0]
    assert (mail_from, rcpts) == (FROM, [ANA])
    agent_mail = rig.relay.message()
    assert agent_mail["Message-ID"] == sent["external_id"]
    reply_to = str(agent_mail["Reply-To"])
    assert reply_to.startswith("reply+") and reply_to.endswith("@" + REPLY_DOMAIN)
    assert rig.tokens.case_of_address(reply_to) == public_id
    # The token names the public id, never the sequential key, and is not the bare id.
    assert public_id not in reply_to

    pdf = b"%PDF-1.4 factura " + bytes(range(256)) * 40
    reply = customer_reply(agent_mail, "Thanks! My order number is 4411.", attachment=pdf)
    await rig.deliver(reply, reply_to)

    messages = await rig.messages(public_id)
    assert [m["direction"] for m in messages] == ["outbound", "inbound"]
    got = messages[1]
    assert got["external_id"] == reply["Message-ID"]
    # Both subjects are on the case, as each email carried it.
    assert agent_mail["Subject"] == "Your order 4411"
    assert [m["subject"] for m in messages] == ["Your order 4411", "Re: Your order 4411"]
    # The stored body keeps the quoted history; the display version leaves it out.
    assert "Thanks! My order number is 4411." in got["body"]
    assert "> your refund is on its way." in got["body"]
    assert "4411" in got["html"] and "refund" not in got["html"] and "wrote" not in got["html"]
    [attachment] = got["attachments"]
    assert (attachment["filename"], attachment["content_type"], attachment["size"]) == (
        "factura.pdf", "application/pdf", len(pdf))
    assert rig.attachments.get(attachment["storage_key"]) == pdf

    # The agent answers that email: threading headers name it and the first one.
    status, answer = await rig.post_email(public_id, subject="Re: Your order 4411",
                                          body="Got it, thanks.", in_reply_to_message=got["id"])
    assert status == 201, answer
    second = rig.relay.message()
    assert second["To"] == ANA  # the customer's address on record
    assert second["In-Reply-To"] == reply["Message-ID"]
    assert str(second["References"]).split() == [sent["external_id"], reply["Message-ID"]]
    assert rig.tokens.case_of_address(str(second["Reply-To"])) == public_id

    # No address, subject or body text in any log line.
    for secret in (ANA, "ana.perez", "Ana P", "4411", "refund", "Thanks", "factura",
                   "+34612345678", "612345678"):
        assert secret not in caplog.text, secret
    assert "email stored on case" in caplog.text  # the logs do say what happened


async def test_reply_without_reply_to_threads_by_in_reply_to(rig: Rig) -> None:
    public_id = await voice_case(rig.store, "+34612000111", "call-email-2")
    status, _ = await rig.post_email(public_id, to=ANA, subject="Hi", body="First")
    assert status == 201
    agent_mail = rig.relay.message()
    # Forwarded to her work address, answered from there to From (the client dropped
    # Reply-To): neither the token address nor her known address; In-Reply-To still is ours.
    reply = customer_reply(agent_mail, "Answer sent to the From address",
                           sender="ana@work.example")
    del reply["To"]
    reply["To"] = FROM
    await rig.deliver(reply, FROM)
    messages = await rig.messages(public_id)
    assert [m["direction"] for m in messages] == ["outbound", "inbound"]
    assert messages[1]["sender"] == "ana@work.example"
    # Without our Message-ID in In-Reply-To it goes by sender: a new customer's case.
    stray = customer_reply(agent_mail, "No thread headers", sender="ana@work.example")
    del stray["In-Reply-To"], stray["References"], stray["To"]
    stray["To"] = FROM
    await rig.deliver(stray, FROM)
    assert len(await rig.messages(public_id)) == 2


async def test_tampered_token_never_lands_on_another_case(rig: Rig) -> None:
    ana_case = await voice_case(rig.store, "+34612345678", "call-ana")
    bob_case = await voice_case(rig.store, "+34699000111", "call-bob")
    assert (await rig.post_email(bob_case, to=BOB, subject="Hi Bob", body="Bob's case"))[0] == 201
    assert (await rig.post_email(ana_case, to=ANA, subject="Hi Ana", body="Ana's case"))[0] == 201
    ana_mail = rig.relay.message()
    token = str(ana_mail["Reply-To"]).split("+", 1)[1].split("@")[0]
    body, mac = token.split(".")
    flipped = ("a" if mac[0] != "a" else "b") + mac[1:]
    forged_bob_id = rig.tokens.token(bob_case).split(".")[0] + "." + mac  # Bob's id, Ana's MAC
    other_key = ReplyTokens(b"k" * 32, REPLY_DOMAIN).token(ana_case)  # right shape, wrong key
    for i, forged in enumerate((f"{body}.{flipped}", forged_bob_id, other_key)):
        # Bob writes to a doctored reply address of Ana's case, with a doctored In-Reply-To.
        msg = EmailMessage()
        msg["From"] = BOB
        msg["To"] = f"reply+{forged}@{REPLY_DOMAIN}"
        msg["Subject"] = "let me in"
        msg["Message-ID"] = f"<forged-{i}@example.org>"
        msg["In-Reply-To"] = f"<{forged}.00ff00ff00ff00ff@{REPLY_DOMAIN}>"
        msg.set_content(f"attempt {i}")
        await aiosmtplib.send(msg, sender=BOB, recipients=[str(msg["To"])],
                              hostname="127.0.0.1", port=rig.listener.port, start_tls=False)
    ana_messages = await rig.messages(ana_case)
    assert [m["direction"] for m in ana_messages] == ["outbound"]
    bob_messages = await rig.messages(bob_case)
    assert [m["body"].strip() for m in bob_messages if m["direction"] == "inbound"] == [
        "attempt 0", "attempt 1", "attempt 2"]


async def test_a_merged_case_token_leads_to_the_case_that_absorbed_it(rig: Rig) -> None:
    call_case = await voice_case(rig.store, "+34612345678", "call-merge")
    # Ana first wrote by email alone (another customer), and got an answer from that case.
    first = await rig.store.open_text_interaction(channel="email", address=ANA)
    email_case = await rig.store.public_id(first.case_id)
    assert email_case != call_case
    assert (await rig.post_email(email_case, subject="Hi", body="From the email case"))[0] == 201
    agent_mail = rig.relay.message()
    # The agent sees they are one person: the email customer merges into the caller.
    call_customer = (await rig.case(call_case))["customer"]["id"]
    await rig.store.merge_customers(first.customer_id, call_customer, actor="ana")
    # From another address of hers, so only the token can bring it to the case.
    reply = customer_reply(agent_mail, "Reply after the merge", sender="ana@work.example")
    await rig.deliver(reply, str(reply["To"]))
    bodies = [m["body"] for m in await rig.messages(call_case)]
    assert any("Reply after the merge" in b for b in bodies)


async def test_duplicate_message_id_is_stored_once(rig: Rig) -> None:
    public_id = await voice_case(rig.store, "+34612345678", "call-dup")
    assert (await rig.post_email(public_id, to=ANA, subject="Hi", body="Hello"))[0] == 201
    reply = customer_reply(rig.relay.message(), "Only once, please")
    for _ in range(3):  # the customer's server retries after a lost 250
        await rig.deliver(reply, str(reply["To"]))
    inbound = [m for m in await rig.messages(public_id) if m["direction"] == "inbound"]
    assert len(inbound) == 1


async def smtp_error(rig: Rig, raw: bytes, *, to: str = FROM,
                     declare_size: bool = True) -> aiosmtplib.SMTPResponseException:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=rig.listener.port, start_tls=False,
                             timeout=60)
    async with client:
        await client.ehlo()
        options = [f"SIZE={len(raw)}"] if declare_size else []
        try:
            await client.mail(ANA, options=options)
            await client.rcpt(to)
            await client.data(raw)
        except aiosmtplib.SMTPResponseException as exc:
            return exc
    raise AssertionError("the listener accepted it")


def raw_email(body: bytes, content_type: bytes = b"text/plain; charset=utf-8",
              extra: bytes = b"") -> bytes:
    return (b"From: " + ANA.encode() + b"\r\nTo: " + FROM.encode() +
            b"\r\nSubject: test\r\nMessage-ID: <bad-" + str(len(body)).encode() +
            b"@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: " + content_type +
            b"\r\n" + extra + b"\r\n" + body)


async def test_bad_email_gets_a_clear_smtp_error_and_nothing_is_lost(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    public_id = await voice_case(rig.store, "+34612345678", "call-bad")
    assert (await rig.post_email(public_id, to=ANA, subject="Hi", body="Hello"))[0] == 201
    good = customer_reply(rig.relay.message(), "A good reply")
    await rig.deliver(good, str(good["To"]))
    before = await rig.messages(public_id)
    assert len(before) == 2

    not_ours = await smtp_error(rig, raw_email(b"hi"), to="someone@elsewhere.example")
    assert not_ours.code == 550 and "no such recipient" in not_ours.message

    no_boundary = await smtp_error(rig, raw_email(
        b"--xyz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xyz--\r\n",
        b"multipart/mixed"))
    assert no_boundary.code == 554 and "malformed MIME" in no_boundary.message

    lost_boundary = await smtp_error(rig, raw_email(
        b"no boundary lines at all\r\n", b'multipart/mixed; boundary="abc"'))
    assert lost_boundary.code == 554 and "malformed MIME" in lost_boundary.message

    bad_utf8 = await smtp_error(rig, raw_email(b"caf\xc3\x28 ol\xe9\r\n",
                                               extra=b"Content-Transfer-Encoding: 8bit\r\n"))
    assert bad_utf8.code == 554 and "not valid utf-8" in bad_utf8.message.lower()
    assert "part 1" in bad_utf8.message  # where

    undeclared = await smtp_error(rig, raw_email(b"ol\xe9 se\xf1or\r\n", b"text/plain",
                                                 extra=b"Content-Transfer-Encoding: 8bit\r\n"))
    assert undeclared.code == 554 and "without a declared charset" in undeclared.message

    bad_header = await smtp_error(rig, b"From: \xff\xfe@example.net\r\nTo: " + FROM.encode() +
                                  b"\r\nSubject: x\r\n\r\nhello\r\n")
    assert bad_header.code == 554 and "From" in bad_header.message

    # An 11 MiB attachment fits the 25 MiB message but not the 10 MiB attachment cap.
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = ANA, FROM, "big"
    big["Message-ID"] = "<big-11@example.net>"
    big.set_content("see attached")
    big.add_attachment(b"\x01" * (11 * MiB), maintype="application", subtype="octet-stream",
                       filename="big.bin")
    too_big = await smtp_error(rig, big.as_bytes())
    assert too_big.code == 552 and "attachment over 10485760 bytes" in too_big.message

    # A 20 MB attachment (27 MB in base64) is over the message's SIZE: refused at MAIL FROM
    # when the client declares its size, and after DATA when it does not.
    huge = EmailMessage()
    huge["From"], huge["To"], huge["Subject"] = ANA, FROM, "huge"
    huge["Message-ID"] = "<huge-20@example.net>"
    huge.set_content("see attached")
    huge.add_attachment(b"\x02" * (20 * 1000 * 1000), maintype="application",
                        subtype="octet-stream", filename="huge.bin")
    raw = huge.as_bytes()
    declared = await smtp_error(rig, raw)
    assert declared.code == 552 and "size" in declared.message.lower()
    undeclared_size = await smtp_error(rig, raw, declare_size=False)
    assert undeclared_size.code == 552 and "too much mail data" in undeclared_size.message.lower()

    assert ANA not in caplog.text and "ana.perez" not in caplog.text
    assert "email refused: part 1: not valid utf-8" in caplog.text
    after = await rig.messages(public_id)
    assert [(m["id"], m["body"]) for m in after] == [(m["id"], m["body"]) for m in before]
    # The listener is still taking mail.
    again = customer_reply(rig.relay.message(), "Still here")
    await rig.deliver(again, str(again["To"]))
    assert len(await rig.messages(public_id)) == 3


async def test_hostile_html_is_sanitised_for_display(rig: Rig) -> None:
    public_id = await voice_case(rig.store, "+34612345678", "call-html")
    assert (await rig.post_email(public_id, to=ANA, subject="Hi", body="Hello"))[0] == 201
    reply = customer_reply(rig.relay.message(), "Plain part: see the HTML")
    reply.add_alternative(
        '<p onclick="steal()">Hello <b>team</b></p><script>alert(document.cookie)</script>'
        '<img src="x" onerror="alert(1)"><a href="javascript:alert(2)">click</a>'
        '<a href="https://example.com/help">help</a><iframe src="https://evil.example/">'
        '</iframe><style>body{display:none}</style>'
        '<blockquote type="cite">Old agent text</blockquote>', subtype="html")
    await rig.deliver(reply, str(reply["To"]))
    inbound = [m for m in await rig.messages(public_id) if m["direction"] == "inbound"][0]
    shown = inbound["html"].lower()
    for bad in ("<script", "alert", "onerror", "onclick", "javascript:", "<iframe", "<style",
                "<img", "old agent text"):
        assert bad not in shown, bad
    assert "<b>team</b>" in shown and 'href="https://example.com/help"' in shown
    assert 'rel="noopener noreferrer nofollow"' in shown


async def test_a_body_over_the_message_limit_is_kept_whole_as_a_file(rig: Rig) -> None:
    public_id = await voice_case(rig.store, "+34612345678", "call-long")
    assert (await rig.post_email(public_id, to=ANA, subject="Hi", body="Hello"))[0] == 201
    long_text = "".join(f"line {i}: the customer's long story\n" for i in range(5000))
    reply = customer_reply(rig.relay.message(), long_text)
    await rig.deliver(reply, str(reply["To"]))
    inbound = [m for m in await rig.messages(public_id) if m["direction"] == "inbound"][0]
    assert len(inbound["body"]) <= 65_536 and inbound["body"].startswith("line 0:")
    assert inbound["body"].endswith("[... the full text is attached as message.txt]")
    [whole] = inbound["attachments"]
    assert whole["filename"] == "message.txt"
    full = rig.attachments.get(whole["storage_key"]).decode("utf-8")
    assert "line 4999: the customer's long story" in full and "> Hello" in full


async def test_relay_refusal_is_told_to_the_agent_and_kept_as_failed(rig: Rig) -> None:
    public_id = await voice_case(rig.store, "+34612345678", "call-refused")
    rig.relay.refuse.add("blocked@example.com")
    status, body = await rig.post_email(public_id, to="blocked@example.com", subject="Hi",
                                        body="Hello")
    assert status == 409 and "refused the recipient" in body["error"]["message"]
    assert "blocked" not in body["error"]["message"]
    [failed] = await rig.messages(public_id)
    assert failed["status"] == "failed" and failed["error_code"] == "smtp_550"
    # Bad fields are named.
    status, body = await rig.post_email(public_id, subject="x\nBcc: all@example.com", body="b")
    assert status == 400 and body["error"]["where"] == "subject"
    status, body = await rig.post_email(public_id, to="not an address", subject="x", body="b")
    assert status == 400 and body["error"]["where"] == "to"


def follow_up(sender: str, references: str, text: str) -> EmailMessage:
    """A new email to the support address whose only thread header names `references`."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = FROM
    msg["Subject"] = "Re: Hi"
    msg["Date"] = email.utils.format_datetime(store_clock())
    msg["Message-ID"] = email.utils.make_msgid(domain="mail.example.net")
    msg["References"] = references
    msg.set_content(text)
    return msg


async def test_a_reply_naming_the_customers_own_email_lands_on_its_case(rig: Rig) -> None:
    public_id = await voice_case(rig.store, "+34612345678", "call-own-id")
    assert (await rig.post_email(public_id, to=ANA, subject="Hi", body="First"))[0] == 201
    # Ana answers from her work address, which the case does not know: the token brings it.
    first = customer_reply(rig.relay.message(), "Answer from work", sender="ana@work.example")
    await rig.deliver(first, str(first["To"]))
    # Then she follows up to the support address from her Sent folder: the only thread
    # header names her own email, which is not ours and carries no token.
    again = follow_up("ana@work.example", str(first["Message-ID"]), "One more thing")
    await rig.deliver(again, FROM)
    messages = await rig.messages(public_id)
    inbound = [m for m in messages if m["direction"] == "inbound"]
    assert [m["external_id"] for m in inbound] == [first["Message-ID"], again["Message-ID"]]
    assert inbound[1]["body"].strip() == "One more thing"
    assert inbound[1]["subject"] == "Re: Hi"


async def test_a_forged_reference_to_another_customers_email_stays_on_the_senders_case(
        rig: Rig) -> None:
    ana_case = await voice_case(rig.store, "+34612345678", "call-ana-own")
    bob_case = await voice_case(rig.store, "+34699000111", "call-bob-own")
    assert (await rig.post_email(bob_case, to=BOB, subject="Hi Bob", body="Bob's case"))[0] == 201
    assert (await rig.post_email(ana_case, to=ANA, subject="Hi Ana", body="Ana's case"))[0] == 201
    ana_reply = customer_reply(rig.relay.message(), "Ana's private answer")
    await rig.deliver(ana_reply, str(ana_reply["To"]))
    ana_id = str(ana_reply["Message-ID"])
    # Bob (known, with his own case) and a stranger name Ana's Message-ID, as a reply-all
    # copy or a leak would let them: neither lands on Ana's case.
    await rig.deliver(follow_up(BOB, ana_id, "Bob pushing in"), FROM)
    await rig.deliver(follow_up("mallory@evil.example", f"<x@y.example> {ana_id}",
                                "Stranger pushing in"), FROM)
    ana_bodies = [m["body"] for m in await rig.messages(ana_case)]
    assert not any("pushing in" in b for b in ana_bodies)
    bob_inbound = [m["body"].strip() for m in await rig.messages(bob_case)
                   if m["direction"] == "inbound"]
    assert bob_inbound == ["Bob pushing in"]
    stranger = await rig.store.find_message_by_external_id("email", ana_id)
    assert stranger is not None and stranger.case_id == await rig.store.case_by_public_id(
        ana_case)
