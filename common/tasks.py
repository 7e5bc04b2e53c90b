"""Task ownership helpers (STYLE.md §5: every task has an owner that cancels and awaits it)."""

from __future__ import annotations

import asyncio
from typing import Any

# How long a cancelled task may take to finish before it is cancelled again. A cancel can
# be lost: on Python 3.11 `asyncio.wait_for` returns the result of an inner await that
# completed just as the cancel came, and a loop around it goes on as if nothing happened.
# Cleanup that awaits (a BYE, a socket close) fits well within this.
RECANCEL_S = 5.0


async def cancel(*tasks: asyncio.Future[Any]) -> None:
    """Cancel what is still running and wait for all of it (results stay on the tasks); a
    task still running `RECANCEL_S` after its cancel is cancelled again, so one lost cancel
    costs seconds, not the owner's shutdown."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
    await asyncio.gather(*tasks, return_exceptions=True)
