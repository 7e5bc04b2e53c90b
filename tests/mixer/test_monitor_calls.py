"""Listen, whisper, barge and a conference on real calls, measured by what each party hears.

A pjsua2 caller (playing a 440 Hz tone, recording what it hears) goes through the IVR into a
queue; agent Ana's desk is an aiortc peer on the desk's WebSocket (700 Hz), the supervisor's
browser leg an aiortc peer posting its offer to `POST /api/calls/{id}/monitor` (1100 Hz). Each
party's received audio is measured, per phase, for each source's tone (its amplitude at that
frequency: a correlation with the source's sine):

* listen  - the supervisor hears caller and agent; neither hears the supervisor;
* whisper - the agent hears the supervisor; the caller does not (nor does what the caller
  hears, which is what the caller's side of the call carries);
* barge   - all three hear each other.

Then the conference: Ana adds agent Bob (`POST /api/calls/{id}/parties {agent}`), whose
desk answers the offer; caller, Ana and Bob (1500 Hz) each hear the two others.

And the call's stereo recording (caller left, agent right): the supervisor is in neither
channel while listening or whispering, in the agent's (right) while barging; Bob, an added
agent, is in the right channel too; the caller's (left) channel holds neither.
The server runs with the live mixer on (the default; set here so that a run with
`CENTRALITA_LIVE_MIXER=0` in the environment still tests it).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import queue, start_acd, wait_for
from tests.e2e.api import get_json, send_json
from tests.helpers.server import ServerProcess
from tests.helpers.webrtc_peer import SEND_RATE, ClientPeer
from voice.pjsua.client import place_call

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

PASSWORD = "mixer-test-password-1"
CALLER_HZ, ANA_HZ, SUP_HZ, BOB_HZ = 440.0, 700.0, 1100.0, 1500.0
PHASE_S = 5.0
HEARS = 400.0  # tone amplitude (int16) above which a source is heard (tones are sent ~6000)
SILENT = 120.0  # ... and below which it is not


def tone(freq: float, rate: int, seconds: float) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return (6000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def amplitude(x: npt.NDArray[np.int16], freq: float, rate: int = 8000) -> float:
    """The amplitude of `freq` in `x`: its correlation with a sine and a cosine of `freq`."""
    if len(x) == 0:
        return 0.0
    t = np.arange(len(x)) / rate
    c = np.dot(x.astype(np.float64), np.exp(-2j * np.pi * freq * t))
    return float(2 * abs(c) / len(x))


class DeskClient:
    """An agent's desk without a page: the desk WebSocket plus an aiortc peer as the browser."""

    def __init__(self, server: ServerProcess, name: str, freq: float) -> None:
        self.server = server
        self.name = name
        self.peer = ClientPeer(tone(freq, SEND_RATE, 2.0), codecs=("opus",))
        self.http = aiohttp.ClientSession(headers={"Origin": server.http_base},
                                          cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.messages: list[dict[str, Any]] = []
        self.offer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.answered: asyncio.Event = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def login(self) -> None:
        async with self.http.post(self.server.http_base + "/api/login",
                                  json={"username": self.name, "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            self.csrf = (await r.json())["csrf"]

    async def open(self, *, available: bool) -> None:
        await self.login()
        self.ws = await self.http.ws_connect(self.server.http_base + "/api/desk/ws")
        self._reader = asyncio.create_task(self._read())
        if available:
            await self.ws.send_json({"type": "state", "state": "available"})

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            self.messages.append(data)
            if data.get("type") == "offer" and not self.offer.done():
                self.offer.set_result(data)
            elif data.get("type") == "answer_sdp":
                await self.peer.answer(data["sdp"])
                self.answered.set()

    async def accept(self) -> dict[str, Any]:
        offer = await asyncio.wait_for(asyncio.shield(self.offer), 30)
        assert self.ws is not None
        await self.ws.send_json({"type": "accept", "offer_id": offer["offer_id"],
                                 "sdp": await self.peer.offer()})
        await asyncio.wait_for(self.answered.wait(), 30)
        return offer

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.server.http_base + path, json=body,
                                     headers={"X-CSRF-Token": self.csrf}) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text else None)

    def coached(self) -> list[str | None]:
        return [m["mode"] for m in self.messages if m.get("type") == "coached"]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self.peer.close()
        await self.http.close()


def heard_between(peer: ClientPeer, start: float, end: float) -> npt.NDArray[np.int16]:
    chunks = [c for c, t in zip(peer.heard.chunks, peer.heard.arrivals, strict=False)
              if start <= t <= end]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


def levels(x: npt.NDArray[np.int16], **freqs: float) -> dict[str, float]:
    return {name: round(amplitude(x, f), 1) for name, f in freqs.items()}


@contextlib.asynccontextmanager
async def desk(server: ServerProcess, name: str, freq: float, *,
               available: bool) -> AsyncIterator[DeskClient]:
    client = DeskClient(server, name, freq)
    try:
        await client.open(available=available)
        yield client
    finally:
        await client.close()


def caller_wav(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(tone(CALLER_HZ, 8000, seconds).tobytes())
    return path


def read_heard(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


async def test_listen_whisper_barge_and_a_conference(
    server_factory: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CENTRALITA_LIVE_MIXER", "1")
    agents = [{"id": "ana", "name": "Ana", "queues": ["support"]},
              {"id": "bob", "name": "Bob", "queues": ["other"]}]
    server = await start_acd(server_factory, tmp_path,
                             queues=[queue("support", offer_timeout=30), queue("other")],
                             agents=agents, entry_queue="support",
                             config={"recordings": {"enabled": True, "compress": False}})
    for name, role in (("ana", "agent"), ("bob", "agent"), ("sue", "supervisor")):
        await send_json(server, "POST", "/api/users",
                        {"name": name, "password": PASSWORD, "role": role})
    call_s = 55.0
    heard_wav = tmp_path / "caller-heard.wav"
    caller = asyncio.ensure_future(place_call(
        f"sip:100@{server.sip_target}", play=caller_wav(tmp_path / "caller.wav", call_s),
        record=heard_wav, duration=call_s, answer_timeout=10.0))
    try:
        async with desk(server, "ana", ANA_HZ, available=True) as ana, \
                desk(server, "bob", BOB_HZ, available=False) as bob:
            offer = await ana.accept()
            call_id = offer["call_id"]
            connected_at = time.monotonic()

            async def ana_hears_caller() -> bool:
                x = heard_between(ana.peer, time.monotonic() - 1.0, time.monotonic())
                return amplitude(x, CALLER_HZ) > HEARS
            await wait_for(ana_hears_caller, within=20, what="the caller's tone at Ana")

            sue = DeskClient(server, "sue", SUP_HZ)
            await sue.login()
            try:
                # -- listen --------------------------------------------------------------
                status, body = await sue.request("POST", f"/api/calls/{call_id}/monitor",
                                                 {"mode": "listen", "sdp": await sue.peer.offer()})
                assert status == 201, body
                await sue.peer.answer(body["sdp"])
                await wait_for(lambda: _async(ana.coached()[-1:] == ["listen"]), within=20,
                               what="Ana told she is coached (listen)")
                phases: dict[str, tuple[float, float]] = {}
                for mode in ("listen", "whisper", "barge"):
                    if mode != "listen":
                        status, body = await sue.request(
                            "PATCH", f"/api/calls/{call_id}/monitor", {"mode": mode})
                        assert status == 200, body
                    await asyncio.sleep(1.5)  # let the switch and the jitter buffers settle
                    start = time.monotonic()
                    await asyncio.sleep(PHASE_S)
                    phases[mode] = (start, time.monotonic())
                assert ana.coached()[:3] == ["listen", "whisper", "barge"]

                # A mode that does not exist is refused, saying which field.
                status, body = await sue.request("PATCH", f"/api/calls/{call_id}/monitor",
                                                 {"mode": "shout"})
                assert status == 400 and body["error"]["where"] == "mode"
                # An agent may not monitor.
                status, _ = await ana.request("POST", f"/api/calls/{call_id}/monitor",
                                              {"mode": "listen", "sdp": "v=0"})
                assert status == 403

                status, _ = await sue.request("DELETE", f"/api/calls/{call_id}/monitor")
                assert status == 204
                await wait_for(lambda: _async(ana.coached()[-1:] == [None]), within=20,
                               what="Ana told the supervisor left")
                after_sup = time.monotonic()

                # -- conference: Ana adds Bob --------------------------------------------
                # Not Bob himself (not his call), not two parties at once, no such queue,
                # and a queue with nobody available says so.
                parties = f"/api/calls/{call_id}/parties"
                status, body = await bob.request("POST", parties, {"agent": "bob"})
                assert status == 403 and body["error"]["code"] == "not_your_call", body
                status, body = await ana.request("POST", parties,
                                                 {"agent": "bob", "queue": "other"})
                assert status == 400 and body["error"]["code"] == "bad_party", body
                status, body = await ana.request("POST", parties, {"queue": "nosuch"})
                assert status == 404 and body["error"]["where"] == "queue", body
                status, body = await ana.request("POST", parties, {"queue": "other"})
                assert status == 409 and body["error"]["code"] == "not_connected", body
                adding = asyncio.ensure_future(ana.request(
                    "POST", f"/api/calls/{call_id}/parties", {"agent": "bob"}))
                bob_offer = await bob.accept()
                assert bob_offer["kind"] == "conference"
                status, body = await adding
                assert status == 201, body
                await asyncio.sleep(1.5)
                conf_start = time.monotonic()
                await asyncio.sleep(PHASE_S)
                conf_end = time.monotonic()
            finally:
                await sue.close()

            # -- what each browser heard, per phase --------------------------------------
            report: dict[str, Any] = {}
            for mode, (a, b) in phases.items():
                report[mode] = {
                    "sup": levels(heard_between(sue.peer, a, b), caller=CALLER_HZ, ana=ANA_HZ),
                    "ana": levels(heard_between(ana.peer, a, b), caller=CALLER_HZ, sup=SUP_HZ),
                }
            report["conf"] = {
                "ana": levels(heard_between(ana.peer, conf_start, conf_end),
                              caller=CALLER_HZ, bob=BOB_HZ),
                "bob": levels(heard_between(bob.peer, conf_start, conf_end),
                              caller=CALLER_HZ, ana=ANA_HZ),
            }
            print(report)
            for mode in ("listen", "whisper", "barge"):
                assert report[mode]["sup"]["caller"] > HEARS, report
                assert report[mode]["sup"]["ana"] > HEARS, report
                assert report[mode]["ana"]["caller"] > HEARS, report
            assert report["listen"]["ana"]["sup"] < SILENT, report
            assert report["whisper"]["ana"]["sup"] > HEARS, report
            assert report["barge"]["ana"]["sup"] > HEARS, report
            assert min(report["conf"]["ana"].values()) > HEARS, report
            assert min(report["conf"]["bob"].values()) > HEARS, report

            # -- what the caller heard (pjsua's recording), per phase ----------------------
            await asyncio.wait_for(caller, call_s + 30)
            rec = read_heard(heard_wav)
            # The recording's clock against ours: Ana's tone reaches the caller when the
            # bridge starts, which is when Ana's leg connected.
            win = 800
            ana_at = next(i for i in range(0, len(rec) - win, win)
                          if amplitude(rec[i:i + win], ANA_HZ) > HEARS) / 8000

            def caller_heard(a: float, b: float) -> npt.NDArray[np.int16]:
                lo = int((a - connected_at + ana_at + 1.0) * 8000)
                hi = int((b - connected_at + ana_at - 1.0) * 8000)
                return rec[max(lo, 0):max(hi, 0)]

            for mode, (a, b) in phases.items():
                report[mode]["caller"] = levels(caller_heard(a, b), ana=ANA_HZ, sup=SUP_HZ)
            report["conf"]["caller"] = levels(caller_heard(conf_start, conf_end),
                                              ana=ANA_HZ, bob=BOB_HZ)
            report["after_sup"] = levels(caller_heard(after_sup, after_sup + 2.0),
                                         sup=SUP_HZ)
            print(report)
            for mode in ("listen", "whisper", "barge"):
                assert report[mode]["caller"]["ana"] > HEARS, report
            assert report["listen"]["caller"]["sup"] < SILENT, report
            assert report["whisper"]["caller"]["sup"] < SILENT, report
            assert report["barge"]["caller"]["sup"] > HEARS, report
            assert min(report["conf"]["caller"].values()) > HEARS, report

            # -- the call's recording, per phase and channel -------------------------------
            left, right = await recording_of(server)
            rec_ana_at = next(i for i in range(0, len(right) - win, win)
                              if amplitude(right[i:i + win], ANA_HZ) > HEARS) / 8000

            def recorded(x: npt.NDArray[np.int16], a: float, b: float) -> npt.NDArray[np.int16]:
                lo = int((a - connected_at + rec_ana_at + 1.0) * 8000)
                hi = int((b - connected_at + rec_ana_at - 1.0) * 8000)
                return x[max(lo, 0):max(hi, 0)]

            recording = {mode: {"left": levels(recorded(left, a, b), sup=SUP_HZ),
                                "right": levels(recorded(right, a, b), sup=SUP_HZ, ana=ANA_HZ)}
                         for mode, (a, b) in phases.items()}
            recording["conf"] = {
                "left": levels(recorded(left, conf_start, conf_end), bob=BOB_HZ),
                "right": levels(recorded(right, conf_start, conf_end), bob=BOB_HZ, ana=ANA_HZ)}
            print(recording)
            for mode in ("listen", "whisper"):
                assert recording[mode]["right"]["sup"] < SILENT, recording
                assert recording[mode]["right"]["ana"] > HEARS, recording
            assert recording["barge"]["right"]["sup"] > HEARS, recording
            assert recording["conf"]["right"]["bob"] > HEARS, recording
            for mode in ("listen", "whisper", "barge"):
                assert recording[mode]["left"]["sup"] < SILENT, recording
            assert recording["conf"]["left"]["bob"] < SILENT, recording
    finally:
        if not caller.done():
            caller.cancel()
            with contextlib.suppress(BaseException):
                await caller


async def recording_of(
    server: ServerProcess,
) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    """The call's recording once filed: (left, right) samples."""

    async def complete() -> list[dict[str, Any]]:
        listed = await get_json(server, "/api/recordings")
        return [r for r in listed["recordings"] if r["status"] == "complete"]

    [row] = await wait_for(complete, within=30, what="the call's recording filed")
    async with aiohttp.ClientSession(headers=server.auth_headers) as http, \
            http.get(f"{server.http_base}/api/recordings/{row['id']}/audio") as resp:
        assert resp.status == 200, await resp.text()
        data = await resp.read()
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 8000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return pcm[0::2], pcm[1::2]


async def _async(value: bool) -> bool:
    return value
