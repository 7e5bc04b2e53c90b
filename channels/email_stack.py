"""The email channel assembled from its settings, for the composition root: the reply key,
the attachment store, the sender, the case service the desk calls, the SMTP listener when
`email.listen` is set and the IMAP poller when `email.imap` is."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cases.store import CaseStore, system_clock
from channels.attachments import AttachmentStore
from channels.email_cases import CaseEmails
from channels.email_config import EmailSettings
from channels.email_imap import ImapPoller
from channels.email_in import EmailInbound, EmailListener, OnMessage
from channels.email_out import EmailSender
from channels.email_token import ReplyTokens, load_secret


@dataclass
class EmailStack:
    """What `open_email` built; `close()` stops the listener."""

    sender: EmailSender
    cases: CaseEmails
    inbound: EmailInbound
    listener: EmailListener | None
    poller: ImapPoller | None = None

    async def close(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.listener is not None:
            await self.listener.stop()


async def open_email(
    settings: EmailSettings, *, store: CaseStore, data_dir: Path,
    now: Callable[[], datetime] = system_clock, on_message: OnMessage | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> EmailStack:
    """Build the channel (see the module doc); the listener is listening on return and
    offers STARTTLS with `tls_context` (the server's certificate) when given."""
    tokens = ReplyTokens(load_secret(data_dir), settings.reply_domain)
    attachments = AttachmentStore(data_dir / "attachments",
                                  max_bytes=settings.max_attachment_bytes)
    sender = EmailSender(settings, tokens, now=now, attachments=attachments)
    inbound = EmailInbound(
        store, tokens, attachments, max_attachment_bytes=settings.max_attachment_bytes,
        inbox_addresses=settings.inbox_addresses | {settings.from_address} | (
            {settings.imap.address} if settings.imap and settings.imap.address else set()),
        on_message=on_message,
    )
    listener = None
    if settings.listen is not None:
        listener = EmailListener(inbound, settings, tls_context=tls_context)
        await listener.start()
    poller = None
    if settings.imap is not None:
        poller = ImapPoller(inbound, settings.imap, max_message_bytes=settings.max_message_bytes)
        poller.start()
    return EmailStack(sender, CaseEmails(store, sender, from_address=settings.from_address),
                      inbound, listener, poller)
