"""Every fuzz harness runs a short budget in CI (2,000 inputs each, coverage-guided by atheris)
and finds nothing: no exception a parser does not document escapes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.targets import LOADERS

RUN = Path(__file__).with_name("run.py")


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(LOADERS))
def test_harness_runs_clean(target: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), target, "--runs=2000", "-seed=1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert "stat::number_of_executed_units: 2000" in proc.stderr, tail
    assert not list(tmp_path.glob("crash-*"))
