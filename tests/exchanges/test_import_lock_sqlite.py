"""Two imports never run at once: on SQLite (the embedded mode), an OS file lock.

The lock is held by the importing process: the kernel releases it when the
process dies, however it dies, so a run left "running" by a killed import no
longer blocks the next one. (PostgreSQL's advisory lock: test_import_lock_postgres.py.)
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from django.conf import settings

from exchanges.pecgm_import import INTERRUPTED_MESSAGE
from exchanges.synthetic import fake_pecgm_records, write_pecgm
from tests.exchanges.import_files import pecgm_file, record_for

JAN, FEB = date(2025, 1, 31), date(2025, 2, 28)


# --- For real: an import process killed with SIGKILL ----------------------------------------

# Records in the file killed midway: its import takes some fifteen seconds on SQLite.
BIG = 20_000


def _manage(data_dir: Path, *args: str, background: bool = False):
    """`manage.py` on an embedded instance of its own (SQLite file in `data_dir`), no service."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_", "APP_MODE"))
    }
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", DATA_DIR=str(data_dir), DEPARTEMENT="82")
    command = [sys.executable, "manage.py", *args]
    options = {"cwd": settings.BASE_DIR, "env": environment, "stdout": subprocess.PIPE}
    if background:
        return subprocess.Popen(command, stderr=subprocess.PIPE, **options)
    return subprocess.run(command, stderr=subprocess.PIPE, text=True, timeout=300, **options)


def _runs(database: Path) -> list[tuple]:
    with sqlite3.connect(database, timeout=20) as db:
        return db.execute("SELECT id, status, error_message FROM exchanges_importrun ORDER BY id").fetchall()


def _wait_for_a_running_import(database: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if any(status == "running" for _, status, _ in _runs(database)):
                return
        except sqlite3.OperationalError:  # tables not there yet, or busy
            pass
        time.sleep(0.05)
    raise AssertionError(f"no running import seen: {process.communicate()}")


def test_an_import_killed_with_sigkill_is_marked_interrupted_and_blocks_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    database = data / "liaison-rsa.sqlite3"
    migrated = _manage(data, "migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    big = tmp_path / "PECGM_082_20250131_M.xml"
    write_pecgm(big, fake_pecgm_records(None, BIG, seed=5, reference_date=JAN), reference_date=JAN)

    small = pecgm_file(tmp_path, [record_for(None)], FEB, "H")
    process = _manage(data, "import_pecgm", str(big), background=True)
    try:
        _wait_for_a_running_import(database, process)
        # While it runs, another process's import is refused.
        busy = _manage(data, "import_pecgm", str(small))
        assert busy.returncode == 3 and "Un autre import PECGM est en cours" in busy.stderr
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    ((dead, status, _),) = _runs(database)
    assert status == "running"  # killed midway: nobody will mark it but the next import

    result = _manage(data, "import_pecgm", str(small), "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    assert json.loads(result.stdout)["status"] == "imported"
    runs = {run_id: (status, message) for run_id, status, message in _runs(database)}
    assert runs.pop(dead) == ("interrupted", INTERRUPTED_MESSAGE)
    assert list(runs.values()) == [("imported", "")]
    with sqlite3.connect(database) as db:
        # Nothing of the killed import stayed: its transaction never committed.
        assert db.execute("SELECT COUNT(*) FROM exchanges_jobseekersnapshot").fetchone() == (1,)
