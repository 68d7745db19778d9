"""A real `celery worker` process for end-to-end tests (test_e2e.py, test_faults_e2e.py).

On the test database (committed data: `transactional_db`) and a queue of its
own; tasks are sent through Redis exactly as beat does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from exchanges.runs import ExchangeRun
from tests.exchanges.conftest import USER

BASE_DIR = Path(settings.BASE_DIR)
BEAT = settings.CELERY_BEAT_SCHEDULE


def _database_url() -> str:
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}"


class Worker:
    """A `celery worker` subprocess on its own queue, and a way to send it tasks."""

    def __init__(
        self, tmp_path: Path, server, queue: str | None = None, as_in_production=False, **env
    ) -> None:
        self.queue = queue or f"e2e-{uuid.uuid4().hex[:12]}"
        self.log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.broker = env.pop("REDIS_URL", None) or os.environ["TEST_REDIS_URL"]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _database_url(),
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": self.broker,
            # Tasks sent by a task (the daily poll starts a fetch, the reaper a fresh run)
            # stay on this worker's queue.
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DATA_DIR": str(tmp_path / "data"),
            "EXCHANGE_FILES_DIR": str(settings.EXCHANGE_FILES_DIR),
            "DEPARTEMENT": "82",
            "EXCHANGE_URL": server.base_url if server else "",
            "EXCHANGE_USERNAME": USER.username,
            "EXCHANGE_PASSWORD": USER.password,
            "EXCHANGE_CA_BUNDLE": str(server.ca_path) if server else "",
            "EXCHANGE_TIMEOUT_SECONDS": "5",
            "EXCHANGE_MAX_FILE_AGE_DAYS": "0",  # the tests' files are dated 2025
            "EXCHANGE_ATTEMPTS": "2",
            "EXCHANGE_RETRY_BACKOFF_SECONDS": "0.1",
            "EXCHANGE_TASK_MAX_RETRIES": "2",
            "EXCHANGE_TASK_RETRY_DELAY_SECONDS": "1",
            "EXCHANGE_LOCK_LEASE_SECONDS": "3",
            "EXCHANGE_DB_RETRY_DELAY_SECONDS": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None
        # As docker-compose.yml and docs/production.md start it: gossip, mingle and heartbeat
        # on, two processes (the other tests leave those out, to start faster).
        self.as_in_production = as_in_production
        # Not the current app: the tests' own tasks stay on the project's (eager) app.
        self.sender = Celery(broker=self.broker, set_as_current=False)
        self.sender.conf.task_serializer = "json"

    def start(self) -> Worker:
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "-Q", self.queue, "-n", f"{self.queue}@%h", "--loglevel=INFO",
        ]  # fmt: skip
        if self.as_in_production:
            command += ["--concurrency=2"]
        else:
            command += ["--pool=prefork", "--concurrency=1", "--without-gossip", "--without-mingle"]
            command += ["--without-heartbeat"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_for("ready", 60)
        return self

    def _wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"worker not {text}:\n{self.log.read_text(errors='replace')[-4000:]}")

    def send(self, beat_entry: str, **kwargs) -> None:
        """Send a task as beat does, with the schedule's kwargs (and any override)."""
        entry = BEAT[beat_entry]
        self.sender.send_task(entry["task"], kwargs={**entry["kwargs"], **kwargs}, queue=self.queue)

    def send_fetch(self, periodicities: list[str]) -> None:
        """Send the fetch task itself, as the daily beat entries do, for these periodicities."""
        self.sender.send_task(
            "exchanges.tasks.fetch_pecgm",
            kwargs={"periodicities": periodicities, "started_by": "beat"},
            queue=self.queue,
        )

    def children(self) -> list[int]:
        """The pool processes (read from /proc: `ps` may be missing from slim images)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.sender.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    workers = []

    def start(server, queue: str | None = None, as_in_production=False, **env) -> Worker:
        worker = Worker(tmp_path, server, queue, as_in_production, **env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
        # Shown by pytest only when the test failed.
        print(worker.log.read_text(errors="replace")[-6000:])


def wait_for_run(direction: str, *, timeout: float = 90, count: int = 1) -> list[ExchangeRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(ExchangeRun.objects.filter(direction=direction).order_by("id"))
        if len(runs) >= count and all(run.is_finished for run in runs):
            return runs
        time.sleep(0.3)
    raise AssertionError(
        f"runs not finished: {list(ExchangeRun.objects.values('id', 'status', 'error_message'))}"
    )
