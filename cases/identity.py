"""Who is this? Normalised identities, so the same person is one customer on every channel.

A phone number arrives as `+1 (555) 010-0199`, `sip:+15550100199@trunk;user=phone`,
`tel:+1-555-010-0199`, `whatsapp:+15550100199` (Twilio's WhatsApp address) or, dialled
nationally, `(555) 010-0199`; all of them must find the same customer. Numbers are parsed with
`phonenumbers` (Google's libphonenumber metadata) and kept in E.164. A national number only
has a country through the deployment's default region: with region ES, `612 345 678` is
`+34612345678`; without a region it is refused rather than guessed (reading its digits as
`+612345678` made a Spanish mobile an Australian number, and one person two customers).

Email addresses are lower-cased (every major provider ignores case in the local part, and
two customers for one person is the worse error) with the domain in its IDNA ASCII form. A
chat visitor id is opaque: the widget issued it.

`resolve_customer` maps a normalised identity to its customer inside a session, creating both
when the identity is new.
"""

from __future__ import annotations

import email.utils
import re
from datetime import datetime
from typing import Literal, get_args

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.errors import IdentityConflict, InvalidInput, NotFound
from cases.models import Case, Customer, Identity

IdentityKind = Literal["phone", "email", "chat"]
IDENTITY_KINDS: frozenset[str] = frozenset(get_args(IdentityKind))

# Which identity names the customer on each channel: WhatsApp numbers are phone numbers.
CHANNEL_IDENTITY: dict[str, IdentityKind] = {
    "voice": "phone",
    "sms": "phone",
    "whatsapp": "phone",
    "email": "email",
    "chat": "chat",
}

# What carriers and PBXs put in From when the caller withheld the number (RFC 3323 and
# common practice). Such a caller gets a customer with no phone identity.
ANONYMOUS_CALLERS = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})

_VISUAL_SEPARATORS = re.compile(r"[\s().\-/]")  # RFC 3966 visual separators, plus spaces
_PHONE = re.compile(r"\+?[0-9]+")  # ASCII digits only: letters (vanity numbers) are refused
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCHEMES = ("sips:", "sip:", "tel:", "whatsapp:")
# libphonenumber gives up past 250 characters; anything that long is not a number anyway.
_MAX_PHONE_INPUT = 250


def _strip_uri(raw: str) -> str:
    """The user part of a sip:/sips:/tel:/whatsapp: URI (or the value itself), without
    parameters."""
    value = raw.strip().strip("<>")
    lowered = value.lower()
    for scheme in _SCHEMES:
        if lowered.startswith(scheme):
            value = value[len(scheme) :]
            break
    value = value.split("@", 1)[0]
    return value.split(";", 1)[0]


def is_anonymous_caller(raw: str) -> bool:
    """True when the caller's number was withheld (no identity can be resolved)."""
    return _strip_uri(raw).strip().lower() in ANONYMOUS_CALLERS


def check_region(region: str | None, *, where: str = "default_region") -> str | None:
    """`region` as an ISO 3166 alpha-2 code libphonenumber knows (upper-cased), or None."""
    if region is None:
        return None
    if not isinstance(region, str) or region.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"not a region code phone numbers know (e.g. ES, US): {region!r}", where)
    return region.strip().upper()


def _possible(candidate: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    # Possible (right length for its country), not valid (a range the metadata lists): the
    # 555-01xx fiction range, or a range newer than the installed metadata, must still be one
    # person; a wrong length is a typo or a short code.
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(raw: str, *, region: str | None = None, where: str = "phone") -> str:
    """The E.164 form of `raw`: `+1 (555) 010-0199` -> `+15550100199`.

    A number without `+` is national to `region` (its international prefix, e.g. `00` in
    Spain or `0011` in Australia, is understood too); without a region only a leading `00`
    counts as `+`. Raises InvalidInput naming `where` for anything that is not a possible
    number: letters, a wrong length, an unknown country code, a national number with no region.
    """
    if not isinstance(raw, str):
        raise InvalidInput("a phone number is a string", where)
    value = _VISUAL_SEPARATORS.sub("", _strip_uri(raw))
    if len(value) > _MAX_PHONE_INPUT or not _PHONE.fullmatch(value):
        raise InvalidInput("not a phone number (digits, spaces, ()-./ and a leading +)", where)
    candidates: list[str] = []
    if value.startswith("+"):
        candidates.append(value)
    elif region is not None:
        candidates.append(value)
        if value.startswith("00"):
            # `00` is the international prefix almost everywhere, even where the region's
            # own is another (0011, 011): a carrier may have normalised it so.
            candidates.append("+" + value[2:])
    elif value.startswith("00"):
        candidates.append("+" + value[2:])
    else:
        raise InvalidInput(
            "a national number (no + or 00) needs a default region to say its country", where
        )
    for candidate in candidates:
        e164 = _possible(candidate, region)
        if e164 is not None:
            return e164
    raise InvalidInput("not a possible phone number (wrong length or unknown country code)", where)


def normalize_email(raw: str, *, where: str = "email") -> str:
    """`Ana <Ana.Perez@Example.COM.>` -> `ana.perez@example.com`; `mailto:` is dropped and an
    internationalised domain is stored in its ASCII (IDNA) form."""
    if not isinstance(raw, str):
        raise InvalidInput("an email address is a string", where)
    value = raw.strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    if "<" in value:
        value = email.utils.parseaddr(value)[1]
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local) > 64:
        raise InvalidInput("not an email address", where)
    try:
        domain = domain.rstrip(".").lower().encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidInput("not an email address (bad domain)", where) from exc
    value = f"{local.lower()}@{domain}"
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput("not an email address", where)
    return value


