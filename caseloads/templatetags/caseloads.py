"""Template helpers of the caseload panels (home page, « Mes bénéficiaires », a person's page)."""

from __future__ import annotations

from django import template

from caseloads import news
from caseloads.assignments import caseload_count as count_caseload
from caseloads.models import Note, Preferences

register = template.Library()


@register.simple_tag(takes_context=True)
def caseload_count(context) -> int:
    return count_caseload(context["request"].user)


@register.simple_tag(takes_context=True)
def caseload_news(context) -> dict:
    """The news since the user's last « vu », read once per page (home and list may both ask)."""
    request = context["request"]
    found = getattr(request, "_caseload_news", None)
    if found is None:
        since = news.since_for(request.user)
        found = {"since": since, "items": news.news(request.user, since)}
        request._caseload_news = found
    return found


@register.simple_tag(takes_context=True)
def digest_enabled(context) -> bool:
    user = context["request"].user
    return Preferences.objects.filter(user=user, weekly_digest=True).exists()


@register.filter
def editable_by(note: Note, user) -> bool:
    return note.editable_by(user)
