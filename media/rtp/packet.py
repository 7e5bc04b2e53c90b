"""RTP data packets (RFC 3550 §5.1) and the RTP error tree.

Errors::

    RtpError (ValueError)        any malformed RTP/RTCP/telephone-event bytes
    └── RtcpError                a malformed RTCP packet or compound
    PortsExhaustedError (RuntimeError, in ports.py)

`RtpPacket.parse` is on the per-packet receive path of every call, so it uses one precompiled
`struct.Struct` and does the fewest checks that still reject everything RFC 3550 calls invalid.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")


class RtpError(ValueError):
    """Bytes that are not a valid RTP, RTCP or telephone-event packet."""


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet. `padding` is the total number of padding octets (0 means none)."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one datagram; raise `RtpError` saying what is wrong."""
        size = len(data)
        if size < 12:
            raise RtpError(f"RTP packet too short: {size} bytes, header needs 12")
        b0, b1, seq, ts, ssrc = HEADER.unpack_from(data)
        if b0 >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {b0 >> 6}, expected 2")
        offset = 12
        cc = b0 & 0x0F
        csrc: tuple[int, ...] = ()
        if cc:
            end = offset + 4 * cc
            if end > size:
                raise RtpError(f"RTP CSRC count {cc} needs {end} bytes, packet has {size}")
            csrc = struct.unpack_from(f"!{cc}I", data, offset)
            offset = end
        profile: int | None = None
        extension = b""
        if b0 & 0x10:
            if offset + 4 > size:
                raise RtpError("RTP extension bit set but no extension header")
            profile, words = _EXT_HEADER.unpack_from(data, offset)
            offset += 4
            end = offset + 4 * words
            if end > size:
                raise RtpError(f"RTP extension of {words} words overruns the packet")
            extension = data[offset:end]
            offset = end
        padding = 0
        end = size
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or offset + padding > size:
                raise RtpError(f"RTP padding count {padding} invalid for {size - offset} bytes")
            end = size - padding
        return cls(
            b1 & 0x7F, seq, ts, ssrc, data[offset:end], bool(b1 & 0x80), csrc, profile,
            extension, padding,
        )

    def __bytes__(self) -> bytes:
        if len(self.csrc) > 15:
            raise RtpError(f"RTP allows at most 15 CSRCs, got {len(self.csrc)}")
        b0 = (RTP_VERSION << 6) | len(self.csrc)
        if self.padding:
            b0 |= 0x20
        parts = [
            HEADER.pack(
                b0 | (0x10 if self.extension_profile is not None else 0),
                (0x80 if self.marker else 0) | self.payload_type,
                self.sequence_number, self.timestamp, self.ssrc,
            )
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension_profile is not None:
            if len(self.extension) % 4:
                raise RtpError("RTP extension length must be a multiple of 4 bytes")
            parts.append(_EXT_HEADER.pack(self.extension_profile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.padding:
            if not 0 < self.padding < 256:
                raise RtpError(f"RTP padding {self.padding} out of range 1..255")
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)


def seq_delta(a: int, b: int) -> int:
    """`a - b` on 16-bit sequence numbers, in -32768..32767 (RFC 1982 style comparison)."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000
