"""Every script in bench/ still runs on main: each at its smallest size, as a user would.

The benches measure, they do not judge, so these runs check only that each one gets as far
as printing its figures (exit 0 and its table) against the real peers it uses (SIPp, aiortc clients,
PostgreSQL, the speech models). A bench added without a smoke run here fails
`test_every_bench_has_a_smoke_run`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


@dataclass(frozen=True)
class Smoke:
    """The smallest run of one bench script and what its output must show."""

    args: tuple[str, ...]
    shows: tuple[str, ...]  # regular expressions, each must match some line
    slow: bool = True


SMOKES: dict[str, Smoke] = {
    "acd_dispatch.py": Smoke(
        ("--agents", "5", "--entries", "10", "--repeat", "1"),
        (r"^skills-weighted\s+5\s",), slow=False),
    "chat_sockets.py": Smoke(
        ("--visitors", "5", "--rate", "5", "--seconds", "1", "--concurrency", "2"),
        (r"^5 sockets open in", r"^visitor→server\s+n=\s+5\s", r"^agent→visitor\s+n=\s+5\s")),
    "languages_wer.py": Smoke(
        ("--sentences", "1"),
        (r"^whisper base, es, .* WER [\d.]+% over 1 sentences", r"^language detection: \d/1 Spanish")),
    "messages.py": Smoke(
        ("--messages", "20", "--concurrency", "2", "--customers", "5", "--db", "both"),
        (r"^SQLite\s+20 messages.*failures 0$", r"^PostgreSQL 20 messages.*failures 0$")),
    "sip_cps.py": Smoke(
        ("--rates", "20", "--seconds", "1", "--warmup", "0"),
        (r"^\s+20\s+20\s+20\s+0\s", r"^highest rate with 0 failed calls: 20 calls/s")),
    "cluster_cps.py": Smoke(
        ("--nodes", "1,2", "--rates", "20", "--seconds", "1"),
        (r"^\s+1\s+20\s+20\s+20\s+0\s", r"^\s+2\s+20\s+20\s+20\s+0\s+\d+\s+0\s",
         r"^2 node\(s\): highest rate with 0 failed calls: 20 calls/s")),
    "media_calls.py": Smoke(
        ("--calls", "2", "--measure", "1"),
        (r"^calls\s+legs\s+ok", r"^\s+2\s+2\s+2\s")),
    "recording.py": Smoke(
        ("--calls", "2", "--measure", "1"),
        (r"^plain\s+2\s+2\s", r"^rec\s+2\s+2\s.*\s2\s+2\s", r"^recording at 2 calls: ")),
    "transcript_search.py": Smoke(
        ("--segments", "200", "--queries", "3", "--db", "both"),
        (r"^SQLite\s+200 segments stored", r"^PostgreSQL 200 segments stored",
         r"^SQLite\s+agent phrase\s+p50", r"^PostgreSQL agent phrase\s+p50")),
    "webrtc_legs.py": Smoke(
        ("--pcmu", "1", "--opus", "1", "--measure", "1"),
        (r"^leg\s+PCMU\s+1\s", r"^leg\s+opus\s+1\s", r"^opus: max N")),
    "twilio_streams.py": Smoke(
        ("--legs", "2", "--measure", "1"),
        (r"^\s+2(\s+[\d.]+){5}\s",
         r"^legs per core \(N / server CPU share\), best step: (\d+|none)")),
    "transcribe.py": Smoke(
        ("--calls", "1", "--seconds", "15", "--workers", "1"),
        (r"^calls streams", r"^\s+1\s+2\s")),
    "postcall.py": Smoke(
        ("--models", "tiny.en", "--tick-seconds", "1", "--calls", "5"),
        (r"^tiny\.en\s+en\s+[\d.]+\s", r"^alone\s+\d+\s", r"^pass, SCHED_IDLE\s+\d+\s")),
    "transcribe_passage.py": Smoke(
        ("--offline-only",), (r"^offline: .* real-time factor", r"^offline\s+WER\s+[\d.]+%")),
    "transcribe_engine.py": Smoke(
        ("--engines", "whisper,pocketsphinx,vosk", "--utterances", "1"),
        (r"^whisper\s+1\s", r"^pocketsphinx\s+1\s", r"^vosk\s+1\s")),
    "vad.py": Smoke((), (r"^webrtc\s+clean speech", r"^silero\s+noise -20 dBFS")),
    "mixer.py": Smoke(
        ("--parties", "2,3", "--ticks", "200", "--repeat", "1"),
        (r"^bridge\s+2\s", r"^mixer both\s+3\s", r"^mixer sup whisper\s+3\s",
         r"^two parties: mixer"), slow=False),
    "wallboard.py": Smoke(
        ("--queues", "3", "--agents", "10", "--calls", "2", "--viewers", "2", "--changes", "20"),
        (r"^diff \(us\)\s+[\d.]+", r"^delta \(bytes\)\s+\d+",
         r"^per change to 2 viewers: deltas"), slow=False),
    "soak.py": Smoke(
        ("--minutes", "0.4", "--calls", "4", "--hold", "3", "6", "--interval", "6",
         "--warmup", "0"),
        (r"^\s*min\s+up\s+legs\s+done", r"^RSS [\d.]+ -> [\d.]+ MiB: growth [-+][\d.]+%",
         r"^fds \d+ -> \d+", r"^soak verdict: (PASS|FAIL)$",
         r"^SMS webhooks: [1-9]\d* acknowledged, \d+ not, 0 acknowledged missing")),
    "summary.py": Smoke(
        ("--minutes", "1", "--runs", "2"),
        (r"^summarise\s+2\s", r"^\+1 segment\s+2\s", r"^store\s+2\s"), slow=False),
}


def test_every_bench_has_a_smoke_run() -> None:
    # `_name.py` is a module the scripts share (bench/_acd_store_pass.py), not a script.
    scripts = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))
    assert scripts == sorted(SMOKES)


@pytest.mark.parametrize(
    "script",
    [pytest.param(name, marks=[pytest.mark.slow] if smoke.slow else [])
     for name, smoke in SMOKES.items()],
)
def test_bench_runs_at_its_smallest_size(script: str, tmp_path: Path) -> None:
    smoke = SMOKES[script]
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *smoke.args], cwd=tmp_path,
        capture_output=True, text=True, timeout=240, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{output[-4000:]}"
    for pattern in smoke.shows:
        assert re.search(pattern, done.stdout, re.MULTILINE), (
            f"{script}: no line matching {pattern!r} in:\n{done.stdout[-4000:]}")
