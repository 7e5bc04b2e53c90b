"""Login throttling: the shared lockout policy (`common.lockout`) applied to POST /api/login.

An attempt is reserved before its password is hashed and settled after, so concurrent
guesses count while they are being checked. Wrong passwords lock the (user, source address)
pair, with longer lockouts each time it recurs; a higher per-user ceiling across all addresses
and a per-address ceiling across users stop distributed guessing and spraying, yet let in a
source that signed in as that user recently, so nobody can lock the admin out of their own
desk by guessing from elsewhere. While a limit holds, every attempt is refused, the right
password included, so guessing cannot go on at a slower pace.
"""

from __future__ import annotations

from common.lockout import Attempt, LockoutPolicy, Lockouts, Now, Refused

__all__ = ["Attempt", "LoginThrottle", "Refused", "ThrottlePolicy"]

#: The login's limits: the shared policy's defaults (5 per user and address, 20 per user,
#: 20 per address, in 5 minutes; lockouts from 5 minutes doubling up to a day).
ThrottlePolicy = LockoutPolicy


class LoginThrottle(Lockouts):
    """Decide whether a login attempt may be checked at all (`reserve`), then settle it."""

    def __init__(self, now: Now, policy: ThrottlePolicy | None = None) -> None:
        super().__init__(now, policy)
