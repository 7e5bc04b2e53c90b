"""Messages on the case: chat lines, SMS, WhatsApp messages and emails, with their delivery.

What a channel adapter hands over is checked whole (`check_draft`) before anything is
written, so a bad message changes nothing already stored. Then, in one transaction:

- A provider's retry is recognised by the channel's own id (MessageSid, Message-ID, the chat
  message id), unique per channel: nothing is written twice and the stored message comes back
  with `created=False`. Two deliveries racing both try; the loser's unique violation makes it
  look again and find the winner's row.
- Otherwise the customer is resolved from their address on that channel (`cases.identity`),
  the message lands on the customer's one open case, in the open interaction of that channel
  there (a new one if none is open), unless the adapter already threaded it onto an
  interaction (an email reply's token).

Delivery status moves forward only: queued -> sent -> delivered -> read, or undelivered /
failed (with the provider's error code). A late report (a "sent" after "delivered": callbacks
arrive out of order) is kept in the history but does not move the status back.

The functions taking a `Session` are blocking: `CaseStore` runs them on its database thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from cases.errors import InvalidInput, NotFound
from cases.identity import open_case_for, resolve_customer
from cases.message_checks import (
    MAX_ADDRESS_CHARS,
    MAX_ATTACHMENTS,
    MAX_BODY_CHARS,
    MAX_ERROR_CODE_CHARS,
    MAX_EXTERNAL_ID_CHARS,
    MAX_HTML_CHARS,
    MAX_SIZE,
    MAX_SUBJECT_CHARS,
    Attachment,
    CheckedMessage,
    MessageDraft,
    StoredMessage,
    check_channel,
    check_draft,
    check_error_code,
    check_external_id,
    check_status,
    check_subject,
    check_text,
)
from cases.models import (
    Case,
    Customer,
    Identity,
    Interaction,
    Message,
    MessageAttachment,
    MessageStatusEvent,
    new_public_id,
)
from cases.timeline import message_view

# What a message is and how it is checked moved to cases.message_checks; callers import the
# names from here as before.
__all__ = [
    "MAX_ADDRESS_CHARS", "MAX_ATTACHMENTS", "MAX_BODY_CHARS", "MAX_ERROR_CODE_CHARS",
    "MAX_EXTERNAL_ID_CHARS", "MAX_HTML_CHARS", "MAX_SIZE", "MAX_SUBJECT_CHARS", "Attachment",
    "BatchFailed", "CheckedMessage", "MessageDraft", "MessageRef", "StatusChange",
    "StoredMessage", "check_channel", "check_draft", "check_error_code", "check_external_id",
    "check_status", "check_subject", "check_text", "find_conversation", "find_message",
    "mark_read", "open_chat_of_case", "open_conversation", "open_interaction",
    "record_status", "store_batch", "store_message", "update_status",
]


# Where each status may go next; anything else is a late or contradictory report.
_NEXT: dict[str, frozenset[str]] = {
    "received": frozenset({"read"}),  # an agent opened the conversation (read receipts)
    "queued": frozenset({"sent", "delivered", "read", "undelivered", "failed"}),
    "sent": frozenset({"delivered", "read", "undelivered", "failed"}),
    "delivered": frozenset({"read"}),
    "read": frozenset(),
    "undelivered": frozenset(),
    "failed": frozenset(),
}
_SENT_OR_LATER = frozenset({"sent", "delivered", "read"})
_DELIVERED_OR_LATER = frozenset({"delivered", "read"})


# A first message from a new address can race another to create the customer or the case.
_ATTEMPTS = 3


def _stamp(message: Message, status: str, at: datetime) -> None:
    if status in _SENT_OR_LATER and message.sent_at is None:
        message.sent_at = at
    if status in _DELIVERED_OR_LATER and message.delivered_at is None:
        message.delivered_at = at


def _stored(message: Message, created: bool) -> StoredMessage:
    interaction = message.interaction
    return StoredMessage(
        customer_id=interaction.case.customer_id,
        case_id=interaction.case_id,
        interaction_id=interaction.id,
        message_id=message.id,
        created=created,
        view=message_view(message),
    )


def open_interaction(
    session: Session, *, customer_id: int, channel: str, direction: str, our_address: str | None,
    now: datetime,
) -> tuple[Interaction, bool]:
    """The open interaction of `channel` on the customer's open case, and whether it is new
    (made now, with a new case if the customer had none open). `our_address` is the number
    or address the customer wrote to (inbound) or that we write from (outbound), kept as the
    interaction's `dialed`."""
    case, _ = open_case_for(session, customer_id, now)
    interaction = session.scalar(
        select(Interaction)
        .where(
            Interaction.case_id == case.id,
            Interaction.channel == channel,
            Interaction.ended_at.is_(None),
        )
        .order_by(Interaction.started_at.desc(), Interaction.id.desc())
        .limit(1)
    )
    if interaction is not None:
        return interaction, False
    interaction = Interaction(
        case_id=case.id, channel=channel, direction=direction, started_at=now, dialed=our_address
    )
    session.add(interaction)
    case.updated_at = now
    session.flush()
    return interaction, True


