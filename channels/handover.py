"""Handover: a call (or any contact) continues on another channel carrying what was said.

    draft = await handover.draft(case_id)               # short_text(summary) + the link
    sent = await handover.send(case_id, "sms", text)    # text + link through the channel
    opened = await handover.open(token)                 # the customer opens the link

The outgoing message is the interaction summary as `cases.summary.short_text` makes it (the
agent may edit it; masked facts never go out) followed by a link that opens the web chat on
the same case (`channels.handover_tokens`). The link is appended here, after the agent's
text, so an edit can never break or forge it. Channels: "sms" and "whatsapp" through Twilio
(`TwilioMessaging.send`: the opt-outs and the dial plan apply), "email" through the case's
email sender (`CaseEmails.send`), and "chat", which is the link sent by SMS (or email when
the customer has no number).

Opening a link (`open`): the token is verified (`LinkRefused` says why not), the case must
still be open ("closed" otherwise), and a new chat visitor is made and given to the case's
customer as a verified chat identity (the link proved it: it was sent to the customer's own
number or address), so the widget opened with that visitor's token joins the customer's
open case, as a site-identified visitor does. A link is reusable until it expires or its case
closes, by design: phones and messaging apps fetch links for previews before the customer
taps them, and a customer may open it on a second device; single use would hand the case to
whichever fetched first and refuse the customer. The short lifetime and the case's closing
bound it; every open is a new visitor identity on the customer, visible on the case.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cases.errors import NotFound
from cases.store import CaseStore
from cases.summary import short_text
from channels.base import Refused
from channels.chat_tokens import VisitorTokens
from channels.handover_tokens import DEFAULT_TTL_S, HandoverTokens, LinkRefused, link

log = logging.getLogger(__name__)

CHANNELS = ("sms", "whatsapp", "email", "chat")
#: How much of the summary an SMS carries (the link and a line break follow it).
SMS_TEXT_CHARS = 300
EMAIL_TEXT_CHARS = 1500
SUBJECT = {"en": "Continue our conversation", "es": "Continuemos nuestra conversación"}
LINK_LINE = {"en": "Continue by chat: {link}", "es": "Continúe por chat: {link}"}


class SmsSender(Protocol):
    """`channels.twilio_messaging.TwilioMessaging.send`, as handover needs it."""

    async def send(self, case_id: int, channel: str, body: str, *,
                   to: str | None = None) -> Any: ...


class EmailSender(Protocol):
    """`channels.email_cases.CaseEmails.send`, as handover needs it."""

    async def send(self, case_id: int, *, subject: str, body: str, to: str | None = None,
                   in_reply_to_message: int | None = None,
                   agent: str | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Draft:
    """What the agent sees before sending: the summary's text (editable) and the link."""

    text: str
    link: str
    language: str
    interaction_id: int | None


@dataclass(frozen=True)
class Sent:
    """A handover that went out: on `channel` (the link's carrier for "chat"), the stored
    message's view and the link it carried."""

    channel: str
    message: dict[str, Any]
    link: str


@dataclass(frozen=True)
class Opened:
    """A link opened: the case, and the chat visitor token the widget must present."""

    case_id: int
    public_id: str
    visitor_token: str


