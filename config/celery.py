import os

from celery import Celery
from celery.signals import setup_logging

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
