import logging

from celery import shared_task

from rights.retention import purge

logger = logging.getLogger(__name__)


# Named as when it lived in audit.tasks: the beat schedule (and a queue holding an old message) says so.
@shared_task(name="audit.tasks.purge_data")
def purge_data() -> dict[str, int]:
    """The scheduled retention purge (CELERY_BEAT_SCHEDULE["retention-purge"])."""
    counts = {item.category: item.count for item in purge(apply=True)}
    logger.info("retention purge done: %s", counts)
    return counts
