"""Task ownership helpers (STYLE.md §5: every task has an owner that cancels and awaits it)."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel(*tasks: asyncio.Future[Any]) -> None:
    """Cancel what is still running and wait for all of it (results stay on the tasks)."""
    for task in tasks:
        if not task.done():
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
