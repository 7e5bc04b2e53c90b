"""SDP: parse / serialize round trips, typed errors, audio offer/answer and hold."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice.sdp import (
    PCMA,
    Direction,
    MediaParams,
    NoCommonCodec,
    SdpError,
    SessionDescription,
    accept_answer,
    answer_offer,
    build_offer,
    with_direction,
)


def sdp(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


PHONE_OFFER = sdp(
    "v=0",
    "o=Polycom 1702 1 IN IP4 192.168.1.20",
    "s=Talk",
    "c=IN IP4 192.168.1.20",
    "b=AS:80",
    "t=0 0",
    "a=X-nat:0",
    "m=audio 2232 RTP/AVP 9 0 8 18 101",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:18 G729/8000",
    "a=fmtp:18 annexb=no",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=ptime:20",
    "a=rtcp:2233",
    "a=sendrecv",
)


def test_parse_exposes_fields_and_round_trips_exactly() -> None:
    desc = SessionDescription.parse(PHONE_OFFER.encode())
    assert desc.origin.username == "Polycom" and desc.origin.version == 1
    assert desc.connection is not None and desc.connection.address == "192.168.1.20"
    (m,) = desc.media
    assert (m.media, m.port, m.proto) == ("audio", 2232, "RTP/AVP")
    assert m.formats == ["9", "0", "8", "18", "101"]
    assert m.rtpmaps[101].encoding == "telephone-event"
    assert m.fmtp(101) == "0-15" and m.ptime == 20
    assert m.rtcp == (2233, None)
    assert m.direction is Direction.SENDRECV
    assert str(desc) == PHONE_OFFER
    assert bytes(desc) == PHONE_OFFER.encode()


def test_bare_lf_and_trailing_blank_lines_are_tolerated() -> None:
    desc = SessionDescription.parse(PHONE_OFFER.replace("\r\n", "\n") + "\n\n")
    assert str(desc) == PHONE_OFFER


def test_static_payload_types_need_no_rtpmap() -> None:
    text = sdp("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
               "m=audio 4000 RTP/AVP 8 0")  # fmt: skip
    m = SessionDescription.parse(text).media[0]
    assert [r.encoding for r in m.rtpmaps.values()] == ["PCMA", "PCMU"]


def test_rtcp_with_address() -> None:
    text = PHONE_OFFER.replace("a=rtcp:2233", "a=rtcp:53020 IN IP4 126.16.64.4")
    rtcp = SessionDescription.parse(text).media[0].rtcp
    assert rtcp is not None and rtcp[0] == 53020 and rtcp[1] is not None
    assert rtcp[1].address == "126.16.64.4"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("o=- 1 1 IN IP4 h\r\nv=0\r\n", 1, "first line must be v="),
        ("v=1\r\n", 1, "bad version"),
        ("v=0\r\ns=-\r\n", 2, "o= must follow v="),
        ("v=0\r\no=- x 1 IN IP4 h\r\ns=-\r\n", 2, "session id"),
        ("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n", 2, "6 fields"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", 4, "3 fields"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n", 4, "media port"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 4000 RTP/AVP\r\n", 4, "without formats"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 4000 RTP/AVP 200\r\n", 4, "payload type"),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
            5,
            "rtpmap",
        ),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=ptime:x\r\n", 5, "ptime"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:abc\r\n", 5, "rtcp"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\ns=x\r\n", 5, "not allowed"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nbogus\r\n", 4, "<letter>=<value>"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0\r\n", 4, "t= needs"),
        ("v=0\r\no=- 1 1 IN IP4 h\r\n", None, "missing s="),
    ],
)
def test_errors_say_what_and_where(text: str, line: int | None, what: str) -> None:
    with pytest.raises(SdpError, match=what) as info:
        SessionDescription.parse(text)
    assert info.value.line == line


def test_non_utf8_is_an_sdp_error() -> None:
    with pytest.raises(SdpError, match="UTF-8"):
        SessionDescription.parse(b"v=0\r\no=\xff\r\n")


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_parser_raises_only_sdp_error(data: bytes | str) -> None:
    with contextlib.suppress(SdpError):
        SessionDescription.parse(data)


_LINE_ALPHABET = st.sampled_from(
    ["v=0", "o=- 1 2 IN IP4 h", "s=-", "c=IN IP4 1.2.3.4", "t=0 0", "m=audio 4000 RTP/AVP 0 101",
     "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=rtcp:4001",
     "a=sendonly", "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "b=AS:64", "r=1 2 3",
     "a=rtcp:x", "m=audio 1 RTP/AVP", "i=title", "k=clear:x", "z=0 0", "a=ptime:0", "x=y"]
)  # fmt: skip


_HEAD = "v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\n"


@given(st.lists(_LINE_ALPHABET, max_size=14))
def test_line_soup_parses_or_raises_sdp_error_and_round_trips(lines: list[str]) -> None:
    try:
        desc = SessionDescription.parse(_HEAD + "\r\n".join(lines))
    except SdpError:
        return
    again = SessionDescription.parse(bytes(desc))
    assert again == desc
    assert str(again) == str(desc)


@given(
    port=st.integers(1, 65535),
    session_id=st.integers(0, 2**63),
    ptime=st.integers(10, 60),
    direction=st.sampled_from(list(Direction)),
    te=st.one_of(st.none(), st.integers(96, 127)),
)
def test_built_offers_round_trip(
    port: int, session_id: int, ptime: int, direction: Direction, te: int | None
) -> None:
    offer = build_offer(
        "192.0.2.10", port, session_id=session_id, ptime=ptime, direction=direction,
        telephone_event_pt=te,
    )  # fmt: skip
    assert SessionDescription.parse(bytes(offer)) == offer


# --- offer / answer ---------------------------------------------------------------------------


def _answer(offer_text: str, **kwargs: object) -> tuple[SessionDescription, MediaParams]:
    offer = SessionDescription.parse(offer_text)
    return answer_offer(offer, "198.51.100.5", 30000, session_id=77, **kwargs)  # type: ignore[arg-type]


def test_answer_picks_first_supported_codec_and_keeps_offer_pts() -> None:
    answer, params = answer_offer(
        SessionDescription.parse(PHONE_OFFER), "198.51.100.5", 30000, session_id=77
    )
    (m,) = answer.media
    assert m.port == 30000 and m.formats == ["0", "101"]  # G722 first but unsupported
    assert m.fmtp(101) == "0-15"  # what the offer can receive, narrowed to ours
    assert m.direction is Direction.SENDRECV
    assert answer.connection is not None and answer.connection.address == "198.51.100.5"
    assert params.remote_rtp == ("192.168.1.20", 2232)
    assert params.remote_rtcp == ("192.168.1.20", 2233)
    assert (params.payload_type, params.codec, params.clock_rate) == (0, "PCMU", 8000)
    assert params.telephone_event_pt == 101 and params.ptime == 20
    assert params.direction is Direction.SENDRECV and not params.on_hold
    # The answer itself is valid SDP.
    assert SessionDescription.parse(bytes(answer)) == answer


def test_dynamic_pt_for_a_known_codec_is_kept() -> None:
    text = PHONE_OFFER.replace("RTP/AVP 9 0 8 18 101", "RTP/AVP 9 97 101").replace(
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:97 PCMA/8000"
    )
    _, params = _answer(text)
    assert (params.payload_type, params.codec) == (97, "PCMA")


@pytest.mark.parametrize(
    ("offered", "answered", "we_send", "we_receive", "on_hold"),
    [
        ("sendrecv", Direction.SENDRECV, True, True, False),
        ("sendonly", Direction.RECVONLY, False, True, True),
        ("recvonly", Direction.SENDONLY, True, False, False),
        ("inactive", Direction.INACTIVE, False, False, True),
    ],
)
def test_direction_answers_for_hold(
    offered: str, answered: Direction, we_send: bool, we_receive: bool, on_hold: bool
) -> None:
    answer, params = _answer(PHONE_OFFER.replace("a=sendrecv", f"a={offered}"))
    assert answer.media[0].direction is answered
    assert params.direction.sends is we_send and params.direction.receives is we_receive
    assert params.on_hold is on_hold


def test_rfc2543_hold_with_zero_address() -> None:
    answer, params = _answer(PHONE_OFFER.replace("c=IN IP4 192.168.1.20", "c=IN IP4 0.0.0.0"))
    assert params.on_hold
    assert answer.media[0].direction is Direction.RECVONLY  # we can't send to 0.0.0.0


def test_session_level_direction_applies_when_media_has_none() -> None:
    text = PHONE_OFFER.replace("a=sendrecv\r\n", "").replace("a=X-nat:0", "a=inactive")
    answer, _ = _answer(text)
    assert answer.media[0].direction is Direction.INACTIVE


def test_no_direction_means_sendrecv() -> None:
    answer, _ = _answer(PHONE_OFFER.replace("a=sendrecv\r\n", ""))
    assert answer.media[0].direction is Direction.SENDRECV


def test_our_hold_direction_is_combined_with_theirs() -> None:
    answer, params = _answer(PHONE_OFFER, direction=Direction.SENDONLY)
    assert answer.media[0].direction is Direction.SENDONLY


def test_rejected_streams_get_port_zero_and_order_is_kept() -> None:
    text = sdp(
        "v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
        "m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000",
        "m=audio 4000 RTP/SAVP 0",
        "m=audio 4002 RTP/AVP 8",
        "m=audio 4004 RTP/AVP 0",
    )  # fmt: skip
    answer, params = _answer(text)
    assert [(m.media, m.port, m.proto) for m in answer.media] == [
        ("video", 0, "RTP/AVP"),
        ("audio", 0, "RTP/SAVP"),  # no SRTP here
        ("audio", 30000, "RTP/AVP"),
        ("audio", 0, "RTP/AVP"),  # only one audio stream is taken
    ]
    assert all(m.formats for m in answer.media)
    assert params.media_index == 2
    assert SessionDescription.parse(bytes(answer)) == answer


def test_media_level_connection_wins_and_ptime_is_read() -> None:
    text = PHONE_OFFER.replace("a=ptime:20", "a=ptime:30\r\nc=IN IP4 10.9.9.9")
    _, params = _answer(text)
    assert params.remote_address == "10.9.9.9" and params.ptime == 30


def test_no_common_codec_raises() -> None:
    text = PHONE_OFFER.replace("RTP/AVP 9 0 8 18 101", "RTP/AVP 9 18")
    with pytest.raises(NoCommonCodec):
        _answer(text)


def test_offer_without_address_raises() -> None:
    text = PHONE_OFFER.replace("c=IN IP4 192.168.1.20\r\n", "")
    with pytest.raises(SdpError, match="no connection address"):
        _answer(text)


def test_telephone_event_dropped_when_offer_events_are_outside_ours() -> None:
    answer, params = _answer(PHONE_OFFER.replace("a=fmtp:101 0-15", "a=fmtp:101 32-40"))
    assert answer.media[0].formats == ["0"] and params.telephone_event_pt is None


def test_offer_answer_between_two_of_us() -> None:
    offer = build_offer("192.0.2.1", 10000, session_id=1)
    assert offer.media[0].formats == ["0", "8", "101"]
    answer, theirs = answer_offer(
        SessionDescription.parse(bytes(offer)), "192.0.2.2", 20000, session_id=2, codecs=(PCMA,)
    )
    ours = accept_answer(offer, SessionDescription.parse(bytes(answer)))
    assert (theirs.codec, ours.codec) == ("PCMA", "PCMA")
    assert ours.remote_rtp == ("192.0.2.2", 20000) and theirs.remote_rtp == ("192.0.2.1", 10000)
    assert ours.telephone_event_pt == 101 and ours.direction is Direction.SENDRECV


def test_accept_answer_checks_m_line_count_and_codecs() -> None:
    offer = build_offer("192.0.2.1", 10000, session_id=1, codecs=(PCMA,))
    two = build_offer("192.0.2.2", 20000, session_id=2)
    two.media.append(two.media[0])
    with pytest.raises(SdpError, match="number of m= lines"):
        accept_answer(offer, two)
    pcmu_only = build_offer("192.0.2.2", 20000, session_id=2, codecs=(PCMA,))
    pcmu_only.media[0].formats = ["0"]
    with pytest.raises(NoCommonCodec):
        accept_answer(offer, pcmu_only)


def test_hold_and_resume_reoffers() -> None:
    offer = build_offer("192.0.2.1", 10000, session_id=1)
    held = with_direction(offer, Direction.SENDONLY)
    assert held.origin.version == offer.origin.version + 1
    assert held.media[0].direction is Direction.SENDONLY
    assert offer.media[0].direction is Direction.SENDRECV  # the original is untouched
    answer, params = answer_offer(held, "192.0.2.2", 20000, session_id=2)
    assert answer.media[0].direction is Direction.RECVONLY and params.on_hold
    ours = accept_answer(held, answer)
    assert ours.direction is Direction.SENDONLY and not ours.on_hold
    resumed = with_direction(held, Direction.SENDRECV)
    assert resumed.origin.version == offer.origin.version + 2
    assert resumed.media[0].direction is Direction.SENDRECV


def test_direction_helpers() -> None:
    assert Direction.SENDONLY.reverse() is Direction.RECVONLY
    assert Direction.INACTIVE.reverse() is Direction.INACTIVE
    assert Direction.of(True, True) is Direction.SENDRECV
