"""The one small interface every text channel offers, and its errors.

    inbound:   provider request ──▶ channel parser (verify signature FIRST, then validate)
               ──▶ `cases.messages.MessageDraft` ──▶ `CaseStore.store_message` (idempotent on
               the channel's id) ──▶ routing
    outbound:  desk / handover ──▶ `voice.dialplan` (numbers) ──▶ `Sender.send(OutboundText)`
               ──▶ provider ──▶ `Sent` (its id, first status) ──▶ `CaseStore.assign_external_id`
    status:    provider callback (verified) ──▶ `CaseStore.update_message_status`

Errors form one tree, translated to HTTP at the web boundary:

    ChannelError
    ├── Forged            the request's signature is missing or wrong (403, nothing parsed)
    ├── BadInbound        signed, but malformed: `what` and `where` say which field (400)
    ├── Refused           we will not send it: opted out (STOP), outside the dial plan, too
    │                     long; `reason` is shown to the agent (never the address)
    └── SendFailed        the provider refused or could not be reached; `code` is theirs
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cases.messages import Attachment


class ChannelError(Exception):
    """Anything a channel refuses or fails at (see the module doc for the tree)."""


class Forged(ChannelError):
    """The request is not provably from the provider: missing or wrong signature."""


class BadInbound(ChannelError):
    """A verified request that is malformed: `what` is wrong with field `where`."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{where}: {what}")
        self.what = what
        self.where = where


class Refused(ChannelError):
    """We will not send this message; `reason` says why in words for the agent."""

    def __init__(self, reason: str, *, code: str = "refused") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class SendFailed(ChannelError):
    """The provider refused the message or could not be reached (`code`: theirs, if any)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class OutboundText:
    """A message to send on one channel. `to` is the channel's address (a number in E.164,
    `whatsapp:+…`, an email address, a chat visitor id); `subject`, `html`, `in_reply_to`
    and `references` matter to email only; `reply_token` threads replies to the case."""

    channel: str
    to: str
    body: str
    subject: str | None = None
    html: str | None = None
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    reply_token: str | None = None
    attachments: Sequence[Attachment] = field(default_factory=tuple)


@dataclass(frozen=True)
class Sent:
    """What the provider answered: its id for the message (MessageSid, Message-ID) and the
    first status (`queued`, `sent`); `segments` counts SMS parts where that applies."""

    external_id: str
    status: str
    segments: int = 1


class Sender(Protocol):
    """Sends on one channel (`channel` is its name in `cases.messages`)."""

    channel: str

    async def send(self, message: OutboundText) -> Sent:
        """Send `message`; `Refused` or `SendFailed` when it does not go out."""
        ...
