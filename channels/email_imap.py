"""Email in from a hosted mailbox: IMAP polling with `aioimaplib`, the option when the
provider keeps the mail and no SMTP listener can be reached from outside.

Every `interval` seconds: log in, select the mailbox, and for each unseen message (oldest
first, at most `BATCH` a poll):

    RFC822.SIZE over max_message_bytes ──▶ rejected (not downloaded)
    BODY.PEEK[] ──▶ `EmailInbound.receive` (the same parsing, threading and storing as the
    SMTP listener) ──▶ stored, or already stored (same Message-ID) ──▶ \\Seen
    BadInbound ──▶ \\Seen and \\Flagged: left in the mailbox for a person to look at
    the case store failing ──▶ left unseen: the next poll tries again

So nothing is deleted and a message is stored once however often it is fetched. The
mailbox should be Centralita's own: a person reading it in a mail client marks messages
\\Seen, and those are not fetched. Recipients for threading come from the message's
`Delivered-To`, `X-Original-To`, `To` and `Cc` (a reply+TOKEN address delivered to the
mailbox by plus-addressing or an alias), then the mailbox's own `address`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import re
import ssl
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

import aioimaplib  # type: ignore[import-untyped]

from cases.errors import CaseError, InvalidInput
from channels.base import BadInbound
from channels.email_config import ImapSettings
from channels.email_in import EmailInbound
from common.tasks import cancel

log = logging.getLogger(__name__)

BATCH = 50
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass
class PollResult:
    """What one poll did (counts only: no addresses)."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    deferred: int = 0


class ImapError(Exception):
    """The IMAP server refused a command or could not be reached."""


def _ok(response: aioimaplib.Response, what: str) -> list[bytes | bytearray]:
    if response.result != "OK":
        raise ImapError(f"IMAP {what} answered {response.result}")
    return list(response.lines)


class ImapPoller:
    """Polls one mailbox into `inbound` (see the module doc). `start()` runs it in a task
    this object owns; `stop()` cancels and awaits it."""

    def __init__(self, inbound: EmailInbound, settings: ImapSettings, *,
                 max_message_bytes: int) -> None:
        self.inbound = inbound
        self.settings = settings
        self.max_message_bytes = max_message_bytes
        self._task: asyncio.Task[None] | None = None
        self._context: ssl.SSLContext | None = None
        if settings.tls:
            self._context = ssl.create_default_context(cafile=settings.ca_file)

    async def poll_once(self) -> PollResult:
        """One poll: every unseen message handled (see the module doc)."""
        s = self.settings
        client: aioimaplib.IMAP4
        if s.tls:
            client = aioimaplib.IMAP4_SSL(s.host, s.port, timeout=s.timeout,
                                          ssl_context=self._context)
        else:
            client = aioimaplib.IMAP4(s.host, s.port, timeout=s.timeout)
        result = PollResult()
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(s.username, s.password), "LOGIN")
            _ok(await client.select(s.mailbox), "SELECT")
            lines = _ok(await client.uid_search("UNSEEN"), "SEARCH")
            uids = [u for line in lines[:-1] for u in bytes(line).split() if u.isdigit()]
            for uid in sorted(uids, key=int)[:BATCH]:
                if not await self._one(client, uid.decode("ascii"), result):
                    break
            with contextlib.suppress(Exception):
                await client.logout()
        except (TimeoutError, OSError, aioimaplib.Abort, aioimaplib.CommandTimeout) as exc:
            raise ImapError(f"IMAP server unreachable ({type(exc).__name__})") from exc
        finally:
            # An unfinished session (an error above) must not leave its socket open.
            with contextlib.suppress(Exception):
                if client.protocol is not None and client.protocol.transport is not None:
                    client.protocol.transport.close()
        return result

    async def _one(self, client: aioimaplib.IMAP4, uid: str, result: PollResult) -> bool:
        """Handle message `uid`; False when polling should stop (the store is failing)."""
        size_lines = _ok(await client.uid("fetch", uid, "(RFC822.SIZE)"), "FETCH")
        size = next((int(m.group(1)) for line in size_lines
                     if (m := _SIZE.search(bytes(line)))), None)
        if size is not None and size > self.max_message_bytes:
            log.info("mailbox message %s refused: over %d bytes", uid, self.max_message_bytes)
            await self._flag(client, uid, rejected=True)
            result.rejected += 1
            return True
        lines = _ok(await client.uid("fetch", uid, "(BODY.PEEK[])"), "FETCH")
        raw = next((bytes(line) for line in lines if isinstance(line, bytearray)), None)
        if raw is None:
            raise ImapError(f"IMAP FETCH of {uid} gave no message")
        try:
            stored = await self.inbound.receive(raw, self._recipients(raw))
        except (BadInbound, InvalidInput) as exc:
            log.info("mailbox message %s refused: %s", uid, exc)
            await self._flag(client, uid, rejected=True)
            result.rejected += 1
            return True
        except (CaseError, OSError) as exc:
            log.warning("mailbox message %s not stored, next poll retries: %s", uid,
                        type(exc).__name__)
            result.deferred += 1
            return False
        await self._flag(client, uid, rejected=False)
        if stored.created:
            result.stored += 1
        else:
            result.duplicates += 1
        return True

    @staticmethod
    async def _flag(client: aioimaplib.IMAP4, uid: str, *, rejected: bool) -> None:
        flags = r"(\Seen \Flagged)" if rejected else r"(\Seen)"
        _ok(await client.uid("store", uid, "+FLAGS.SILENT", flags), "STORE")

    def _recipients(self, raw: bytes) -> list[str]:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        values: list[str] = []
        for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
            values += [str(v) for v in headers.get_all(name) or []]
        found = [a.lower() for _, a in email.utils.getaddresses(values) if a]
        ours = [a for a in found if self.inbound.accepts(a)]
        if self.settings.address:
            ours.append(self.settings.address)
        return ours

    async def _run(self) -> None:
        delay = self.settings.interval
        while True:
            try:
                result = await self.poll_once()
                delay = self.settings.interval
                if result.stored or result.rejected or result.deferred:
                    log.info("mailbox poll: %d stored, %d duplicate, %d refused, %d deferred",
                             result.stored, result.duplicates, result.rejected, result.deferred)
            except ImapError as exc:
                # Back off up to ten intervals while the server is away.
                delay = min(delay * 2, self.settings.interval * 10)
                log.warning("mailbox poll failed: %s; next in %.0f s", exc, delay)
            await asyncio.sleep(delay)

    def start(self) -> None:
        """Poll every `interval` seconds in a task owned here."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="imap-poller")

    async def stop(self) -> None:
        """Cancel the polling task and wait for it (`common.tasks.cancel` repeats a cancel
        that Python 3.11's `wait_for`, which aioimaplib times its commands with, can lose:
        the loop polled on and a CI run's stop() waited 300 s)."""
        task, self._task = self._task, None
        if task is not None:
            await cancel(task)
