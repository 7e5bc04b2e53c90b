"""Email in: an SMTP listener (`aiosmtpd`) that takes replies to our reply addresses and the
configured inbox addresses, and puts each email on its case.

    SMTP session ──▶ RCPT: ours? (else 550) ──▶ DATA within SIZE (else 552)
    ──▶ `parse_email` (malformed: 554, part too large: 552) ──▶ attachments stored (capped)
    ──▶ threading ──▶ `CaseStore.store_message` (once per Message-ID) ──▶ 250

Threading, first match wins:
1. a recipient `reply+TOKEN@reply_domain` whose token verifies (channels.email_token);
2. `In-Reply-To`, then `References` newest first, naming one of our Message-IDs (they carry
   the same signed token, so a reply whose client dropped Reply-To still finds the case);
3. `In-Reply-To`, then `References` newest first, naming an email the customer sent us
   (a Message-ID that is not ours, found with `CaseStore.find_message_by_external_id`),
   followed only under the rule below;
4. the sender's open case (by their address, as for any first email).
A token that does not verify is ignored, never trusted: the email goes by 2 to 4, so it
lands on the sender's own case and never on someone else's. A merged case's token leads to
the case that absorbed it.

The rule for 3. A customer's Message-ID carries no signature: anyone who saw it (everyone
on a thread, a list archive) or guesses it could name it in a forged `References` to push
mail into a stranger's case. So it is followed only when the referenced email was sent
from this email's own sender address; otherwise it is skipped and the email goes on to 4,
the sender's own case. What this adds: an address that reached a case by its token (1, 2)
is not made one of the customer's identities, so without 3 its next email naming only its
own earlier one (the client kept neither our Reply-To nor our Message-ID) would start a
new customer. What it does not add: reach for a forger. Naming another sender's email does
nothing; and to follow their own, one must send as that address and know an email that
reached the case by 1 or 2, whose headers named the case's token anyway. The same
customer's other addresses on record need no rule: 4 takes them to that customer's one
open case. A reply-all from another customer on the thread reaches the case through our
token (1, 2), never through someone else's Message-ID.

The subject is stored with the message (`Message.subject`, one line), as sent.

What is stored: `body` is the full plain text, quoted history included (the record); `html`
is the display version: sanitised (channels.html_sanitize), quoted history removed, made from
the plain text when the email had no HTML. A page shows `html`; nothing unsanitised is kept.

The listener runs on the server's own event loop (not `aiosmtpd.controller.Controller`'s
thread): the case store and the event bus belong to that loop.

Sender addresses are not verified here (no DKIM/SPF: put the listener behind the mail
provider's MTA, which checks them); the customer's identity is stored as unverified.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from cases.errors import CaseError, InvalidInput, NotFound
from cases.messages import (
    MAX_BODY_CHARS,
    MAX_HTML_CHARS,
    Attachment,
    MessageDraft,
    StoredMessage,
)
from cases.store import CaseStore
from channels.attachments import AttachmentStore
from channels.base import BadInbound
from channels.email_cases import email_interaction_on
from channels.email_config import EmailSettings
from channels.email_parse import ParsedAttachment, ParsedEmail, TooLarge, parse_email
from channels.email_quotes import strip_quoted
from channels.email_token import ReplyTokens
from channels.html_sanitize import html_to_text, sanitize_html, text_to_html

log = logging.getLogger(__name__)

# aiosmtpd logs every command line, addresses included, at INFO on "mail.log": personal data
# (STYLE.md §12). Only its warnings and errors are let through.
logging.getLogger("mail.log").setLevel(logging.WARNING)

MAX_RECIPIENTS = 20
_CUT = "\n\n[... the full text is attached as message.txt]"

OnMessage = Callable[[StoredMessage], Awaitable[None]]


class EmailInbound:
    """Parses one received email and stores it on its case (see the module doc)."""

    def __init__(
        self, store: CaseStore, tokens: ReplyTokens, attachments: AttachmentStore, *,
        max_attachment_bytes: int, inbox_addresses: frozenset[str] = frozenset(),
        on_message: OnMessage | None = None,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.attachments = attachments
        self.max_attachment_bytes = min(max_attachment_bytes, attachments.max_bytes)
        self.inbox_addresses = inbox_addresses
        self.on_message = on_message

    def accepts(self, address: str) -> bool:
        """Is `address` one we take mail for (a reply address's shape, or an inbox)?"""
        address = address.strip().lower()
        return self.tokens.is_reply_address(address) or address in self.inbox_addresses

    async def receive(self, raw: bytes, recipients: list[str]) -> StoredMessage:
        """Store the email `raw` sent to `recipients`. BadInbound (TooLarge) when it is not
        acceptable; CaseError when the store fails. Nothing is written for a bad email."""
        # Parsing megabytes of MIME and writing attachments would hold the event loop (and
        # the 20 ms media clock that shares it): both run on a worker thread.
        parsed = await asyncio.to_thread(
            parse_email, raw, max_attachment_bytes=self.max_attachment_bytes)
        ours = next((r for r in recipients if self.accepts(r)), None)
        if ours is None:
            raise BadInbound("no recipient of ours", "To")
        display = self._display(parsed)
        body = parsed.text or (html_to_text(parsed.html) if parsed.html else "")
        if not body.strip() and not parsed.attachments:
            raise BadInbound("an email needs some text or an attachment", "message")
        files = list(parsed.attachments)
        if len(body) > MAX_BODY_CHARS:
            # A long thread's text is kept whole as a file; the message shows its start.
            files.append(ParsedAttachment("message.txt", "text/plain; charset=utf-8",
                                          body.encode("utf-8")))
            body = body[:MAX_BODY_CHARS - len(_CUT)] + _CUT
        if len(display) > MAX_HTML_CHARS:
            display = text_to_html(strip_quoted(body)[0])
        # Bytes first: content-addressed, so a rejected or repeated email leaves only files
        # no message points at, never a message without its files.
        attachments: list[Attachment] = [
            await asyncio.to_thread(self.attachments.put, a.data, filename=a.filename,
                                    content_type=a.content_type, where=f"attachment {i}")
            for i, a in enumerate(files, 1)
        ]
        interaction_id = await self._thread(parsed, recipients)
        draft = MessageDraft(
            channel="email", direction="inbound", sender=parsed.sender, recipient=ours,
            body=body, html=display, external_id=parsed.message_id, attachments=attachments,
            interaction_id=interaction_id, subject=parsed.subject or None,
        )
        try:
            stored = await self.store.store_message(draft)
        except NotFound:
            # The threaded interaction vanished (a merge moved it between our read and
            # this write): the sender's own case still takes the email.
            stored = await self.store.store_message(replace(draft, interaction_id=None))
        log.info("email %s on case %d (message %d, %d attachment(s), %s)",
                 "stored" if stored.created else "already stored", stored.case_id,
                 stored.message_id, len(attachments),
                 "threaded" if interaction_id is not None else "by sender")
        if stored.created and self.on_message is not None:
            await self.on_message(stored)
        return stored

    @staticmethod
    def _display(parsed: ParsedEmail) -> str:
        if parsed.html is not None:
            shown = sanitize_html(parsed.html, strip_quotes=True)
            if html_to_text(shown).strip():
                return shown
            return sanitize_html(parsed.html)  # all of it was a quote: show it whole
        return text_to_html(strip_quoted(parsed.text)[0])

    async def _thread(self, parsed: ParsedEmail, recipients: list[str]) -> int | None:
        """The email interaction the email threads onto (rules 1 to 3 of the module doc), or
        None: the sender's open case (rule 4)."""
        candidates = [self.tokens.case_of_address(r) for r in recipients]
        ids = ([parsed.in_reply_to] if parsed.in_reply_to else []) + list(
            reversed(parsed.references))
        ours = [self.tokens.case_of_message_id(i) for i in ids]
        for public_id in candidates + ours:
            if public_id is None:
                continue
            try:
                found = await self._on_case(await self.store.case_by_public_id(public_id),
                                            parsed.sender)
            except (NotFound, InvalidInput):
                continue
            if found is not None:
                return found
        for message_id, public_id in zip(ids, ours, strict=True):
            if public_id is not None:
                continue  # ours: tried above
            try:
                case_id = await self._customers_own(message_id, parsed.sender)
                found = None if case_id is None else await self._on_case(case_id,
                                                                         parsed.sender)
            except (NotFound, InvalidInput):
                continue
            if found is not None:
                return found
        return None

    async def _on_case(self, case_id: int, sender: str) -> int | None:
        case_id = await self.store.surviving_case(case_id)
        return await email_interaction_on(self.store, case_id, direction="inbound",
                                          our_address=None, address=sender)

    async def _customers_own(self, message_id: str, sender: str) -> int | None:
        """The case of the customer's email `message_id` when `sender` may follow it (the
        rule in the module doc), else None."""
        ref = await self.store.find_message_by_external_id("email", message_id)
        # Both addresses are normalised (cases.identity.normalize_email): compared as stored.
        if ref is None or ref.direction != "inbound" or ref.sender != sender:
            return None
        return ref.case_id


class EmailHandler:
    """aiosmtpd's handler: recipients checked at RCPT, the message taken at DATA."""

    def __init__(self, inbound: EmailInbound) -> None:
        self.inbound = inbound

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not self.inbound.accepts(address):
            return "550 5.1.1 no such recipient here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 at most {MAX_RECIPIENTS} recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await self.inbound.receive(raw, list(envelope.rcpt_tos))
        except TooLarge as exc:
            log.info("email refused: %s", exc)
            return f"552 5.3.4 {_reply_text(exc)}"
        except BadInbound as exc:
            log.info("email refused: %s", exc)
            return f"554 5.6.0 {_reply_text(exc)}"
        except InvalidInput as exc:
            log.info("email refused by the case store at %s", exc.where)
            return f"554 5.6.0 {_reply_text(exc)}"
        except (CaseError, OSError) as exc:
            log.warning("email not stored, the sender will retry: %s", type(exc).__name__)
            return "451 4.3.0 cannot store the message now; try again later"
        return "250 2.0.0 OK: stored"


def _reply_text(exc: Exception) -> str:
    """An SMTP reply's text: one line, printable ASCII."""
    text = "".join(c if " " <= c <= "~" else "?" for c in str(exc))
    return text[:400]


class EmailListener:
    """The inbound SMTP server on `host`:`port` (SIZE = `max_message_bytes`), offering
    STARTTLS with `tls_context` when given."""

    def __init__(self, inbound: EmailInbound, settings: EmailSettings, *,
                 host: str | None = None, port: int | None = None,
                 hostname: str | None = None, tls_context: ssl.SSLContext | None = None) -> None:
        listen = settings.listen or ("127.0.0.1", 0)
        self.host = host if host is not None else listen[0]
        self.port = port if port is not None else listen[1]
        self._handler = EmailHandler(inbound)
        self._size = settings.max_message_bytes
        self._hostname = hostname or settings.reply_domain
        # STARTTLS offered (not required: an MTA that cannot is still taken, as MX do).
        self._tls = tls_context
        self._server: asyncio.Server | None = None
        # Open sessions, closed on stop (Server.wait_closed does not wait for them on 3.11).
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def _protocol(self) -> SMTP:
        session = SMTP(self._handler, data_size_limit=self._size, enable_SMTPUTF8=True,
                       decode_data=False, hostname=self._hostname, ident="centralita",
                       tls_context=self._tls)
        self._sessions.add(session)
        return session

    async def start(self) -> None:
        """Listen; `port` is the bound port afterwards (0 picks a free one)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        sockets: Any = self._server.sockets
        self.port = int(sockets[0].getsockname()[1])
        log.info("email listener on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and close open sessions."""
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.close()
            await self._server.wait_closed()
            self._server = None
