"""Handover from a call: text the caller the summary and a chat link on the call's case.

`CallHandover` is the composition root's join of the call side (`voice.call.Call`, the
call's case through the routing case log) and the text side (`channels.handover.Handover`):

- the ACD's waiting room calls `deflect(call, queue)` when a caller presses the queue's
  `deflect_key` (`routing.waiting.Deflector`);
- the IVR's `handover` and `sms` verbs call `text(call, ...)` (found in
  `Services.extra["handover"]`).

Trust: a call from an untrusted source is never texted (the dial plan's source rule, asked
here and, for the waiting room, by the room itself); the number is the caller's own, and
the Twilio sender checks it against the dial plan and the opt-outs again. The summary is
remade from what is stored before it is sent, so what the caller said a moment ago is in it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cases.errors import CaseError
from cases.store import CaseStore
from channels.base import Refused, SendFailed
from channels.handover import Handover
from voice.call import Call

log = logging.getLogger(__name__)

CaseOf = Callable[[Call], Awaitable[int | None]]


class CallHandover:
    """Texts a caller the summary of their call and a link to continue by chat."""

    def __init__(self, handover: Handover, store: CaseStore, case_of: CaseOf,
                 gate: Any = None) -> None:
        """`case_of`: the call's case (opening its interaction if need be); `gate`: the dial
        plan (`callback_refusal(call, None)` says whether the call may make us send)."""
        self.handover = handover
        self.store = store
        self.case_of = case_of
        self.gate = gate

    async def deflect(self, call: Call, queue: Any) -> str | None:
        """A waiting caller asked for the chat link: None when sent, else why not."""
        return await self.text(call, channel="chat")

    async def text(self, call: Call, *, channel: str = "chat", text: str | None = None,
                   with_link: bool = True) -> str | None:
        """Text the caller on `channel` ("chat": the summary and link by SMS; "sms": the
        same, or `text` alone without the link when `with_link` is False). None when sent,
        else a short reason (never personal data)."""
        if self.gate is not None:
            refusal = self.gate.callback_refusal(call, None)
            if refusal is not None:
                return f"untrusted call: {refusal}"
        case_id = await self.case_of(call)
        if case_id is None:
            return "the call has no case"
        try:
            found = await self.store.find_interaction_by_call(call.id)
            if found is not None:
                await self.store.refresh_summary(found[0])
            if not with_link and self.handover.sms is not None:
                await self.handover.sms.send(case_id, "sms", text or "", to=call.caller)
            else:
                await self.handover.send(case_id, channel, text, to=call.caller,
                                         via="sms" if channel == "chat" else None)
        except Refused as exc:
            return exc.code
        except SendFailed:
            return "send_failed"
        except CaseError as exc:
            return type(exc).__name__
        log.info("call %s: handover text sent (case %d)", call.id, case_id)
        return None
