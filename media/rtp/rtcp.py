"""RTCP (RFC 3550 §6.4–6.6): SR, RR with report blocks, SDES, BYE, compound packets.

Each packet type is a dataclass with `parse()` and `__bytes__`; `parse_compound()` splits a
datagram into packets and skips types this layer does not use (APP, feedback, XR) so a peer
that sends them is still understood.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from media.rtp.packet import RtpError

SR, RR, SDES, BYE = 200, 201, 202, 203
SDES_CNAME = 1

_HEADER = struct.Struct("!BBH")
_SR_INFO = struct.Struct("!IQIII")
_BLOCK = struct.Struct("!IB3sIIII")


class RtcpError(RtpError):
    """A malformed RTCP packet or compound packet."""


@dataclass(slots=True)
class ReportBlock:
    """One reception report (RFC 3550 §6.4.1). `cumulative_lost` is signed 24-bit."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int
    lsr: int = 0
    dlsr: int = 0

    SIZE = 24

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> ReportBlock:
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(data, offset)
        cumulative = int.from_bytes(lost, "big", signed=True)
        return cls(ssrc, fraction, cumulative, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        # Clamp rather than fail: a count past 24 bits is still best reported as the maximum.
        lost = max(-0x800000, min(0x7FFFFF, self.cumulative_lost))
        return _BLOCK.pack(
            self.ssrc, self.fraction_lost, lost.to_bytes(3, "big", signed=True),
            self.highest_sequence, self.jitter, self.lsr, self.dlsr,
        )


def _header(packet_type: int, count: int, body_len: int) -> bytes:
    if count > 31:
        raise RtcpError(f"RTCP count {count} exceeds 31")
    return _HEADER.pack(0x80 | count, packet_type, body_len // 4)


def _blocks(data: bytes, offset: int, count: int, end: int) -> list[ReportBlock]:
    if offset + count * ReportBlock.SIZE > end:
        raise RtcpError(f"RTCP says {count} report blocks but has no room for them")
    return [ReportBlock.parse(data, offset + i * ReportBlock.SIZE) for i in range(count)]


@dataclass(slots=True)
class SenderReport:
    """SR: sender info plus report blocks. `ntp_timestamp` is the 64-bit NTP value."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)

    @classmethod
    def parse(cls, count: int, data: bytes) -> SenderReport:
        if len(data) < 24:
            raise RtcpError(f"RTCP SR body of {len(data)} bytes, needs 24")
        ssrc, ntp, rtp_ts, packets, octets = _SR_INFO.unpack_from(data, 0)
        return cls(ssrc, ntp, rtp_ts, packets, octets, _blocks(data, 24, count, len(data)))

    def __bytes__(self) -> bytes:
        body = _SR_INFO.pack(
            self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count,
            self.octet_count,
        ) + b"".join(bytes(r) for r in self.reports)
        return _header(SR, len(self.reports), len(body)) + body


@dataclass(slots=True)
class ReceiverReport:
    """RR: the reporter's SSRC and its report blocks."""

    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)

    @classmethod
    def parse(cls, count: int, data: bytes) -> ReceiverReport:
        if len(data) < 4:
            raise RtcpError("RTCP RR body too short for the SSRC")
        (ssrc,) = struct.unpack_from("!I", data, 0)
        return cls(ssrc, _blocks(data, 4, count, len(data)))

    def __bytes__(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(bytes(r) for r in self.reports)
        return _header(RR, len(self.reports), len(body)) + body


@dataclass(slots=True)
class SdesChunk:
    """One SDES chunk: an SSRC and its (item type, value) pairs, e.g. (1, b"cname")."""

    ssrc: int
    items: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def cname(self) -> str | None:
        for kind, value in self.items:
            if kind == SDES_CNAME:
                return value.decode("utf-8", "replace")
        return None


@dataclass(slots=True)
class SourceDescription:
    """SDES: chunks of source items (CNAME is the one every sender must include)."""

    chunks: list[SdesChunk] = field(default_factory=list)

    @classmethod
    def parse(cls, count: int, data: bytes) -> SourceDescription:
        chunks: list[SdesChunk] = []
        pos = 0
        for _ in range(count):
            if pos + 4 > len(data):
                raise RtcpError("RTCP SDES chunk truncated")
            chunk = SdesChunk(int.from_bytes(data[pos : pos + 4], "big"))
            pos += 4
            while True:
                if pos >= len(data):
                    raise RtcpError("RTCP SDES item list not terminated")
                kind = data[pos]
                if kind == 0:
                    # The terminating null octet(s) pad the chunk to a 32-bit boundary.
                    pos = (pos + 4) & ~3
                    break
                if pos + 2 > len(data) or pos + 2 + data[pos + 1] > len(data):
                    raise RtcpError("RTCP SDES item overruns the packet")
                length = data[pos + 1]
                chunk.items.append((kind, data[pos + 2 : pos + 2 + length]))
                pos += 2 + length
            chunks.append(chunk)
        return cls(chunks)

    def __bytes__(self) -> bytes:
        body = bytearray()
        for chunk in self.chunks:
            body += chunk.ssrc.to_bytes(4, "big")
            for kind, value in chunk.items:
                if not 0 < kind < 256 or len(value) > 255:
                    raise RtcpError("SDES item type must be 1..255 and its value ≤ 255 bytes")
                body += bytes((kind, len(value))) + value
            body += bytes(4 - len(body) % 4)  # at least one null octet ends the item list
        return _header(SDES, len(self.chunks), len(body)) + bytes(body)


@dataclass(slots=True)
class Bye:
    """BYE: the sources leaving, with an optional reason."""

    sources: list[int] = field(default_factory=list)
    reason: bytes = b""

    @classmethod
    def parse(cls, count: int, data: bytes) -> Bye:
        if len(data) < 4 * count:
            raise RtcpError(f"RTCP BYE says {count} sources but has {len(data)} bytes")
        sources = list(struct.unpack_from(f"!{count}I", data, 0))
        reason = b""
        pos = 4 * count
        if pos < len(data):
            length = data[pos]
            if pos + 1 + length > len(data):
                raise RtcpError("RTCP BYE reason overruns the packet")
            reason = data[pos + 1 : pos + 1 + length]
        return cls(sources, reason)

    def __bytes__(self) -> bytes:
        body = b"".join(s.to_bytes(4, "big") for s in self.sources)
        if self.reason:
            if len(self.reason) > 255:
                raise RtcpError("RTCP BYE reason longer than 255 bytes")
            body += bytes((len(self.reason),)) + self.reason
            body += bytes(-len(body) % 4)
        return _header(BYE, len(self.sources), len(body)) + body


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye

_PARSERS: dict[int, Callable[[int, bytes], RtcpPacket]] = {SR: SenderReport.parse, RR: ReceiverReport.parse, SDES: SourceDescription.parse,
            BYE: Bye.parse}


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Split one RTCP datagram into its packets; unknown packet types are skipped."""
    packets: list[RtcpPacket] = []
    pos = 0
    if len(data) < 4:
        raise RtcpError(f"RTCP datagram of {len(data)} bytes is too short")
    while pos < len(data):
        if pos + 4 > len(data):
            raise RtcpError(f"RTCP trailing {len(data) - pos} bytes at offset {pos}")
        b0, packet_type, words = _HEADER.unpack_from(data, pos)
        if b0 >> 6 != 2:
            raise RtcpError(f"RTCP version {b0 >> 6} at offset {pos}, expected 2")
        end = pos + 4 + 4 * words
        if end > len(data):
            raise RtcpError(f"RTCP packet at offset {pos} overruns the datagram")
        body_end = end
        if b0 & 0x20:
            # Padding is only legal on the last packet of a compound (RFC 3550 §6.4.1).
            if end != len(data) or words == 0 or data[end - 1] == 0 or data[end - 1] > 4 * words:
                raise RtcpError(f"RTCP padding invalid at offset {pos}")
            body_end = end - data[end - 1]
        parser = _PARSERS.get(packet_type)
        if parser is not None:
            packets.append(parser(b0 & 0x1F, data[pos + 4 : body_end]))
        pos = end
    return packets


def serialize_compound(packets: list[RtcpPacket]) -> bytes:
    """Concatenate packets into one compound datagram."""
    return b"".join(bytes(p) for p in packets)
