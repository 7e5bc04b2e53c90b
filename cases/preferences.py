"""A customer's preferred channel: chosen, or inferred from how they contact us.

    explicit  the customer chose it: by replying a keyword ("EMAIL", "WhatsApp", "sms", in
              English or Spanish, `choice_in`) or by telling an agent (the desk's API)
    inferred  otherwise, the channel of most of their inbound contacts in the last
              `INFER_DAYS` days (ties: the latest), or none when they made none

Callback confirmations go there and the desk offers it first as the handover channel.
`PreferenceStore` owns its own database worker on the case store's database (like
`cases.opt_outs`), so `cases.store` does not grow a method per concern. Addresses are
personal data: they go back to the caller (to send on), never to a log.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import validate
from cases.db import DbWorker
from cases.errors import InvalidInput, NotFound, StorageError
from cases.models import Case, Customer, Identity, Interaction

#: What a customer may prefer; `voice` is "call me" (a confirmation then goes by text anyway).
PREFERRED_CHANNELS = ("sms", "whatsapp", "email", "chat", "voice")
INFER_DAYS = 90
SOURCES = ("explicit", "inferred", "none")

# A reply that is only one of these words (any case, accents, punctuation around it), or
# "prefer(ir)/prefiero X", chooses the channel. A longer message never does: "I will email
# you the photos" chooses nothing.
_KEYWORDS = {
    "sms": "sms", "text": "sms", "texto": "sms", "mensaje": "sms", "mensajes": "sms",
    "whatsapp": "whatsapp", "wa": "whatsapp", "wasap": "whatsapp",
    "email": "email", "e-mail": "email", "mail": "email", "correo": "email",
    "chat": "chat",
    "call": "voice", "phone": "voice", "llamada": "voice", "llamar": "voice",
    "telefono": "voice",
}
_PREFIX = re.compile(r"^(?:i\s+)?(?:prefer|preferir|prefiero|por)\s+", re.IGNORECASE)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def choice_in(body: str) -> str | None:
    """The channel a reply chooses, or None when it is not a choice (see `_KEYWORDS`)."""
    words = _fold(body).strip().strip(".!¡¿?,;:\"'()* ").strip()
    if len(words) > 40:
        return None
    words = _PREFIX.sub("", words)
    return _KEYWORDS.get(words.replace(" ", "")) if words else None


@dataclass(frozen=True)
class Preference:
    """A customer's preferred channel (None: nothing known), how it is known (`SOURCES`),
    since when (chosen at, or their latest contact on it), and the addresses we have for
    them by identity kind (phone, email, chat), latest first."""

    customer_id: int
    channel: str | None
    source: str
    since: datetime | None = None
    addresses: dict[str, list[str]] = field(default_factory=dict)

    def address_for(self, channel: str) -> str | None:
        """Where `channel` reaches the customer (sms/whatsapp/voice: a phone number)."""
        kind = {"sms": "phone", "whatsapp": "phone", "voice": "phone", "email": "email",
                "chat": "chat"}.get(channel)
        found = self.addresses.get(kind or "", [])
        return found[0] if found else None

    def to_dict(self) -> dict[str, object]:
        """The API's view (no addresses: the case's identities are shown elsewhere)."""
        return {"channel": self.channel, "source": self.source,
                "since": self.since.isoformat() if self.since else None}


def customer_of_case(session: Session, case_id: int) -> int:
    customer = session.scalar(select(Case.customer_id).where(Case.id == case_id))
    if customer is None:
        raise NotFound("case", case_id)
    return int(customer)


def preference(session: Session, customer_id: int, now: datetime,
               days: float = INFER_DAYS) -> Preference:
    """The customer's preference (see the module doc)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    addresses: dict[str, list[str]] = {}
    for ident in session.scalars(select(Identity).where(Identity.customer_id == customer_id)
                                 .order_by(Identity.created_at.desc(), Identity.id.desc())):
        addresses.setdefault(ident.kind, []).append(ident.value)
    if customer.preferred_channel is not None:
        return Preference(customer_id, customer.preferred_channel, "explicit",
                          customer.preferred_channel_at, addresses)
    rows = session.execute(
        select(Interaction.channel, Interaction.started_at)
        .join(Case, Case.id == Interaction.case_id)
        .where(Case.customer_id == customer_id, Interaction.direction == "inbound",
               Interaction.started_at >= now - timedelta(days=days))).all()
    if not rows:
        return Preference(customer_id, None, "none", None, addresses)
    counts = Counter(r.channel for r in rows)
    latest: dict[str, datetime] = {}
    for r in rows:
        latest[r.channel] = max(latest.get(r.channel, r.started_at), r.started_at)
    channel = max(counts, key=lambda c: (counts[c], latest[c]))
    return Preference(customer_id, channel, "inferred", latest[channel], addresses)


def choose(session: Session, customer_id: int, channel: str | None, now: datetime) -> None:
    """Record the customer's choice (None forgets it: inferred again)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    customer.preferred_channel = channel
    customer.preferred_channel_at = now if channel is not None else None


class PreferenceStore:
    """Async access to customers' preferred channels. `await PreferenceStore.open(url,
    now=clock)`; `await close()` when done."""

    def __init__(self, db: DbWorker, now: Callable[[], datetime]) -> None:
        self._db = db
        self._now = now

    @classmethod
    async def open(cls, url: str, *, now: Callable[[], datetime]) -> PreferenceStore:
        db = await DbWorker.open_migrated(
            url, workers=2, thread_name="preferences-db", name="the preference store",
            error=StorageError, hide_parameters=True)
        return cls(db, now)

    async def close(self) -> None:
        await self._db.close()

    async def of_case(self, case_id: int) -> Preference:
        """The preference of case `case_id`'s customer (NotFound for no such case)."""
        case_id = validate.row_id(case_id, "case")
        return await self._db.run(self._of_case, case_id)

    def _of_case(self, case_id: int) -> Preference:
        with Session(self._db.engine) as session:
            return preference(session, customer_of_case(session, case_id), self._now())

    async def choose_for_case(self, case_id: int, channel: str | None) -> Preference:
        """Record the choice of case `case_id`'s customer; their preference now.
        InvalidInput (`channel`) for a channel not in PREFERRED_CHANNELS."""
        case_id = validate.row_id(case_id, "case")
        if channel is not None and channel not in PREFERRED_CHANNELS:
            raise InvalidInput(f"one of {', '.join(PREFERRED_CHANNELS)}, or null", "channel")
        return await self._db.run(self._choose, case_id, channel)

    def _choose(self, case_id: int, channel: str | None) -> Preference:
        with Session(self._db.engine) as session, session.begin():
            customer_id = customer_of_case(session, case_id)
            choose(session, customer_id, channel, self._now())
            session.flush()
            return preference(session, customer_id, self._now())
