"""Normalisation of customer identities, so the same person is recognised on every channel.

A phone number arrives as `+1 (555) 010-0199`, `0015550100199`, `sip:+15550100199@trunk;user=phone`
or `tel:+1-555-010-0199`; all of them must find the same customer. We keep the E.164 shape
(`+` then 3 to 15 digits) without trying to guess a country for national numbers: that needs a
dialing plan per deployment, which belongs in settings, not here.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from cases.errors import InvalidInput

IdentityKind = Literal["phone", "email", "chat"]
IDENTITY_KINDS: frozenset[str] = frozenset(get_args(IdentityKind))

# What carriers and PBXs put in From when the caller withheld the number (RFC 3323 and
# common practice). Such a caller gets a customer with no phone identity.
ANONYMOUS_CALLERS = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})

_VISUAL_SEPARATORS = re.compile(r"[\s().\-/]")  # RFC 3966 visual separators, plus spaces
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _strip_uri(raw: str) -> str:
    """The user part of a sip:/sips:/tel: URI (or the value itself), without parameters."""
    value = raw.strip().strip("<>")
    lowered = value.lower()
    for scheme in ("sips:", "sip:", "tel:"):
        if lowered.startswith(scheme):
            value = value[len(scheme) :]
            break
    value = value.split("@", 1)[0]
    return value.split(";", 1)[0]


def is_anonymous_caller(raw: str) -> bool:
    """True when the caller's number was withheld (no identity can be resolved)."""
    return _strip_uri(raw).strip().lower() in ANONYMOUS_CALLERS


def normalize_phone(raw: str, *, where: str = "phone") -> str:
    """`+` followed by the digits: `+1 (555) 010-0199` -> `+15550100199`.

    A leading `00` (the international call prefix in most of the world) counts as `+`.
    Anything else than digits and visual separators is rejected.
    """
    value = _VISUAL_SEPARATORS.sub("", _strip_uri(raw))
    if value.startswith("+"):
        digits = value[1:]
    elif value.startswith("00"):
        digits = value[2:]
    else:
        digits = value
    if not digits.isascii() or not digits.isdigit():
        raise InvalidInput("not a phone number (digits, spaces, ()-./ and a leading +)", where)
    if not 3 <= len(digits) <= 15:
        raise InvalidInput(f"a phone number has 3 to 15 digits, got {len(digits)}", where)
    return "+" + digits


def normalize_email(raw: str, *, where: str = "email") -> str:
    """Trimmed and lower-cased; local parts are case-insensitive in practice everywhere."""
    value = raw.strip().lower()
    if value.startswith("mailto:"):
        value = value[len("mailto:") :]
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput("not an email address", where)
    return value


def normalize_chat(raw: str, *, where: str = "chat") -> str:
    """A chat handle is opaque (its widget issued it): only surrounding spaces go."""
    value = raw.strip()
    if not value or len(value) > 255:
        raise InvalidInput("a chat handle has 1 to 255 characters", where)
    return value


def normalize_identity(kind: str, raw: str) -> str:
    """The stored form of an identity of `kind` (phone, email or chat)."""
    if kind == "phone":
        return normalize_phone(raw)
    if kind == "email":
        return normalize_email(raw)
    if kind == "chat":
        return normalize_chat(raw)
    raise InvalidInput(f"unknown identity kind {kind!r}", "kind")
