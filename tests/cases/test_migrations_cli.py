"""The developer's `alembic` command line on cases/migrations/alembic.ini: upgrade, then
`check` against every package's tables (named in the ini file: centralita.schema:METADATA)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INI = Path(__file__).resolve().parents[2] / "cases" / "migrations" / "alembic.ini"


def alembic(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "alembic", "-c", str(INI), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def test_upgrade_then_check_from_the_command_line(tmp_path: Path, db_url: str) -> None:
    url = db_url
    done = alembic("-x", f"url={url}", "upgrade", "head", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = alembic("-x", f"url={url}", "check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "No new upgrade operations detected" in done.stdout + done.stderr
