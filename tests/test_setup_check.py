"""`scripts/setup.sh` on a ready machine installs nothing; `scripts/check_installed.py` says
what is missing when something is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import check_installed  # noqa: E402


def test_setup_on_a_ready_machine_runs_no_pip(tmp_path: Path) -> None:
    # A `python3` first on PATH that notes each command line, then runs the real one.
    log = tmp_path / "python3.log"
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {sys.executable} "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(REPO / "scripts" / "setup.sh")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    calls = log.read_text().splitlines()
    assert not [c for c in calls if "pip" in c], calls
    assert done.stdout == "", "a ready machine should be set up silently"


def test_this_checkout_is_complete() -> None:
    problems = [p for p in map(check_installed.unmet, check_installed.declared_requirements())
                if p]
    assert problems == []
    assert check_installed.editable_here() is None


def test_missing_and_old_requirements_are_named() -> None:
    assert check_installed.unmet("centralita-no-such-dist-xyz>=1") == (
        "centralita-no-such-dist-xyz: not installed")
    assert "wanted" in (check_installed.unmet("numpy>=999") or "")
    assert check_installed.unmet("numpy>=1") is None
    # A requirement for another platform/extra is not asked for here.
    assert check_installed.unmet('numpy>=999; python_version < "3"') is None


def test_another_clone_is_not_taken_for_this_one(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    assert check_installed.editable_here(clone) == (
        f"centralita: not installed editable from {clone}")


def test_a_new_top_level_package_needs_a_reinstall(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        (REPO / "pyproject.toml").read_text().replace('include = ["', 'include = ["zzpkg*", "'))
    (tmp_path / "zzpkg").mkdir()
    (tmp_path / "zzpkg" / "__init__.py").write_text("")
    assert check_installed.packages_here(tmp_path) == [
        f"zzpkg: package not installed from {tmp_path}"]
