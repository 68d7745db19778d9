import os

from celery import Celery
from celery.signals import setup_logging, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("liaison_rsa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _configure_logging_from_django(**kwargs) -> None:
    """The worker and beat log through settings.LOGGING, as the web processes do.

    Without a receiver here, Celery replaces the root logger's handlers with its
    own, and the filter that masks a NIR slipped into a message (audit/logfilter.py)
    would be gone from the processes that run the imports.
    """
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_ready.connect
def _reap_at_start(**kwargs) -> None:
    """A worker (re)starting: runs left « en cours » by a dead worker are ended and sent again.

    Run here, in the worker's main process, rather than as a task: the task could
    wait behind others, or go to a queue this worker does not read.
    """
    import logging

    from django.db import connections

    try:
        from exchanges.reaper import reap
        from exchanges.runs import worker_seen

        worker_seen(getattr(kwargs.get("sender"), "hostname", "") or "worker")
        reap(at_worker_start=True)
    except Exception:  # the database down at start must not stop the worker: beat's reaper comes next
        logging.getLogger("exchanges.reaper").exception("reaper at worker start failed")
    finally:
        connections.close_all()
