"""The shared case, as SQLAlchemy 2 declarative models.

    Customer 1─* Identity          (phone / email / chat handle, normalised, unique per kind)
    Customer 1─* Case 1─* Interaction 1─* TranscriptSegment
                                      1─* IvrEvent   (what the caller pressed/said in the IVR)
                                      1─* Message 1─* MessageAttachment   (metadata; bytes elsewhere)
                                                  1─* MessageStatusEvent  (delivery history)
                 Case 1─* Note
                 Case 1─* CaseShare (a user the case was shared with, by whom, when)
                 Case 1─* CaseFact  (a key/value the customer gave, with its source: cases.facts)
    CustomerMerge                  (audit: who was merged into whom, and what moved)
    OptOut                         (an address that sent STOP on sms/whatsapp: `cases.opt_outs`)

The schema is created by the Alembic migrations in `cases/migrations`, never by `create_all`;
a test checks the two agree on SQLite and PostgreSQL. Times are timezone-aware UTC and always
come from the store's injected clock, so the models carry no time defaults.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Named constraints: the same names on every database, so later migrations can drop them.
NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CASE_STATUSES = ("open", "closed")
SEGMENT_SOURCES = ("live", "post")
CHANNELS = ("voice", "chat", "sms", "whatsapp", "email")
# Channels whose interactions carry messages (every channel but voice).
TEXT_CHANNELS = ("chat", "sms", "whatsapp", "email")
# An inbound message is "received"; an outbound one moves forward through the others
# (see cases.messages for the allowed moves).
MESSAGE_STATUSES = ("received", "queued", "sent", "delivered", "read", "undelivered", "failed")
DIRECTIONS = ("inbound", "outbound")
SPEAKERS = ("caller", "agent")
IVR_EVENT_KINDS = (
    "digits", "speech", "variable", "path", "voicemail",
    "hours", "http", "queue", "callback", "transfer", "unavailable", "hangup",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# A case's id in URLs and on the wire: 16 URL-safe characters (96 random bits), so one case's
# address says nothing about any other's (the integer key is sequential and stays internal).
PUBLIC_ID_LENGTH = 16


def new_public_id() -> str:
    """A fresh random public case id."""
    return secrets.token_urlsafe(PUBLIC_ID_LENGTH * 3 // 4)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time zone type and hands back naive values; PostgreSQL hands back the
    session's zone. Both come out as UTC-aware here, and naive values are refused going in
    (a naive time is a bug in the clock that produced it).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class Customer(Base):
    """A person or company we talk to, whatever the channel."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The channel the customer chose to hear from us on (cases.preferences), and when;
    # null: never chosen (inferred from their recent inbound contacts instead).
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    preferred_channel_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    identities: Mapped[list[Identity]] = relationship(
        back_populates="customer", order_by="Identity.id"
    )
    cases: Mapped[list[Case]] = relationship(back_populates="customer", order_by="Case.id")


class Identity(Base):
    """How a customer reaches us: a normalised phone number, email address or chat handle."""

    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("kind", "value"),
        CheckConstraint(_one_of("kind", ("phone", "email", "chat")), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    # Proven by its channel (a signed provider webhook, the customer's site's HMAC), not just
    # claimed (typed into a form, a caller id). Two proven identities of one kind on two
    # customers are two people: `cases.merge` refuses to merge them.
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Case(Base):
    """One ongoing matter with a customer; every channel's interactions land on it.

    At most one case per customer is open: a partial unique index enforces it, so two
    concurrent first calls cannot open two cases.
    """

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_one_of("status", CASE_STATUSES), name="status"),
        Index(
            "uq_cases_one_open_per_customer",
            "customer_id",
            unique=True,
            sqlite_where="status = 'open'",
            postgresql_where="status = 'open'",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What URLs and JSON call the case (`id` is internal): see `new_public_id`.
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, index=True, default=new_public_id
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="cases")
    interactions: Mapped[list[Interaction]] = relationship(
        back_populates="case", order_by="(Interaction.started_at, Interaction.id)"
    )
    notes: Mapped[list[Note]] = relationship(
        back_populates="case", order_by="(Note.created_at, Note.id)"
    )


