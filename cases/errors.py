"""Errors raised by the case store, as one typed tree (STYLE.md §8).

    CaseError
     ├── NotFound        a customer, case or interaction id (or call id) that is not stored
     ├── InvalidInput    a value the caller passed is malformed; says what and where
     ├── Conflict        the request contradicts what is stored
     │    ├── IdentityConflict  the identity belongs to another customer
     │    └── MergeConflict     two customers hold conflicting verified identities
     └── StorageError    the database failed underneath (wraps the SQLAlchemy error)

Every operation validates its input before it writes, so a rejected call never changes or
loses anything already stored.
"""

from __future__ import annotations


class CaseError(Exception):
    """Base of every error the case store raises."""


class NotFound(CaseError):
    """`what` (e.g. "case") with identifier `key` is not stored."""

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class InvalidInput(CaseError):
    """A malformed value: `what` is wrong with it, `where` names the argument or field."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{where}: {what}")
        self.what = what
        self.where = where


class Conflict(CaseError):
    """The request is well formed but contradicts what is stored; nothing was changed."""


class IdentityConflict(Conflict):
    """The identity of `kind` already belongs to customer `owner_id` (its value, personal
    data, stays out of the message)."""

    def __init__(self, kind: str, owner_id: int) -> None:
        super().__init__(f"this {kind} identity belongs to customer {owner_id}")
        self.kind = kind
        self.owner_id = owner_id


class MergeConflict(Conflict):
    """Customers `source_id` and `target_id` each hold a verified identity of `kind`: proof
    of two different people, so they are not merged."""

    def __init__(self, kind: str, source_id: int, target_id: int) -> None:
        super().__init__(
            f"customers {source_id} and {target_id} each have a verified {kind} identity "
            "of their own; refusing to merge two proven people"
        )
        self.kind = kind
        self.source_id = source_id
        self.target_id = target_id


class StorageError(CaseError):
    """The database refused or failed an operation (connection lost, disk full, ...)."""
