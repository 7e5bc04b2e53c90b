"""The harness checks itself without Centralita: SIPp's uac against SIPp's uas.

These prove the runner's counting, its failure report, and that every scenario file loads,
so a failing server test is about the server, not the harness.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.server import free_port, make_self_signed_cert
from tests.helpers.sipp import (
    SCENARIO_DIR,
    SippError,
    TlsBridge,
    run_sipp,
    scenario,
    sipp_uas,
)
from tests.sipp.conftest import Sipp, SpeechAudio
from tests.sipp.debug_api import assert_exact_audio_in_order, read_wav_mono


async def test_uac_against_sipp_uas_udp(sipp: Sipp, tmp_path: Path) -> None:
    port = free_port()
    async with sipp_uas(port, tmp_path):
        result = await sipp.run(
            ["-m", "300", "-r", "300", "-timeout", "20s"],
            target=f"127.0.0.1:{port}", builtin="uac",
        )
    result.assert_calls(successful=300)


async def test_uac_against_sipp_uas_tcp(sipp: Sipp, tmp_path: Path) -> None:
    port = free_port()
    async with sipp_uas(port, tmp_path, ["-t", "t1"]):
        result = await sipp.run(
            ["-t", "t1", "-m", "100", "-r", "100", "-timeout", "20s"],
            target=f"127.0.0.1:{port}", builtin="uac",
        )
    result.assert_calls(successful=100)


async def test_failures_are_counted_and_reported(sipp: Sipp) -> None:
    # Nobody listens: every INVITE times out on receive.
    port = free_port()
    result = await sipp.run(
        ["-m", "2", "-r", "10", "-recv_timeout", "300", "-timeout", "15s"],
        target=f"127.0.0.1:{port}", builtin="uac",
    )
    assert result.failed == 2, result.report()
    assert result.successful == 0
    assert result.returncode == 1
    with pytest.raises(SippError) as info:
        result.assert_calls(successful=2)
    assert "failed=2" in str(info.value)
    assert "argv:" in str(info.value)


def _all_scenarios(sipp: Sipp, speech: SpeechAudio) -> list[Path]:
    files = sorted(SCENARIO_DIR.glob("*.xml"))
    files.append(sipp.render("uac_rtp_stream", AUDIO_FILE=str(speech.ulaw_raw), PLAY_MS="100"))
    files.append(sipp.render("uac_rtp_echo", LISTEN_MS="100"))
    return files


async def test_every_scenario_loads(sipp: Sipp, speech_audio: SpeechAudio) -> None:
    """SIPp parses each scenario (a parse error is exit 255 before any message is sent)."""
    port = free_port()
    for path in _all_scenarios(sipp, speech_audio):
        result = await run_sipp(
            ["-m", "1", "-recv_timeout", "300", "-timeout", "1s", "-au", "alice", "-ap", "x", "-key", "x", "y"],
            target=f"127.0.0.1:{port}", workdir=sipp.workdir, scenario_file=path,
            name=path.stem, kill_after=20,
        )
        assert result.returncode != 255, f"{path.name} does not load:\n{result.report()}"
        assert result.created == 1, f"{path.name} placed no call:\n{result.report()}"
        assert "Unable to" not in result.stderr, result.report()


def test_scenario_lookup() -> None:
    assert scenario("options").name == "options.xml"
    with pytest.raises(FileNotFoundError):
        scenario("no-such-scenario")


async def test_tls_bridge_carries_sip_both_ways(sipp: Sipp, tmp_path: Path) -> None:
    """sipp uac -(TCP)-> TlsBridge -(TLS)-> a TLS terminator -(TCP)-> sipp uas."""
    cert, key = make_self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    uas_port = free_port()
    relays: set[asyncio.Task[None]] = set()

    async def terminate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        relays.add(task)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", uas_port)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_copy(reader, up_writer))
                group.create_task(_copy(up_reader, writer))
        except* (OSError, ssl.SSLError):
            pass
        finally:
            writer.close()
            up_writer.close()
            relays.discard(task)

    terminator = await asyncio.start_server(terminate, "127.0.0.1", 0, ssl=context)
    tls_port = terminator.sockets[0].getsockname()[1]
    try:
        async with sipp_uas(uas_port, tmp_path, ["-t", "t1"]), TlsBridge(
            "127.0.0.1", tls_port
        ) as bridge:
            result = await sipp.run(
                ["-t", "t1", "-m", "50", "-r", "50", "-timeout", "20s"],
                target=f"127.0.0.1:{bridge.port}", builtin="uac",
            )
    finally:
        terminator.close()
        for task in list(relays):
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        await terminator.wait_closed()
    result.assert_calls(successful=50)
    assert bridge.connections == 1


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


def test_exact_audio_check_allows_frame_slips_but_not_damage(speech_audio: SpeechAudio) -> None:
    """The piecewise check behind the PJSIP speech test passes a jitter buffer's slips only."""
    reference, _ = read_wav_mono(speech_audio.reference_wav)
    lead = np.zeros(1200)
    slipped = np.concatenate([
        lead, reference[:16000], reference[16160:26400],  # one frame dropped at 2 s
        reference[26240:26400], reference[26400:],  # one frame played twice at 3.3 s
    ])
    assert_exact_audio_in_order(reference, slipped)

    half = len(reference) // 2
    with pytest.raises(AssertionError):  # reordered
        assert_exact_audio_in_order(reference, np.concatenate([reference[half:], reference[:half]]))
    with pytest.raises(AssertionError):  # a stretch lost every 100 ms
        gappy = reference.copy()
        for start in range(0, len(gappy), 800):
            gappy[start: start + 160] = 0
        assert_exact_audio_in_order(reference, gappy)
    with pytest.raises(AssertionError):  # garbled: a wrong codec or sign
        assert_exact_audio_in_order(reference, np.abs(reference))
    with pytest.raises(AssertionError):  # nothing arrived
        assert_exact_audio_in_order(reference, np.zeros(len(reference)))
