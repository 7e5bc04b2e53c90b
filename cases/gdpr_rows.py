"""The case rows of one person: who they are (`find_subject`), every row that holds their data
(`selections`), and their deletion in one transaction (`delete_rows`).

Blocking functions taking a `Session`: `cases.gdpr_erase` runs them on a database thread.

The person is the customer row and every customer merged into it (`cases.merge` leaves the
source row behind, emptied, and the merge audit lists the identities that moved). Their rows:

    customers, identities, cases, interactions, transcript_segments (and their full-text
    index, `cases.transcript_search`), ivr_events, messages, message_attachments,
    message_status_events, notes, case_shares, case_facts (summaries are in
    interactions.summary), qa_reviews of their interactions, customer_merges naming them,
    and opt_outs of their addresses (a STOP from their number names them too).

The caller (`cases.gdpr_erase`) turns SQLite's `secure_delete` on for the deleting
connection and truncates the write-ahead log after the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, delete, or_, select, text
from sqlalchemy.orm import Session

from cases import transcript_search
from cases.errors import NotFound
from cases.gdpr import MergedAway, Subject
from cases.models import (
    Case,
    CaseFact,
    CaseShare,
    Customer,
    CustomerMerge,
    Identity,
    Interaction,
    IvrEvent,
    Message,
    MessageAttachment,
    MessageStatusEvent,
    Note,
    OptOut,
    QaReview,
    TranscriptSegment,
)

# A merge chain longer than this is a corrupted audit (see cases.merge._MAX_CHAIN).
_MAX_MERGES = 64


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def find_subject(session: Session, customer_id: int) -> Subject:
    """The person whose customer row is `customer_id`; `NotFound` if there is none,
    `MergedAway` if it was merged into another customer (who holds the person's data)."""
    if session.get(Customer, customer_id) is None:
        raise NotFound("customer", customer_id)
    target = session.scalar(select(CustomerMerge.target_customer_id).where(
        CustomerMerge.source_customer_id == customer_id).order_by(CustomerMerge.id.desc()))
    if target is not None:
        raise MergedAway(customer_id, int(target))
    customers = [customer_id]
    for _ in range(_MAX_MERGES):
        merged = set(session.scalars(select(CustomerMerge.source_customer_id).where(
            CustomerMerge.target_customer_id.in_(customers))).all()) - set(customers)
        if not merged:
            break
        customers += sorted(merged)
    cases = session.execute(select(Case.id, Case.public_id).where(
        Case.customer_id.in_(customers)).order_by(Case.id)).all()
    case_ids = [c.id for c in cases]
    interactions = session.execute(select(Interaction.id, Interaction.call_id).where(
        Interaction.case_id.in_(case_ids)).order_by(Interaction.id)).all()
    interaction_ids = [i.id for i in interactions]
    messages = session.execute(select(Message.id, Message.sender, Message.recipient).where(
        Message.interaction_id.in_(interaction_ids)).order_by(Message.id)).all()
    message_ids = [m.id for m in messages]
    identities = session.execute(select(Identity.kind, Identity.value).where(
        Identity.customer_id.in_(customers)).order_by(Identity.id)).all()
    keys = session.scalars(select(MessageAttachment.storage_key).where(
        MessageAttachment.message_id.in_(message_ids))).all()
    shared = session.scalars(select(MessageAttachment.storage_key).where(
        MessageAttachment.storage_key.in_(set(keys)),
        MessageAttachment.message_id.not_in(message_ids))).all()
    voicemails = session.scalars(select(IvrEvent.value).where(
        IvrEvent.interaction_id.in_(interaction_ids), IvrEvent.kind == "voicemail")).all()

    def of_kind(kind: str) -> tuple[str, ...]:
        return tuple(v for k, v in identities if k == kind)

    addresses = {a for m in messages for a in (m.sender, m.recipient)}
    return Subject(
        customer_id=customer_id,
        customer_ids=tuple(customers),
        case_ids=tuple(case_ids),
        case_public_ids=tuple(c.public_id for c in cases),
        interaction_ids=tuple(interaction_ids),
        call_ids=tuple(i.call_id for i in interactions if i.call_id),
        message_ids=tuple(message_ids),
        phones=of_kind("phone"),
        emails=of_kind("email"),
        chat_handles=of_kind("chat"),
        addresses=tuple(sorted(addresses)),
        attachment_keys=tuple(sorted(set(keys))),
        shared_attachment_keys=tuple(sorted(set(shared))),
        voicemail_paths=tuple(str(v["path"]) for v in voicemails
                              if isinstance(v, dict) and isinstance(v.get("path"), str)),
    )


def selections(subject: Subject) -> dict[str, tuple[Table, Any]]:
    """Each table's rows of `subject`: {table name: (table, where clause)}, in the order they
    can be deleted (children before parents)."""
    s = subject
    addresses = {*s.phones, *s.emails, *s.chat_handles, *s.addresses}
    out: dict[str, tuple[Table, Any]] = {}
    for model, where in (
        (MessageStatusEvent, MessageStatusEvent.message_id.in_(s.message_ids)),
        (MessageAttachment, MessageAttachment.message_id.in_(s.message_ids)),
        (CaseFact, or_(CaseFact.case_id.in_(s.case_ids),
                       CaseFact.interaction_id.in_(s.interaction_ids))),
        (Message, Message.interaction_id.in_(s.interaction_ids)),
        (QaReview, QaReview.interaction_id.in_(s.interaction_ids)),
        (TranscriptSegment, TranscriptSegment.interaction_id.in_(s.interaction_ids)),
        (IvrEvent, IvrEvent.interaction_id.in_(s.interaction_ids)),
        (Note, Note.case_id.in_(s.case_ids)),
        (CaseShare, CaseShare.case_id.in_(s.case_ids)),
        (CustomerMerge, or_(CustomerMerge.source_customer_id.in_(s.customer_ids),
                            CustomerMerge.target_customer_id.in_(s.customer_ids),
                            CustomerMerge.source_case_id.in_(s.case_ids),
                            CustomerMerge.target_case_id.in_(s.case_ids))),
        (Interaction, Interaction.case_id.in_(s.case_ids)),
        (Case, Case.customer_id.in_(s.customer_ids)),
        (Identity, Identity.customer_id.in_(s.customer_ids)),
        (Customer, Customer.id.in_(s.customer_ids)),
        (OptOut, OptOut.address.in_(sorted(addresses))),
    ):
        table = _table(model)
        out[table.name] = (table, where)
    return out


def read_rows(session: Session, subject: Subject) -> dict[str, list[dict[str, Any]]]:
    """Every row of `subject`, by table, parents first (as a person reads an export)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, (table, where) in reversed(selections(subject).items()):
        query: Select[Any] = select(table).where(where).order_by(*table.primary_key.columns)
        rows[name] = [dict(r._mapping) for r in session.execute(query)]
    return rows


def delete_rows(session: Session, subject: Subject) -> dict[str, int]:
    """Delete every row of `subject` (inside the caller's transaction); counts by table."""
    connection = session.connection()
    counts = {"cases.transcript_index": transcript_search.erase_interactions(
        connection, subject.interaction_ids)}
    for name, (table, where) in selections(subject).items():
        result = session.execute(delete(table).where(where))
        counts[f"cases.{name}"] = int(getattr(result, "rowcount", 0) or 0)
    if connection.dialect.name == "sqlite":
        # FTS5 keeps a deleted row's words in its segments until they are merged: merge
        # them all now (PostgreSQL's index is the segments' own, gone with their rows).
        fts = transcript_search.FTS_TABLE
        session.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('optimize')"))
    return counts
