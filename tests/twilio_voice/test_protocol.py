"""Media Streams messages: Twilio's documented examples parse, round-trip, and bad frames are
refused with the field named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from voice.twilio.protocol import (
    Clear,
    Connected,
    Dtmf,
    Mark,
    Media,
    OutMark,
    OutMedia,
    Start,
    Stop,
    StreamProtocolError,
    parse_inbound,
    parse_outbound,
)

MZ = "MZ" + "1" * 32
CA = "CA" + "2" * 32
AC = "AC" + "3" * 32

# As Twilio's "Media Streams - WebSocket Messages" page shows them (ids made valid).
DOC_START: dict[str, Any] = {
    "event": "start", "sequenceNumber": "1",
    "start": {"accountSid": AC, "streamSid": MZ, "callSid": CA, "tracks": ["inbound"],
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
              "customParameters": {"FirstName": "Jane", "LastName": "Doe"}},
    "streamSid": MZ,
}
DOC_MEDIA: dict[str, Any] = {"event": "media", "sequenceNumber": "3",
             "media": {"track": "inbound", "chunk": "1", "timestamp": "5",
                       "payload": "no+JhoaJjpz/"}, "streamSid": MZ}
DOC_DTMF: dict[str, Any] = {"event": "dtmf", "streamSid": MZ, "sequenceNumber": "5",
            "dtmf": {"track": "inbound_track", "digit": "1"}}
DOC_MARK = {"event": "mark", "sequenceNumber": "4", "streamSid": MZ,
            "mark": {"name": "my label"}}
DOC_STOP = {"event": "stop", "sequenceNumber": "5",
            "stop": {"accountSid": AC, "callSid": CA}, "streamSid": MZ}


def test_documented_messages_parse_and_round_trip() -> None:
    connected = parse_inbound('{"event": "connected", "protocol": "Call", "version": "1.0.0"}')
    assert connected == Connected("Call", "1.0.0")
    start = parse_inbound(json.dumps(DOC_START))
    assert isinstance(start, Start)
    assert (start.stream_sid, start.call_sid, start.account_sid) == (MZ, CA, AC)
    assert start.tracks == ("inbound",) and start.custom_parameters["FirstName"] == "Jane"
    media = parse_inbound(json.dumps(DOC_MEDIA))
    assert isinstance(media, Media)
    assert (media.chunk, media.timestamp, media.track) == (1, 5, "inbound")
    assert len(media.payload) == 9
    dtmf = parse_inbound(json.dumps(DOC_DTMF))
    assert isinstance(dtmf, Dtmf) and dtmf.digit == "1" and "digit" not in repr(dtmf)
    assert parse_inbound(json.dumps(DOC_MARK)) == Mark(4, MZ, "my label")
    assert parse_inbound(json.dumps(DOC_STOP)) == Stop(5, MZ, AC, CA)
    for doc in (DOC_START, DOC_MEDIA, DOC_DTMF, DOC_MARK, DOC_STOP):
        message = parse_inbound(json.dumps(doc))
        again = json.loads(message.to_json())
        assert again == doc  # string-typed counters stay strings on the wire
        assert parse_inbound(message.to_json()) == message


def test_outbound_messages_are_twilios_shapes() -> None:
    media = OutMedia(MZ, b"\xff" * 160)
    assert json.loads(media.to_json()) == {
        "event": "media", "streamSid": MZ, "media": {"payload": "/" * 212 + "/w=="}}
    assert parse_outbound(media.to_json()) == media
    assert json.loads(OutMark(MZ, "prompt-1").to_json()) == {
        "event": "mark", "streamSid": MZ, "mark": {"name": "prompt-1"}}
    assert json.loads(Clear(MZ).to_json()) == {"event": "clear", "streamSid": MZ}
    assert parse_outbound(Clear(MZ).to_json()) == Clear(MZ)


@pytest.mark.parametrize(("frame", "where"), [
    ("not json", "frame"),
    (b"\x00\x01", "frame"),
    ("[1, 2]", "frame"),
    ('{"event": "hello"}', "event"),
    (json.dumps({**DOC_MEDIA, "media": {**DOC_MEDIA["media"], "payload": "%%%"}}),
     "media.payload"),
    (json.dumps({**DOC_MEDIA, "media": {**DOC_MEDIA["media"], "chunk": "one"}}),
     "media.chunk"),
    (json.dumps({**DOC_MEDIA, "media": {**DOC_MEDIA["media"], "timestamp": "-5"}}),
     "media.timestamp"),
    (json.dumps({**DOC_MEDIA, "streamSid": "MZ123"}), "streamSid"),
    (json.dumps({**DOC_DTMF, "dtmf": {"track": "inbound_track", "digit": "X"}}),
     "dtmf.digit"),
    (json.dumps({**DOC_START, "start": {**DOC_START["start"], "mediaFormat": {
        "encoding": "audio/l16", "sampleRate": 16000, "channels": 1}}}),
     "start.mediaFormat.encoding"),
    (json.dumps({**DOC_START, "start": {**DOC_START["start"], "callSid": "CAxyz"}}),
     "start.callSid"),
    (json.dumps({**DOC_START, "start": {**DOC_START["start"], "customParameters": {
        "token": 5}}}), "start.customParameters.token"),
    ("x" * 70_000, "frame"),
])
def test_malformed_frames_name_the_field(frame: str | bytes, where: str) -> None:
    with pytest.raises(StreamProtocolError) as caught:
        parse_inbound(frame)
    assert caught.value.where == where, caught.value
