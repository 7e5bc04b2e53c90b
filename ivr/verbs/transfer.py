"""`transfer`: dial a SIP URI or a number and bridge the caller to it.

    - transfer:
        to: "sip:desk@pbx.example"   # or "+34911234567", "${agent_uri}"
        timeout: 30                   # seconds of ringing, default 30
        on_no_answer: voicemail       # label if nobody answers, busy or failed (default: next step)
        on_unavailable: sorry         # label if this server cannot transfer (default: hang up)

Answered, the step lasts as long as the bridged call and then goes on to the next step (usually
`hangup`). What happened (result, duration, who hung up) is recorded as a `transfer` input.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from ivr.services import ServiceUnavailable, TransferOutcome
from ivr.verbs.base import HANGUP, IvrSession, Problems, Step, check_label, register
from ivr.verbs.fallback import unavailable
from ivr.verbs.goto import LABEL

if TYPE_CHECKING:
    from ivr.flow import FlowDoc

log = logging.getLogger(__name__)

# How long a cancelled transfer (the caller hung up) gets to end its bridge and report.
_CANCEL_GRACE_S = 2.0

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
        task = asyncio.ensure_future(transferer.transfer(session.call, target, ring_timeout=ring))
        try:
            outcome = await asyncio.shield(task)
        except ServiceUnavailable as exc:
            return await unavailable(step, session, str(exc))
        except asyncio.CancelledError:
            # The caller hung up (the interpreter cancels the step): the transferer sees it too
            # and ends the bridge; wait briefly for its outcome so it is still recorded.
            await self._record_after_cancel(task, step, session)
            raise
        if outcome.result == "unavailable":
            return await unavailable(step, session, outcome.reason)
        await session.record_input("transfer", outcome.summary(), step=step)
        if outcome.answered:
            # The bridge has ended; the flow's next step decides what the caller hears.
            return None
        if outcome.result == "abandoned":
            return HANGUP
        target_label = step.params.get("on_no_answer")
        return str(target_label) if target_label is not None else None

    @staticmethod
    async def _record_after_cancel(
        task: asyncio.Future[TransferOutcome], step: Step, session: IvrSession
    ) -> None:
        try:
            outcome = await asyncio.wait_for(task, _CANCEL_GRACE_S)
        except (TimeoutError, asyncio.CancelledError, ServiceUnavailable):
            return  # wait_for cancelled and awaited the task on timeout
        await session.record_input("transfer", outcome.summary(), step=step)


VERB = register(TransferVerb())