def normalize_chat(raw: str, *, where: str = "chat") -> str:
    """A chat visitor id is opaque (its widget issued it): only surrounding spaces go."""
    if not isinstance(raw, str):
        raise InvalidInput("a chat visitor id is a string", where)
    value = raw.strip()
    if not value or len(value) > 255 or "\x00" in value:
        raise InvalidInput("a chat visitor id has 1 to 255 characters, without NUL", where)
    return value


def normalize_identity(
    kind: str, raw: str, *, region: str | None = None, where: str | None = None
) -> str:
    """The stored form of an identity of `kind` (phone, email or chat)."""
    if kind == "phone":
        return normalize_phone(raw, region=region, where=where or "phone")
    if kind == "email":
        return normalize_email(raw, where=where or "email")
    if kind == "chat":
        return normalize_chat(raw, where=where or "chat")
    raise InvalidInput(f"unknown identity kind {kind!r}", "kind")


class IdentityParser:
    """Normalises identities with the deployment's default region (settings `default_region`).

    `IdentityParser("ES")`: a nationally dialled `612 345 678` is `+34612345678`.
    """

    def __init__(self, default_region: str | None = None) -> None:
        self.default_region = check_region(default_region)

    def phone(self, raw: str, *, where: str = "phone") -> str:
        """See `normalize_phone`."""
        return normalize_phone(raw, region=self.default_region, where=where)

    def identity(self, kind: str, raw: str, *, where: str | None = None) -> str:
        """See `normalize_identity`."""
        return normalize_identity(kind, raw, region=self.default_region, where=where)

    def for_channel(self, channel: str, raw: str, *, where: str) -> tuple[IdentityKind, str]:
        """The identity (kind, value) naming the customer at address `raw` on `channel`."""
        kind = CHANNEL_IDENTITY.get(channel)
        if kind is None:
            raise InvalidInput(f"unknown channel {channel!r}", "channel")
        return kind, self.identity(kind, raw, where=where)


def resolve_customer(
    session: Session, kind: str, value: str, now: datetime, *, verified: bool = False
) -> int:
    """The id of the customer whose identity is (`kind`, normalised `value`), made if new.

    `verified` says the channel proved the identity (a signed provider webhook, an HMAC from
    the customer's site); a stored unverified identity becomes verified, never the reverse.
    The identity row is locked (PostgreSQL) so a concurrent merge moving it is waited for and
    its new owner seen. Two first contacts racing to create it: the loser gets IntegrityError
    from the unique (kind, value) and resolves again.
    """
    identity = session.scalar(
        select(Identity).where(Identity.kind == kind, Identity.value == value).with_for_update()
    )
    if identity is not None:
        if verified and not identity.verified:
            identity.verified = True
        return identity.customer_id
    customer = Customer(created_at=now)
    session.add(customer)
    session.flush()
    session.add(
        Identity(customer_id=customer.id, kind=kind, value=value, verified=verified, created_at=now)
    )
    session.flush()
    return customer.id


def attach_identity(
    session: Session, customer_id: int, kind: str, value: str, now: datetime,
    *, verified: bool = False,
) -> bool:
    """Give customer `customer_id` the identity (`kind`, `value`); True if it was new.

    Raises IdentityConflict when another customer holds it (merging is a decision, see
    `cases.merge`), NotFound for an unknown customer.
    """
    if session.get(Customer, customer_id) is None:
        raise NotFound("customer", customer_id)
    identity = session.scalar(
        select(Identity).where(Identity.kind == kind, Identity.value == value).with_for_update()
    )
    if identity is None:
        session.add(
            Identity(
                customer_id=customer_id, kind=kind, value=value, verified=verified, created_at=now
            )
        )
        session.flush()
        return True
    if identity.customer_id != customer_id:
        raise IdentityConflict(kind, identity.customer_id)
    if verified and not identity.verified:
        identity.verified = True
    return False


def open_case_for(session: Session, customer_id: int, now: datetime) -> tuple[Case, bool]:
    """The customer's one open case, opened now if there is none; (case, whether it is new).

    A partial unique index allows one open case per customer: a racing second opener gets
    IntegrityError and resolves again.
    """
    case = session.scalar(
        select(Case).where(Case.customer_id == customer_id, Case.status == "open")
    )
    if case is not None:
        return case, False
    case = Case(customer_id=customer_id, status="open", created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    return case, True
