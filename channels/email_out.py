"""Email out: an `OutboundText` becomes an RFC 5322 message sent through the configured relay
with `aiosmtplib` (STARTTLS or implicit TLS, login when configured).

Every email carries the headers that bring the customer's reply back to its case:

    Message-ID:  <TOKEN.RANDOM@reply_domain>   ours, returned as `Sent.external_id`
    Reply-To:    reply+TOKEN@reply_domain       the case's signed token (channels.email_token)
    In-Reply-To, References                     the thread, when answering an email

Errors: the relay refusing the recipient is `Refused` (the agent reads why, never the
address); any other refusal, a timeout or an unreachable relay is `SendFailed` with the SMTP
code.
"""

from __future__ import annotations

import email.utils
import logging
import ssl
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib

from cases.messages import MAX_SUBJECT_CHARS
from channels.attachments import AttachmentStore
from channels.base import OutboundText, Refused, SendFailed, Sent
from channels.email_config import EmailSettings
from channels.email_token import ReplyTokens

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 30.0


def _one_line(value: str, where: str) -> str:
    if "\r" in value or "\n" in value:
        # A newline in a header would let a value add headers of its own.
        raise Refused(f"{where} must be a single line", code="invalid_header")
    return value


class EmailSender:
    """Sends `OutboundText(channel="email")` through the relay of `settings` (`Sender`)."""

    channel = "email"

    def __init__(
        self, settings: EmailSettings, tokens: ReplyTokens, *, now: Callable[[], datetime],
        attachments: AttachmentStore | None = None,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self._now = now
        self._attachments = attachments
        self._tls: ssl.SSLContext | None = None
        if settings.starttls or settings.tls:
            self._tls = ssl.create_default_context(
                cafile=str(settings.ca_file) if settings.ca_file else None)

    def build(self, message: OutboundText, public_id: str | None) -> EmailMessage:
        """The email for `message` (its Message-ID names case `public_id` when given)."""
        if message.channel != "email":
            raise Refused(f"not an email: {message.channel}", code="wrong_channel")
        s = self.settings
        msg = EmailMessage()
        msg["From"] = s.from_address
        msg["To"] = _one_line(message.to, "to")
        msg["Subject"] = _one_line(message.subject or "", "subject")[:MAX_SUBJECT_CHARS]
        msg["Date"] = email.utils.format_datetime(self._now())
        if public_id is not None:
            msg["Message-ID"] = self.tokens.message_id(public_id)
            msg["Reply-To"] = self.tokens.reply_address(public_id)
        else:
            msg["Message-ID"] = email.utils.make_msgid(domain=s.reply_domain)
        if message.in_reply_to:
            msg["In-Reply-To"] = _one_line(message.in_reply_to, "in_reply_to")
        refs = [_one_line(r, "references") for r in message.references]
        if message.in_reply_to and message.in_reply_to not in refs:
            refs.append(message.in_reply_to)
        if refs:
            msg["References"] = " ".join(refs)
        msg.set_content(message.body)
        if message.html:
            msg.add_alternative(message.html, subtype="html")
        for item in message.attachments:
            if self._attachments is None:
                raise Refused("attachments cannot be sent: no attachment store",
                              code="no_attachments")
            maintype, _, subtype = item.content_type.partition("/")
            msg.add_attachment(self._attachments.get(item.storage_key), maintype=maintype,
                               subtype=subtype.split(";")[0].strip() or "octet-stream",
                               filename=item.filename)
        return msg

    async def send(self, message: OutboundText) -> Sent:
        """Send `message`; its `reply_token` (a case's public id, signed here) threads the
        reply. `Sent.external_id` is our Message-ID."""
        public_id = message.reply_token
        msg = self.build(message, public_id)
        await self.deliver(msg)
        return Sent(external_id=str(msg["Message-ID"]), status="sent")

    async def deliver(self, msg: EmailMessage) -> None:
        """Hand `msg` to the relay; `Refused` / `SendFailed` when it is not accepted."""
        s = self.settings
        try:
            await aiosmtplib.send(
                msg, hostname=s.smtp_host, port=s.smtp_port, start_tls=s.starttls,
                use_tls=s.tls, tls_context=self._tls, username=s.username, password=s.password,
                timeout=SEND_TIMEOUT_S,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            code = str(exc.recipients[0].code) if exc.recipients else None
            raise Refused("the mail relay refused the recipient address",
                          code=f"smtp_{code}" if code else "smtp_recipient") from exc
        except aiosmtplib.SMTPResponseException as exc:
            log.warning("mail relay refused an email: SMTP %d", exc.code)
            raise SendFailed(f"the mail relay refused the email (SMTP {exc.code})",
                             code=str(exc.code)) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("mail relay unreachable: %s", type(exc).__name__)
            raise SendFailed("the mail relay could not be reached", code="unreachable") from exc
        log.info("email handed to the relay")
