"""SMS and WhatsApp through Twilio: the inbound webhook, status callbacks and sending.

    inbound   Twilio -> POST /twilio/messaging -> `receive`: verify (`twilio_webhook`),
              parse, fetch media (size-capped, into the `AttachmentStore`), store on the
              customer's open case once per MessageSid, then honour STOP / START keywords
              (`cases.opt_outs`); the keyword message itself stays on the case.
    status    Twilio -> POST /twilio/messaging/status -> `status`: verify, parse, move the
              message queued -> sent -> delivered / undelivered / failed (with ErrorCode).
    outbound  desk -> `send(case_id, channel, body)`: the customer's number from the case,
              the dial plan, the opt-out table and Twilio's length limit first (`Refused`,
              with words for the agent), then stored as queued, sent through the real
              `twilio.rest.Client` (`twilio_client`), and given its MessageSid.

A status callback can overtake the REST answer that tells us the MessageSid (Twilio queues
the message before it answers). Sends in flight are tracked, and a callback for an unknown
MessageSid waits for them before it gives up.

Numbers and bodies are personal data: logs carry MessageSids and case ids only.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from cases.errors import InvalidInput, NotFound
from cases.identity import IdentityParser
from cases.messages import Attachment, MessageDraft, StoredMessage, check_text
from cases.opt_outs import OptOutStore
from cases.store import CaseStore
from channels.attachments import AttachmentStore
from channels.base import BadInbound, OutboundText, Refused, Sent
from channels.sms_segments import MAX_BODY_CHARS, Segments, count_segments
from channels.twilio_client import Created, TwilioRest
from channels.twilio_config import TwilioConfig
from channels.twilio_webhook import (
    TwilioVerifier,
    decode_form,
    keyword_of,
    parse_inbound,
    parse_status,
)

log = logging.getLogger(__name__)

INBOUND_PATH = "/twilio/messaging"
STATUS_PATH = "/twilio/messaging/status"
CHANNELS = ("sms", "whatsapp")
_CHUNK = 64 * 1024


class NumberGate(Protocol):
    """The outbound dial plan (`voice.dialplan.DialPlan`): why a number may not be
    reached, or None when it may."""

    def refusal(self, text: str) -> str | None: ...


@dataclass(frozen=True)
class Received:
    """An inbound message handled: where it is stored, and the opt-out keyword it was."""

    stored: StoredMessage
    keyword: str | None


@dataclass(frozen=True)
class SendResult:
    """An outbound message accepted by Twilio: as stored on the case, and its SMS parts."""

    stored: StoredMessage
    segments: Segments | None
    view: dict[str, Any]


class TwilioMessaging:
    """The SMS / WhatsApp channel. Build with `TwilioMessaging.open(...)` inside the running
    loop (it owns an aiohttp session and the SDK's client); `await close()` at shutdown."""

    def __init__(
        self, config: TwilioConfig, *, cases: CaseStore, opt_outs: OptOutStore,
        plan: NumberGate, attachments: AttachmentStore, identities: IdentityParser,
        rest: TwilioRest, http: aiohttp.ClientSession,
    ) -> None:
        self.config = config
        self._cases = cases
        self._opt_outs = opt_outs
        self._plan = plan
        self._attachments = attachments
        self.identities = identities
        self._rest = rest
        self._http = http
        self._verifier = TwilioVerifier(config.auth_token, config.public_url)
        self._inflight: set[asyncio.Task[Any]] = set()

    @classmethod
    def open(
        cls, config: TwilioConfig, *, cases: CaseStore, opt_outs: OptOutStore,
        plan: NumberGate, attachments: AttachmentStore, default_region: str | None,
    ) -> TwilioMessaging:
        return cls(
            config, cases=cases, opt_outs=opt_outs, plan=plan, attachments=attachments,
            identities=IdentityParser(default_region), rest=TwilioRest(config),
            http=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)),
        )

    async def close(self) -> None:
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await self._rest.close()
        await self._http.close()

    # -- inbound ---------------------------------------------------------------------------

    async def receive(self, path_qs: str, raw: bytes, signature: str | None) -> Received:
        """Handle one inbound webhook (raw form body). `Forged` (403) before anything is
        parsed; `BadInbound` (400) naming the field; a retry (same MessageSid) stores
        nothing new (`stored.created` False)."""
        if not signature:
            self._verifier.verify(path_qs, decode_form(b""), signature)  # raises Forged
        form = decode_form(raw)
        self._verifier.verify(path_qs, form, signature)
        message = parse_inbound(form, self.config.account_sid)
        try:
            _, address = self.identities.for_channel(message.channel, message.sender,
                                                      where="From")
        except InvalidInput as exc:
            raise BadInbound(exc.what, "From") from exc
        attachments = [await self._fetch(ref.url, ref.content_type, ref.where, index)
                       for index, ref in enumerate(message.media)]
        try:
            stored = await self._cases.store_message(MessageDraft(
                channel=message.channel, direction="inbound", sender=message.sender,
                recipient=message.recipient, body=message.body, external_id=message.sid,
                attachments=attachments, verified=True,
            ))
        except InvalidInput as exc:
            raise BadInbound(exc.what, _twilio_field(exc.where)) from exc
        keyword = keyword_of(message.body) if not message.media else None
        # Applied on a retry too: if the first delivery stored the STOP but failed before
        # recording it, Twilio's retry must not leave the number opted in.
        if keyword is not None and keyword[0] in ("stop", "start"):
            state = "stopped" if keyword[0] == "stop" else "started"
            await self._opt_outs.set_state(message.channel, address, state, keyword[1])
            log.info("twilio %s: %s keyword on case %d (%s)", message.sid, keyword[0],
                     stored.case_id, message.channel)
        if stored.created:
            log.info("twilio %s stored on case %d (%s, %d attachments)", message.sid,
                     stored.case_id, message.channel, len(attachments))
        return Received(stored, None if keyword is None else keyword[1])

    async def _fetch(self, url: str, content_type: str, where: str, index: int) -> Attachment:
        """One media file, at most `max_media_bytes`, from Twilio's API host only (a verified
        webhook names it; our account credentials go nowhere else)."""
        api, got = urlsplit(self.config.api_base_url), urlsplit(url)
        if (got.scheme, got.netloc) != (api.scheme, api.netloc):
            raise BadInbound("not on Twilio's API host", where)
        limit = min(self.config.max_media_bytes, self._attachments.max_bytes)
        auth = {"Authorization": aiohttp.encode_basic_auth(self.config.account_sid,
                                                           self.config.auth_token)}
        try:
            async with self._http.get(url, headers=auth) as response:
                if response.status != 200:
                    raise BadInbound(f"fetching it answered HTTP {response.status}", where)
                if response.content_length is not None and response.content_length > limit:
                    raise BadInbound(f"media of {response.content_length} bytes is over the "
                                     f"{limit}-byte limit", where)
                data = bytearray()
                async for chunk in response.content.iter_chunked(_CHUNK):
                    data += chunk
                    if len(data) > limit:
                        raise BadInbound(f"media over the {limit}-byte limit", where)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BadInbound(f"could not fetch it ({type(exc).__name__})", where) from exc
        extension = mimetypes.guess_extension(content_type) or ""
        return await asyncio.to_thread(
            self._attachments.put, bytes(data), filename=f"media{index}{extension}",
            content_type=content_type, where=where)

    # -- status callbacks --------------------------------------------------------------------

    async def status(self, path_qs: str, raw: bytes, signature: str | None) -> bool:
        """Handle one status callback: True when it moved the message's status. `Forged`,
        `BadInbound`, or `NotFound` for a MessageSid we never sent."""
        if not signature:
            self._verifier.verify(path_qs, decode_form(b""), signature)
        form = decode_form(raw)
        self._verifier.verify(path_qs, form, signature)
        report = parse_status(form, self.config.account_sid)
        if report.status is None:
            return False  # a report on a message we received: nothing to move
        channels = (report.channel,) if report.channel else CHANNELS
        for attempt in range(2):
            for channel in channels:
                try:
                    change = await self._cases.update_message_status(
                        report.status, channel=channel, external_id=report.sid,
                        error_code=report.error_code)
                except NotFound:
                    continue
                return change.applied
            if attempt == 0 and self._inflight:
                # The send that will learn this MessageSid may not have heard back yet.
                await asyncio.wait(set(self._inflight), timeout=self.config.send_timeout)
        raise NotFound("message", report.sid)

    # -- outbound ----------------------------------------------------------------------------

    async def send(self, case_id: int, channel: str, body: str, *,
                   to: str | None = None) -> SendResult:
        """Send `body` to the customer of case `case_id` on `channel` (sms or whatsapp), to
        their number `to` (default: the first on the case). `Refused` with the reason for
        the agent, `SendFailed` when Twilio refuses or cannot be reached."""
        self._check_channel(channel)
        number = await self._number(case_id, to)
        body, recipient = await self.check_outbound(channel, number, body)
        sender, service = self._sender(channel)
        segments = count_segments(body) if channel == "sms" else None
        stored = await self._cases.store_message(MessageDraft(
            channel=channel, direction="outbound", sender=sender or service or "twilio",
            recipient=recipient, body=body))
        try:
            created = await self._post(channel, recipient, body)
            view = await self._cases.assign_external_id(stored.message_id, created.sid)
        except Exception as exc:
            code = getattr(exc, "code", None)
            await self._cases.update_message_status(
                "failed", message_id=stored.message_id,
                error_code=code if isinstance(code, str) else None)
            raise
        log.info("twilio %s sent from case %d (%s)", created.sid, stored.case_id, channel)
        return SendResult(stored, segments, view)

    def sender(self, channel: str) -> TwilioSender:
        """The `channels.base.Sender` of `channel` (sms or whatsapp), for callers that keep
        the message on the case themselves (the handover)."""
        self._check_channel(channel)
        return TwilioSender(self, channel)

    @staticmethod
    def _check_channel(channel: str) -> None:
        if channel not in CHANNELS:
            raise Refused(f"this server sends {' and '.join(CHANNELS)} through Twilio, "
                          f"not {channel!r}", code="channel")

    async def check_outbound(self, channel: str, number: str, body: str) -> tuple[str, str]:
        """Whether `body` may go to `number` (E.164) on `channel`: (the body, the address to
        send to), or `Refused` saying why: the body, the setup, the dial plan, an opt-out."""
        try:
            body = check_text(body, "body", max_chars=MAX_BODY_CHARS)
        except InvalidInput as exc:
            raise Refused(f"the message {exc.what}", code="body") from exc
        self._sender(channel)
        why = self._plan.refusal(number)
        if why is not None:
            raise Refused(f"the dial plan does not allow this number: {why}", code="dial_plan")
        if await self._opt_outs.stopped(channel, number):
            name = "SMS" if channel == "sms" else "WhatsApp"
            raise Refused(f"the customer replied STOP to our {name} messages: nothing more can "
                          f"be sent to them on {name} until they reply START", code="opted_out")
        return body, number if channel == "sms" else f"whatsapp:{number}"

    async def _post(self, channel: str, recipient: str, body: str) -> Created:
        """The REST call, tracked while in flight (see the module doc: callbacks overtake)."""
        sender, service = self._sender(channel)
        task = asyncio.create_task(self._rest.create(
            to=recipient, body=body, from_=sender, messaging_service_sid=service,
            status_callback=self.config.url(STATUS_PATH)))
        self._inflight.add(task)
        try:
            return await asyncio.shield(task)
        finally:
            self._inflight.discard(task)

    def _sender(self, channel: str) -> tuple[str | None, str | None]:
        """(from number, messaging service) for `channel`; `Refused` if none is set up."""
        if channel == "whatsapp":
            if self.config.whatsapp_from is None:
                raise Refused("WhatsApp is not set up on this server (twilio.whatsapp_number)",
                              code="not_configured")
            return self.config.whatsapp_from, None
        if self.config.sms_number is None and self.config.messaging_service_sid is None:
            raise Refused("SMS is not set up on this server (twilio.sms_number or "
                          "messaging_service_sid)", code="not_configured")
        if self.config.messaging_service_sid is not None:
            return None, self.config.messaging_service_sid
        return self.config.sms_number, None

    async def _number(self, case_id: int, to: str | None) -> str:
        """The customer's phone number on case `case_id` (E.164): `to` if it is one of
        theirs, else their first."""
        timeline = await self._cases.timeline(case_id)
        phones = [i["value"] for i in timeline.get("identities", []) if i.get("kind") == "phone"]
        if to is None:
            if not phones:
                raise Refused("the customer on this case has no phone number", code="no_number")
            return str(phones[0])
        try:
            wanted = self.identities.phone(to.removeprefix("whatsapp:"), where="to")
        except InvalidInput as exc:
            raise Refused(f"'to' is {exc.what}", code="no_number") from exc
        if wanted not in phones:
            raise Refused("'to' is not one of this customer's numbers", code="no_number")
        return wanted


