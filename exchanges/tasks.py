"""Celery tasks of the exchange automation: fetch-and-import PECGM, generate-and-deposit CGPEM.

Thin wrappers around `exchanges.transfers`:
- JSON arguments only (ids, codes, ISO dates);
- each task writes its own `ExchangeRun` (created from the task id when beat
  or a caller did not make one), so that runs are recorded with eager tasks
  too, and a redelivered message finds its run instead of making another;
- idempotent: a finished run is not done again, and inside a run what was
  already imported or deposited is skipped (see transfers);
- retries are narrow: only `RetryLater` (network down, 5xx, lock held) comes
  back, with a doubling delay, at most EXCHANGE_TASK_MAX_RETRIES times; wrong
  credentials, 403, bad certificates and rejected files fail at once;
- acks_late and reject_on_worker_lost (also set globally): a worker killed
  mid-run gives the message back, and the run starts over under the lock.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import date
from uuid import uuid4

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from exchanges import transfers
from exchanges.alerts import monthly_stock_imported, notify_missing_stock, notify_stuck, stock_overdue
from exchanges.faults import DATABASE_ERRORS, close_broken_connection
from exchanges.reaper import reap
from exchanges.runs import Direction, ExchangeRun, run_summary, worker_seen
from exchanges.tracked_runs import save_fields

logger = logging.getLogger(__name__)

_TIME_LIMIT = settings.EXCHANGE_TASK_TIME_LIMIT_SECONDS
_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": _TIME_LIMIT,
    "soft_time_limit": _TIME_LIMIT - 30,
    "max_retries": None,  # counted against EXCHANGE_TASK_MAX_RETRIES below, which tests can change
}


@shared_task(name="exchanges.tasks.fetch_pecgm", **_OPTIONS)
def fetch_pecgm(
    self,
    run_id: int | None = None,
    periodicities: list[str] | None = None,
    started_by: str = "beat",
    until_imported: bool = False,
):
    with _database_faults_retried(self):
        # The daily poll of the monthly stock: nothing to do (and no run recorded) on the days
        # before it is due or once it is imported. A retry (run_id set) is not asked again.
        if until_imported and run_id is None and not monthly_stock_due():
            return None
        run = _run_for(
            self,
            run_id,
            direction=Direction.FETCH,
            periodicities="".join(periodicities or []),
            started_by=started_by,
        )
        return _execute(self, run) if run else None


@shared_task(name="exchanges.tasks.deposit_cgpem", **_OPTIONS)
def deposit_cgpem(
    self,
    run_id: int | None = None,
    periodicity: str = "M",
    period_end: str | None = None,
    started_by: str = "beat",
):
    with _database_faults_retried(self):
        run = _run_for(
            self,
            run_id,
            direction=Direction.DEPOSIT,
            periodicities=periodicity,
            period_end=date.fromisoformat(period_end) if period_end else None,
            started_by=started_by,
        )
        return _execute(self, run) if run else None


@contextmanager
def _database_faults_retried(task):
    """A database connection lost outside the run's own handling (at the task's start, or
    while recording its end): a new connection and the same task later, with backoff.

    Nothing is written first: the database may still be down. The run, if any, is
    found again from the task id or run id; the reaper takes it over if every retry fails.
    """
    try:
        yield
    except DATABASE_ERRORS as exc:
        close_broken_connection()
        retries = task.request.retries
        if task.request.is_eager or retries >= settings.EXCHANGE_TASK_MAX_RETRIES:
            raise
        countdown = _database_countdown(retries)
        logger.warning(
            "exchange task %s: database unavailable (%s), retry in %ss",
            task.request.id,
            type(exc).__name__,
            countdown,
        )
        raise task.retry(countdown=countdown) from None


def _database_countdown(retries: int) -> int:
    return min(settings.EXCHANGE_DB_RETRY_DELAY_SECONDS * 2**retries, 3600)


@shared_task(name="exchanges.tasks.reap_exchanges", bind=True, acks_late=False, ignore_result=True)
def reap_exchanges(self) -> list[int]:
    """Every EXCHANGE_REAPER_MINUTES (beat): end the runs a fault left behind, start them again;
    say that this worker answers; email the admins about runs stuck for too long."""
    worker_seen(self.request.hostname or "eager")
    reaped = reap()
    notify_stuck()
    return reaped


def monthly_stock_due(today: date | None = None) -> bool:
    """Whether the daily poll fetches the monthly stock today (beat's `until_imported`).

    France Travail's server keeps a file one month: from PECGM_POLL_FROM_DAY, every day until
    the month's stock is imported, so that a stock that appears late in the month is still
    taken. Past PECGM_ALERT_AFTER_DAY, each such day also e-mails the admins
    (EXCHANGE_ALERT_EMAIL; the home page shows the alert by itself).
    """

    today = today or timezone.localdate()
    if today.day < settings.PECGM_POLL_FROM_DAY or monthly_stock_imported(today):
        return False
    if stock_overdue(today):
        notify_missing_stock(today)
    return True


def _run_for(task, run_id: int | None, **fields) -> ExchangeRun | None:
    if run_id is not None:
        run = ExchangeRun.objects.filter(pk=run_id).first()
        if run is None:
            logger.warning("exchange task %s: run %s does not exist", task.request.id, run_id)
        return run
    try:
        run, _created = ExchangeRun.objects.get_or_create(task_id=task.request.id, defaults=fields)
    except IntegrityError:  # two deliveries racing on the same task id
        run = ExchangeRun.objects.get(task_id=task.request.id)
    return run


def _execute(task, run: ExchangeRun) -> dict:
    try:
        transfers.execute(run)
    except transfers.RetryLater as exc:
        retries = task.request.retries
        if task.request.is_eager or retries >= settings.EXCHANGE_TASK_MAX_RETRIES:
            # Eager tasks run inside a web request: no waiting there. The next
            # scheduled run, or a click, tries again.
            transfers.give_up(run, exc)
            return run_summary(run)
        if exc.database:
            countdown = _database_countdown(retries)
        else:
            countdown = exc.countdown or settings.EXCHANGE_TASK_RETRY_DELAY_SECONDS * 2**retries
        logger.info("exchange run %s: retry %d in %ss", run.pk, retries + 1, countdown)
        raise task.retry(kwargs={**task.request.kwargs, "run_id": run.pk}, countdown=countdown) from None
    return run_summary(run)


def enqueue(direction: str, *, user=None, started_by: str = "", **params) -> ExchangeRun:
    """Create a queued run and send its task (from a view or a command)."""

    task_id = str(uuid4())
    run = ExchangeRun.objects.create(
        direction=direction,
        user=user,
        started_by=(started_by or (user.get_username() if user else "command"))[:50],
        task_id=task_id,
        periodicities=params.get("periodicity") or "".join(params.get("periodicities") or []),
    )
    task = fetch_pecgm if direction == Direction.FETCH else deposit_cgpem
    kwargs = {"run_id": run.pk, **params}

    def send() -> None:
        try:
            task.apply_async(kwargs=kwargs, task_id=task_id)
        except Exception:  # broker down: the run waits for it rather than a server error
            logger.exception("exchange run %s: task not sent", run.pk)
            # Still « en attente »: once Redis is back, the reaper finds its message missing
            # and sends a fresh run (exchanges.reaper).
            save_fields(
                run,
                error_message=_(
                    "La file des tâches (Redis) est injoignable : l'échange attend son retour "
                    "et partira alors de lui-même."
                ),
            )

    transaction.on_commit(send)
    return run
