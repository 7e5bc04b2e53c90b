"""Concurrent media calls: N SIPp callers streaming G.711 both ways into a real server.

For each N, a fresh `centralita serve --debug-api` (so the ticker's lateness window holds only
that step) takes N calls from one SIPp scenario: INVITE / 200 / ACK, then SIPp loops a spoken
8 kHz µ-law clip at the server with `rtp_stream` (one RTP packet per 20 ms per call) while the
server plays its welcome prompt back, then BYE. Once all N legs are up and settled the bench
samples, over a fixed window, the server's CPU (utime + stime from /proc/PID/stat), SIPp's CPU
(to show the load generator is not the bottleneck), and from GET /api/debug/media the tick
lateness p50/p99/max and the skipped ticks. After the BYEs, the per-call RTP figures from
GET /api/debug/calls give the jitter-buffer lost / late / dropped packets and packets the
server could not send.

The lateness percentiles cover the server's whole run at that N, the call ramp included (the
busiest part), so they are if anything pessimistic; wp50/wp99/wmax are over the sampled window
alone, with all N calls up. With `--realtime` each N runs again with the server's media loop on
SCHED_RR (`media.realtime_priority`, centralita/realtime.py), printed in the next row. Prints
one row per N and mode; exits 0 once figures are printed (it measures, it does not judge), 1
only if the server or the audio can't be made.

    python bench/media_calls.py [--calls 100,200,400] [--measure 10] [--realtime]

2026-12-07, `--calls 400 --realtime`, the machine shared with other engineers' benches,
fuzzers and browser tests (load average 4-23 on the 2 cores); "before" is the media code at
ee04201, "after" with 60105b7 (DTMF bank) and 85b2ca4 (G.711 take, one datagram a wake-up):

    code    mode      legs  ok   cpu%  wp50   wp99   wmax  skip  jitter-buffer drops
    before  normal     117    0   27.5   7.29  19.67  19.75   251  188,626
    before  realtime   400  400   91.9   2.05  18.41  19.90    31   18,102
    before  normal     393   53   45.5  10.37  19.74  19.91   241   32,205
    before  realtime   400  400   91.4   3.59  16.33  19.67    17    8,512
    after   normal     168    0   31.4   7.10  19.45  19.89   230  104,197
    after   realtime   400  400   75.1   0.65   2.99  12.43     0        0
    after   normal     381  400   61.0   5.68  18.19  19.82    22   23,829
    after   realtime   400  400   60.0   0.77   9.89  17.40     0        0
    after   normal     278  353   45.4   8.00  19.44  19.72   139  183,599
    after   realtime   400  400   69.0   0.66   2.12   8.32     0        0

    At normal priority the loop is starved by the rest of the machine (not all 400 legs come
    up). At realtime priority the per-leg savings take the loop from ~92% of a core (ticks
    skipped, packets dropped) to 60-75%, and p99 is under 5 ms in 2 of 3 runs (2.1, 3.0;
    9.9 in the third); bench/recording.py's plain+rt runs of the same day gave 5.04 and 2.06,
    and two more plain realtime steps at 05:46 (load average 10-12) 13.4 and 13.5 ms at 84%
    of a core, 0 and 2 ticks skipped.
    What is left is the loop's own load, not scheduling: in one more realtime step (05:48,
    load average 11, 89% of a core, wp99 15.6 ms, 9 skipped) 127 of 492 ticks started over
    4 ms late, in runs of consecutive ticks (e.g. ticks 188-234), not in periodic spikes such
    as collections would give: when the machine slows the loop's core, a tick's work for 400
    legs plus their packets no longer fits in 20 ms. Less work per leg is the lever.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.helpers.server import (  # noqa: E402
    ServerOptions,
    ServerProcess,
    ServerStartError,
    free_media_port,
    free_port,
    http_get,
)
from tests.helpers.sipp import sipp_binary  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
# SCHED_RR priority of the realtime runs: what `centralita serve --realtime` uses.
REALTIME_PRIORITY = 10
RAMP_RATE = 100  # calls/s: gentle enough that setup does not dominate the lateness window
SETTLE_S = 3.0

SCENARIO = string.Template("""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="media_calls bench caller">
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]X[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [rtpstream_audio_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=sendrecv

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]X[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <nop><action><exec rtp_stream="${AUDIO},-1,0"/></action></nop>
  <pause milliseconds="${HOLD_MS}"/>
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]X[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
""")


@dataclass
class Row:
    calls: int
    realtime: bool
    legs_seen: int
    server_cpu_pct: float  # % of one core
    sipp_cpu_pct: float
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    window_p50_ms: float  # over the measurement window only (all N calls up)
    window_p99_ms: float
    window_max_ms: float
    skipped_ticks: int
    packets_sent: int
    packets_received: int
    lost: int
    late: int
    dropped: int
    send_dropped: int
    ok_calls: int

    @property
    def cpu_per_call(self) -> float:
        return self.server_cpu_pct / self.calls if self.calls else 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and of its reaped children: SIPp's threads are inside)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def make_audio(directory: Path) -> Path:
    """A few seconds of speech as raw 8 kHz µ-law: rtp_stream sends file bytes verbatim."""
    wav = directory / "speech.wav"
    raw = directory / "speech.ulaw"
    text = "Hello, I am calling about my order. It has not arrived yet and I would like a refund."
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(wav), "-t", "raw", "-r", "8000", "-c", "1", "-e", "mu-law", str(raw)],
        check=True, capture_output=True,
    )
    return raw


def window_lateness(before: dict[str, Any], after: dict[str, Any]) -> tuple[float, float, float]:
    """Tick lateness p50 / p99 / max in ms over the ticks between two /api/debug/media views
    (the last `ticks` difference of the server's sample window); NaN from a server without
    the samples."""
    samples = after.get("lateness_samples_ms")
    count = min(int(after["ticks"]) - int(before["ticks"]), len(samples or ()))
    if not samples or count <= 0:
        return (float("nan"),) * 3  # type: ignore[return-value]
    window = sorted(samples[len(samples) - count:])
    return (window[min(count - 1, int(0.5 * count))], window[min(count - 1, int(0.99 * count))],
            window[-1])


async def media_view(server: ServerProcess, samples: bool = False) -> dict[str, Any]:
    """GET /api/debug/media; with `samples`, the ticker's lateness samples too (~4,000)."""
    status, body = await http_get(server.http_base + "/api/debug/media"
                                  + ("?samples=1" if samples else ""),
                                  headers=server.auth_headers)
    if status != 200:
        raise RuntimeError(f"/api/debug/media answered {status}: {body[:200]}")
    view: dict[str, Any] = json.loads(body)
    return view


def media_config(realtime: bool, switch_interval_ms: float | None) -> dict[str, Any]:
    """The server's `media:` section for a run (centralita.realtime)."""
    media: dict[str, Any] = {}
    if realtime:
        media["realtime_priority"] = REALTIME_PRIORITY
    if switch_interval_ms is not None:
        media["switch_interval_ms"] = switch_interval_ms
    return {"media": media} if media else {}


async def run_step(
    workdir: Path, audio: Path, n: int, measure_s: float, transcription: str,
    realtime: bool = False, switch_interval_ms: float | None = None,
) -> Row | None:
    step_dir = workdir / f"n{n}{'-rt' if realtime else ''}"
    step_dir.mkdir()
    ramp_s = n / RAMP_RATE
    hold_ms = int((ramp_s + SETTLE_S + measure_s + 3.0) * 1000)
    scenario = step_dir / "caller.xml"
    scenario.write_text(SCENARIO.substitute(AUDIO=str(audio), HOLD_MS=str(hold_ms)))
    server = ServerProcess(
        step_dir, ServerOptions(debug_api=True, tls=False, demo_hangup_after=3600.0,
                                config=media_config(realtime, switch_interval_ms),
                                extra_args=["--transcription", transcription])
    )
    try:
        await server.start()
    except ServerStartError as exc:
        print(f"media_calls: the server did not start:\n{exc}", file=sys.stderr)
        return None
    sipp: asyncio.subprocess.Process | None = None
    try:
        argv = [
            sipp_binary(), "-sf", str(scenario), server.sip_target, "-i", "127.0.0.1",
            "-mi", "127.0.0.1", "-p", str(free_port(also_tcp=False)),
            "-mp", str(free_media_port(n)),
            "-m", str(n), "-l", str(n), "-r", str(RAMP_RATE), "-nostdin",
            "-trace_stat", "-stf", str(step_dir / "stats.csv"), "-fd", "1",
            "-trace_err", "-error_file", str(step_dir / "errors.log"),
            "-timeout", f"{int(hold_ms / 1000 + 30)}s",
        ]
        sipp = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, cwd=str(step_dir), start_new_session=True,
        )
        deadline = time.monotonic() + ramp_s + 15.0
        legs = 0
        while time.monotonic() < deadline:
            legs = (await media_view(server))["legs"]
            if legs >= n:
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(SETTLE_S)
        before = await media_view(server)
        cpu0, sipp0, t0 = cpu_seconds(server.pid), cpu_seconds(sipp.pid), time.monotonic()
        await asyncio.sleep(measure_s)
        cpu1, sipp1, t1 = cpu_seconds(server.pid), cpu_seconds(sipp.pid), time.monotonic()
        after = await media_view(server, samples=True)
        legs = min(legs, after["legs"])
        try:
            await asyncio.wait_for(sipp.wait(), hold_ms / 1000 + 20)
        except TimeoutError:
            sipp.kill()
            await sipp.wait()
        records = await server.debug_calls()
    finally:
        if sipp is not None and sipp.returncode is None:
            sipp.kill()
            await sipp.wait()
        await server.stop()
    elapsed = t1 - t0
    totals = {k: 0 for k in
              ("packets_sent", "packets_received", "lost", "late", "dropped", "send_dropped")}
    ok = 0
    for record in records:
        stats = record.get("rtp_stats") or {}
        if record.get("end_cause") == "remote-bye":
            ok += 1
        for key in totals:
            totals[key] += int(stats.get(key, 0))
    lateness = after["lateness_ms"]
    w50, w99, wmax = window_lateness(before, after)
    return Row(
        calls=n, realtime=realtime, legs_seen=legs,
        server_cpu_pct=100.0 * (cpu1 - cpu0) / elapsed,
        sipp_cpu_pct=100.0 * (sipp1 - sipp0) / elapsed,
        lateness_p50_ms=lateness["p50"], lateness_p99_ms=lateness["p99"],
        lateness_max_ms=lateness["max"],
        window_p50_ms=w50, window_p99_ms=w99, window_max_ms=wmax,
        skipped_ticks=after["skipped_ticks"] - before["skipped_ticks"],
        ok_calls=ok, **totals,
    )


def print_table(rows: list[Row]) -> None:
    print(f"{'calls':>5} {'legs':>5} {'ok':>5} {'cpu%':>6} {'%/call':>7} {'sipp%':>6} "
          f"{'p50ms':>6} {'p99ms':>6} {'maxms':>6} {'wp50':>6} {'wp99':>6} {'wmax':>6} "
          f"{'skip':>5} {'rx pkts':>8} {'lost':>5} "
          f"{'late':>5} {'drop':>5} {'txdrop':>6} {'mode':<8}")
    for r in rows:
        print(f"{r.calls:>5} {r.legs_seen:>5} {r.ok_calls:>5} {r.server_cpu_pct:>6.1f} "
              f"{r.cpu_per_call:>7.3f} {r.sipp_cpu_pct:>6.1f} {r.lateness_p50_ms:>6.2f} "
              f"{r.lateness_p99_ms:>6.2f} {r.lateness_max_ms:>6.2f} {r.window_p50_ms:>6.2f} "
              f"{r.window_p99_ms:>6.2f} {r.window_max_ms:>6.2f} {r.skipped_ticks:>5} "
              f"{r.packets_received:>8} {r.lost:>5} {r.late:>5} {r.dropped:>5} "
              f"{r.send_dropped:>6} {'realtime' if r.realtime else 'normal':<8}")


async def main(counts: list[int], measure_s: float, transcription: str,
               realtime: bool = False, switch_interval_ms: float | None = None) -> int:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"media_calls: {tool} is not installed", file=sys.stderr)
            return 1
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="media-calls-") as tmp:
        workdir = Path(tmp)
        audio = make_audio(workdir)
        for n in counts:
            for rt in (False, True) if realtime else (False,):
                row = await run_step(workdir, audio, n, measure_s, transcription, rt,
                                     switch_interval_ms)
                if row is None:
                    return 1
                rows.append(row)
                print(f"  {n} calls{' (realtime)' if rt else ''}: {row.legs_seen} legs, server "
                      f"{row.server_cpu_pct:.0f}% of a core, p99 lateness "
                      f"{row.lateness_p99_ms:.2f} ms over the run, {row.window_p99_ms:.2f} ms "
                      "with all calls up", flush=True)
    print()
    print("cpu% and sipp% are % of one core (2 cores here); %/call = cpu% / calls;")
    print("p50/p99/max: media tick lateness over the server's whole run (start-up and ramp")
    print("included); wp50/wp99/wmax: over the measurement window only, all calls up;")
    print("skip: ticks skipped while measuring;")
    print("lost/late/drop: jitter-buffer counts summed over calls; txdrop: RTP not sent (EAGAIN)")
    print(f"mode: realtime = the server's media loop thread on SCHED_RR {REALTIME_PRIORITY} "
          "(media.realtime_priority)")
    print_table(rows)
    return 0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", default="100,200,400",
                        help="comma-separated numbers of concurrent calls")
    parser.add_argument("--measure", type=float, default=10.0,
                        help="seconds of sampling once all calls are up")
    # The media spine is measured on its own by default; bench/transcribe.py measures speech.
    parser.add_argument("--transcription", default="off",
                        help="the server's --transcription engine (default off)")
    parser.add_argument("--realtime", action="store_true",
                        help="run each step a second time with the media loop at realtime "
                             "priority (media.realtime_priority) and print both")
    parser.add_argument("--switch-interval-ms", type=float, default=None,
                        help="the server's GIL switch interval (media.switch_interval_ms)")
    return parser.parse_args()


if __name__ == "__main__":
    args = _parse()
    sys.exit(asyncio.run(main([int(c) for c in args.calls.split(",")], args.measure,
                              args.transcription, args.realtime, args.switch_interval_ms)))