def open_conversation(
    sessions: Callable[[], Session], now: Callable[[], datetime], *, channel: str,
    direction: str, identity: tuple[str, str], our_address: str | None, verified: bool,
) -> tuple[tuple[int, int, int], bool]:
    """`open_interaction` for the customer with `identity` (made if new), committed:
    ((customer id, case id, interaction id), whether the interaction is new)."""
    for attempt in range(_ATTEMPTS):
        try:
            with sessions() as session, session.begin():
                at = now()
                customer_id = resolve_customer(session, *identity, at, verified=verified)
                interaction, created = open_interaction(
                    session, customer_id=customer_id, channel=channel, direction=direction,
                    our_address=our_address, now=at,
                )
                return (customer_id, interaction.case_id, interaction.id), created
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def find_conversation(
    sessions: Callable[[], Session], *, channel: str, identity: tuple[str, str],
) -> tuple[int, int, int] | None:
    """(customer id, case id, interaction id) of the open `channel` interaction on the open
    case of the customer with `identity`, or None; opens nothing (a widget that loads is not
    yet a conversation: only the visitor's first line opens one)."""
    kind, value = identity
    query = (
        select(_IDENTITIES.c.customer_id, _CASES.c.id, _INTERACTIONS.c.id)
        .select_from(_IDENTITIES.join(_CASES, _CASES.c.customer_id == _IDENTITIES.c.customer_id)
                     .join(_INTERACTIONS, _INTERACTIONS.c.case_id == _CASES.c.id))
        .where(_IDENTITIES.c.kind == kind, _IDENTITIES.c.value == value,
               _CASES.c.status == "open", _INTERACTIONS.c.channel == channel,
               _INTERACTIONS.c.ended_at.is_(None))
        .order_by(_INTERACTIONS.c.started_at.desc(), _INTERACTIONS.c.id.desc())
        .limit(1)
    )
    with sessions() as session:
        row = session.execute(query).first()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def open_chat_of_case(
    sessions: Callable[[], Session], case_id: int,
) -> tuple[int, str | None] | None:
    """(interaction id, the visitor's address: the sender of its latest inbound line, None
    before they wrote) of case `case_id`'s newest open chat, or None: two indexed reads,
    whatever the case's history."""
    with sessions() as session:
        interaction = session.execute(
            select(_INTERACTIONS.c.id)
            .where(_INTERACTIONS.c.case_id == case_id, _INTERACTIONS.c.channel == "chat",
                   _INTERACTIONS.c.ended_at.is_(None))
            .order_by(_INTERACTIONS.c.started_at.desc(), _INTERACTIONS.c.id.desc()).limit(1)
        ).scalar()
        if interaction is None:
            return None
        visitor = session.execute(
            select(_MESSAGES.c.sender)
            .where(_MESSAGES.c.interaction_id == interaction,
                   _MESSAGES.c.direction == "inbound")
            .order_by(_MESSAGES.c.id.desc()).limit(1)
        ).scalar()
    return int(interaction), None if visitor is None else str(visitor)


