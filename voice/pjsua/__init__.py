"""pjsua2 as a real SIP/RTP peer: a worker process and its asyncio-side wrapper.

PJSIP is an independent, mature stack, so calls between it and Centralita are
interoperability tests rather than self-agreement.  pjsua2 allows one Endpoint
per process and its PyPI wheel caps a process at 4 concurrent calls, so it
always runs in a subprocess (``python -m voice.pjsua.worker``) that speaks one
JSON object per line on stdout (:mod:`voice.pjsua.protocol`).
:mod:`voice.pjsua.client` spawns and reads it from asyncio.
"""

from voice.pjsua.client import (
    PjsuaError,
    PjsuaListener,
    PjsuaTimeoutError,
    add_call_parser,
    place_call,
    run_call_command,
)
from voice.pjsua.protocol import CallEnded, CallResult, ProtocolError, Ready

__all__ = [
    "CallEnded",
    "CallResult",
    "PjsuaError",
    "PjsuaListener",
    "PjsuaTimeoutError",
    "ProtocolError",
    "Ready",
    "add_call_parser",
    "place_call",
    "run_call_command",
]
