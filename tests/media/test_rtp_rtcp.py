"""RTCP SR/RR/SDES/BYE and compound packets (RFC 3550 §6)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp.packet import RtpError
from media.rtp.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpError,
    RtcpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    parse_compound,
    serialize_compound,
)

BLOCK = ReportBlock(0xAABBCCDD, 64, -3, 0x1_0005, 120, 0x11223344, 0x10000)


def test_report_block_signed_lost() -> None:
    data = bytes(BLOCK)
    assert len(data) == 24
    assert ReportBlock.parse(data) == BLOCK
    assert ReportBlock.parse(bytes(ReportBlock(1, 0, 10**9, 0, 0))).cumulative_lost == 0x7FFFFF


def test_compound_round_trip() -> None:
    packets: list[RtcpPacket] = [
        SenderReport(1, 0x0102030405060708, 160, 50, 8000, [BLOCK]),
        SourceDescription([SdesChunk(1, [(1, b"call-1@centralita")])]),
        ReceiverReport(2, [BLOCK, BLOCK]),
        SourceDescription([SdesChunk(2, [(1, b"abc"), (6, b"tool")]), SdesChunk(3, [])]),
        Bye([1, 2], b"hangup"),
    ]
    data = serialize_compound(packets)
    assert len(data) % 4 == 0
    parsed = parse_compound(data)
    assert parsed == packets
    sdes = parsed[1]
    assert isinstance(sdes, SourceDescription)
    assert sdes.chunks[0].cname == "call-1@centralita"


def test_unknown_packet_types_are_skipped() -> None:
    app = b"\x80\xcc\x00\x02" + b"\x00\x00\x00\x01name"
    data = app + bytes(ReceiverReport(5))
    assert parse_compound(data) == [ReceiverReport(5)]


def test_padding_on_last_packet() -> None:
    rr = bytearray(bytes(ReceiverReport(5)))
    rr[0] |= 0x20
    rr[3] += 1
    rr += b"\x00\x00\x00\x04"
    assert parse_compound(bytes(rr)) == [ReceiverReport(5)]


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\xc9",
        b"\x40\xc9\x00\x01\x00\x00\x00\x01",
        b"\x81\xc9\x00\x01\x00\x00\x00\x01",  # says one report block, has none
        b"\x80\xc9\x00\x05\x00\x00\x00\x01",  # length overruns
        b"\x81\xca\x00\x02\x00\x00\x00\x01\x01\x05ab",  # SDES item overruns
        b"\x82\xcb\x00\x01\x00\x00\x00\x01",  # BYE with 2 sources, room for 1
    ],
)
def test_invalid_rtcp(data: bytes) -> None:
    with pytest.raises(RtcpError):
        parse_compound(data)


@given(st.binary(max_size=200))
def test_parse_only_raises_rtp_error(data: bytes) -> None:
    with contextlib.suppress(RtpError):
        parse_compound(data)


blocks = st.builds(
    ReportBlock,
    ssrc=st.integers(0, 2**32 - 1),
    fraction_lost=st.integers(0, 255),
    cumulative_lost=st.integers(-(2**23), 2**23 - 1),
    highest_sequence=st.integers(0, 2**32 - 1),
    jitter=st.integers(0, 2**32 - 1),
    lsr=st.integers(0, 2**32 - 1),
    dlsr=st.integers(0, 2**32 - 1),
)
u32 = st.integers(0, 2**32 - 1)
rtcp_packets = st.one_of(
    st.builds(SenderReport, u32, st.integers(0, 2**64 - 1), u32, u32, u32,
              st.lists(blocks, max_size=3)),
    st.builds(ReceiverReport, u32, st.lists(blocks, max_size=3)),
    st.builds(SourceDescription, st.lists(st.builds(
        SdesChunk, u32, st.lists(st.tuples(st.integers(1, 8), st.binary(max_size=20)),
                                 max_size=3)), max_size=3)),
    st.builds(Bye, st.lists(u32, max_size=4), st.binary(max_size=30)),
)


@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_round_trip_any_compound(packets: list[RtcpPacket]) -> None:
    data = serialize_compound(packets)
    assert parse_compound(data) == packets
