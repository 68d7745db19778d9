"""The search text stays out of URLs: the form posts it, the session keeps it under a short token.

A name or a NIR in a query string ends up in server and proxy logs, in the
browser's history and in the Referer of the next page. So the search box's
form is POSTed; the text is kept in the user's session under an opaque token
and the list's URL carries only `?s=<token>` beside the other filters
(statuses, codes, dates: nothing personal), which still make a bookmarkable,
shareable list. A token unknown to the session (another user's link, an
expired session) shows the list without the search and says so.
"""

from __future__ import annotations

import secrets

SESSION_KEY = "beneficiary_searches"
# Searches kept per session: the most recent ones, enough for the browser's back button.
KEEP = 30


def remember(session, text: str) -> str:
    """Keep `text` in the session; returns its token (the same token for the same text)."""
    searches: dict[str, str] = session.get(SESSION_KEY, {})
    for token, known in searches.items():
        if known == text:
            return token
    token = secrets.token_urlsafe(6)
    searches[token] = text
    session[SESSION_KEY] = dict(list(searches.items())[-KEEP:])
    return token


def recall(session, token: str) -> str | None:
    """The text kept under `token`, or None if this session has no such search."""
    return session.get(SESSION_KEY, {}).get(token)
