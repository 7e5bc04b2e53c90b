"""Work that runs beside a call's handler for the life of the call (transcription, recording).

The handler (the IVR, the demo) owns the call; a companion task follows it and must finish
its last writes once the handler is done, so the call is hung up first (if the handler left
it up) and the companion awaited, its failure logged and never raised into the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from voice.call import Call, CallState

log = logging.getLogger(__name__)


async def run_beside(
    call: Call, handler: Callable[[Call], Awaitable[None]], companion: Awaitable[None],
    what: str,
) -> None:
    """Run `handler(call)` with `companion` beside it; `what` names the companion in logs."""
    task = asyncio.ensure_future(companion)
    try:
        await handler(call)
    finally:
        if call.state is not CallState.ENDED:
            call.hangup("handler-done")
        try:
            await task
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: %s failed", call.id, what)