class Handover:
    """Drafts, sends and opens handover links (see the module doc)."""

    def __init__(
        self, store: CaseStore, tokens: HandoverTokens, *, base_url: str | None,
        wall: Callable[[], float], visitors: VisitorTokens | None = None,
        sms: SmsSender | None = None, email: EmailSender | None = None,
        ttl: float = DEFAULT_TTL_S,
    ) -> None:
        """`base_url`: the server's public URL (the links' start; None: the caller gives one
        per call, the desk's request origin). `visitors`: the chat's visitor tokens
        (None: no chat, links cannot be opened). `sms`, `email`: the senders there are."""
        self.store = store
        self.tokens = tokens
        self.base_url = base_url
        self.wall = wall
        self.visitors = visitors
        self.sms = sms
        self.email = email
        self.ttl = ttl

    def channels(self) -> list[str]:
        """The channels a handover can go out on with what is set up."""
        out = ["sms", "whatsapp"] if self.sms is not None else []
        if self.email is not None:
            out.append("email")
        if self.visitors is not None and out:
            out.append("chat")
        return out

    def link_for(self, public_id: str, base_url: str | None = None) -> str:
        """A fresh link to the case `public_id`: under the configured public URL (what the
        customer reaches), else `base_url` (the server as the agent's browser reached it)."""
        base = self.base_url or base_url
        if not base:
            raise Refused("the server's public URL is not known (twilio.public_url)",
                          code="no_public_url")
        return link(base, self.tokens.issue(public_id, now=self.wall(), ttl=self.ttl))

    async def draft(self, case_id: int, *, interaction_id: int | None = None,
                    base_url: str | None = None, limit: int = SMS_TEXT_CHARS) -> Draft:
        """The summary's short text (the latest one on the case, or `interaction_id`'s)
        and a new link. NotFound from the store for an unknown case or interaction."""
        summary: dict[str, Any] | None
        if interaction_id is not None:
            summary = await self.store.interaction_summary(case_id, interaction_id)
        else:
            timeline = await self.store.timeline(case_id)
            summary = timeline.get("summary")
            interaction_id = None if summary is None else summary.get("interaction_id")
        text = short_text(summary, limit) if summary else ""
        language = str((summary or {}).get("language") or "en")
        public_id = await self.store.public_id(case_id)
        return Draft(text, self.link_for(public_id, base_url), language, interaction_id)

    async def send(self, case_id: int, channel: str, text: str | None = None, *,
                   to: str | None = None, via: str | None = None,
                   base_url: str | None = None, agent: str | None = None) -> Sent:
        """Send the handover on `channel` (`CHANNELS`): `text` (default: the draft's) and
        the link. "chat" sends the link by `via` ("sms" default, or "email"). `Refused` when
        the channel is not set up or will not send; the senders' own errors pass through."""
        if channel not in CHANNELS:
            raise Refused(f"channel must be one of {', '.join(CHANNELS)}", code="invalid_channel")
        draft = await self.draft(case_id, base_url=base_url,
                                 limit=EMAIL_TEXT_CHARS if channel == "email" else SMS_TEXT_CHARS)
        body_text = draft.text if text is None else " ".join(text.split("\n\n")).strip()
        line = LINK_LINE.get(draft.language, LINK_LINE["en"]).format(link=draft.link)
        body = f"{body_text}\n{line}" if body_text else line
        carrier = channel
        if channel == "chat":
            carrier = via or ("sms" if self.sms is not None else "email")
            if carrier not in ("sms", "whatsapp", "email"):
                raise Refused("a chat link goes by sms, whatsapp or email", code="invalid_channel")
        if carrier in ("sms", "whatsapp"):
            if self.sms is None:
                raise Refused("SMS is not set up on this server (twilio)", code="not_configured")
            result = await self.sms.send(case_id, carrier, body, to=to)
            message = dict(result.view)
        else:
            if self.email is None:
                raise Refused("email is not set up on this server", code="not_configured")
            subject = SUBJECT.get(draft.language, SUBJECT["en"])
            message = await self.email.send(case_id, subject=subject, body=body, to=to,
                                            agent=agent)
        log.info("handover from case %d sent by %s", case_id, carrier)
        return Sent(carrier, message, draft.link)

    async def open(self, token: str) -> Opened:
        """The customer opened a link: `LinkRefused` (malformed, tampered, expired, closed)
        or the case and a new chat visitor joined to its customer."""
        claim = self.tokens.verify(token, now=self.wall())
        try:
            case_id = await self.store.case_by_public_id(claim.case)
        except NotFound:
            raise LinkRefused("closed") from None  # a case that is gone is no longer open
        timeline = await self.store.timeline(case_id)
        if timeline["case"]["status"] != "open":
            raise LinkRefused("closed")
        if self.visitors is None:
            raise Refused("the web chat is not set up on this server", code="not_configured")
        visitor_id, visitor_token = self.visitors.issue()
        await self.store.add_identity(int(timeline["case"]["customer_id"]), kind="chat",
                                      value=f"visitor:{visitor_id}", verified=True)
        log.info("handover link opened on case %d", case_id)
        return Opened(case_id, claim.case, visitor_token)
