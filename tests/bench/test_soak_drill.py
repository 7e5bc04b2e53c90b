"""The kill / restart drill of bench/soak.py, small: nothing acknowledged is lost.

A real server under SIPp calls and signed inbound SMS webhooks is killed with SIGKILL, then
stopped with SIGTERM, each time restarted on the same data directory; after each restart
every webhook it answered 200 must be in its database, and after the last one it takes calls
and webhooks again. The bench exits 1 when an acknowledged message is missing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


@pytest.mark.slow
def test_kill_and_restart_lose_no_acknowledged_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SOAK), "--drill", "2", "--drill-seconds", "8", "--calls", "6",
         "--hold", "2", "4", "--sms-rate", "10"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    rounds = re.findall(r"^  round (\d): (SIGKILL|SIGTERM), back in [\d.]+ s, (\d+) acked, "
                        r"(\d+) missing$", done.stdout, re.MULTILINE)
    assert [(n, how) for n, how, _, _ in rounds] == [("1", "SIGKILL"), ("2", "SIGTERM")], output
    assert all(int(acked) > 0 and missing == "0" for _, _, acked, missing in rounds), output
    summary = re.search(r"^drills: 2 restarts, (\d+) messages acknowledged, 0 acknowledged "
                        r"lost$", done.stdout, re.MULTILINE)
    assert summary and int(summary.group(1)) > int(rounds[-1][2]), output
    after = re.search(r"^  after the last restart: (\d+) calls completed, (\d+) messages acked",
                      done.stdout, re.MULTILINE)
    assert after and int(after.group(1)) > 0 and int(after.group(2)) > 0, output
