"""Listen, whisper and barge from the supervisor's page, three real parties, measured.

A pjsua2 caller plays a 440 Hz tone into a queue and records what it hears; agent Ana answers
on the desk page in Chromium, whose fake microphone plays 700 Hz; supervisor Sue's page in
another Chromium (fake microphone: 1100 Hz) picks the call from its list and listens, then
switches to whisper, then to barge, with the page's buttons. In each mode both pages record what
their <audio id="remote"> plays (Web Audio, 8 kHz) and every recording is measured for each
source's tone: its amplitude by correlation with that source's sine (what the fake-mic file
holds), so who hears whom is unambiguous:

* listen  - Sue hears the caller and Ana; Ana and the caller do not hear Sue;
* whisper - Ana hears Sue; the caller does not (pjsua's recording has none of it);
* barge   - all three hear each other.

Listening, Sue's browser sends nothing at all (its RTP sender's statistics: no packet in the
whole listen phase; some hundreds in whisper and barge; none again once back to listen).

Ana's desk says she is being listened to / coached / joined, and stops saying it when Sue
leaves. The figures of each run are printed (pytest -s) for the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import queue, start_acd, wait_for
from tests.e2e.api import get_json, send_json
from tests.e2e.supervisor_pages import (
    PASSWORD,
    amplitude,
    levels,
    logged_in_page,
    record_remote,
    tone_wav,
)
from tests.helpers.chromium import CHROMIUM
from tests.recordings.test_recorded_calls import channels, wait_row
from voice.pjsua.client import place_call

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

CALLER_HZ, ANA_HZ, SUP_HZ = 440.0, 700.0, 1100.0
PHASE_S = 5.0
HEARS = 400.0  # tone amplitude (int16) above which a source is heard (the caller sends 6000)
SILENT = 120.0  # ... and below which it is not
CALL_S = 120.0
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "supervisor-e2e"
BROWSER_LEVEL = 16000.0


async def _state(server: Any, agent_id: str, want: str) -> bool:
    live = await get_json(server, "/api/routing/live")
    return bool(live["agents"][agent_id]["state"] == want)


def _read(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


async def test_listen_whisper_barge_from_the_supervisor_page(
    server_factory: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is installed by scripts/setup.sh")
    from playwright.async_api import async_playwright

    monkeypatch.setenv("CENTRALITA_LIVE_MIXER", "1")
    server = await start_acd(server_factory, tmp_path,
                             queues=[queue("support", offer_timeout=30)],
                             agents=[{"id": "ana", "name": "Ana", "queues": ["support"]}],
                             entry_queue="support",
                             config={"recordings": {"enabled": True, "compress": False}})
    for name, role in (("ana", "agent"), ("sue", "supervisor")):
        await send_json(server, "POST", "/api/users",
                        {"name": name, "password": PASSWORD, "role": role})
    # Long files: Chromium loops a fake-mic file, and a loop's seam would blur the tone. Louder
    # than the caller's: the browser's noise suppression takes ~20 dB off a steady tone.
    ana_mic = tone_wav(tmp_path / "ana.wav", ANA_HZ, CALL_S, level=BROWSER_LEVEL)
    sue_mic = tone_wav(tmp_path / "sue.wav", SUP_HZ, CALL_S, level=BROWSER_LEVEL)
    heard_wav = tmp_path / "caller-heard.wav"
    caller: asyncio.Future[Any] | None = None
    report: dict[str, Any] = {}
    async with async_playwright() as p, \
            logged_in_page(p, server, "ana", tmp_path, ana_mic, "/desk") as desk, \
            logged_in_page(p, server, "sue", tmp_path, sue_mic, "/supervisor") as sup:
        try:
            await desk.wait_for_selector("#idle", state="visible", timeout=20000)
            await desk.click("#state-available")
            await wait_for(lambda: _state(server, "ana", "available"), within=20,
                           what="ana available")
            caller = asyncio.ensure_future(place_call(
                f"sip:100@{server.sip_target}", from_user="5550142",
                play=tone_wav(tmp_path / "caller.wav", CALLER_HZ, CALL_S),
                record=heard_wav, duration=CALL_S, answer_timeout=10.0))
            await desk.wait_for_selector("#offer", state="visible", timeout=30000)
            await desk.click("#answer")

            async def connected() -> bool:
                phase = str(await desk.text_content("#call-phase") or "")
                return phase.strip().lower().startswith("connected")
            await wait_for(connected, within=30, what="the desk connected")
            connected_at = time.monotonic()

            async def desk_hears() -> bool:
                stats = await desk.evaluate("window.desk.inbound()")
                return bool(stats["energy"] > 0.01 and stats["packets"] > 100)
            await wait_for(desk_hears, within=20, what="the caller's audio on the desk")

            # Sue picks the call on her page and listens.
            row = "#calls li[data-call]"
            await sup.wait_for_selector(row, timeout=20000)
            call_id = await sup.get_attribute(row, "data-call")
            await sup.click(f'{row} button[data-mode="listen"]')

            async def sue_in(mode: str) -> bool:
                state = await sup.evaluate("window.supervisor.monitor()")
                assert state["error"] is None, state
                return bool(state["mode"] == mode and not state["busy"])

            async def desk_says(mode: str) -> bool:
                return bool(await desk.is_visible(f'#coached[data-mode="{mode}"]'))

            phases: dict[str, tuple[float, float]] = {}
            heard: dict[str, dict[str, npt.NDArray[np.int16]]] = {}
            sent: dict[str, list[dict[str, Any]]] = {}  # Sue's outbound RTP, phase start/end
            for mode in ("listen", "whisper", "barge"):
                if mode != "listen":
                    await sup.click(f"#mode-{mode}")
                await wait_for(lambda m=mode: sue_in(m), within=20, what=f"sue in {mode}")
                await wait_for(lambda m=mode: desk_says(m), within=20,
                               what=f"the desk showing {mode}")
                # The wallboard's call row says who is on it, in which mode.
                await sup.wait_for_selector(
                    f'{row} .watcher[data-supervisor="sue"][data-mode="{mode}"]',
                    timeout=10000)
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await sup.screenshot(path=str(ARTIFACTS / f"supervisor-{mode}.png"),
                                     full_page=True)
                await desk.screenshot(path=str(ARTIFACTS / f"desk-{mode}.png"), full_page=True)
                if mode == "listen":
                    async def sue_hears() -> bool:
                        stats = await sup.evaluate("window.supervisor.inbound()")
                        return bool(stats["packets"] > 50)
                    await wait_for(sue_hears, within=20, what="the call's audio at Sue")
                await asyncio.sleep(1.5)  # the switch and the jitter buffers settle
                start = time.monotonic()
                before = await sup.evaluate("window.supervisor.outbound()")
                ana_heard, sue_heard = await asyncio.gather(
                    record_remote(desk, PHASE_S), record_remote(sup, PHASE_S))
                sent[mode] = [before, await sup.evaluate("window.supervisor.outbound()")]
                phases[mode] = (start, time.monotonic())
                heard[mode] = {"ana": ana_heard, "sue": sue_heard}
            barge_shown = str(await desk.text_content("#coached") or "")

            # Back to listening: the microphone goes quiet again.
            await sup.click("#mode-listen")
            await wait_for(lambda: sue_in("listen"), within=20, what="sue listening again")
            await asyncio.sleep(0.5)
            quiet = await sup.evaluate("window.supervisor.outbound()")
            await asyncio.sleep(2.0)
            sent["listen_again"] = [quiet, await sup.evaluate("window.supervisor.outbound()")]

            await sup.click("#monitor-leave")

            async def desk_cleared() -> bool:
                return not await desk.is_visible("#coached")
            await wait_for(desk_cleared, within=20, what="the desk no longer coached")
            await asyncio.sleep(1.0)
            after_sup = time.monotonic()
            await asyncio.sleep(3.0)
            await desk.keyboard.press("x")  # Ana hangs up: the caller's recording ends
            result = await asyncio.wait_for(caller, 30)
            assert result.connected, result
            assert desk.errors == [] and sup.errors == [], (desk.errors, sup.errors)
        finally:
            if caller is not None and not caller.done():
                caller.cancel()
                with contextlib.suppress(BaseException):
                    await caller

    assert call_id
    assert "supervisor" in barge_shown.lower(), barge_shown
    for mode, got in heard.items():
        # Web Audio ran on each page for the whole phase (8 kHz, minus start-up).
        assert len(got["ana"]) > 0.8 * PHASE_S * 8000, (mode, len(got["ana"]))
        assert len(got["sue"]) > 0.8 * PHASE_S * 8000, (mode, len(got["sue"]))
        report[mode] = {"sue": levels(got["sue"], caller=CALLER_HZ, ana=ANA_HZ, sue=SUP_HZ),
                        "ana": levels(got["ana"], caller=CALLER_HZ, sue=SUP_HZ, ana=ANA_HZ)}

    # What the caller heard, from pjsua's recording, on the test's clock: Ana's tone reaches
    # the caller when the desk connected.
    rec = _read(heard_wav)
    win = 800
    ana_at = next(i for i in range(0, len(rec) - win, win)
                  if amplitude(rec[i:i + win], ANA_HZ) > HEARS) / 8000

    def caller_heard(a: float, b: float) -> npt.NDArray[np.int16]:
        lo = int((a - connected_at + ana_at + 0.5) * 8000)
        hi = int((b - connected_at + ana_at - 0.5) * 8000)
        return rec[max(lo, 0):max(hi, 0)]

    for mode, (a, b) in phases.items():
        report[mode]["caller"] = levels(caller_heard(a, b), ana=ANA_HZ, sue=SUP_HZ,
                                        caller=CALLER_HZ)
    report["after_leave"] = {"caller": levels(caller_heard(after_sup, after_sup + 2.0),
                                              ana=ANA_HZ, sue=SUP_HZ)}
    print("supervisor modes, tone amplitudes (int16) each party heard:", report)
    packets = {mode: b["packets"] - a["packets"] for mode, (a, b) in sent.items()}
    print("packets Sue's browser sent per phase:", packets, sent)
    # Listening (from the join on) and listening again: not one packet; whisper and barge:
    # the microphone sending (Chromium sent 430-511 packets in a 5 s phase).
    assert sent["listen"][1]["packets"] == 0 and not sent["listen"][1]["sending"], sent
    assert packets["listen_again"] == 0 and not sent["listen_again"][1]["sending"], sent
    for mode in ("whisper", "barge"):
        assert packets[mode] > 20 * PHASE_S and sent[mode][1]["sending"], sent

    for mode in ("listen", "whisper", "barge"):
        assert report[mode]["sue"]["caller"] > HEARS, report  # Sue hears both, always
        assert report[mode]["sue"]["ana"] > HEARS, report
        assert report[mode]["ana"]["caller"] > HEARS, report  # the call goes on
        assert report[mode]["caller"]["ana"] > HEARS, report
    assert report["listen"]["ana"]["sue"] < SILENT, report  # nobody hears Sue
    assert report["listen"]["caller"]["sue"] < SILENT, report
    assert report["whisper"]["ana"]["sue"] > HEARS, report  # Ana alone hears Sue
    assert report["whisper"]["caller"]["sue"] < SILENT, report
    assert report["barge"]["ana"]["sue"] > HEARS, report  # all three
    assert report["barge"]["caller"]["sue"] > HEARS, report
    assert report["after_leave"]["caller"]["sue"] < SILENT, report
    assert report["after_leave"]["caller"]["ana"] > HEARS, report

    # The call's own stereo recording (caller left, agent right), on the same clock: Ana's
    # tone starts on the right channel when the desk connected. Listening and whispering
    # leave no trace of Sue in it, on either side.
    stored_row = await wait_row(server, "complete", within=30)
    left, right, _ = channels(server.data_dir / "recordings" / stored_row["location"])
    agent_at = next(i for i in range(0, len(right) - win, win)
                    if amplitude(right[i:i + win], ANA_HZ) > HEARS) / 8000

    def recorded(side: npt.NDArray[Any], a: float, b: float) -> npt.NDArray[Any]:
        lo = int((a - connected_at + agent_at + 0.5) * 8000)
        hi = int((b - connected_at + agent_at - 0.5) * 8000)
        return side[max(lo, 0):max(hi, 0)]

    stored = {mode: {"left": levels(recorded(left, a, b), caller=CALLER_HZ, sue=SUP_HZ),
                     "right": levels(recorded(right, a, b), ana=ANA_HZ, sue=SUP_HZ)}
              for mode, (a, b) in phases.items()}
    print("the call's recording, tone amplitudes per channel:", stored)
    for mode in ("listen", "whisper"):
        assert stored[mode]["left"]["caller"] > HEARS, stored
        assert stored[mode]["right"]["ana"] > HEARS, stored
        assert stored[mode]["left"]["sue"] < SILENT and stored[mode]["right"]["sue"] < SILENT, \
            stored
    # Barging, everyone hears the supervisor: so does the recording, on the agent's side.
    assert stored["barge"]["right"]["sue"] > HEARS and stored["barge"]["left"]["sue"] < SILENT, \
        stored

