"""Audit the installed dependencies with pip-audit; fail on a known vulnerability with a fix.

    python3 scripts/audit_deps.py            # exit 0 clean, 1 fixable vulnerability, 2 not audited

Runs `pip-audit --local -f json` (the packages installed in this environment, the PyPI
vulnerability service by default; `--service osv` passes through) and reads its verdict:

* a vulnerability with a fix version: listed, exit 1 (upgrade, or pin past it);
* a vulnerability without a fix: listed as a warning, not a failure (nothing to upgrade to);
* a dependency pip-audit could not look up (its `skip_reason`): listed; when any besides this
  project itself was skipped, exit 2, because "no known vulnerabilities" over packages that
  were never checked is not a result. pip-audit alone says "No known vulnerabilities found"
  and exits 0 in that case.

Standard library only, so it runs before anything else is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

# Installed from this checkout, never published: pip-audit cannot find it on PyPI.
OWN_PACKAGES = frozenset({"centralita"})

CLEAN, FIXABLE, NOT_AUDITED = 0, 1, 2


@dataclass
class Verdict:
    fixable: list[str] = field(default_factory=list)
    unfixed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    audited: int = 0

    @property
    def code(self) -> int:
        if self.fixable:
            return FIXABLE
        if self.skipped:
            return NOT_AUDITED
        return CLEAN

    def report(self) -> str:
        lines = [f"{self.audited} dependencies audited"]
        lines += [f"FIXABLE  {v}" for v in self.fixable]
        lines += [f"no fix   {v}" for v in self.unfixed]
        if self.skipped:
            lines.append(f"NOT AUDITED ({len(self.skipped)}):")
            lines += [f"  {s}" for s in self.skipped[:20]]
            if len(self.skipped) > 20:
                lines.append(f"  ... and {len(self.skipped) - 20} more")
        return "\n".join(lines)


def judge(audit: dict[str, Any]) -> Verdict:
    """The verdict on pip-audit's JSON output (`-f json`)."""
    verdict = Verdict()
    for dep in audit.get("dependencies", []):
        name = str(dep.get("name", "?"))
        if "skip_reason" in dep:
            if name.lower() not in OWN_PACKAGES:
                verdict.skipped.append(f"{name}: {dep['skip_reason']}")
            continue
        verdict.audited += 1
        for vuln in dep.get("vulns", []):
            fixes = vuln.get("fix_versions") or []
            text = f"{name} {dep.get('version', '?')}: {vuln.get('id', '?')}"
            if fixes:
                verdict.fixable.append(f"{text} (fixed in {', '.join(fixes)})")
            else:
                verdict.unfixed.append(text)
    return verdict


def main(argv: list[str]) -> int:
    cmd = [sys.executable, "-m", "pip_audit", "--local", "--progress-spinner", "off",
           "-f", "json", *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        audit = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit gave no report (exit {done.returncode}):\n{done.stderr[-3000:]}",
              file=sys.stderr)
        return NOT_AUDITED
    verdict = judge(audit)
    print(verdict.report())
    return verdict.code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
