"""Errors raised by the case store, as one typed tree (STYLE.md §8).

    CaseError
     ├── NotFound        a customer, case or interaction id (or call id) that is not stored
     ├── InvalidInput    a value the caller passed is malformed; says what and where
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


class StorageError(CaseError):
    """The database refused or failed an operation (connection lost, disk full, ...)."""
