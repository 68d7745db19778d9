import logging
import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import setup_logging, worker_ready
from django.conf import settings
from django.db import connections
from kombu.transport import redis as transport
from redis.exceptions import ConnectionError as RedisConnectionError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _closed_redis_transport_is_a_connection_error() -> None:
    """Work around a crash of the worker when Redis restarts (kombu 5.7.0, redis-py 8.2.0 here).

    On a lost broker connection the consumer closes its connection; closing the
    channel then restores the unacknowledged messages (acks_late: the running
    exchange's), which asks the transport for a new Redis client after the
    transport's own connection was already dropped: `AttributeError: 'NoneType'
    object has no attribute 'hostname'` in kombu's `Channel._connparams`. Not a
    connection error to kombu, so the worker stopped as "unrecoverable" (then
    `Error on stopping Hub`), and no exchange ran until someone restarted it.
    Raised as what it is, a connection error, kombu ignores it while closing and
    the consumer reconnects; the message stays in Redis's unacked set, and is
    given back after the visibility timeout if its task did not acknowledge it
    (a finished run is then not done again). tests/exchanges/test_faults_e2e.py
    restarts a real Redis under a running import to check it.
    """
    original = transport.Channel._connparams
    if getattr(original, "closed_transport_checked", False):
        return

    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection is closed")
        return original(self, asynchronous=asynchronous)

    _connparams.closed_transport_checked = True
    transport.Channel._connparams = _connparams


_closed_redis_transport_is_a_connection_error()

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

    dictConfig(settings.LOGGING)


@worker_ready.connect
def _reap_at_start(**kwargs) -> None:
    """A worker (re)starting: runs left « en cours » by a dead worker are ended and sent again.

    Run here, in the worker's main process, rather than as a task: the task could
    wait behind others, or go to a queue this worker does not read.
    """

    try:
        # Not at the top: config/__init__.py loads this module before the app registry is ready.
        from exchanges.reaper import reap  # noqa: PLC0415
        from exchanges.runs import worker_seen  # noqa: PLC0415

        worker_seen(getattr(kwargs.get("sender"), "hostname", "") or "worker")
        reap(at_worker_start=True)
    except Exception:  # the database down at start must not stop the worker: beat's reaper comes next
        logging.getLogger("exchanges.reaper").exception("reaper at worker start failed")
    finally:
        connections.close_all()
