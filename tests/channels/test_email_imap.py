"""IMAP polling (`channels.email_imap`) against a real IMAP server: pymap (an independent
asyncio IMAP4rev1 server from PyPI, in-memory backend) in its own process on loopback. The
customer's mail is put in the mailbox with the stdlib's `imaplib` APPEND, as a provider's
delivery would; the poller fetches it with aioimaplib.

Not covered here: implicit TLS (993). pymap offers STARTTLS only, so the test runs the
mailbox in clear on loopback (`tls: false`)."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from cases.events import InProcessBus
from cases.store import CaseStore
from channels.attachments import AttachmentStore
from channels.email_config import ImapSettings
from channels.email_imap import ImapError, ImapPoller, PollResult
from channels.email_in import EmailInbound
from channels.email_token import ReplyTokens, load_secret
from common import tasks
from tests.helpers.server import free_port

USER, PASSWORD = "box", "box-password"
MAILBOX_ADDRESS = "support@example.com"
REPLY_DOMAIN = "reply.example.com"


@dataclass
class Mailbox:
    port: int

    def append(self, raw: bytes) -> None:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            client.login(USER, PASSWORD)
            status, _ = client.append("INBOX", None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def flags(self) -> list[str]:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            client.login(USER, PASSWORD)
            client.select("INBOX")
            _, data = client.fetch("1:*", "(FLAGS)")
            return [d.decode() for d in data if isinstance(d, bytes)]
        finally:
            client.logout()


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError("pymap exited at start")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("pymap did not listen")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    port = free_port(socket.SOCK_STREAM, also_tcp=False)
    process = subprocess.Popen(
        [sys.executable, "-c", "from pymap.main import main; main()", "--host", "127.0.0.1",
         "--port", str(port), "--no-tls", "dict", "--demo-user", USER,
         "--demo-password", PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, process)
        yield Mailbox(port)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Setup:
    store: CaseStore
    tokens: ReplyTokens
    poller: ImapPoller


@pytest.fixture
async def setup(tmp_path: Path, mailbox: Mailbox, db_url: str) -> AsyncIterator[Setup]:
    store = await CaseStore.open(db_url, bus=InProcessBus())
    tokens = ReplyTokens(load_secret(tmp_path / "data"), REPLY_DOMAIN)
    inbound = EmailInbound(store, tokens, AttachmentStore(tmp_path / "att"),
                           max_attachment_bytes=1024 * 1024,
                           inbox_addresses=frozenset({MAILBOX_ADDRESS}))
    poller = ImapPoller(inbound, ImapSettings(
        host="127.0.0.1", port=mailbox.port, tls=False, username=USER, password=PASSWORD,
        address=MAILBOX_ADDRESS, interval=0.2, timeout=10), max_message_bytes=64 * 1024)
    try:
        yield Setup(store, tokens, poller)
    finally:
        await poller.stop()
        await store.close()


def mail(sender: str, to: str, message_id: str, text: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "hello"
    msg["Message-ID"] = message_id
    msg.set_content(text)
    return msg.as_bytes()


async def test_poll_stores_threads_refuses_and_does_not_repeat(
        setup: Setup, mailbox: Mailbox) -> None:
    store = setup.store
    ref = await store.start_voice_interaction(caller="+34612345678", call_id="call-imap")
    public_id = await store.public_id(ref.case_id)
    customer = ref.customer_id
    await store.add_identity(customer, kind="email", value="ana@example.net")
    reply_to = setup.tokens.reply_address(public_id)
    # Delivered to the hosted mailbox through an alias: the token is in To.
    mailbox.append(mail("ana@example.net", reply_to, "<r1@example.net>", "Reply by token"))
    mailbox.append(mail("ana@example.net", reply_to, "<r1@example.net>", "Reply by token"))
    mailbox.append(b"From: ana@example.net\r\nContent-Type: multipart/mixed\r\n\r\nbroken\r\n")
    mailbox.append(mail("ana@example.net", MAILBOX_ADDRESS, "<big@example.net>",
                        "x" * (100 * 1024)))
    mailbox.append(mail("new@example.org", MAILBOX_ADDRESS, "<n1@example.org>", "First contact"))

    result = await setup.poller.poll_once()
    assert (result.stored, result.duplicates, result.rejected, result.deferred) == (2, 1, 2, 0)
    timeline = await store.timeline(ref.case_id)
    bodies = [e["message"]["body"].strip() for e in timeline["entries"] if e["type"] == "message"]
    assert bodies == ["Reply by token"]
    flags = mailbox.flags()
    assert len(flags) == 5 and all("\\Seen" in f for f in flags)
    assert sum("\\Flagged" in f for f in flags) == 2  # the two refused, left for a person

    again = await setup.poller.poll_once()
    assert (again.stored, again.duplicates, again.rejected) == (0, 0, 0)


async def test_store_failure_leaves_the_message_for_the_next_poll(
        setup: Setup, mailbox: Mailbox) -> None:
    mailbox.append(mail("ana@example.net", MAILBOX_ADDRESS, "<later@example.net>", "Later"))
    await setup.store.close()  # the database goes away
    result = await setup.poller.poll_once()
    assert result.deferred == 1 and result.stored == 0
    assert "\\Seen" not in mailbox.flags()[0]


async def test_unreachable_server_is_an_imap_error(setup: Setup) -> None:
    setup.poller.settings = ImapSettings(host="127.0.0.1", port=free_port(
        socket.SOCK_STREAM, also_tcp=False), tls=False, username=USER, password=PASSWORD,
        timeout=2)
    with pytest.raises(ImapError):
        await setup.poller.poll_once()


async def test_stop_ends_the_task_even_when_a_cancel_is_lost(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll that swallows the cancel (as 3.11's wait_for does when the IMAP command
    completes at the same moment) must not make stop() wait forever."""
    monkeypatch.setattr(tasks, "RECANCEL_S", 0.3)
    polls = 0

    async def swallowing_poll() -> PollResult:
        nonlocal polls
        polls += 1
        if polls == 1:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(30)
        else:
            await asyncio.sleep(30)
        return PollResult()
    monkeypatch.setattr(setup.poller, "poll_once", swallowing_poll)
    setup.poller.start()
    await asyncio.sleep(0.1)
    await asyncio.wait_for(setup.poller.stop(), 10)
    assert polls == 2


async def test_the_owned_task_polls_until_stopped(setup: Setup, mailbox: Mailbox) -> None:
    mailbox.append(mail("zoe@example.org", MAILBOX_ADDRESS, "<z1@example.org>", "By the task"))
    setup.poller.start()
    for _ in range(100):
        ref = await setup.store.open_text_interaction(channel="email", address="zoe@example.org")
        timeline = await setup.store.timeline(ref.case_id)
        if any(e["type"] == "message" for e in timeline["entries"]):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the poller did not store the email")
    await setup.poller.stop()
