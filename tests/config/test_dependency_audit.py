"""`make audit` (.ci/audit.sh): a known vulnerability fails, unreachable data is said plainly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SKIPPED = {
    "name": "django",
    "skip_reason": "Dependency not found on PyPI and could not be audited: django (5.2.20)",
}
CLEAN = {"name": "django", "version": "5.2.20", "vulns": []}
VULNERABLE = {
    "name": "lxml",
    "version": "6.0.0",
    "vulns": [
        {"id": "PYSEC-2026-1", "fix_versions": ["6.1.0"], "aliases": ["CVE-2026-0001"], "description": "x"}
    ],
}


def fake_pip_audit(tmp_path: Path, *, report: dict | None = None, stderr: str = "", status: int = 0) -> str:
    """A stand-in for pip-audit: writes `report` where --output says, prints `stderr`, exits `status`."""
    script = tmp_path / "pip-audit"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        f"report = {report!r}\n"
        "if report is not None:\n"
        "    open(args[args.index('--output') + 1], 'w').write(json.dumps(report))\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({status})\n"
    )
    script.chmod(0o755)
    return str(script)


def audit(tmp_path: Path, pip_audit: str) -> subprocess.CompletedProcess:
    lock = tmp_path / "requirements-dev.txt"
    lock.write_text("django==5.2.20 --hash=sha256:00\n")
    environment = {**os.environ, "PIP_AUDIT": pip_audit, "AUDIT_REQUIREMENTS": str(lock)}
    return subprocess.run(
        ["bash", ".ci/audit.sh"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_a_known_vulnerability_fails_and_is_named(tmp_path):
    result = audit(tmp_path, fake_pip_audit(tmp_path, report={"dependencies": [CLEAN, VULNERABLE]}, status=1))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "VULNERABLE: lxml 6.0.0: PYSEC-2026-1 (CVE-2026-0001); fixed in: 6.1.0" in result.stdout


def test_nothing_audited_is_not_reported_as_clean(tmp_path):
    """pip-audit says « No known vulnerabilities found » when the service answered for nobody."""
    result = audit(tmp_path, fake_pip_audit(tmp_path, report={"dependencies": [SKIPPED]}))
    assert result.returncode == 0
    assert "NOT AUDITED" in result.stdout and "No known vulnerability" not in result.stdout


def test_an_unreachable_service_is_said_plainly(tmp_path):
    error = "requests.exceptions.ConnectionError: Max retries exceeded with url: /v1/query\n"
    result = audit(tmp_path, fake_pip_audit(tmp_path, stderr=error, status=1))
    assert result.returncode == 0
    assert "AUDIT NOT RUN: the vulnerability data (pypi) could not be reached" in result.stdout


def test_another_failure_of_the_audit_fails(tmp_path):
    result = audit(tmp_path, fake_pip_audit(tmp_path, stderr="Traceback: KeyError 'hashes'\n", status=1))
    assert result.returncode == 2
    assert "other than the network" in result.stderr


@pytest.mark.parametrize(
    "dependencies, status, says",
    [
        ([CLEAN], 0, "No known vulnerability in the 1 audited package(s)."),
        ([CLEAN, SKIPPED], 0, "WARNING: 1 package(s) could not be audited: django"),
        ([SKIPPED, VULNERABLE], 1, "1 vulnerable package(s) among 1 audited."),
    ],
)
def test_the_report_counts_what_was_audited(tmp_path, dependencies, status, says):
    result = audit(tmp_path, fake_pip_audit(tmp_path, report={"dependencies": dependencies}))
    assert result.returncode == status and says in result.stdout


def test_make_audit_runs_the_script():
    result = subprocess.run(["make", "-n", "audit"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "bash .ci/audit.sh" in result.stdout
