#!/usr/bin/env bash
# Vulnerability audit of the locked dependencies (docs/security.md, « Dépendances »).
#
# Audits requirements-dev.txt (runtime + dev, hashed) with pip-audit, against the
# PyPI vulnerability data (AUDIT_SERVICE=osv for the OSV database's online API).
# Exit status:
#   0  no known vulnerability, or the data could not be reached: then it says
#      « AUDIT NOT RUN » / « NOT AUDITED » plainly, never « no vulnerability »;
#   1  a known vulnerability in a locked package (named, with its fixed versions);
#   2  the audit itself failed for another reason (a bug to look at).
# PIP_AUDIT overrides the pip-audit command (tests).
set -uo pipefail
cd "$(dirname "$0")/.."

LOCK=${AUDIT_REQUIREMENTS:-requirements-dev.txt}
SERVICE=${AUDIT_SERVICE:-pypi}
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python

if [ ! -f "$LOCK" ]; then
    echo "audit: $LOCK is missing: nothing to audit." >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "${PIP_AUDIT:-}" ]; then
    read -r -a pip_audit <<<"$PIP_AUDIT"
elif "$PYTHON" -m pip_audit --version >/dev/null 2>&1; then
    pip_audit=("$PYTHON" -m pip_audit)
else
    # Not in the virtualenv (an older lock): a throwaway one, from the registry.
    if ! { "$PYTHON" -m venv "$work/venv" && "$work/venv/bin/pip" install --quiet pip-audit; } >"$work/install.log" 2>&1; then
        echo "AUDIT NOT RUN: pip-audit could not be installed (registry unreachable?):"
        tail -n 3 "$work/install.log"
        exit 0
    fi
    pip_audit=("$work/venv/bin/pip-audit")
fi

echo "=== pip-audit of $LOCK (vulnerability service: $SERVICE)"
# --disable-pip: read the hashed lock as it is, without resolving or installing anything.
"${pip_audit[@]}" --requirement "$LOCK" --require-hashes --disable-pip --progress-spinner off \
    --vulnerability-service "$SERVICE" --timeout 30 --format json --output "$work/report.json" \
    2>"$work/stderr"
status=$?

if [ -s "$work/report.json" ]; then
    "$PYTHON" .ci/audit_report.py "$work/report.json"
    exit $?
fi
if grep -qiE 'ConnectionError|NameResolution|Max retries|timed out|Timeout|ProxyError|SSLError|Temporary failure|Network is unreachable|Connection refused' "$work/stderr"; then
    echo "AUDIT NOT RUN: the vulnerability data ($SERVICE) could not be reached:"
    grep -iE 'Error' "$work/stderr" | tail -n 1
    exit 0
fi
cat "$work/stderr" >&2
echo "audit: pip-audit failed (exit $status) for a reason other than the network." >&2
exit 2
