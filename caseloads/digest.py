"""The weekly e-mail digest of « Nouveautés », for the users who asked for it.

Counts by kind and a link only: no name, NIR, birth date or any other personal data goes into
an e-mail (it leaves the Département's systems). Sent by the Celery beat (caseloads.tasks),
each user's news since the previous digest (or the last week, for a first one).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from caseloads import news
from caseloads.models import Preferences

logger = logging.getLogger(__name__)


def digest_text(counts: list[tuple[str, int]]) -> str:
    lines = [_("Nouveautés pour les personnes que vous suivez, depuis le dernier résumé :"), ""]
    lines += [f"- {label} : {count}" for label, count in counts]
    url = f"{settings.SITE_URL}{reverse('caseload')}" if settings.SITE_URL else ""
    lines += ["", _("Le détail : page « Mes bénéficiaires » de Liaison RSA.") + (f"\n{url}" if url else "")]
    return "\n".join(lines)


def send_digests(now: datetime | None = None) -> int:
    """E-mail each opted-in user with news; returns how many e-mails were sent."""
    now = now or timezone.now()
    sent = 0
    wanted = Preferences.objects.filter(weekly_digest=True, user__is_active=True).exclude(user__email="")
    for preferences in wanted.select_related("user"):
        since = preferences.digest_sent_at or now - timedelta(days=7)
        counts = news.counts(news.news(preferences.user, since=since))
        if not counts:
            continue
        try:
            send_mail(
                _("[Liaison RSA] Vos nouveautés de la semaine"),
                digest_text(counts),
                None,
                [preferences.user.email],
            )
        except Exception:  # one unreachable address must not stop the others
            logger.exception("weekly digest: e-mail to user %s not sent", preferences.user_id)
            continue
        preferences.digest_sent_at = now
        preferences.save(update_fields=["digest_sent_at"])
        sent += 1
    return sent