# The hot path (every inbound SMS, WhatsApp message, email and chat line) in a handful of
# Core statements on the session's connection: the ORM's unit of work, autoflush and lazy
# loads cost several times the SQL itself (measured: 5.5 ms a message through the ORM on
# SQLite). The rows written are the ones the ORM wrote, and the view is built from the values
# just inserted, as `message_view` built it from the unexpired objects before.
_IDENTITIES = cast(Table, Identity.__table__)
_CUSTOMERS = cast(Table, Customer.__table__)
_CASES = cast(Table, Case.__table__)
_INTERACTIONS = cast(Table, Interaction.__table__)
_MESSAGES = cast(Table, Message.__table__)
_ATTACHMENTS = cast(Table, MessageAttachment.__table__)
_EVENTS = cast(Table, MessageStatusEvent.__table__)

_BY_EXTERNAL_ID = select(_MESSAGES.c.id).where(
    _MESSAGES.c.channel == bindparam("channel"),
    _MESSAGES.c.external_id == bindparam("external_id"),
)
# Locked (PostgreSQL) as `resolve_customer` locks it: a merge moving it is waited for.
_IDENTITY = (
    select(_IDENTITIES.c.id, _IDENTITIES.c.customer_id, _IDENTITIES.c.verified)
    .where(_IDENTITIES.c.kind == bindparam("kind"), _IDENTITIES.c.value == bindparam("value"))
    .with_for_update()
)
# The customer's open case and its newest open interaction of the channel, in one statement
# (`open_case_for` and `open_interaction` read them one after the other).
_OPEN = (
    select(_CASES.c.id, _INTERACTIONS.c.id)
    .select_from(
        _CASES.outerjoin(
            _INTERACTIONS,
            and_(
                _INTERACTIONS.c.case_id == _CASES.c.id,
                _INTERACTIONS.c.channel == bindparam("channel"),
                _INTERACTIONS.c.ended_at.is_(None),
            ),
        )
    )
    .where(_CASES.c.customer_id == bindparam("customer_id"), _CASES.c.status == "open")
    .order_by(_INTERACTIONS.c.started_at.desc(), _INTERACTIONS.c.id.desc())
    .limit(1)
)
# On SQLite (one writer: nothing to lock) the three reads of a message from a known address
# in one statement: the retry check, the identity, and its open case and interaction.
_KNOWN = (
    select(
        _BY_EXTERNAL_ID.scalar_subquery(), _IDENTITIES.c.id, _IDENTITIES.c.customer_id,
        _IDENTITIES.c.verified, _CASES.c.id, _INTERACTIONS.c.id,
    )
    .select_from(
        _IDENTITIES.outerjoin(
            _CASES,
            and_(_CASES.c.customer_id == _IDENTITIES.c.customer_id, _CASES.c.status == "open"),
        ).outerjoin(
            _INTERACTIONS,
            and_(
                _INTERACTIONS.c.case_id == _CASES.c.id,
                _INTERACTIONS.c.channel == bindparam("channel"),
                _INTERACTIONS.c.ended_at.is_(None),
            ),
        )
    )
    .where(_IDENTITIES.c.kind == bindparam("kind"), _IDENTITIES.c.value == bindparam("value"))
    .order_by(_INTERACTIONS.c.started_at.desc(), _INTERACTIONS.c.id.desc())
    .limit(1)
)
_THREADED = (
    select(_INTERACTIONS.c.channel, _INTERACTIONS.c.case_id, _CASES.c.customer_id)
    .join(_CASES, _CASES.c.id == _INTERACTIONS.c.case_id)
    .where(_INTERACTIONS.c.id == bindparam("interaction_id"))
)
_VERIFY = (
    update(_IDENTITIES).where(_IDENTITIES.c.id == bindparam("identity_id"))
    .values(verified=True)
)
_TOUCH = update(_CASES).where(_CASES.c.id == bindparam("case_id")).values(
    updated_at=bindparam("now")
)


