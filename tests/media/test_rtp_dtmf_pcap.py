"""SIPp's RFC 4733 captures (Debian sip-tester) through our DTMF receiver.

Each /usr/share/sip-tester/dtmf_2833_<key>.pcap holds one press of <key> from SIPp: a marker
start packet, updates every 20 ms and three identical end packets (same sequence number),
280 ms in all.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from media.rtp.dtmf import DtmfDigit, DtmfReceiver
from media.rtp.packet import RtpPacket

PCAP_DIR = Path("/usr/share/sip-tester")


def udp_payloads(path: Path) -> Iterator[bytes]:
    """The UDP payloads of an Ethernet/IPv4 pcap (classic format, either byte order)."""
    data = path.read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        raise ValueError(f"{path} is not a classic pcap file")
    (linktype,) = struct.unpack_from(order + "I", data, 20)
    assert linktype == 1, "only Ethernet captures are expected here"
    offset = 24
    while offset + 16 <= len(data):
        incl_len = struct.unpack_from(order + "I", data, offset + 8)[0]
        frame = data[offset + 16 : offset + 16 + incl_len]
        offset += 16 + incl_len
        if frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        if ip[9] != 17:  # not UDP
            continue
        udp = ip[(ip[0] & 0x0F) * 4 :]
        (udp_len,) = struct.unpack_from("!H", udp, 4)
        yield udp[8:udp_len]


CASES = [(str(n), str(n)) for n in range(10)] + [("star", "*"), ("pound", "#")]


@pytest.mark.parametrize(("name", "digit"), CASES)
def test_sipp_capture_yields_one_digit(name: str, digit: str) -> None:
    path = PCAP_DIR / f"dtmf_2833_{name}.pcap"
    if not path.exists():
        pytest.skip("Debian sip-tester is not installed")
    rx = DtmfReceiver()
    out: list[DtmfDigit] = []
    packets = [RtpPacket.parse(p) for p in udp_payloads(path)]
    assert packets and {p.payload_type for p in packets} == {101}
    for p in packets:
        out += rx.feed(p.timestamp, p.payload, p.marker)
    assert out == [DtmfDigit(digit, 280)]
    assert rx.flush() is None
