"""Shared by the IVR end-to-end tests: dialing through pjsua2 on a shared test machine."""

from __future__ import annotations

from typing import Any

from voice.pjsua.client import place_call
from voice.pjsua.protocol import CallResult


# Other suites on the same machine bind many loopback UDP ports at once; when they hold every
# port the server tries (8 in a row), it answers 503 "no media ports". That says nothing about
# the flow under test, so such a call is placed again, a bounded number of times.
async def dial(uri: str, **options: Any) -> CallResult:
    """`place_call(uri, **options)`.

    No retry on 503 "no media ports": the cause (test RTP blocks inside the kernel's
    ephemeral range) is fixed in tests/helpers/server.py, and a retry would hide a real
    port leak.
    """
    return await place_call(uri, **options)
