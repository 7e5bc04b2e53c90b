"""Concurrent WebRTC legs one server process carries on one core, PCMU then Opus.

For each codec and each N, a fresh server process (pinned to CPU 0) accepts N offers from N
aiortc client peers that run in a second process (pinned to CPU 1), so the server's CPU is
what is measured. Each leg plays the looping welcome prompt to its peer and counts what the
peer sends (a listener, as a bridge would be). Peers send pre-encoded packets paced on real
time and note, without decoding, each received frame's RTP timestamp and arrival time.

Once all N are connected and settled, over a fixed window the bench samples the server's CPU
(utime + stime, /proc/PID/stat) and the clients' (to show the generator is not the
bottleneck); the clients report what they received in that window: frames lost (expected from
the RTP timestamps minus received) and delay (each frame's arrival against its stream's best
case schedule: p99, and the share later than 60 ms); the server reports its tick lateness,
skipped ticks and the legs' counters (inbound frames dropped, outbound dropped or late).

`--mode stock` replaces the leg by a plain aiortc peer connection the way aiortc's examples
use one (frames through aiortc's encoder and decoder thread, a task draining the received
track) with aiortc's own audio-level loop; `stock-numpy` is the same with
`voice.webrtc.audio_level` installed. They give the before/after of the leg's design.

    python bench/webrtc_legs.py [--pcmu 10,20,30,40] [--opus 10,15,20,30] [--measure 8]
    python bench/webrtc_legs.py --mode stock --pcmu 10 --opus 10

Prints one row per step and, per codec, the largest N with < 0.5% lost, < 0.5% late and no
skipped ticks, and legs per core from CPU. Exits 0 once figures are printed (it measures, it
does not judge).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
REPO_ROOT = SCRIPT.parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

CLK_TCK = os.sysconf("SC_CLK_TCK")
SETTLE_S = 2.0
LATE_S = 0.060
OK_LOSS = 0.005
OK_LATE = 0.005


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# -- server process ---------------------------------------------------------------------------
async def serve(mode: str) -> None:
    import numpy as np
    from aiohttp import web

    from media.player import PROMPTS_DIR, Player
    from media.ticker import MediaTicker
    from voice.webrtc import WebRtcLeg, audio_level

    if mode == "stock":
        import aiortc.rtp

        aiortc.rtp.compute_audio_level_dbov = audio_level.stock_audio_level_dbov
    ticker = MediaTicker()
    await ticker.start()
    legs: list[Any] = []
    heard = [0]

    def count(frame: Any) -> None:
        heard[0] += 1

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        if mode == "leg":
            leg = await WebRtcLeg.accept(body["sdp"], ticker=ticker,
                                         host_addresses=("127.0.0.1",))
            leg.play(Player.from_wav(PROMPTS_DIR / "welcome.wav", 8000, loop=True))
            leg.add_listener(count)
            legs.append(leg)
            return web.json_response({"sdp": leg.answer_sdp})
        stock = StockLeg(np.asarray(Player.from_wav(PROMPTS_DIR / "welcome.wav", 8000).samples))
        legs.append(stock)
        return web.json_response({"sdp": await stock.accept(body["sdp"])})

    async def stats(request: web.Request) -> web.Response:
        totals: dict[str, int] = {}
        for leg in legs:
            if isinstance(leg, WebRtcLeg):
                for key, value in _fields(leg.stats()):
                    if isinstance(value, int):
                        totals[key] = totals.get(key, 0) + value
        return web.json_response({
            "legs": len(legs), "heard": heard[0], "totals": totals,
            "tick_p50_ms": 1000 * ticker.lateness_percentile(0.5),
            "tick_p99_ms": 1000 * ticker.lateness_percentile(0.99),
            "skipped_ticks": ticker.skipped_ticks,
        })

    app = web.Application()
    app.router.add_post("/offer", offer)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for leg in legs:
            await leg.close()
        await ticker.stop()
        await runner.cleanup()


def _fields(obj: Any) -> list[tuple[str, Any]]:
    return [(name, getattr(obj, name)) for name in obj.__slots__]


class StockLeg:
    """aiortc used as its examples do: frames out through its encoder, a task draining the
    received track through its decoder thread (the baseline the leg is measured against)."""

    def __init__(self, prompt: Any) -> None:
        from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection

        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._prompt = prompt
        self._tasks: list[asyncio.Task[None]] = []
        outer = self

        class PromptTrack(MediaStreamTrack):
            kind = "audio"

            def __init__(self) -> None:
                super().__init__()
                self.n = 0
                self.start: float | None = None

            async def recv(self) -> Any:
                import av

                now = time.monotonic()
                self.start = self.start or now
                due = self.start + self.n * 0.02
                if due > now:
                    await asyncio.sleep(due - now)
                i = (self.n * 160) % (len(outer._prompt) - 160)
                frame = av.AudioFrame.from_ndarray(
                    outer._prompt[i : i + 160].reshape(1, -1), format="s16", layout="mono")
                frame.sample_rate = 8000
                frame.pts = self.n * 160
                frame.time_base = fractions.Fraction(1, 8000)
                self.n += 1
                return frame

        self.track = PromptTrack()

    async def accept(self, sdp: str) -> str:
        from aiortc import RTCSessionDescription

        from voice.webrtc import ice

        self.pc.on("track", lambda track: self._tasks.append(
            asyncio.create_task(self._drain(track))))
        await self.pc.setRemoteDescription(RTCSessionDescription(ice.restrict_offer(sdp),
                                                                 "offer"))
        self.pc.addTrack(self.track)
        await ice.pregather(self.pc, ["127.0.0.1"])
        ice.drop_foreign_checks(self.pc)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def _drain(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                frame.to_ndarray()

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# -- client process ---------------------------------------------------------------------------
async def clients(url: str, n: int, codec: str) -> None:
    import aiohttp
    import numpy as np

    from media.player import PROMPTS_DIR, read_wav
    from media.resample import resample
    from tests.helpers.webrtc_peer import ClientPeer

    pcm, rate = read_wav(PROMPTS_DIR / "welcome.wav")
    pcm8 = pcm if rate == 8000 else resample(pcm, rate, 8000)
    signal = np.repeat(pcm8, 6)  # the peer takes 48 kHz and keeps every sixth sample
    peers = [ClientPeer(signal, (codec,), light=True) for _ in range(n)]
    async with aiohttp.ClientSession() as http:
        for peer in peers:
            offer = await peer.offer()
            async with http.post(url + "/offer", json={"sdp": offer}) as resp:
                await peer.answer((await resp.json())["sdp"])
    async with asyncio.timeout(60):
        while any(p.pc.connectionState != "connected" for p in peers):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.readline()
    start = time.monotonic()
    lost_before = [await rtp_lost(p) for p in peers]
    await reader.readline()
    end = time.monotonic()
    lost_after = [await rtp_lost(p) for p in peers]
    clock = 48000 if codec.lower() == "opus" else 8000
    expected = received = late = 0
    delays: list[float] = []
    for peer in peers:
        arrivals = np.asarray(peer.heard.arrivals)
        stamps = np.asarray(peer.heard.pts, dtype=np.float64) / clock
        if len(arrivals) == 0:
            expected += int((end - start) / 0.02)
            continue
        window = (arrivals >= start) & (arrivals < end)
        if not window.any():
            expected += int((end - start) / 0.02)
            continue
        offset = (arrivals - stamps)[window]
        d = offset - offset.min()
        delays.extend(d.tolist())
        received += int(window.sum())
        late += int((d > LATE_S).sum())
        span = stamps[window].max() - stamps[window].min()
        expected += int(round(span / 0.02)) + 1
    q = np.percentile(delays, [50, 99]) if delays else [0.0, 0.0]
    print(json.dumps({
        "expected": expected, "received": received, "late": late,
        "delay_p50_ms": 1000 * q[0], "delay_p99_ms": 1000 * q[1],
        "rtp_lost": sum(a - b for a, b in zip(lost_after, lost_before, strict=True)),
    }), flush=True)
    for peer in peers:
        await peer.close()


async def rtp_lost(peer: Any) -> int:
    report = await peer.pc.getStats()
    return sum(int(s.packetsLost) for s in report.values() if s.type == "inbound-rtp")


# -- orchestration ----------------------------------------------------------------------------
def pinned(cpu: int) -> Any:
    def pin() -> None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})

    return pin


async def run_step(mode: str, codec: str, n: int, measure: float) -> dict[str, Any]:
    me = str(SCRIPT)
    server = await asyncio.create_subprocess_exec(
        sys.executable, me, "--role", "server", "--mode", mode,
        stdout=asyncio.subprocess.PIPE, preexec_fn=pinned(0), cwd=str(REPO_ROOT))
    client: asyncio.subprocess.Process | None = None
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 30)).decode()
        url = f"http://127.0.0.1:{int(line.split()[1])}"
        client = await asyncio.create_subprocess_exec(
            sys.executable, me, "--role", "clients", "--url", url, "--n", str(n),
            "--codec", codec, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            preexec_fn=pinned(1), cwd=str(REPO_ROOT))
        assert client.stdout is not None and client.stdin is not None
        ready = await asyncio.wait_for(client.stdout.readline(), 120)
        if not ready.startswith(b"ready"):
            raise RuntimeError("the clients did not connect")
        await asyncio.sleep(SETTLE_S)
        before = await server_stats(url)
        s0, c0, t0 = cpu_seconds(server.pid), cpu_seconds(client.pid), time.monotonic()
        client.stdin.write(b"start\n")
        await client.stdin.drain()
        await asyncio.sleep(measure)
        s1, c1, t1 = cpu_seconds(server.pid), cpu_seconds(client.pid), time.monotonic()
        client.stdin.write(b"stop\n")
        await client.stdin.drain()
        result = json.loads(await asyncio.wait_for(client.stdout.readline(), 60))
        stats = await server_stats(url)
        # Counters over the window only (the ramp's DTLS handshakes are not the steady state).
        stats["skipped_ticks"] -= before["skipped_ticks"]
        for key, value in before["totals"].items():
            stats["totals"][key] -= value
        wall = t1 - t0
        result.update(
            mode=mode, codec=codec, n=n, server_cpu=100 * (s1 - s0) / wall,
            client_cpu=100 * (c1 - c0) / wall, server=stats)
        return result
    finally:
        for proc in (client, server):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()


async def server_stats(url: str) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(url + "/stats") as resp:
        stats: dict[str, Any] = await resp.json()
        return stats


def row(r: dict[str, Any]) -> str:
    exp = max(1, r["expected"])
    lost = max(0, r["expected"] - r["received"]) / exp
    late = r["late"] / exp
    t = r["server"]["totals"]
    return (
        f"{r['mode']:<11} {r['codec']:<5} {r['n']:>4} {r['server_cpu']:>6.1f}% "
        f"{r['server_cpu'] / r['n']:>6.2f}% {100 * r['n'] / max(r['server_cpu'], 1e-9):>6.1f} "
        f"{100 * lost:>6.2f}% {100 * late:>6.2f}% {r['delay_p99_ms']:>6.1f} "
        f"{r['rtp_lost']:>5} {r['server']['tick_p99_ms']:>6.1f} {r['server']['skipped_ticks']:>5} "
        f"{t.get('dropped_in', 0):>5} {t.get('dropped_out', 0) + t.get('late_out', 0):>6} "
        f"{r['client_cpu']:>6.1f}%"
    )


HEADER = (
    "mode        codec    N  server  /leg  legs/core  lost   late>60ms p99ms rtpLost tickp99 "
    "skip dropIn outBad clients"
)


def ok(r: dict[str, Any]) -> bool:
    exp = max(1, r["expected"])
    return (
        max(0, r["expected"] - r["received"]) / exp < OK_LOSS and r["late"] / exp < OK_LATE
        and r["server"]["skipped_ticks"] == 0 and r["server_cpu"] < 95
    )


async def main_async(args: argparse.Namespace) -> None:
    plan = [("PCMU", args.pcmu), ("opus", args.opus)]
    print(f"cpus: server pinned to 0, clients to 1; measure {args.measure:g} s per step")
    print(HEADER)
    for codec, steps in plan:
        best = 0
        per_leg: list[float] = []
        for n in [int(x) for x in steps.split(",") if x]:
            try:
                r = await run_step(args.mode, codec, n, args.measure)
            except (RuntimeError, TimeoutError, json.JSONDecodeError) as exc:
                print(f"{args.mode:<11} {codec:<5} {n:>4}  failed: {exc!r}")
                break
            print(row(r), flush=True)
            per_leg.append(r["server_cpu"] / n)
            if ok(r):
                best = n
            else:
                break
        if per_leg:
            print(f"{codec}: max N with <0.5% lost/late and no skipped ticks: {best}; "
                  f"{min(per_leg):.2f}-{max(per_leg):.2f}% of a core per leg "
                  f"(~{100 / max(per_leg):.0f}-{100 / min(per_leg):.0f} legs per core by CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=("bench", "server", "clients"), default="bench")
    parser.add_argument("--mode", choices=("leg", "stock", "stock-numpy"), default="leg")
    parser.add_argument("--pcmu", default="10,20,30,40,50")
    parser.add_argument("--opus", default="10,15,20,30")
    parser.add_argument("--measure", type=float, default=8.0)
    parser.add_argument("--url", default="")
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--codec", default="PCMU")
    args = parser.parse_args()
    if args.role == "server":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.mode))
    elif args.role == "clients":
        asyncio.run(clients(args.url, args.n, args.codec))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
