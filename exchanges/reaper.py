"""The reaper: runs left « en cours » or « en attente » by a fault are ended and started again.

A worker killed as a whole leaves its run « en cours », and Redis gives its
message back only after the visibility timeout (an hour); a flushed or
restarted Redis loses the message of a run « en attente » for good. The
reaper (a beat task every EXCHANGE_REAPER_MINUTES, and each worker's start)
finds them:

- a run « en cours » whose heartbeat (written every EXCHANGE_HEARTBEAT_SECONDS
  by a thread of the running task) is older than EXCHANGE_STALE_RUN_MINUTES,
  or any run « en cours » when a worker starts;
- a run « en attente » older than that whose message is nowhere in the broker
  (neither queued nor reserved by a worker, retries waiting their countdown
  included);

and only when the direction's lock is free: a run whose lock is held is
alive, however late its heartbeat. Each is marked « interrompu » with the
reason, and one fresh run per direction and parameters is sent. The stale
`.part` downloads of dead fetches are deleted under the fetch's lock.

PECGM imports left « en cours » are ended the same way, once the import's
lock is free (`exchanges.pecgm_import.reap_imports`); the next attempt (a
fetch, or an operator) imports their file again.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from exchanges.pecgm_import import reap_imports
from exchanges.runs import LOCKS, Direction, ExchangeRun, RunStatus
from exchanges.tracked_runs import interrupt_runs

logger = logging.getLogger(__name__)

REAPER = "reaper"


def reap(*, at_worker_start: bool = False) -> list[int]:
    """End the dead runs and send fresh ones; returns the ids of the runs ended."""
    reaped: list[int] = []
    pending = None  # read from the broker once, when a queued run needs it
    reap_imports()
    for direction in Direction:
        with LOCKS[direction].if_free() as free:
            if not free:
                continue  # a live run holds it: nothing of this direction is dead
            if direction == Direction.FETCH:
                remove_stale_downloads()
            stale_before = timezone.now() - timedelta(minutes=settings.EXCHANGE_STALE_RUN_MINUTES)
            running = ExchangeRun.objects.filter(direction=direction, status=RunStatus.RUNNING)
            if not at_worker_start:
                running = running.filter(heartbeat_at__lt=stale_before) | running.filter(
                    heartbeat_at__isnull=True
                )
            dead = [(run, _lost_worker_reason()) for run in running]
            queued = list(ExchangeRun.objects.filter(direction=direction, status=RunStatus.QUEUED))
            old_queued = [run for run in queued if run.created_at < stale_before]
            if old_queued:
                pending = pending if pending is not None else pending_task_ids()
                if pending is not None:
                    dead += [
                        (run, _lost_message_reason()) for run in old_queued if run.task_id not in pending
                    ]
            for run, reason in dead:
                # Conditional: a run that ended meanwhile keeps its own ending.
                ended = interrupt_runs(ExchangeRun.objects.filter(pk=run.pk), reason, statuses=(run.status,))
                if ended:
                    logger.warning("exchange run %s (%s) reaped: %s", run.pk, direction, run.status)
                    reaped.append(run.pk)
            waiting = {_params(run) for run in queued if run.pk not in reaped}
            for params in {_params(run) for run, _reason in dead if run.pk in reaped} - waiting:
                _send_fresh(direction, params)
    return reaped


def _lost_worker_reason() -> str:
    return _(
        "Interrompu : le processus qui l'exécutait ne donne plus signe de vie (arrêté ou tué). "
        "Un nouvel essai est lancé."
    )


def _lost_message_reason() -> str:
    return _(
        "Interrompu : la tâche a été perdue par la file des tâches (Redis vidé ou redémarré). "
        "Un nouvel essai est lancé."
    )


def _params(run: ExchangeRun) -> tuple:
    return (run.periodicities, run.period_end.isoformat() if run.period_end else None)


def _send_fresh(direction: str, params: tuple) -> None:
    from exchanges.tasks import enqueue  # noqa: PLC0415  (exchanges.tasks imports this module)

    periodicities, period_end = params
    if direction == Direction.FETCH:
        run = enqueue(direction, started_by=REAPER, periodicities=list(periodicities))
    else:
        run = enqueue(direction, started_by=REAPER, periodicity=periodicities or "M", period_end=period_end)
    logger.info("exchange run %s (%s) sent by the reaper", run.pk, direction)


def pending_task_ids() -> set[str] | None:
    """The ids of the tasks the broker still holds (queued or reserved), or None if it cannot tell.

    Kombu's Redis transport keeps queued messages in lists (one per queue and
    priority) and reserved ones, until acknowledged, in the `unacked` hash: a
    retry waiting for its countdown is there too.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL.startswith(
        ("redis://", "rediss://")
    ):
        return None

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5, socket_connect_timeout=5)
        ids: set[str] = set()
        # The queue's list, and its priority lists (the queue's name and a suffix).
        for key in client.scan_iter(match=f"{settings.CELERY_TASK_DEFAULT_QUEUE}*", _type="LIST"):
            ids.update(filter(None, (_task_id(raw) for raw in client.lrange(key, 0, -1))))
        ids.update(filter(None, (_task_id(raw, reserved=True) for raw in client.hvals("unacked"))))
        client.close()
    except redis.RedisError:
        logger.warning("reaper: the broker cannot be read, queued runs left as they are")
        return None
    return ids


def _task_id(raw: bytes, *, reserved: bool = False) -> str | None:
    try:
        message = json.loads(raw)
        if reserved:
            message = message[0]
        return message["headers"]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def remove_stale_downloads() -> int:
    """Under the fetch's lock: every `.part` in the incoming and archive folders was left by a
    dead fetch (a download, or an archive copy, cut by a kill)."""
    from exchanges.transfers import incoming_dir, received_dir  # noqa: PLC0415  (transfers imports this module)

    removed = 0
    for folder in (incoming_dir(), received_dir()):
        if not folder.is_dir():
            continue
        for path in folder.glob(".*.part"):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info("exchanges: stale partial downloads removed: %d", removed)
    return removed
