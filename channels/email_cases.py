"""Where emails sit on the case, for both directions: the email interaction of a given case,
and sending an email from a case (what the desk and `POST /api/cases/{id}/emails` call).

Sending from a case, in order:
1. the recipient: the address given (which becomes one of the customer's email identities,
   so their reply from it finds the case) or the customer's email address on record;
2. the case's open email interaction (opened now if none: the case must be open);
3. the message stored `queued` with its subject, then handed to the relay with the case's reply token and,
   when answering an email, `In-Reply-To`/`References`;
4. the Message-ID assigned and the status moved to `sent`, or to `failed` with the reason.
   A message that did not go out stays on the case as failed: the agent sees it.
"""

from __future__ import annotations

import logging
from typing import Any

from cases.errors import IdentityConflict, InvalidInput
from cases.identity import normalize_email
from cases.messages import (
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    MessageDraft,
    check_subject,
    check_text,
)
from cases.store import CaseStore
from channels.base import ChannelError, OutboundText, Refused, Sender

log = logging.getLogger(__name__)

MAX_REFERENCES = 10


async def email_interaction_on(
    store: CaseStore, case_id: int, *, direction: str, our_address: str | None,
    address: str | None = None,
) -> int | None:
    """The open email interaction on case `case_id`, opened now through the customer's
    email `address` (or their first on record) if there is none. None when the case is
    closed or its customer has no email address: the caller decides what then."""
    timeline = await store.timeline(case_id)
    if timeline["case"]["status"] != "open":
        return None
    open_email = [i for i in timeline["interactions"]
                  if i["channel"] == "email" and i["ended_at"] is None]
    if open_email:
        return int(open_email[-1]["id"])
    known = [i["value"] for i in timeline["identities"] if i["kind"] == "email"]
    if address is None or address not in known:
        if not known:
            return None
        address = known[0]
    ref = await store.open_text_interaction(
        channel="email", address=address, direction=direction, our_address=our_address)
    # One open case per customer: the customer's open case is this one.
    return ref.interaction_id if ref.case_id == case_id else None


class CaseEmails:
    """Sends emails from cases through `sender` (an `EmailSender`), from `from_address`."""

    def __init__(self, store: CaseStore, sender: Sender, *, from_address: str) -> None:
        self.store = store
        self.sender = sender
        self.from_address = from_address

    async def send(
        self, case_id: int, *, subject: str, body: str, to: str | None = None,
        in_reply_to_message: int | None = None, agent: str | None = None,
    ) -> dict[str, Any]:
        """Send an email from case `case_id` (see the module doc); the stored message's view.
        InvalidInput names a bad field; `Refused` / `SendFailed` (the message is then
        stored as failed) when it did not go out."""
        # Not blank, then one line as the case stores it (a line break would add headers).
        subject = check_subject(check_text(subject, "subject", max_chars=MAX_SUBJECT_CHARS),
                                "subject") or ""
        body = check_text(body, "body", max_chars=MAX_BODY_CHARS)
        timeline = await self.store.timeline(case_id)
        if timeline["case"]["status"] != "open":
            raise Refused("the case is closed: reopen it or write from the customer's open case",
                          code="case_closed")
        known = [i["value"] for i in timeline["identities"] if i["kind"] == "email"]
        if to is None:
            if not known:
                raise InvalidInput("the customer has no email address on record: give one",
                                   "to")
            address = known[0]
        else:
            address = normalize_email(to, where="to")
            if address not in known:
                try:
                    await self.store.add_identity(int(timeline["customer"]["id"]),
                                                  kind="email", value=address)
                except IdentityConflict as exc:
                    raise Refused("this address belongs to another customer: write from "
                                  "their case", code="address_of_another_customer") from exc
        in_reply_to, references = self._thread(timeline, in_reply_to_message)
        interaction_id = await email_interaction_on(
            self.store, case_id, direction="outbound", our_address=self.from_address,
            address=address)
        if interaction_id is None:
            raise Refused("the case has no open email conversation and cannot open one",
                          code="no_interaction")
        stored = await self.store.store_message(MessageDraft(
            channel="email", direction="outbound", sender=self.from_address, recipient=address,
            subject=subject or None, body=body, interaction_id=interaction_id,
            status="queued"))
        public_id = await self.store.public_id(case_id)
        try:
            sent = await self.sender.send(OutboundText(
                channel="email", to=address, body=body, subject=subject,
                in_reply_to=in_reply_to, references=references, reply_token=public_id))
        except ChannelError as exc:
            code = getattr(exc, "code", None) or "failed"
            await self.store.update_message_status(
                "failed", message_id=stored.message_id, error_code=str(code)[:64])
            log.info("email from case %d not sent (%s)", case_id, type(exc).__name__)
            raise
        await self.store.assign_external_id(stored.message_id, sent.external_id)
        change = await self.store.update_message_status(sent.status,
                                                        message_id=stored.message_id)
        log.info("email sent from case %d (message %d%s)", case_id, stored.message_id,
                 f", agent {agent}" if agent else "")
        return change.view

    @staticmethod
    def _thread(timeline: dict[str, Any], message_id: int | None) -> tuple[str | None,
                                                                          tuple[str, ...]]:
        """In-Reply-To and References for answering message `message_id` of the case."""
        if message_id is None:
            return None, ()
        emails = [e["message"] for e in timeline["entries"]
                  if e["type"] == "message" and e["message"]["channel"] == "email"]
        target = next((m for m in emails if m["id"] == message_id), None)
        if target is None or not target["external_id"]:
            raise InvalidInput("no email with this id on the case", "in_reply_to_message")
        earlier = [m["external_id"] for m in emails
                   if m["interaction_id"] == target["interaction_id"] and m["id"] < message_id
                   and m["external_id"]]
        return target["external_id"], tuple(earlier[-(MAX_REFERENCES - 1):]) + (
            target["external_id"],)