def _insert(connection: Connection, table: Table, values: dict[str, Any]) -> int:
    key = connection.execute(table.insert(), values).inserted_primary_key
    assert key is not None  # a single-row insert always has its key
    return int(key[0])


def _existing(session: Session, message_id: int) -> StoredMessage:
    """A provider's retry: the stored message, loaded with what its view shows."""
    message = session.scalars(
        select(Message).where(Message.id == message_id).options(
            joinedload(Message.interaction).joinedload(Interaction.case),
            selectinload(Message.attachments), selectinload(Message.status_events),
        )
    ).one()
    return _stored(message, created=False)


def _placed(
    connection: Connection, msg: CheckedMessage, now: datetime, known: tuple[Any, ...] | None
) -> tuple[int, int, int, bool]:
    """Where `msg` goes, opening what is missing: (customer id, case id, interaction id,
    whether the case was made now). The same rows, in the same order, as `resolve_customer`
    then `open_interaction` make. `known`: the row of `_KNOWN`, if read."""
    if msg.interaction_id is not None:
        row = connection.execute(_THREADED, {"interaction_id": msg.interaction_id}).first()
        if row is None:
            raise NotFound("interaction", msg.interaction_id)
        if row[0] != msg.channel:
            raise InvalidInput(
                f"interaction {msg.interaction_id} is on {row[0]}, not {msg.channel}",
                "message.interaction_id",
            )
        return int(row[2]), int(row[1]), msg.interaction_id, False
    assert msg.identity is not None  # check_draft resolved it: no interaction given
    kind, value = msg.identity
    found: Sequence[Any] | None = known[1:4] if known is not None else connection.execute(
        _IDENTITY, {"kind": kind, "value": value}
    ).first()
    case_id = interaction_id = None
    if found is None:
        customer_id = _insert(connection, _CUSTOMERS, {"created_at": now})
        _insert(connection, _IDENTITIES, {
            "customer_id": customer_id, "kind": kind, "value": value, "verified": msg.verified,
            "created_at": now,
        })
    else:
        customer_id = int(found[1])
        if msg.verified and not found[2]:
            connection.execute(_VERIFY, {"identity_id": found[0]})
        opened: Sequence[Any] | None = known[4:6] if known is not None else connection.execute(
            _OPEN, {"customer_id": customer_id, "channel": msg.channel}
        ).first()
        if opened is not None:
            case_id, interaction_id = opened[0], opened[1]
    new_case = case_id is None
    if case_id is None:
        case_id = _insert(connection, _CASES, {
            "public_id": new_public_id(), "customer_id": customer_id, "status": "open",
            "created_at": now, "updated_at": now,
        })
    if interaction_id is None:
        interaction_id = _insert(connection, _INTERACTIONS, {
            "case_id": case_id, "channel": msg.channel, "direction": msg.direction,
            "started_at": now,
            "dialed": msg.recipient if msg.direction == "inbound" else msg.sender,
        })
    return customer_id, int(case_id), int(interaction_id), new_case


