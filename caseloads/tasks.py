import logging

from celery import shared_task

from caseloads.digest import send_digests

logger = logging.getLogger(__name__)


@shared_task
def weekly_digest() -> int:
    """The weekly « Nouveautés » e-mails (CELERY_BEAT_SCHEDULE["weekly-digest"])."""
    sent = send_digests()
    logger.info("weekly digest: %s e-mails sent", sent)
    return sent
