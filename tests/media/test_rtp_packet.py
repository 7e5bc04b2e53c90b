"""RTP packet parse/serialize (RFC 3550 §5.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp.packet import RtpError, RtpPacket, seq_delta


def test_minimal_round_trip() -> None:
    pkt = RtpPacket(0, 65535, 0xDEADBEEF, 0x12345678, b"\xff" * 160, marker=True)
    data = bytes(pkt)
    assert len(data) == 172
    assert data[:2] == b"\x80\x80"
    assert RtpPacket.parse(data) == pkt


def test_csrc_extension_padding_round_trip() -> None:
    pkt = RtpPacket(8, 1, 2, 3, b"abc", csrc=(7, 8), extension_profile=0xBEDE,
                    extension=b"\x10\xaa\x00\x00", padding=5)
    data = bytes(pkt)
    assert data[0] == 0x80 | 0x20 | 0x10 | 2
    assert data[-1] == 5
    assert RtpPacket.parse(data) == pkt


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x00" + bytes(9), "too short"),
        (b"\x40\x00" + bytes(10), "version 1"),
        (b"\x83\x00" + bytes(10) + bytes(8), "CSRC count 3"),
        (b"\x90\x00" + bytes(10) + b"\x00\x00", "no extension header"),
        (b"\x90\x00" + bytes(10) + b"\xbe\xde\x00\x02" + bytes(4), "overruns"),
        (b"\xa0\x00" + bytes(10) + b"\x00", "padding count 0"),
        (b"\xa0\x00" + bytes(10) + b"\x01\x09", "padding count 9"),
    ],
)
def test_invalid_packets(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        RtpPacket.parse(data)


def test_serialize_rejects_bad_fields() -> None:
    with pytest.raises(RtpError):
        bytes(RtpPacket(0, 0, 0, 0, csrc=tuple(range(16))))
    with pytest.raises(RtpError):
        bytes(RtpPacket(0, 0, 0, 0, extension_profile=1, extension=b"abc"))


def test_seq_delta_wraps() -> None:
    assert seq_delta(0, 65535) == 1
    assert seq_delta(65535, 0) == -1
    assert seq_delta(100, 90) == 10


@given(st.binary(max_size=300))
def test_parse_only_raises_rtp_error(data: bytes) -> None:
    try:
        pkt = RtpPacket.parse(data)
    except RtpError:
        return
    assert RtpPacket.parse(bytes(pkt)) == pkt


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=200),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension_profile=st.none() | st.integers(0, 0xFFFF),
    extension=st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4]),
    padding=st.integers(0, 255),
)


@given(packets)
def test_round_trip_any_packet(pkt: RtpPacket) -> None:
    if pkt.extension_profile is None:
        pkt.extension = b""
    assert RtpPacket.parse(bytes(pkt)) == pkt
