"""`transfer`: dial a SIP URI or a number and bridge the caller to it.

    - transfer:
        to: "sip:desk@pbx.example"   # or "+34911234567", "${agent_uri}"
        timeout: 30                   # seconds of ringing, default 30
        on_no_answer: voicemail       # label if nobody answers (default: next step)
        on_unavailable: sorry         # label if this server cannot transfer (default: hang up)
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from ivr.services import ServiceUnavailable
from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, check_label, register
from ivr.verbs.fallback import unavailable
from ivr.verbs.goto import LABEL

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

log = logging.getLogger(__name__)

_TARGET = re.compile(r"^(sips?:[^@\s]+@[^\s]+|sips?:[^\s@]+|\+?[0-9*#]{2,32})$")


class TransferVerb:
    """Transfer through `services.transferer` (voice's outbound dial + bridge)."""

    name = "transfer"
    shorthand = "to"
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["to"],
        "additionalProperties": False,
        "properties": {
            "to": {"type": "string", "minLength": 1},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
            "on_no_answer": LABEL,
            "on_unavailable": LABEL,
        },
    }

    def check(self, step: Step, flow: FlowDoc, problems: Problems) -> None:
        target = step.params.get("to")
        if isinstance(target, str) and "${" not in target and not _TARGET.match(target):
            problems.add(step.at("to"),
                         f"transfer: '{target}' is neither a sip: URI nor a phone number")
        check_label(step, "on_no_answer", flow, problems)
        check_label(step, "on_unavailable", flow, problems)

    async def run(self, step: Step, session: IvrSession) -> str | None:
        transferer = session.services.transferer
        if transferer is None:
            return await unavailable(step, session, "transfers are not available on this server")
        target = session.render(step.params["to"])
        ring = float(step.params.get("timeout", 30))
        try:
            answered = await transferer.transfer(session.call, target, ring_timeout=ring)
        except ServiceUnavailable as exc:
            return await unavailable(step, session, str(exc))
        await session.record_input("transfer", {"answered": answered}, step=step)
        if answered:
            return HANGUP
        target_label = step.params.get("on_no_answer")
        return str(target_label) if target_label is not None else None


VERB = register(TransferVerb())
