"""`scripts/audit_deps.py`'s verdict on pip-audit's JSON report: a vulnerability with a fix
fails, one without a fix warns, a dependency that could not be looked up fails as "not
audited" (pip-audit itself exits 0 then), this project itself being unpublished is fine."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import audit_deps  # noqa: E402


def dep(name: str, *vulns: tuple[str, list[str]]) -> dict[str, object]:
    return {"name": name, "version": "1.0",
            "vulns": [{"id": i, "fix_versions": f, "aliases": [], "description": ""}
                      for i, f in vulns]}


def test_a_vulnerability_with_a_fix_fails() -> None:
    v = audit_deps.judge({"dependencies": [
        dep("ok"), dep("bad", ("GHSA-1", ["1.0.1"]), ("PYSEC-2", [])), dep("meh", ("CVE-3", []))]})
    assert v.code == audit_deps.FIXABLE and v.audited == 3
    assert v.fixable == ["bad 1.0: GHSA-1 (fixed in 1.0.1)"]
    assert v.unfixed == ["bad 1.0: PYSEC-2", "meh 1.0: CVE-3"]
    assert "FIXABLE  bad 1.0: GHSA-1" in v.report()


def test_vulnerabilities_without_a_fix_only_warn() -> None:
    v = audit_deps.judge({"dependencies": [dep("meh", ("CVE-3", [])), dep("ok")]})
    assert v.code == audit_deps.CLEAN and v.unfixed


def test_dependencies_that_were_not_looked_up_are_not_a_clean_result() -> None:
    skipped = {"name": "aiohttp", "skip_reason": "Dependency not found on PyPI and could not "
               "be audited: aiohttp (3.14.5)"}
    own = {"name": "centralita", "skip_reason": "Dependency not found on PyPI"}
    v = audit_deps.judge({"dependencies": [dep("ok"), skipped, own]})
    assert v.code == audit_deps.NOT_AUDITED
    assert v.skipped == ["aiohttp: Dependency not found on PyPI and could not be audited: "
                         "aiohttp (3.14.5)"]
    assert audit_deps.judge({"dependencies": [dep("ok"), own]}).code == audit_deps.CLEAN
