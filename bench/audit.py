"""Audit ``requirements.lock`` for known vulnerabilities with pip-audit, and say how much was really audited.

pip-audit reports "No known vulnerabilities found" even when it could not look a single package up (each
one is then only a "skip"), so this script counts audited and skipped packages itself and refuses to call
a run clean unless every pinned package was checked.

    .venv/bin/pip install pip-audit          # not a runtime dependency; see the Makefile's audit target
    .venv/bin/python bench/audit.py          # PyPI's vulnerability data, then OSV if PyPI answered nothing
    .venv/bin/python bench/audit.py --service osv --allow-skips

Exit status: 0 every package audited, no known vulnerability; 1 vulnerabilities found; 2 some or all
packages could not be audited (the vulnerability service was unreachable or had no data); 3 pip-audit
itself is missing or failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
SERVICES = ("pypi", "osv")


@dataclass
class AuditResult:
    service: str
    audited: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def vulnerable(self) -> list[dict[str, Any]]:
        return [d for d in self.audited if d.get("vulns")]


def pip_audit_command() -> list[str] | None:
    venv_bin = Path(sys.executable).parent / "pip-audit"
    if venv_bin.exists():
        return [str(venv_bin)]
    found = shutil.which("pip-audit")
    return [found] if found else None


def run_pip_audit(cmd: list[str], requirements: Path, service: str, timeout: float) -> AuditResult:
    # every line of the lock file is pinned with ==, so no resolver (and no throwaway venv) is needed
    args = [*cmd, "-r", str(requirements), "--no-deps", "--disable-pip", "--progress-spinner", "off",
            "-f", "json", "-s", service]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return AuditResult(service, error=f"pip-audit timed out after {timeout:g} s")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return AuditResult(service, error=f"pip-audit exited {proc.returncode}: {tail[0][:300]}")
    result = AuditResult(service)
    for dep in data.get("dependencies", []):
        (result.skipped if "skip_reason" in dep else result.audited).append(dep)
    return result


def report(result: AuditResult, total: int) -> None:
    print(f"service {result.service}: {len(result.audited)}/{total} packages audited, "
          f"{len(result.skipped)} skipped, {len(result.vulnerable)} with known vulnerabilities")
    if result.error:
        print(f"  error: {result.error}")
    for dep in result.vulnerable:
        for v in dep["vulns"]:
            fixes = ", ".join(v.get("fix_versions") or []) or "no fixed version"
            aliases = ", ".join(v.get("aliases") or [])
            print(f"  {dep['name']} {dep['version']}: {v['id']}" + (f" ({aliases})" if aliases else "")
                  + f"; fixed in {fixes}")
    if result.skipped:
        reasons: dict[str, int] = {}
        for dep in result.skipped:
            reason = str(dep["skip_reason"]).split(":")[0]
            reasons[reason] = reasons.get(reason, 0) + 1
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            print(f"  skipped x{n}: {reason}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requirements", type=Path, default=LOCK)
    ap.add_argument("--service", choices=[*SERVICES, "auto"], default="auto",
                    help="vulnerability data source; auto tries pypi, then osv if pypi audited nothing")
    ap.add_argument("--allow-skips", action="store_true", help="exit 0 (not 2) when some packages were skipped")
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)

    cmd = pip_audit_command()
    if cmd is None:
        print("pip-audit is not installed: .venv/bin/pip install pip-audit", file=sys.stderr)
        return 3
    total = sum(1 for line in args.requirements.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "-")))
    print(f"auditing {args.requirements.name}: {total} pinned packages")
    results = []
    for service in (SERVICES if args.service == "auto" else (args.service,)):
        result = run_pip_audit(cmd, args.requirements, service, args.timeout)
        report(result, total)
        results.append(result)
        if result.audited:
            break
    best = max(results, key=lambda r: len(r.audited))
    if best.error and not best.audited:
        print("RESULT: pip-audit could not run", file=sys.stderr)
        return 3
    if best.vulnerable:
        print(f"RESULT: {len(best.vulnerable)} vulnerable package(s)")
        return 1
    if best.skipped:
        print(f"RESULT: NOT AUDITED: {len(best.skipped)}/{total} packages could not be checked "
              "(no vulnerability data reachable); no finding is not a clean bill")
        return 0 if args.allow_skips else 2
    print("RESULT: every package audited, no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