class _Later:
    """What no later statement of a transaction reads back, written at its end in one
    statement each: the first status event of every new message, and each touched case's
    `updated_at` (the last message's time, as one by one). A retry's view reads the status
    events, so they are written before it is loaded."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.touched: dict[int, datetime] = {}

    def write(self, connection: Connection) -> None:
        if self.events:
            connection.execute(_EVENTS.insert(), self.events)
            self.events = []
        if self.touched:
            connection.execute(
                _TOUCH, [{"case_id": case, "now": at} for case, at in self.touched.items()]
            )
            self.touched = {}


def _store_once(
    session: Session, msg: CheckedMessage, now: datetime, later: _Later
) -> StoredMessage:
    connection = session.connection()
    known: tuple[Any, ...] | None = None
    if msg.identity is not None and msg.interaction_id is None and (
        connection.dialect.name == "sqlite"
    ):
        kind, value = msg.identity
        row = connection.execute(_KNOWN, {
            "channel": msg.channel, "external_id": msg.external_id, "kind": kind,
            "value": value,
        }).first()
        known = None if row is None else tuple(row)
        if known is not None and known[0] is not None:
            later.write(connection)
            return _existing(session, int(known[0]))
    if known is None and msg.external_id is not None:
        existing = connection.execute(
            _BY_EXTERNAL_ID, {"channel": msg.channel, "external_id": msg.external_id}
        ).scalar()
        if existing is not None:
            later.write(connection)
            return _existing(session, int(existing))
    customer_id, case_id, interaction_id, new_case = _placed(connection, msg, now, known)
    sent_at = now if msg.status in _SENT_OR_LATER else None
    delivered_at = now if msg.status in _DELIVERED_OR_LATER else None
    message_id = _insert(connection, _MESSAGES, {
        "interaction_id": interaction_id, "channel": msg.channel, "direction": msg.direction,
        "sender": msg.sender, "recipient": msg.recipient, "subject": msg.subject,
        "body": msg.body, "html": msg.html, "external_id": msg.external_id,
        "status": msg.status, "error_code": None, "created_at": now, "sent_at": sent_at,
        "delivered_at": delivered_at,
    })
    attachments = []
    for a in msg.attachments:
        # One by one: each row's id is in the view (executemany gives no ids on SQLite).
        attachment_id = _insert(connection, _ATTACHMENTS, {
            "message_id": message_id, "filename": a.filename, "content_type": a.content_type,
            "size": a.size, "storage_key": a.storage_key,
        })
        attachments.append({
            "id": attachment_id, "filename": a.filename, "content_type": a.content_type,
            "size": a.size, "storage_key": a.storage_key,
        })
    later.events.append({
        "message_id": message_id, "status": msg.status, "at": now, "error_code": None,
        "applied": True,
    })
    if not new_case:
        later.touched[case_id] = now
    view = {
        "id": message_id, "interaction_id": interaction_id, "channel": msg.channel,
        "direction": msg.direction, "sender": msg.sender, "recipient": msg.recipient,
        "subject": msg.subject, "body": msg.body, "html": msg.html,
        "external_id": msg.external_id, "status": msg.status, "error_code": None,
        "created_at": now.isoformat(), "sent_at": _iso(sent_at),
        "delivered_at": _iso(delivered_at), "attachments": attachments,
        "status_history": [
            {"status": msg.status, "at": now.isoformat(), "error_code": None, "applied": True}
        ],
    }
    return StoredMessage(customer_id, case_id, interaction_id, message_id, True, view)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def store_message(
    sessions: Callable[[], Session], now: Callable[[], datetime], msg: CheckedMessage
) -> StoredMessage:
    """Store `msg` once (see the module's docstring); committed when this returns."""
    for attempt in range(_ATTEMPTS):
        try:
            with sessions() as session, session.begin():
                later = _Later()
                stored = _store_once(session, msg, now(), later)
                later.write(session.connection())
                return stored
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class BatchFailed(Exception):
    """`store_batch` failed on the message at `index` (the error is chained); nothing of the
    batch was stored."""

    def __init__(self, index: int) -> None:
        super().__init__(f"message {index} of the batch failed")
        self.index = index


def store_batch(
    sessions: Callable[[], Session], now: Callable[[], datetime], batch: Sequence[CheckedMessage]
) -> list[StoredMessage]:
    """Store every message of `batch` as `store_message` would, in order, in one transaction:
    one commit (on SQLite one fsync) for all of them. A retry of a message earlier in the
    batch finds it, as it would a committed one. If a message fails, all are rolled back and
    `BatchFailed` says which one: the caller stores that one alone (`store_message`, for its
    own outcome) and the others again."""
    with sessions() as session, session.begin():
        stored = []
        later = _Later()
        for index, msg in enumerate(batch):
            try:
                stored.append(_store_once(session, msg, now(), later))
            except Exception as exc:
                raise BatchFailed(index) from exc
        later.write(session.connection())
        return stored


@dataclass(frozen=True)
class StatusChange:
    """The outcome of a delivery report: `applied` is False when it was late (kept in the
    history only)."""

    case_id: int
    applied: bool
    view: dict[str, Any]


def update_status(
    session: Session, message: Message, status: str, error_code: str | None, now: datetime
) -> StatusChange:
    """Record a delivery report on `message`, moving its status only forward."""
    applied = status in _NEXT[message.status]
    message.status_events.append(
        MessageStatusEvent(status=status, at=now, error_code=error_code, applied=applied)
    )
    if applied:
        message.status = status
        message.error_code = error_code
        _stamp(message, status, now)
    session.flush()
    return StatusChange(message.interaction.case_id, applied, message_view(message))


def record_status(
    sessions: Callable[[], Session], now: Callable[[], datetime], status: str,
    error_code: str | None, *, message_id: int | None, channel: str | None,
    external_id: str | None,
) -> StatusChange:
    """`update_status` on the message found by `find_message`, committed."""
    with sessions() as session, session.begin():
        message = find_message(
            session, message_id=message_id, channel=channel, external_id=external_id
        )
        return update_status(session, message, status, error_code, now())


def mark_read(
    sessions: Callable[[], Session], now: Callable[[], datetime], interaction_id: int,
) -> list[StatusChange]:
    """Every inbound message of interaction `interaction_id` still `received` moves to `read`
    (an agent has the conversation open), committed; the changes, oldest first."""
    with sessions() as session, session.begin():
        unread = session.scalars(
            select(Message).where(Message.interaction_id == interaction_id,
                                  Message.direction == "inbound", Message.status == "received")
            .order_by(Message.id)
        ).all()
        at = now()
        return [update_status(session, message, "read", None, at) for message in unread]


def find_message(
    session: Session, *, message_id: int | None, channel: str | None, external_id: str | None
) -> Message:
    """The message with `message_id`, or with (`channel`, `external_id`); NotFound otherwise.
    Locked (PostgreSQL) so two reports on one message apply one after the other."""
    query = select(Message).with_for_update()
    if message_id is not None:
        query = query.where(Message.id == message_id)
        key: object = message_id
    else:
        query = query.where(Message.channel == channel, Message.external_id == external_id)
        key = f"{channel} message {external_id}"
    message = session.scalar(query)
    if message is None:
        raise NotFound("message", key)
    return message


@dataclass(frozen=True)
class MessageRef:
    """Where a stored message is, and who sent it from where (for a caller deciding whether
    to follow a reference to it: `channels.email_in`)."""

    case_id: int
    interaction_id: int
    message_id: int
    direction: str
    sender: str


def message_by_external_id(session: Session, channel: str, external_id: str) -> MessageRef | None:
    """The message the channel knows as `external_id` (unique per channel), or None. Read
    only: nothing is locked."""
    row = session.execute(
        select(Interaction.case_id, Message.interaction_id, Message.id, Message.direction,
               Message.sender)
        .join(Interaction, Message.interaction_id == Interaction.id)
        .where(Message.channel == channel, Message.external_id == external_id)
    ).first()
    if row is None:
        return None
    return MessageRef(int(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]))


def assign_external_id(session: Session, message_id: int, external_id: str) -> dict[str, Any]:
    """Give an outbound message the id its provider returned (Twilio's MessageSid) so status
    callbacks find it. The same id again is a no-op; another id is refused."""
    message = find_message(session, message_id=message_id, channel=None, external_id=None)
    if message.external_id is not None and message.external_id != external_id:
        raise InvalidInput("the message already has another external id", "external_id")
    taken = session.scalar(
        select(Message.id).where(
            Message.channel == message.channel, Message.external_id == external_id,
            Message.id != message.id,
        )
    )
    if taken is not None:
        raise InvalidInput(f"message {taken} already has this external id", "external_id")
    message.external_id = external_id
    session.flush()
    return message_view(message)
