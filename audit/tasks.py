import logging

from celery import shared_task

from audit.retention import purge

logger = logging.getLogger(__name__)


@shared_task
def purge_data() -> dict[str, int]:
    """The scheduled retention purge (CELERY_BEAT_SCHEDULE["retention-purge"])."""
    counts = {item.category: item.count for item in purge(apply=True)}
    logger.info("retention purge done: %s", counts)
    return counts