class Interaction(Base):
    """One call, chat session, SMS thread or email exchange on a case."""

    __tablename__ = "interactions"
    __table_args__ = (
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(_one_of("direction", DIRECTIONS), name="direction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dialed: Mapped[str | None] = mapped_column(String(255))
    queue: Mapped[str | None] = mapped_column(String(100))
    agent: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(100))
    call_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    summary: Mapped[str | None] = mapped_column(Text)
    # Sentiment trend and topics of the interaction (cases.insights), JSON; None: not made.
    insights: Mapped[Any] = mapped_column(JSON, nullable=True)

    case: Mapped[Case] = relationship(back_populates="interactions")
    segments: Mapped[list[TranscriptSegment]] = relationship(
        back_populates="interaction",
        order_by="(TranscriptSegment.start, TranscriptSegment.id)",
    )
    ivr_events: Mapped[list[IvrEvent]] = relationship(
        back_populates="interaction", order_by="(IvrEvent.at, IvrEvent.id)"
    )
    messages: Mapped[list[Message]] = relationship(
        back_populates="interaction", order_by="(Message.created_at, Message.id)"
    )


class TranscriptSegment(Base):
    """A final piece of transcript: who said `text`, from `start` to `end` seconds into the call."""

    __tablename__ = "transcript_segments"
    __table_args__ = (
        CheckConstraint(_one_of("speaker", SPEAKERS), name="speaker"),
        Index("ix_transcript_segments_interaction_start", "interaction_id", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    speaker: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    engine: Mapped[str] = mapped_column(String(64))
    # The language it was recognised in (en, es), or None when the engine did not say.
    language: Mapped[str | None] = mapped_column(String(8))
    # 'live' (recognised while the call ran) or 'post' (the post-call pass over the
    # recording, with the larger model): the case shows 'post' when an interaction has any.
    source: Mapped[str] = mapped_column(String(8), server_default="live")
    # -1 (negative) .. 1 (positive) and the topic names found in `text` (cases.insights).
    sentiment: Mapped[float | None] = mapped_column(Float)
    topics: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    interaction: Mapped[Interaction] = relationship(back_populates="segments")


class IvrEvent(Base):
    """One input the IVR took from the caller on an interaction, or a step it took.

    `kind` is digits, speech, variable, path or voicemail; `value` is JSON whose shape depends
    on the kind. Values of `sensitive` steps arrive here already masked: the store never sees
    the digits of a card number.
    """

    __tablename__ = "ivr_events"
    __table_args__ = (
        CheckConstraint(_one_of("kind", IVR_EVENT_KINDS), name="kind"),
        Index("ix_ivr_events_interaction_at", "interaction_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[str | None] = mapped_column(String(100))
    step_index: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[Any] = mapped_column(JSON)
    sensitive: Mapped[bool] = mapped_column(Boolean)

    interaction: Mapped[Interaction] = relationship(back_populates="ivr_events")


class Note(Base):
    """Free text an agent or supervisor left on a case."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="notes")


class CaseShare(Base):
    """A case shared with a user who would not see it otherwise (`web.case_access`): a
    colleague asked for help, a specialist brought in. Removed when the share is withdrawn."""

    __tablename__ = "case_shares"
    __table_args__ = (UniqueConstraint("case_id", "user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user: Mapped[str] = mapped_column(String(100))
    shared_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


FACT_ORIGINS = ("ivr", "speech", "message", "agent", "flow")


class CaseFact(Base):
    """A fact the customer gave on a case (`order_number` = "456"), with where it came from:
    the interaction, the second of the call, the IVR step or the message, and its language.

    `value` is masked (`masked` True) for anything sensitive: the store never keeps a card
    number or a sensitive IVR step's value. `auto` facts are the summariser's and are
    remade with its summary; the others (an agent's, a flow's) are kept as written.
    """

    __tablename__ = "case_facts"
    __table_args__ = (
        CheckConstraint(_one_of("origin", FACT_ORIGINS), name="origin"),
        Index("ix_case_facts_case_key", "case_id", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(500))
    masked: Mapped[bool] = mapped_column(Boolean)
    origin: Mapped[str] = mapped_column(String(16))
    second: Mapped[float | None] = mapped_column(Float)
    ivr_step: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(8))
    auto: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Message(Base):
    """One chat line, SMS, WhatsApp message or email on a (non-voice) interaction.

    `external_id` is the channel's own id (Twilio's MessageSid, an email's Message-ID, the
    widget's message id), unique per channel: a provider's retry finds the stored row instead
    of adding a second. `status` only moves forward (`cases.messages`); every report, applied
    or not, stays in `status_events`. `channel` repeats the interaction's so the uniqueness
    can be a plain constraint.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        CheckConstraint(_one_of("channel", TEXT_CHANNELS), name="channel"),
        CheckConstraint(_one_of("direction", DIRECTIONS), name="direction"),
        CheckConstraint(_one_of("status", MESSAGE_STATUSES), name="status"),
        Index("ix_messages_interaction_created", "interaction_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    # An email's subject (one line, RFC 5322's 998 characters); None on the other channels.
    subject: Mapped[str | None] = mapped_column(String(998))
    external_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    interaction: Mapped[Interaction] = relationship(back_populates="messages")
    attachments: Mapped[list[MessageAttachment]] = relationship(
        back_populates="message", order_by="MessageAttachment.id"
    )
    status_events: Mapped[list[MessageStatusEvent]] = relationship(
        back_populates="message", order_by="(MessageStatusEvent.at, MessageStatusEvent.id)"
    )


class MessageAttachment(Base):
    """A file that came or went with a message: its metadata, and the key under which the
    channel adapter stored the bytes (the case store never holds them)."""

    __tablename__ = "message_attachments"
    __table_args__ = (CheckConstraint("size >= 0", name="size"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(1024))

    message: Mapped[Message] = relationship(back_populates="attachments")


class MessageStatusEvent(Base):
    """One delivery report on a message, in arrival order; `applied` is False for a late one
    that did not move the status (a "sent" after "delivered")."""

    __tablename__ = "message_status_events"
    __table_args__ = (CheckConstraint(_one_of("status", MESSAGE_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    error_code: Mapped[str | None] = mapped_column(String(64))
    applied: Mapped[bool] = mapped_column(Boolean)

    message: Mapped[Message] = relationship(back_populates="status_events")


class CustomerMerge(Base):
    """Audit of one merge: customer `source` turned out to be customer `target`.

    What moved is listed so a wrong merge can be undone by hand: the interactions moved from
    the source's open case onto `target_case_id`, the source's cases now owned by the target,
    and its identities as (kind, value, verified). `source_case_id` -> `target_case_id` also
    lets a link to the emptied case (an email reply token) find the surviving one.
    """

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    target_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    source_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    target_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    moved_interactions: Mapped[Any] = mapped_column(JSON)
    moved_cases: Mapped[Any] = mapped_column(JSON)
    moved_identities: Mapped[Any] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


# What an opt-out row says: the address sent a STOP keyword (no outbound on that channel) or
# a START keyword after one (outbound allowed again).
OPT_OUT_STATES = ("stopped", "started")


class OptOut(Base):
    """The latest opt-out keyword one address sent on one channel (`cases.opt_outs`).

    One row per (channel, address): STOP makes it "stopped", START "started" again; the
    keyword and when are kept, and every keyword message itself is stored on the case.
    `address` is the normalised identity (E.164 for sms and whatsapp)."""

    __tablename__ = "opt_outs"
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        CheckConstraint(_one_of("state", OPT_OUT_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16))
    keyword: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


ERASURE_STATES = ("erasing", "erased")


class Erasure(Base):
    """The audit of one GDPR erasure (`cases.gdpr_erase`), without personal data.

    `customer_id` names the erased customer's row, which is gone; `counts` is what each store
    removed ({"cases.messages": 3, "recordings.files": 1, ...}). `erasing` while the stores
    are emptied; `erased` is written in the transaction that deletes the case rows, so a run
    that stopped half-way is finished by running it again.
    """

    __tablename__ = "erasures"
    __table_args__ = (
        UniqueConstraint("customer_id"),
        CheckConstraint(_one_of("state", ERASURE_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    counts: Mapped[Any] = mapped_column(JSON)


class QaReview(Base):
    """A reviewer's quality review of one interaction (`cases.qa`): a score from 0 to 100
    (None: notes only) and notes. An interaction may have several; the latest is current."""

    __tablename__ = "qa_reviews"
    __table_args__ = (
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    score: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CsatSurvey(Base):
    """A one-question satisfaction survey sent after an interaction (`cases.csat`), and the
    customer's answer (1-5). Plain integer references (no foreign keys): erasing a case
    leaves only an anonymous score."""

    __tablename__ = "csat_surveys"
    __table_args__ = (
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score"),
        UniqueConstraint("interaction_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    interaction_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))  # the interaction's
    via: Mapped[str] = mapped_column(String(16))  # the survey's
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