class TwilioSender:
    """`channels.base.Sender` for one channel: the outbound checks, then Twilio. The caller
    stores the message and gives it the returned id (`CaseStore.assign_external_id`)."""

    def __init__(self, messaging: TwilioMessaging, channel: str) -> None:
        self.channel = channel
        self._messaging = messaging

    async def send(self, message: OutboundText) -> Sent:
        if message.channel != self.channel:
            raise Refused(f"this sender sends {self.channel}, not {message.channel}",
                          code="channel")
        if message.attachments or message.html is not None:
            raise Refused("SMS and WhatsApp carry text only here", code="body")
        try:
            number = self._messaging.identities.phone(
                message.to.removeprefix("whatsapp:"), where="to")
        except InvalidInput as exc:
            raise Refused(f"'to' is {exc.what}", code="no_number") from exc
        body, recipient = await self._messaging.check_outbound(self.channel, number,
                                                               message.body)
        created = await self._messaging._post(self.channel, recipient, body)
        segments = count_segments(body).count if self.channel == "sms" else 1
        return Sent(created.sid, created.status, created.num_segments or segments)


def _twilio_field(where: str) -> str:
    """The webhook field a case-store error names (`message.sender` is From, ...)."""
    names: dict[str, str] = {"message.sender": "From", "message.recipient": "To",
                             "message.body": "Body", "message.external_id": "MessageSid"}
    return names.get(where, where)


