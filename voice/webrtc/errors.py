"""Errors of the WebRTC leg.

    WebRtcError
     ├── OfferError        the browser's SDP offer cannot be answered (says why)
     ├── LegStateError     an operation the leg's current state does not allow
     └── TooManyCalls      the browser callers' cap of live calls is reached
"""

from __future__ import annotations


class WebRtcError(Exception):
    """Base of every error raised by `voice.webrtc`."""


class OfferError(WebRtcError, ValueError):
    """An SDP offer that is malformed, has no audio, or shares no codec with us."""


class LegStateError(WebRtcError, RuntimeError):
    """An operation on a leg in a state that does not allow it (e.g. play after close)."""


class TooManyCalls(WebRtcError):
    """As many browser-caller calls as allowed run already (`voice.webrtc.browser_caller`)."""
