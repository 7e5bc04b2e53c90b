"""Shared by the IVR end-to-end tests: dialing through pjsua2 on a shared test machine."""

from __future__ import annotations

import asyncio
from typing import Any

from voice.pjsua.client import place_call
from voice.pjsua.protocol import CallResult

# Other suites on the same machine bind many loopback UDP ports at once; when they hold every
# port the server tries (8 in a row), it answers 503 "no media ports". That says nothing about
# the flow under test, so such a call is placed again, a bounded number of times.
NO_PORTS_RETRIES = 3


async def dial(uri: str, **options: Any) -> CallResult:
    """`place_call(uri, **options)`, again after a 503 "no media ports"."""
    for _ in range(NO_PORTS_RETRIES):
        result = await place_call(uri, **options)
        if result.connected or result.status != 503:
            return result
        await asyncio.sleep(1.0)
    return await place_call(uri, **options)
