"""`transfer` on real calls: a pjsua2 caller reaches a flow that transfers it to a pjsua2
listener; tones go both ways through the server's bridge, and the transfer is read back from
the stored interaction. An unreachable target falls back to `on_no_answer`, which the caller
hears."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction
from tests.helpers.server import ServerOptions, ServerProcess
from tests.pjsua.audio import Samples, dominant_frequency, loud_part, make_tone, read_wav
from voice.pjsua.client import PjsuaListener, place_call

pytestmark = pytest.mark.slow

CALLER_TONE = 1000.0
TARGET_TONE = 1500.0
FALLBACK_TONE = 700.0


def flow(target: str, ring_timeout: float) -> str:
    return f"""\
name: xfer
default: true
steps:
  - transfer: {{to: "{target}", timeout: {ring_timeout}, on_no_answer: sorry,
                on_unavailable: sorry}}
  - hangup
  - label: sorry
    play: fallback.wav
  - hangup
"""


def transfer_event(interaction: dict[str, Any]) -> dict[str, Any]:
    events = [e for e in interaction["ivr_events"] if e["kind"] == "transfer"]
    assert len(events) == 1, interaction["ivr_events"]
    return dict(events[0]["value"])


def chunk_frequencies(x: Samples, chunk: int = 1600) -> list[float]:
    """Dominant frequency of each loud 200 ms chunk."""
    loud = loud_part(x)
    return [dominant_frequency(loud[i:i + chunk]) for i in range(0, len(loud) - chunk, chunk)]


def near(freqs: list[float], f: float, tol: float = 15.0) -> int:
    return sum(abs(g - f) < tol for g in freqs)


async def start(server_factory: ServerFactory, tmp_path: Path, target: str,
                ring_timeout: float) -> ServerProcess:
    flows = tmp_path / "flows"
    flows.mkdir()
    make_tone(flows / "fallback.wav", FALLBACK_TONE, 2.0)
    (flows / "xfer.yaml").write_text(flow(target, ring_timeout))
    return await server_factory(
        ServerOptions(extra_args=["--flows", str(flows), "--transcription", "off"])
    )


async def test_transfer_bridges_audio_both_ways_and_is_stored(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    caller_wav = make_tone(tmp_path / "caller.wav", CALLER_TONE, 6.0)
    target_wav = make_tone(tmp_path / "target.wav", TARGET_TONE, 6.0)
    heard_by_target = tmp_path / "heard_by_target.wav"
    heard_by_caller = tmp_path / "heard_by_caller.wav"
    async with PjsuaListener(record=heard_by_target, play=target_wav) as listener:
        server = await start(server_factory, tmp_path, listener.uri, 10)
        result = await place_call(
            f"sip:100@{server.sip_target}", from_user="+15550100",
            play=caller_wav, record=heard_by_caller, duration=8.0,
        )
        assert result.connected, result
        # The caller hung up; the bridge must hang up the listener's leg too.
        ended = await listener.next_call(timeout=10)
        assert ended is not None
    caller_side = chunk_frequencies(read_wav(heard_by_caller))
    target_side = chunk_frequencies(read_wav(heard_by_target))
    # Each side hears the other's tone for at least 2.4 s (12 chunks) of the 6 s it was
    # played, however long the transfer took to ring and bridge.
    assert near(target_side, CALLER_TONE) >= 12, target_side
    assert near(caller_side, TARGET_TONE) >= 12, caller_side
    assert near(target_side, TARGET_TONE) == 0  # no echo of its own audio
    event = transfer_event(await ended_interaction(server, within=15.0, direction="inbound"))
    assert event["answered"] is True and event["result"] == "answered"
    assert event["hung_up_by"] == "caller"
    assert 3.0 < event["duration"] < 10.0
    assert event["media"]["frames_forwarded"] > 400


async def test_unreachable_target_falls_back_and_the_caller_hears_it(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    heard = tmp_path / "heard.wav"
    server = await start(server_factory, tmp_path, f"sip:nobody@127.0.0.1:{closed_port}", 3)
    result = await place_call(
        f"sip:100@{server.sip_target}", record=heard, duration=9.0,
    )
    assert result.connected, result
    freqs = chunk_frequencies(read_wav(heard))
    # Ringback while it "rang", then the fallback prompt (2 s: ~10 chunks).
    assert near(freqs, FALLBACK_TONE) >= 7, freqs
    assert near(freqs, 440.0, 25) + near(freqs, 480.0, 25) >= 1, freqs
    event = transfer_event(await ended_interaction(server, within=15.0, direction="inbound"))
    assert event["answered"] is False and event["result"] in ("no-answer", "failed")
