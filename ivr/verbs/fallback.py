"""Shared by `queue`, `callback` and `transfer`: follow `on_unavailable` when a service is absent."""

from __future__ import annotations

import logging

from ivr.verbs.base import HANGUP, IvrSession, Step

log = logging.getLogger(__name__)


async def unavailable(step: Step, session: IvrSession, reason: str) -> str:
    """Say clearly (log + recorded input) that the service is absent; follow the fallback.

    `on_unavailable:` if the step has it, else the call ends: a caller left in silence is
    worse than one told goodbye by the flow's own fallback.
    """
    log.warning("%s step %d: %s", step.verb, step.index, reason)
    await session.record_input("unavailable", {"verb": step.verb, "reason": reason}, step=step)
    target = step.params.get("on_unavailable")
    return str(target) if target is not None else HANGUP
