"""Flows that read the caller's case: its facts and recent contacts as flow variables.

When the server wires a `CaseReader` (`Services.case`), a flow starts with every unmasked
case fact as `case_<key>` (`case_order_number`: "456") and the customer's recent contacts as
`case_contacts`, so YAML can greet a returning caller ("are you calling about your order
${case_order_number}?") and `branch` on them; a `gather` with `skip_if_known: true` whose
variable is a known fact takes it instead of asking again. Reading the case never fails a
call: without a reader, or when it fails, the variables are simply unset.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import TYPE_CHECKING

from ivr.services import KnownCase
from ivr.verbs.base import IvrSession

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

log = logging.getLogger(__name__)

PREFIX = "case_"
CONTACTS = "case_contacts"


@functools.lru_cache(maxsize=256)
def _mentions(version: str, text: str) -> bool:
    return PREFIX in text


def uses_case(flow: FlowDoc) -> bool:
    """Whether `flow` reads `case_*` variables (only then is the case read at its start:
    a flow that does not pays no database read). Cached per flow version."""
    return _mentions(flow.version, json.dumps([s.params for s in flow.steps], default=str))


async def read_case(session: IvrSession) -> KnownCase | None:
    """Read the case (fresh) into `case_*` variables; what it knows, or None."""
    reader = session.services.case
    if reader is None:
        return None
    try:
        known = await reader.known(session.call)
    except Exception as exc:  # a case store hiccup must cost the flow its shortcut, not the call
        log.warning("call %s: the case could not be read (%s)", session.call.id,
                    type(exc).__name__)
        return None
    for key, value in known.facts.items():
        session.vars[PREFIX + key] = value
    session.vars[CONTACTS] = known.contacts
    return known
