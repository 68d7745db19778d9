"""Session lifetime: idle timeout, absolute lifetime, and ending a disabled account's sessions."""

from __future__ import annotations

import time
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

STARTED_AT = "session_started_at"
LAST_SEEN = "session_last_seen"
# Seconds between two writes of the last-seen time (and so of the session) while a user is
# active: a minute at most, and a tenth of the idle timeout, so that a short timeout (one
# minute) does not log out a user whose activity was not written down.
MAX_ACTIVITY_RESOLUTION = 60
ACTIVITY_RESOLUTION_SHARE = 10


def activity_resolution() -> float:
    return min(MAX_ACTIVITY_RESOLUTION, settings.SESSION_IDLE_TIMEOUT / ACTIVITY_RESOLUTION_SHARE)


def now() -> float:
    return time.time()


def mark_started(session) -> None:
    session[STARTED_AT] = session[LAST_SEEN] = now()


def end_sessions_of(user_id: int) -> int:
    """Delete every live session of this account; returns how many.

    The database session store has no index by user: the live sessions are
    decoded one by one, which is fine for a Département's few hundred users.
    """
    # Through the session engine, not the model: a cached_db store also keeps the session in
    # the cache, and deleting only the row would leave it readable there.
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id):
            store(session_key=session.session_key).delete()
            ended += 1
    return ended
