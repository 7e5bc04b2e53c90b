"""Telling a customer their callback is lined up, and about when it comes.

The engine (`routing.acd.Acd.on_callback`) calls a `CallbackNotice` once a callback is stored
(asked for in a queue or by the IVR's `callback` step), with the estimated seconds until it is
dialed (`routing.eta.estimate_wait` at the callback's place in line: 0 when an agent is free,
`math.inf` when nobody is staffed). Routing decides; the composition root sends, on the
customer's preferred channel (`centralita.preferred_channel`). The call ends meanwhile: the
notice runs in a task the engine owns, and its failure costs the callback nothing.
"""

from __future__ import annotations

import math
from typing import Protocol

from routing.model import Callback
from voice.call import Call


class CallbackNotice(Protocol):
    async def __call__(self, call: Call, callback: Callback, wait_s: float) -> None: ...


def minutes_of(wait_s: float) -> int | None:
    """Whole minutes to promise ("in about 5 minutes"), at least 1; None when no estimate
    can be given (nobody is staffed)."""
    if not math.isfinite(wait_s) or wait_s < 0:
        return None
    return max(1, round(wait_s / 60.0))
