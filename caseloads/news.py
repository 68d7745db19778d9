"""« Nouveautés »: what changed for the user's caseload since they last marked the news seen.

Events come from three sources, each dated by when it reached this application (not by the
date France Travail gives it): an import's end for the status events a PECGM file brought
(radiation, cessation with its motive, return to the stock, absence from the stock, new
category, a PPAE signed: exchanges.followup.events_between), the recording of an orientation
decision, the resolution of a review case. Newest first, each with the person it concerns, for
a link to the parcours. Only rows written once are read, never the history of the records: the
page is on every caseworker's morning path (docs/performance.md, "Twelfth pass").

Before the first « marquer comme vu », the last DEFAULT_DAYS are shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from beneficiaries.names import display_name
from caseloads.assignments import caseload
from caseloads.models import Preferences
from exchanges.models import (
    SUCCESSFUL_STATUSES,
    EventKind,
    ReviewCase,
    ReviewStatus,
    StatusEvent,
)
from orientations.models import OrientationDecision

DEFAULT_DAYS = 30
MAX_ITEMS = 200
# The France Travail events that call for a caseworker's attention.
EVENT_KINDS = (
    EventKind.RADIATION,
    EventKind.CESSATION,
    EventKind.RETURNED,
    EventKind.LEFT_STOCK,
    EventKind.CATEGORY_CHANGE,
    EventKind.PPAE_SIGNED,
)
ORIENTATION, REVIEW = "orientation", "review"
# Labels of the kinds, for the lists and the digest's counts.
KIND_LABELS = {
    EventKind.RADIATION: gettext_lazy("Radiation"),
    EventKind.CESSATION: gettext_lazy("Cessation d'inscription"),
    EventKind.RETURNED: gettext_lazy("Retour dans le fichier"),
    EventKind.LEFT_STOCK: gettext_lazy("Absent du dernier fichier"),
    EventKind.CATEGORY_CHANGE: gettext_lazy("Nouvelle catégorie"),
    EventKind.PPAE_SIGNED: gettext_lazy("PPAE signé"),
    ORIENTATION: gettext_lazy("Orientation décidée"),
    REVIEW: gettext_lazy("Rapprochement traité"),
}


@dataclass
class NewsItem:
    when: datetime  # when it reached the application
    day: date | None  # the date of the event itself
    kind: str
    beneficiary_id: int
    name: str
    detail: str = ""

    @property
    def label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))


def preferences(user) -> Preferences:
    return Preferences.objects.get_or_create(user=user)[0]


def since_for(user, now: datetime | None = None) -> datetime:
    seen = Preferences.objects.filter(user=user).values_list("news_seen_at", flat=True).first()
    return seen or (now or timezone.now()) - timedelta(days=DEFAULT_DAYS)


def mark_seen(user, now: datetime | None = None) -> None:
    Preferences.objects.update_or_create(user=user, defaults={"news_seen_at": now or timezone.now()})


def news(user, since: datetime | None = None, limit: int = MAX_ITEMS) -> list[NewsItem]:
    """The caseload's events that arrived after `since` (the user's last « vu » by default)."""
    since = since or since_for(user)
    people = {
        row[0]: display_name(*row[1:])
        for row in caseload(user).order_by().values_list("pk", "birth_name", "usage_name", "first_name")
    }
    if not people:
        return []
    ids = list(people)
    items: list[NewsItem] = []
    arrived = Coalesce(F("run__finished_at"), F("run__started_at"))
    events = (
        StatusEvent.objects.filter(
            beneficiary_id__in=ids, kind__in=EVENT_KINDS, run__status__in=SUCCESSFUL_STATUSES
        )
        .annotate(arrived=arrived)
        .filter(arrived__gt=since)
        .order_by("-arrived", "-id")
        .values_list("arrived", "date", "kind", "beneficiary_id", "motive", "motive_label", "new_value")[
            :limit
        ]
    )
    for when, day, kind, person, motive, motive_label, new_value in events:
        if motive or motive_label:
            detail = f"{_('motif')} : {motive} {motive_label}".strip()
        else:
            detail = new_value if kind == EventKind.CATEGORY_CHANGE else ""
        items.append(NewsItem(when, day, kind, person, people[person], detail))
    decisions = (
        OrientationDecision.objects.filter(beneficiary_id__in=ids, recorded_at__gt=since)
        .order_by("-recorded_at")
        .values_list("recorded_at", "decision_date", "beneficiary_id", "nature")[:limit]
    )
    natures = dict(OrientationDecision._meta.get_field("nature").choices)
    for when, day, person, nature in decisions:
        items.append(
            NewsItem(when, day, ORIENTATION, person, people[person], str(natures.get(nature, nature)))
        )
    reviews = (
        ReviewCase.objects.exclude(status=ReviewStatus.OPEN)
        .filter(resolved_at__gt=since)
        .annotate(person=Coalesce(F("beneficiary_id"), F("snapshot__beneficiary_id")))
        .filter(person__in=ids)
        .order_by("-resolved_at")
        .values_list("resolved_at", "person", "status")[:limit]
    )
    statuses = dict(ReviewStatus.choices)
    for when, person, status in reviews:
        items.append(
            NewsItem(
                when,
                timezone.localdate(when),
                REVIEW,
                person,
                people[person],
                str(statuses.get(status, status)),
            )
        )
    items.sort(key=lambda item: item.when, reverse=True)
    return items[:limit]


def counts(items: list[NewsItem]) -> list[tuple[str, int]]:
    """(label, count) by kind, in KIND_LABELS' order: what the digest says, and nothing more."""
    by_kind = Counter(item.kind for item in items)
    return [(str(label), by_kind[kind]) for kind, label in KIND_LABELS.items() if by_kind[kind]]
