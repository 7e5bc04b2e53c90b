"""The SIP error tree.

    SipError
    ├── SipParseError         a message (or one header of it) is malformed; carries a reason
    │                         fit for a 400 reason phrase
    ├── TransactionError      an operation a transaction's current state does not allow
    │   └── TransactionTimeout    Timer B / F / H fired
    ├── DialogError           an in-dialog operation in the wrong dialog state
    ├── CallFailed            an INVITE (or re-INVITE) got a final error response; carries status
    ├── TransportError        a message could not be sent (no route, connection lost)
    └── AuthError             digest credentials missing, stale or wrong
"""

from __future__ import annotations


class SipError(Exception):
    """Base of every error raised by `voice.sip`."""


class SipParseError(SipError):
    """A SIP message or header value is malformed.

    `reason` is short and safe to send back as the reason phrase of a 400.
    """

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        # The response a request refused for this gets: 400, or 505 for another SIP version.
        self.status = status


class TransactionError(SipError):
    """An operation the transaction's current state does not allow."""


class TransactionTimeout(TransactionError):
    """A transaction timer (B, F or H) expired without the awaited message."""


class DialogError(SipError):
    """An in-dialog operation that the dialog's state does not allow."""


class CallFailed(SipError):
    """An INVITE or re-INVITE was answered with a final error response (3xx-6xx)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class TransportError(SipError):
    """A message could not be sent or a connection was lost."""


class AuthError(SipError):
    """Digest authentication failed: missing, stale or wrong credentials."""
