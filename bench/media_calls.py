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
busiest part), so they are if anything pessimistic. Prints one row per N; exits 0 once figures
are printed (it measures, it does not judge), 1 only if the server or the audio can't be made.

    python bench/media_calls.py [--calls 100,200,400] [--measure 10]
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
    free_port,
    http_get,
)
from tests.helpers.sipp import sipp_binary  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
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
    legs_seen: int
    server_cpu_pct: float  # % of one core
    sipp_cpu_pct: float
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
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


async def media_view(server: ServerProcess) -> dict[str, Any]:
    status, body = await http_get(server.http_base + "/api/debug/media",
                                  headers=server.auth_headers)
    if status != 200:
        raise RuntimeError(f"/api/debug/media answered {status}: {body[:200]}")
    view: dict[str, Any] = json.loads(body)
    return view


async def run_step(
    workdir: Path, audio: Path, n: int, measure_s: float, transcription: str
) -> Row | None:
    step_dir = workdir / f"n{n}"
    step_dir.mkdir()
    ramp_s = n / RAMP_RATE
    hold_ms = int((ramp_s + SETTLE_S + measure_s + 3.0) * 1000)
    scenario = step_dir / "caller.xml"
    scenario.write_text(SCENARIO.substitute(AUDIO=str(audio), HOLD_MS=str(hold_ms)))
    server = ServerProcess(
        step_dir, ServerOptions(debug_api=True, tls=False, demo_hangup_after=3600.0,
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
            "-mp", str(free_port(also_tcp=False) & ~1),
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
        after = await media_view(server)
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
    return Row(
        calls=n, legs_seen=legs,
        server_cpu_pct=100.0 * (cpu1 - cpu0) / elapsed,
        sipp_cpu_pct=100.0 * (sipp1 - sipp0) / elapsed,
        lateness_p50_ms=lateness["p50"], lateness_p99_ms=lateness["p99"],
        lateness_max_ms=lateness["max"],
        skipped_ticks=after["skipped_ticks"] - before["skipped_ticks"],
        ok_calls=ok, **totals,
    )


def print_table(rows: list[Row]) -> None:
    print(f"{'calls':>5} {'legs':>5} {'ok':>5} {'cpu%':>6} {'%/call':>7} {'sipp%':>6} "
          f"{'p50ms':>6} {'p99ms':>6} {'maxms':>6} {'skip':>5} {'rx pkts':>8} {'lost':>5} "
          f"{'late':>5} {'drop':>5} {'txdrop':>6}")
    for r in rows:
        print(f"{r.calls:>5} {r.legs_seen:>5} {r.ok_calls:>5} {r.server_cpu_pct:>6.1f} "
              f"{r.cpu_per_call:>7.3f} {r.sipp_cpu_pct:>6.1f} {r.lateness_p50_ms:>6.2f} "
              f"{r.lateness_p99_ms:>6.2f} {r.lateness_max_ms:>6.2f} {r.skipped_ticks:>5} "
              f"{r.packets_received:>8} {r.lost:>5} {r.late:>5} {r.dropped:>5} "
              f"{r.send_dropped:>6}")


async def main(counts: list[int], measure_s: float, transcription: str) -> int:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"media_calls: {tool} is not installed", file=sys.stderr)
            return 1
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="media-calls-") as tmp:
        workdir = Path(tmp)
        audio = make_audio(workdir)
        for n in counts:
            row = await run_step(workdir, audio, n, measure_s, transcription)
            if row is None:
                return 1
            rows.append(row)
            print(f"  {n} calls: {row.legs_seen} legs, server {row.server_cpu_pct:.0f}% of a "
                  f"core, p99 lateness {row.lateness_p99_ms:.2f} ms", flush=True)
    print()
    print("cpu% and sipp% are % of one core (2 cores here); %/call = cpu% / calls;")
    print("p50/p99/max: media tick lateness; skip: ticks skipped while measuring;")
    print("lost/late/drop: jitter-buffer counts summed over calls; txdrop: RTP not sent (EAGAIN)")
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
    return parser.parse_args()


if __name__ == "__main__":
    args = _parse()
    sys.exit(asyncio.run(main([int(c) for c in args.calls.split(",")], args.measure, args.transcription)))
