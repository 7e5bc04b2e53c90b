"""Argument handling of the worker and of the `call` subcommand (no pjsua2 needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from voice.pjsua.client import add_call_parser, call_args, run_call_command
from voice.pjsua.uas import recording_path
from voice.pjsua.worker import build_parser, parse_hostport


def test_parse_hostport() -> None:
    assert parse_hostport("127.0.0.1:5080") == ("127.0.0.1", 5080)
    assert parse_hostport(":0") == ("127.0.0.1", 0)
    assert parse_hostport("127.0.0.1") == ("127.0.0.1", 0)
    with pytest.raises(argparse.ArgumentTypeError, match="bad port"):
        parse_hostport("127.0.0.1:sip")
    with pytest.raises(argparse.ArgumentTypeError, match="out of range"):
        parse_hostport("127.0.0.1:70000")


def test_worker_rejects_missing_wav(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["call", "sip:x@127.0.0.1", "--play", str(tmp_path / "no.wav")])
    assert "no such WAV file" in capsys.readouterr().err


def test_call_args_match_worker_parser(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"")
    args = call_args(
        "sip:ivr@127.0.0.1:5060",
        play=wav,
        record=tmp_path / "r.wav",
        dtmf="12#",
        dtmf_delay=0.5,
        duration=3,
        transport="tcp",
    )
    ns = build_parser().parse_args(args)
    assert (ns.uri, ns.play, ns.dtmf, ns.dtmf_delay, ns.duration, ns.transport) == (
        "sip:ivr@127.0.0.1:5060",
        str(wav),
        "12#",
        0.5,
        3.0,
        "tcp",
    )


def test_add_call_parser_wires_run_call_command() -> None:
    parser = argparse.ArgumentParser(prog="centralita")
    add_call_parser(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(
        [
            "call",
            "sip:100@127.0.0.1",
            "--play",
            "p.wav",
            "--record",
            "r.wav",
            "--dtmf",
            "1#",
            "--duration",
            "4",
        ]
    )
    assert ns.func is run_call_command
    assert (ns.uri, ns.play, ns.record, ns.dtmf, ns.duration) == (
        "sip:100@127.0.0.1",
        "p.wav",
        "r.wav",
        "1#",
        4.0,
    )


def test_recording_path_numbers_calls() -> None:
    assert recording_path(None, 3) is None
    assert recording_path("/r/heard.wav", 1) == "/r/heard.wav"
    assert recording_path("/r/heard.wav", 2) == "/r/heard-2.wav"
    assert recording_path("/r/call{n}.wav", 2) == "/r/call2.wav"
