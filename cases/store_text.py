"""The case store's text channels: chat, SMS, WhatsApp and email interactions and their
messages (`cases.messages`), delivery statuses and read receipts, the customer's identities
and merges (`cases.merge`). Part of `cases.store.CaseStore`."""

from __future__ import annotations

import functools
import logging
from typing import Any

from cases import merge, messages, validate
from cases.errors import InvalidInput
from cases.identity import (
    attach_identity,
)
from cases.merge import MergeResult
from cases.messages import MessageDraft, MessageRef, StatusChange, StoredMessage
from cases.models import (
    DIRECTIONS,
)
from cases.store_base import MESSAGES_TOPIC, InteractionRef, StoreBase
from cases.text_interactions import TextInteractionRow, set_text_interaction, text_interactions

log = logging.getLogger(__name__)


class TextChannels(StoreBase):
    """Text interactions, messages, identities and merges (see the module doc)."""

    async def open_text_interaction(
        self, *, channel: str, address: str, direction: str = "inbound",
        our_address: str | None = None, verified: bool = False,
    ) -> InteractionRef:
        """The open chat, SMS, WhatsApp or email interaction with the customer at `address`
        on their one open case, opened now if there is none (with a new customer and case
        for a new address). `verified`: the channel proved `address`. Close it with
        `end_interaction`; the customer's next message then opens another."""
        channel = messages.check_channel(channel)
        direction = validate.choice(direction, DIRECTIONS, "direction")
        identity = self._identities.for_channel(channel, address, where="address")
        ours = validate.optional_text(our_address, "our_address", max_len=messages.MAX_ADDRESS_CHARS)
        if not isinstance(verified, bool):
            raise InvalidInput("must be true or false", "verified")
        (customer_id, case_id, interaction_id), created = await self._db.run(
            functools.partial(
                messages.open_conversation, self._session, self._now, channel=channel,
                direction=direction, identity=identity, our_address=ours, verified=verified,
            )
        )
        if created:
            await self._publish(
                case_id,
                {"type": "interaction_started", "case_id": case_id, "interaction_id": interaction_id},
            )
        return InteractionRef(customer_id, case_id, interaction_id)

    async def find_text_interaction(self, *, channel: str, address: str) -> InteractionRef | None:
        """The open `channel` interaction with the customer at `address` on their open case,
        or None; unlike `open_text_interaction` it opens nothing."""
        channel = messages.check_channel(channel)
        identity = self._identities.for_channel(channel, address, where="address")
        found = await self._db.run(
            functools.partial(messages.find_conversation, self._session, channel=channel,
                              identity=identity)
        )
        return None if found is None else InteractionRef(*found)

    async def open_chat(self, case_id: int) -> tuple[int, str | None] | None:
        """Case `case_id`'s open chat: (interaction id, the visitor's address or None before
        they wrote), or None when it has none."""
        case_id = validate.row_id(case_id, "case")
        return await self._db.run(functools.partial(messages.open_chat_of_case, self._session,
                                                    case_id))

    async def store_message(self, draft: MessageDraft) -> StoredMessage:
        """Store a chat line, SMS, WhatsApp message or email on the customer's case, once per
        channel id (a retry returns the stored one, `created=False`): see `cases.messages`.
        Raises InvalidInput naming the bad field (`message.body`, ...) before any write."""
        checked = messages.check_draft(draft, self._identities)
        if self._messages is not None:
            stored = await self._messages.store(checked)
        else:
            stored = await self._db.run(messages.store_message, self._session, self._now, checked)
        if stored.created:
            await self._publish(
                stored.case_id, {"type": "message", "case_id": stored.case_id, "message": stored.view}
            )
            if self._bus is not None:  # every new message, for text routing's timers and offers
                view = stored.view
                await self._bus.publish(MESSAGES_TOPIC, {
                    "type": "message", "case_id": stored.case_id,
                    "interaction_id": stored.interaction_id, "channel": view.get("channel"),
                    "direction": view.get("direction"), "created_at": view.get("created_at"),
                    "message": view})
        return stored

    async def text_interactions(
        self, *, interaction_id: int | None = None
    ) -> list[TextInteractionRow]:
        """The open text interactions (or the one `interaction_id`), for text routing."""
        if interaction_id is not None:
            interaction_id = validate.row_id(interaction_id, "interaction")
        return await self._db.run(
            self._read, functools.partial(text_interactions, interaction_id=interaction_id))

    async def set_text_interaction(
        self, interaction_id: int, *, agent: str | None = None, queue: str | None = None
    ) -> None:
        """Record the agent and/or queue text routing gave a text interaction."""
        interaction_id = validate.row_id(interaction_id, "interaction")
        await self._db.run(self._in_transaction, set_text_interaction, interaction_id, agent,
                           queue)

    async def update_message_status(
        self, status: str, *, message_id: int | None = None, channel: str | None = None,
        external_id: str | None = None, error_code: str | None = None,
    ) -> StatusChange:
        """A delivery report on the message `message_id`, or the one with the channel's
        `external_id`. The status only moves forward; a late report is kept in the history
        (`applied` False). NotFound if no such message."""
        status = messages.check_status(status)
        error_code = messages.check_error_code(error_code)
        if message_id is not None:
            message_id = validate.row_id(message_id, "message")
            channel = external_id = None
        else:
            channel = messages.check_channel(channel)
            external_id = messages.check_external_id(external_id)
        change = await self._db.run(
            functools.partial(
                messages.record_status, self._session, self._now, status, error_code,
                message_id=message_id, channel=channel, external_id=external_id,
            )
        )
        if change.applied:
            await self._publish(
                change.case_id,
                {"type": "message_status", "case_id": change.case_id, "message": change.view},
            )
        return change

    async def mark_read(self, interaction_id: int) -> int:
        """An agent read interaction `interaction_id`: its inbound messages still `received`
        become `read` (the chat widget shows the visitor "Read"); how many changed."""
        interaction_id = validate.row_id(interaction_id, "interaction")
        changes = await self._db.run(
            functools.partial(messages.mark_read, self._session, self._now, interaction_id)
        )
        for change in changes:
            await self._publish(
                change.case_id,
                {"type": "message_status", "case_id": change.case_id, "message": change.view},
            )
        return len(changes)

    async def assign_external_id(self, message_id: int, external_id: str) -> dict[str, Any]:
        """Give an outbound message its provider's id (Twilio's MessageSid) once sent."""
        message_id = validate.row_id(message_id, "message")
        external_id = messages.check_external_id(external_id)
        view: dict[str, Any] = await self._db.run(
            self._in_transaction, messages.assign_external_id, message_id, external_id
        )
        return view

    async def find_message_by_external_id(
        self, channel: str, external_id: str
    ) -> MessageRef | None:
        """The stored message the `channel` knows as `external_id` (a MessageSid, an email's
        Message-ID), with its case id and message id; None if there is none."""
        channel = messages.check_channel(channel)
        external_id = messages.check_external_id(external_id)
        found: MessageRef | None = await self._db.run(
            self._read, functools.partial(
                messages.message_by_external_id, channel=channel, external_id=external_id))
        return found

    async def add_identity(
        self, customer_id: int, *, kind: str, value: str, verified: bool = False
    ) -> bool:
        """Give a customer another identity (True if new). IdentityConflict names the
        customer who holds it already: merging them is the caller's decision."""
        customer_id = validate.row_id(customer_id, "customer")
        normalised = self._identities.identity(kind, value, where="value")
        if not isinstance(verified, bool):
            raise InvalidInput("must be true or false", "verified")
        created: bool = await self._db.run(
            self._in_transaction,
            functools.partial(
                attach_identity, kind=kind, value=normalised, now=self._now(), verified=verified
            ),
            customer_id,
        )
        return created

    async def merge_customers(
        self, source_customer_id: int, target_customer_id: int, *, actor: str,
        reason: str | None = None,
    ) -> MergeResult:
        """Merge one person's two customers into `target_customer_id` with an audit record
        (see `cases.merge`). MergeConflict if both hold verified identities of one kind."""
        source = validate.row_id(source_customer_id, "source_customer")
        target = validate.row_id(target_customer_id, "target_customer")
        actor = validate.text(actor, "actor", max_len=100)
        reason = validate.optional_text(reason, "reason", max_len=2000)
        result: MergeResult = await self._db.run(
            self._in_transaction,
            functools.partial(
                merge.merge_customers, source_id=source, target_id=target, actor=actor,
                reason=reason, now=self._now(),
            ),
        )
        log.info("customer %d merged into customer %d (merge %d)", source, target, result.merge_id)
        touched = {result.source_case_id, result.target_case_id}
        for case_id in sorted(c for c in touched if c is not None):
            await self._publish(case_id, {
                "type": "case_merged", "case_id": case_id, "source_case_id": result.source_case_id,
                "target_case_id": result.target_case_id,
            })
        return result

    async def surviving_case(self, case_id: int) -> int:
        """The case now holding what `case_id` held, following merges (see `cases.merge`)."""
        case_id = validate.row_id(case_id, "case")
        found: int = await self._db.run(self._in_transaction, merge.surviving_case, case_id)
        return found

