"""Merging two customers that turn out to be one person.

A customer first known by a chat visitor id may prove (through their site's HMAC) to be the
customer who called last week; an agent may see that the email sender and the caller are the
same person. `merge_customers(source, target)` makes the target the one customer:

- the source's identities become the target's;
- the interactions of the source's open case (their transcripts, IVR inputs and messages go
  with them) and its notes move onto the target's open case, and the emptied source case is
  closed; if the target has no open case, the source's open case becomes the target's;
- the source's closed cases become the target's, as they are;
- one `CustomerMerge` row records who merged, why, when, and everything that moved.

Two customers that each hold a *verified* identity of the same kind (two site accounts, two
numbers a carrier vouched for) are two proven people: the merge is refused with
MergeConflict and nothing changes. Two customers where one person was right is recoverable;
one customer holding two people's conversations is a privacy breach.

Blocking functions taking a `Session`: `CaseStore` runs them on its database thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cases.errors import InvalidInput, MergeConflict, NotFound
from cases.models import Case, Customer, CustomerMerge, Identity, Interaction, Note

# A chain of merges (A into B, B into C) is followed this far from a case; longer means a
# cycle, which merge_customers cannot make, so a corrupted audit rather than a real chain.
_MAX_CHAIN = 64


@dataclass(frozen=True)
class MergeResult:
    """What a merge did (the same facts as its audit row, `merge_id`)."""

    merge_id: int
    source_customer_id: int
    target_customer_id: int
    source_case_id: int | None
    target_case_id: int | None
    moved_interactions: tuple[int, ...]
    moved_cases: tuple[int, ...]
    moved_identities: tuple[tuple[str, str], ...]


def _open_case(session: Session, customer_id: int) -> Case | None:
    return session.scalar(
        select(Case).where(Case.customer_id == customer_id, Case.status == "open")
    )


def _check_verified(source: list[Identity], target: list[Identity], ids: tuple[int, int]) -> None:
    proven = {i.kind for i in target if i.verified}
    for identity in source:
        if identity.verified and identity.kind in proven:
            raise MergeConflict(identity.kind, *ids)


def merge_customers(
    session: Session, source_id: int, target_id: int, *, actor: str, reason: str | None,
    now: datetime,
) -> MergeResult:
    """Merge customer `source_id` into `target_id` (see the module's docstring).

    Raises InvalidInput when both are the same, NotFound for an unknown customer,
    MergeConflict for conflicting verified identities; then nothing has changed.
    """
    if source_id == target_id:
        raise InvalidInput("a customer cannot be merged into itself", "target_customer_id")
    # Lock both customers' rows, lowest id first so two opposite merges cannot deadlock. NO
    # KEY UPDATE (key_share): a message opening a case for one of them (its foreign key takes
    # KEY SHARE on the customer) is not blocked here while this merge waits for the identity
    # that message holds (cases.identity.resolve_customer locks it).
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer)
            .where(Customer.id.in_((source_id, target_id)))
            .order_by(Customer.id)
            .with_for_update(key_share=True)
        )
    }
    for customer_id, where in ((source_id, "source"), (target_id, "target")):
        if customer_id not in customers:
            raise NotFound(f"{where} customer", customer_id)
    source, target = customers[source_id], customers[target_id]
    identities = list(
        session.scalars(
            select(Identity)
            .where(Identity.customer_id.in_((source_id, target_id)))
            .order_by(Identity.id)
            .with_for_update()
        )
    )
    source_identities = [i for i in identities if i.customer_id == source_id]
    _check_verified(
        source_identities, [i for i in identities if i.customer_id == target_id],
        (source_id, target_id),
    )
    # Identities first: from here on every new message for the source lands on the target.
    for identity in source_identities:
        identity.customer_id = target_id
    session.flush()

    source_case = _open_case(session, source_id)
    target_case = _open_case(session, target_id)
    moved_interactions: list[int] = []
    if source_case is not None and target_case is not None:
        moved_interactions = list(
            session.scalars(
                select(Interaction.id)
                .where(Interaction.case_id == source_case.id)
                .order_by(Interaction.id)
            )
        )
        session.execute(
            update(Interaction)
            .where(Interaction.case_id == source_case.id)
            .values(case_id=target_case.id)
        )
        session.execute(
            update(Note).where(Note.case_id == source_case.id).values(case_id=target_case.id)
        )
        source_case.status = "closed"
        source_case.updated_at = now
        target_case.updated_at = now
        session.flush()
    elif source_case is not None:
        # The source's open case is the surviving one: it changes hands below.
        target_case = source_case
    moved_cases = list(
        session.scalars(select(Case.id).where(Case.customer_id == source_id).order_by(Case.id))
    )
    session.execute(update(Case).where(Case.customer_id == source_id).values(customer_id=target_id))
    if target.display_name is None and source.display_name is not None:
        target.display_name = source.display_name
    audit = CustomerMerge(
        source_customer_id=source_id,
        target_customer_id=target_id,
        source_case_id=None if source_case is None else source_case.id,
        target_case_id=None if target_case is None else target_case.id,
        moved_interactions=moved_interactions,
        moved_cases=moved_cases,
        moved_identities=[
            {"kind": i.kind, "value": i.value, "verified": i.verified} for i in source_identities
        ],
        actor=actor,
        reason=reason,
        at=now,
    )
    session.add(audit)
    session.flush()
    result = MergeResult(
        merge_id=audit.id,
        source_customer_id=source_id,
        target_customer_id=target_id,
        source_case_id=audit.source_case_id,
        target_case_id=audit.target_case_id,
        moved_interactions=tuple(moved_interactions),
        moved_cases=tuple(moved_cases),
        moved_identities=tuple((i.kind, i.value) for i in source_identities),
    )
    # The ORM's copies of the rows the bulk updates moved are stale now.
    session.expire_all()
    return result


def surviving_case(session: Session, case_id: int) -> int:
    """The case that holds what case `case_id` held, following merges (itself if it was
    never emptied by one). A link to a merged case (an email reply token) finds its way."""
    if session.get(Case, case_id) is None:
        raise NotFound("case", case_id)
    seen = {case_id}
    current = case_id
    for _ in range(_MAX_CHAIN):
        following = session.scalar(
            select(CustomerMerge.target_case_id)
            .where(
                CustomerMerge.source_case_id == current,
                CustomerMerge.target_case_id != current,
            )
            .order_by(CustomerMerge.id.desc())
            .limit(1)
        )
        if following is None or following in seen:
            return current
        seen.add(following)
        current = following
    return current
