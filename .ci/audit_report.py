"""Read pip-audit's JSON report and say plainly what was, and was not, audited.

pip-audit alone prints « No known vulnerabilities found » even when it could audit
nothing (every package skipped: the vulnerability service did not answer for it).
Exit status: 1 when a known vulnerability is found, 0 otherwise, with a clear
« NOT AUDITED » when the data could not be had for any package.

Usage: python .ci/audit_report.py REPORT.json
"""

from __future__ import annotations

import json
import sys


def summarise(report: dict) -> tuple[int, list[str]]:
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = [d for d in dependencies if not d.get("skip_reason")]
    vulnerable = [d for d in audited if d.get("vulns")]
    lines = []
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            lines.append(
                f"VULNERABLE: {dependency['name']} {dependency.get('version', '?')}: {vuln.get('id')}"
                + (f" ({aliases})" if aliases else "")
                + f"; fixed in: {fixed}"
            )
    if dependencies and not audited:
        lines.append(
            f"NOT AUDITED: the vulnerability data could not be had for any of the {len(dependencies)} "
            f"locked packages ({skipped[0]['skip_reason']}). Nothing is known about their "
            "vulnerabilities: run `make audit` where the service is reachable."
        )
        return 0, lines
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        lines.append(f"WARNING: {len(skipped)} package(s) could not be audited: {names}")
    if vulnerable:
        lines.append(f"{len(vulnerable)} vulnerable package(s) among {len(audited)} audited.")
        return 1, lines
    lines.append(f"No known vulnerability in the {len(audited)} audited package(s).")
    return 0, lines


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        status, lines = summarise(json.load(handle))
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
