"""Who may place a call from the chat widget, and how often.

    socket ──call {sdp}──▶ ChatCalls.start(visitor, customer, sdp)
                             ├─ one live call per visitor        (else `busy`)
                             ├─ a token bucket per visitor       (else `rate_limited`)
                             └─ CallPlacer.place(sdp, customer, dialed)   (voice.webrtc)

Only a visitor with a valid token reaches this (the socket's hello verified it); the call is
placed for the customer the visitor's chat names, to `dialed` (the number whose IVR flow
serves chat calls, `chat.call_to`). The placer never makes the server dial anyone: the call is
inbound and untrusted (`voice.webrtc.browser_caller`).

Refusals are `CallRefused` with a code the widget words: `busy`, `rate_limited` (with
`retry_after`), `unavailable` (the server's cap of live browser calls), `bad_offer`.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from channels.base import Refused
from channels.chat_rate import Monotonic, RateLimits
from voice.webrtc.errors import OfferError, TooManyCalls

log = logging.getLogger(__name__)

#: Calls a visitor may place in `CALL_WINDOW_S`: a dropped call can be retried at once, a
#: script cannot ring the queue over and over.
CALLS_PER_WINDOW = 3
CALL_WINDOW_S = 600.0


class PlacedCall(Protocol):
    """A call the placer started (`voice.webrtc.browser_caller.BrowserCall`)."""

    @property
    def id(self) -> str: ...

    @property
    def answer_sdp(self) -> str: ...

    def hangup(self, cause: str = "caller-hung-up") -> None: ...

    def press(self, digits: str) -> None:
        """Keys the caller pressed (the widget's keypad), for the IVR."""
        ...

    async def wait_agent(self) -> None:
        """Return once an agent is on the call."""
        ...

    async def wait_ended(self) -> str: ...


class CallPlacer(Protocol):
    """Starts a browser's inbound call (`voice.webrtc.browser_caller.BrowserCallers`)."""

    async def place(self, offer_sdp: str, *, customer_id: int, dialed: str) -> PlacedCall: ...


class CallRefused(Refused):
    """The call was not placed: `code` says why (see the module doc)."""

    def __init__(self, reason: str, code: str, retry_after: float | None = None) -> None:
        super().__init__(reason, code=code)
        self.retry_after = retry_after


class ChatCalls:
    """Admits and places the widget's calls (see the module doc)."""

    def __init__(self, placer: CallPlacer, *, dialed: str,
                 calls: int = CALLS_PER_WINDOW, per_seconds: float = CALL_WINDOW_S,
                 monotonic: Monotonic = time.monotonic) -> None:
        self.placer = placer
        self.dialed = dialed
        self._limits = RateLimits(calls, per_seconds, monotonic)
        # Visitors with a call live, or being placed (so two sockets cannot place two).
        self._live: set[str] = set()

    def live(self, visitor_id: str) -> bool:
        return visitor_id in self._live

    async def start(self, visitor_id: str, customer_id: int, offer_sdp: str) -> PlacedCall:
        """Place the visitor's call; `CallRefused` saying why not. Call `ended()` after it."""
        if visitor_id in self._live:
            raise CallRefused("a call from this chat is already going on", "busy")
        wait = self._limits.take(visitor_id)
        if wait > 0:
            raise CallRefused(f"too many calls; wait {wait:.0f} s", "rate_limited",
                              retry_after=wait)
        self._live.add(visitor_id)
        try:
            return await self.placer.place(offer_sdp, customer_id=customer_id,
                                           dialed=self.dialed)
        except OfferError as exc:
            self._live.discard(visitor_id)
            log.info("chat call refused: %s", exc)
            raise CallRefused(f"the browser's offer cannot be answered: {exc}",
                              "bad_offer") from exc
        except TooManyCalls as exc:
            self._live.discard(visitor_id)
            log.warning("chat call refused: %s", exc)
            raise CallRefused("no line is free for a call right now", "unavailable") from exc
        except BaseException:
            self._live.discard(visitor_id)
            raise

    def ended(self, visitor_id: str) -> None:
        """The visitor's call is over: they may place another."""
        self._live.discard(visitor_id)
