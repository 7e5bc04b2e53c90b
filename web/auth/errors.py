"""What can go wrong in login and user administration, translated to HTTP at the boundary.

    AuthError
    ├── InvalidInput      a bad name, role or password in a request or on the command line (400)
    ├── NotFound          no such user or token (404)
    ├── Conflict          the name is taken, or the change would leave no enabled admin (409)
    └── StorageError      the database failed (503); the cause stays chained

Messages name what was wrong and where, never a password or a token.
"""

from __future__ import annotations


class AuthError(Exception):
    """Base of the login and user-store errors."""

    code = "auth_error"


class InvalidInput(AuthError):
    """A value a user gave is unacceptable; `where` names the field."""

    code = "invalid_input"

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what


class NotFound(AuthError):
    """No user or token of that name."""

    code = "not_found"


class Conflict(AuthError):
    """The request clashes with what is stored; `code` says how."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class StorageError(AuthError):
    """The user database is unavailable."""

    code = "storage_unavailable"
