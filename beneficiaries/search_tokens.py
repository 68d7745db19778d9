"""The search text stays out of URLs: the form posts it, the cache keeps it under a short token.

A name or a NIR in a query string ends up in server and proxy logs, in the
browser's history and in the Referer of the next page. So the search box's
form is POSTed; the text is kept under an opaque token and the list's URL
carries only `?s=<token>` beside the other filters (statuses, codes, dates:
nothing personal), which still make a bookmarkable, shareable list. A token
unknown to the session (another user's link, an expired session or search)
shows the list without the search and says so.

The texts are kept in the cache (Redis in production, shared by the web
workers; one process's memory in the embedded mode), under a key bound to the
user's session, for the session's idle timeout after their last use. They used
to be kept in the session itself, and a new search then rewrote the session in
the database: four more statements and ~3 ms of CPU, a fifth of a search's
(docs/performance.md, "Fifth pass"). A search older than that asks to be typed
again, as it did when its session had expired.
"""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

_TOKEN = re.compile(r"^[0-9a-f]{12}$")


def _key(session, token: str) -> str:
    # The session key is a secret: a hash of it goes into the cache key, never the key itself.
    owner = hashlib.sha256(session.session_key.encode()).hexdigest()[:32]
    return f"beneficiaries:search:{owner}:{token}"


def remember(session, text: str) -> str:
    """Keep `text` for this session; returns its token (the same token for the same text)."""
    if session.session_key is None:
        session.save()
    # Derived from the session and the text: the same search gets the same URL, and nothing in
    # the token tells the text.
    token = salted_hmac("beneficiaries.search_tokens", f"{session.session_key}\0{text}").hexdigest()[:12]
    cache.set(_key(session, token), text, settings.SESSION_IDLE_TIMEOUT)
    return token


def recall(session, token: str) -> str | None:
    """The text kept under `token`, or None if this session has no such search (or no longer)."""
    if session.session_key is None or not _TOKEN.match(token):
        return None
    key = _key(session, token)
    text = cache.get(key)
    if text is not None:
        cache.touch(key, settings.SESSION_IDLE_TIMEOUT)
    return text
