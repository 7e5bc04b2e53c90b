"""The WebRTC leg: a browser softphone's audio through aiortc, bridged like a SIP leg."""

from voice.webrtc import audio_level
from voice.webrtc.errors import LegStateError, OfferError, WebRtcError
from voice.webrtc.leg import LegState, WebRtcLeg, WebRtcLegStats

audio_level.install()

__all__ = ["LegState", "LegStateError", "OfferError", "WebRtcError", "WebRtcLeg",
           "WebRtcLegStats"]
