"""GDPR export and erasure: what every store that holds a customer's personal data offers.

A customer's data is spread over stores owned by different packages: the case rows
(`cases`), recording files and their index (`recordings`), callbacks in the routing tables
and Redis (`routing`), attachment bytes, voicemail files and debug captures on disk. Each
store is a `Holder`: it exports what it holds about a `Subject` into an `Archive` and erases
it. The composition root (`centralita.gdpr_setup`) registers the holders; `cases.gdpr_erase`
runs them, the case rows last, so a run that stopped half-way still finds everything the
remaining stores need (the subject is read from the case rows) and is finished by running it
again.

    Holder.export(subject, archive)   add its rows (JSON) and files to the archive
    Holder.check(subject)             (optional) raise ErasureRefused if it may not erase now;
                                      every holder is asked before any erases
    Holder.erase(subject)             delete them, in one transaction per store; idempotent;
                                      returns {"<store>.<what>": count}

Errors:

    GdprError
      ├── ErasureRefused   a store may not erase now (a legal hold, a call still recorded)
      ├── MergedAway       the customer was merged into another: that one is the person
      └── (cases.errors.NotFound for an unknown customer)

Nothing here logs a value of the subject: only counts and ids.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class GdprError(Exception):
    """The root of this module's errors."""


class ErasureRefused(GdprError):
    """A store cannot erase the subject now; nothing was erased by that store. `store` names
    it, `reason` says why without personal data."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"{store}: {reason}")
        self.store = store
        self.reason = reason


class MergedAway(GdprError):
    """The customer row was merged into `target_id` (`cases.merge`): its identities, cases
    and messages are that customer's now, so the person is exported or erased through it."""

    def __init__(self, customer_id: int, target_id: int) -> None:
        super().__init__(f"customer {customer_id} was merged into customer {target_id}")
        self.customer_id = customer_id
        self.target_id = target_id


@dataclass(frozen=True)
class Subject:
    """Everything that names one person in the case rows: their customer row and the rows
    merged into it (`customer_ids`), their cases, interactions (with the calls' ids), message
    ids, identities by kind (phones in E.164), the addresses their messages came from or went
    to, the keys of their attachments (and which of them are shared) and the voicemail files the IVR stored for them."""

    customer_id: int
    customer_ids: tuple[int, ...]
    case_ids: tuple[int, ...] = ()
    case_public_ids: tuple[str, ...] = ()
    interaction_ids: tuple[int, ...] = ()
    call_ids: tuple[str, ...] = ()
    message_ids: tuple[int, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    chat_handles: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    attachment_keys: tuple[str, ...] = ()
    # Of those, the ones other people's messages hold too (attachments are stored by content
    # hash, once): exported, never erased.
    shared_attachment_keys: tuple[str, ...] = ()
    voicemail_paths: tuple[str, ...] = ()

    def __repr__(self) -> str:  # ids only: a traceback must not carry the person's values
        return (f"Subject(customer_id={self.customer_id}, customers={len(self.customer_ids)}, "
                f"cases={len(self.case_ids)}, interactions={len(self.interaction_ids)})")


class Archive:
    """One zip file being written: JSON documents and files, under names the holders choose
    (`cases/customers.json`, `recordings/<id>.opus`). Created 0600: it is all personal data."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.path = path
        self._zip = zipfile.ZipFile(os.fdopen(fd, "wb"), "w", zipfile.ZIP_DEFLATED)
        self.names: list[str] = []

    def add_json(self, name: str, value: Any) -> None:
        """`value` as indented JSON; datetimes and other non-JSON values as strings."""
        data = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
        self._add(name, data.encode())

    def add_bytes(self, name: str, data: bytes) -> None:
        self._add(name, data)

    def add_file(self, name: str, path: Path) -> None:
        if name in self.names:
            raise ValueError(f"archive already holds {name}")
        self._zip.write(path, name)
        self.names.append(name)

    def _add(self, name: str, data: bytes) -> None:
        if name in self.names:
            raise ValueError(f"archive already holds {name}")
        self._zip.writestr(name, data)
        self.names.append(name)

    def close(self) -> None:
        self._zip.close()


class Holder(Protocol):
    """A store holding personal data about customers (see the module docstring). `name` is
    the prefix of its archive entries and of its erasure counts."""

    name: str

    async def export(self, subject: Subject, archive: Archive) -> None: ...

    async def erase(self, subject: Subject) -> dict[str, int]: ...


class Checked(Protocol):
    """A holder that may refuse an erasure (`Holder.check`)."""

    async def check(self, subject: Subject) -> None: ...


def row_dict(row: Any) -> dict[str, Any]:
    """A SQLAlchemy Core row (or ORM object's table row) as a plain dict."""
    return dict(row._mapping)
