"""The interpreter: runs a flow on a call, step by step, until it hangs up or the caller does.

    interpreter = Interpreter(registry, services, clock=clock)
    run = await interpreter.run(call)          # the flow for call.dialed, from the registry

Each call takes the flow version current when it starts and keeps it to the end (the registry
may load a new one meanwhile). A loop guard ends calls that run more than `max_steps` steps
(a flow's own `max_steps:` wins), so a `goto` loop without input can't spin forever. The path
taken is recorded as the input `path` when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ivr.case_vars import read_case, uses_case
from ivr.services import Services
from ivr.session import Session
from ivr.verbs.all import load_all
from ivr.verbs.base import HANGUP, Step
from voice.call import CallState, Privacy

if TYPE_CHECKING:
    from ivr.flow import FlowDoc
    from media.clock import Clock
    from voice.call import Call

log = logging.getLogger(__name__)

DEFAULT_MAX_STEPS = 1000


class FlowSource(Protocol):
    """Where the interpreter finds the flow for a dialed number (`FlowRegistry`)."""

    def flow_for(self, dialed: str) -> FlowDoc | None: ...


class EndReason(enum.Enum):
    HANGUP = "hangup"  # a step hung up
    END = "end"  # the flow ran out of steps
    CALLER = "caller"  # the caller (or anything else) ended the call first
    LOOP_GUARD = "loop_guard"
    ERROR = "error"  # a verb failed unexpectedly
    NO_FLOW = "no_flow"


@dataclass
class FlowRun:
    """What a run did: the path taken (step index, verb, label), why it ended, its session."""

    flow: FlowDoc | None
    reason: EndReason
    path: list[dict[str, Any]] = field(default_factory=list)
    session: Session | None = None


def _entry(step: Step) -> dict[str, Any]:
    return {"step": step.index, "verb": step.verb, "label": step.label}


class Interpreter:
    """Runs flows on calls; one instance serves every call."""

    def __init__(
        self,
        flows: FlowSource | None,
        services: Services,
        *,
        clock: Clock,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.flows = flows
        self.services = services
        self.clock = clock
        self.max_steps = max_steps
        self.verbs = load_all()

    async def run(
        self, call: Call, flow: FlowDoc | None = None, *, variables: dict[str, Any] | None = None
    ) -> FlowRun:
        """Run `flow` (default: the registry's flow for `call.dialed`) on `call` to its end.

        `variables` seed the flow's variables (beside `caller` and `dialed`).
        """
        if flow is None and self.flows is not None:
            flow = self.flows.flow_for(call.dialed)
        if flow is None:
            log.warning("call %s: no flow serves the dialed number", call.id)
            call.hangup("no_flow")
            return FlowRun(None, EndReason.NO_FLOW)
        session = Session(call, flow, self.services, self.clock)
        session.vars.update(variables or {})
        if uses_case(flow):  # case_* variables, when the server reads cases (ivr.case_vars)
            await read_case(session)
        run = FlowRun(flow, EndReason.END, session=session)
        log.info("call %s: flow %s (version %s)", call.id, flow.name, flow.version)
        try:
            if flow.answer and call.state in (CallState.NEW, CallState.RINGING):
                await call.answer()
            run.reason = await self._steps(call, flow, session, run.path)
        finally:
            if flow.steps:
                await session.record_input("path", run.path, step=flow.steps[0])
            log.info("call %s: flow %s ended (%s) after %d steps",
                     call.id, flow.name, run.reason.value, len(run.path))
            call.hangup(f"ivr_{run.reason.value}")
        return run

    async def _steps(
        self, call: Call, flow: FlowDoc, session: Session, path: list[dict[str, Any]]
    ) -> EndReason:
        limit = flow.max_steps or self.max_steps
        index = 0
        while index < len(flow.steps):
            if call.state is CallState.ENDED:
                return EndReason.CALLER
            if len(path) >= limit:
                log.warning("call %s: flow %s: loop guard, %d steps run", call.id, flow.name, limit)
                return EndReason.LOOP_GUARD
            step = flow.steps[index]
            path.append(_entry(step))
            try:
                outcome = await self._run_step(call, step, session)
            except _CallEnded:
                return EndReason.CALLER
            except Exception as exc:  # noqa: BLE001 - any verb failure must end the call cleanly
                # The exception's text may quote caller data; its class and the step suffice.
                log.error("call %s: flow %s step %d (%s) failed: %s",
                          call.id, flow.name, step.index, step.verb, type(exc).__name__)
                log.debug("verb failure", exc_info=True)
                return EndReason.ERROR
            if outcome is None:
                index += 1
            elif outcome == HANGUP:
                return EndReason.HANGUP
            elif outcome in flow.labels:
                index = flow.labels[outcome]
            else:
                log.error("call %s: flow %s step %d jumped to an unknown label",
                          call.id, flow.name, step.index)
                return EndReason.ERROR
        return EndReason.END

    async def _run_step(self, call: Call, step: Step, session: Session) -> str | None:
        """Run one verb; if the call ends meanwhile, cancel the verb and say so."""
        # In a sensitive step the call itself keeps only masked digits (its debug record,
        # anything that reads call.digits); the verb still receives the real key events.
        call.sensitive_input = step.sensitive
        # ...and nothing keeps its audio (transcripts, recording, debug capture): the caller
        # may say the card number. An agent's or the API's pause already on is left alone.
        paused_by: str | None = None
        if step.sensitive and call.privacy is Privacy.OPEN and call.state is not CallState.ENDED:
            paused_by = _privacy_holder(step)
            call.pause_privacy(paused_by)
        try:
            return await self._verb(call, step, session)
        finally:
            call.sensitive_input = False
            if paused_by is not None and call.privacy_by == paused_by:
                call.resume_privacy(paused_by)

    async def _verb(self, call: Call, step: Step, session: Session) -> str | None:
        verb_task = asyncio.ensure_future(self.verbs[step.verb].run(step, session))
        ended = asyncio.ensure_future(call.wait_ended())
        try:
            await asyncio.wait({verb_task, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (verb_task, ended):
                if not task.done():
                    task.cancel()
            for task in (ended, verb_task):
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(task, return_exceptions=task is ended)
        if verb_task.cancelled():
            raise _CallEnded
        return verb_task.result()


def _privacy_holder(step: Step) -> str:
    """Who pauses privacy for a sensitive step, as the case shows it (never a value)."""
    return f"ivr:{step.label}" if step.label else f"ivr:step {step.index}"


class _CallEnded(Exception):
    """The call ended while a step was running."""
