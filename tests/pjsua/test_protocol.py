"""The worker's JSON line protocol round-trips and rejects malformed lines."""

from __future__ import annotations

import pytest

from voice.pjsua.protocol import CallEnded, CallResult, ProtocolError, Ready, parse_event


def test_call_result_round_trip() -> None:
    result = CallResult(
        connected=True,
        status=200,
        reason="OK",
        duration=3.5,
        remote_hangup=False,
        dtmf_sent="12#",
        error=None,
    )
    assert CallResult.parse(result.to_json()) == result


def test_call_result_accepts_integer_duration() -> None:
    line = (
        '{"connected": false, "status": 486, "reason": "Busy Here", "duration": 0,'
        ' "remote_hangup": false, "dtmf_sent": "", "error": "x"}'
    )
    assert CallResult.parse(line).duration == 0.0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"connected": true}', "lacks 'status'"),
        (
            '{"connected": 1, "status": 200, "reason": "", "duration": 0, "remote_hangup": false,'
            ' "dtmf_sent": "", "error": null}',
            "'connected' must be",
        ),
        (
            '{"connected": true, "status": true, "reason": "", "duration": 0,'
            ' "remote_hangup": false, "dtmf_sent": "", "error": null}',
            "'status' must be",
        ),
    ],
)
def test_call_result_rejects(line: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        CallResult.parse(line)


def test_listener_events_round_trip() -> None:
    ready = Ready(port=5080)
    ended = CallEnded(
        from_="<sip:caller@127.0.0.1>",
        status=200,
        duration=1.25,
        recorded="/tmp/x.wav",
        dtmf="9",
        remote_hangup=True,
    )
    assert parse_event(ready.to_json()) == ready
    assert parse_event(ended.to_json()) == ended
    assert '"from": "<sip:caller@127.0.0.1>"' in ended.to_json()


def test_unknown_event_is_rejected() -> None:
    with pytest.raises(ProtocolError, match="unknown listener event 'nope'"):
        parse_event('{"event": "nope"}')
    with pytest.raises(ProtocolError, match="expected a ready event"):
        Ready.parse('{"event": "call_ended"}')
