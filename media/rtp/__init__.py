"""RTP for Centralita: packets, RTCP, RFC 4733 DTMF, the jitter buffer and the session.

Modules, bottom up: `packet` (RtpPacket, RtpError), `rtcp` (SR/RR/SDES/BYE), `dtmf`
(telephone-events), `jitterbuffer`, `stats` (RFC 3550 receiver statistics), `ports` (even
port allocation), `pool` (bound port pairs reused across calls) and `session` (RtpSession, the asyncio protocol tying them together).
This layer moves payload bytes; decoding is media/codecs' job.
"""

from media.rtp.dtmf import DtmfDigit, DtmfReceiver, TelephoneEvent, dtmf_steps
from media.rtp.jitterbuffer import JitterBuffer, JitterStats
from media.rtp.packet import RtpError, RtpPacket
from media.rtp.pool import RtpSocketPool
from media.rtp.ports import PortAllocator, PortsExhaustedError
from media.rtp.rtcp import RtcpError
from media.rtp.session import RtpSession
from media.rtp.stats import RtpStats

__all__ = [
    "DtmfDigit",
    "DtmfReceiver",
    "JitterBuffer",
    "JitterStats",
    "PortAllocator",
    "PortsExhaustedError",
    "RtcpError",
    "RtpError",
    "RtpPacket",
    "RtpSession",
    "RtpSocketPool",
    "RtpStats",
    "TelephoneEvent",
    "dtmf_steps",
]
