"""Password hashing with argon2id (argon2-cffi), and the rules a new password must meet.

Hashing is deliberately slow (tens of milliseconds and 64 MiB with the library's defaults):
callers on the event loop run `hash`/`verify` in a worker thread. Tests pass cheaper
parameters through `PasswordHasher(cost=...)`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
# argon2 hashes whatever it is given; a megabyte "password" would only cost us CPU.
MAX_PASSWORD_LENGTH = 256


class WeakPassword(ValueError):
    """A new password breaks the length rules; the message says which."""


def check_new_password(password: object) -> str:
    """`password` if it is acceptable as a new password, else `WeakPassword`."""
    if not isinstance(password, str):
        raise WeakPassword("password must be text")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    return password


@dataclass(frozen=True)
class HashCost:
    """argon2id parameters (RFC 9106 names); the defaults are argon2-cffi's."""

    time_cost: int = argon2.DEFAULT_TIME_COST
    memory_cost: int = argon2.DEFAULT_MEMORY_COST
    parallelism: int = argon2.DEFAULT_PARALLELISM


class PasswordHasher:
    """Hash and verify passwords; `verify` is constant-time with respect to the password."""

    def __init__(self, cost: HashCost | None = None) -> None:
        cost = cost or HashCost()
        self._hasher = argon2.PasswordHasher(
            time_cost=cost.time_cost, memory_cost=cost.memory_cost, parallelism=cost.parallelism
        )
        # Verified when the user does not exist, so a wrong name costs as much as a wrong
        # password and response times do not tell which names exist.
        self._decoy = self._hasher.hash("no such user: decoy password")

    def hash(self, password: str) -> str:
        """An encoded argon2id hash (`$argon2id$v=19$...`), salt included."""
        return self._hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        """True when `password` matches `encoded`; with None, burn the same time and say no."""
        if encoded is None:
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._decoy, password)
            return False
        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True when `encoded` was made with other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True
