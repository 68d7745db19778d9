"""The "À orienter" queue: beneficiaries with no decision in force, newest RSA entrants first."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, QuerySet

from beneficiaries.models import Beneficiary
from orientations.models import OrientationDecision


def to_orient(*, communes: list[str] | None = None, territory=None) -> QuerySet[Beneficiary]:
    current = OrientationDecision.objects.filter(beneficiary=OuterRef("pk"), ended_on__isnull=True)
    queryset = Beneficiary.objects.filter(~Exists(current))
    if communes:
        queryset = queryset.filter(commune_code__in=communes)
    if territory is not None:
        queryset = queryset.filter(commune_code__in=territory.commune_codes)
    return queryset.order_by(F("rsa_start_date").desc(nulls_last=True), "-created_at", "-id")


def queue_communes(visible: QuerySet[Beneficiary] | None = None) -> list[str]:
    """Commune codes that have someone waiting (among `visible`), for the filter's list."""
    waiting = to_orient()
    if visible is not None:
        waiting = waiting.filter(pk__in=visible.values("pk"))
    return list(
        waiting.exclude(commune_code="")
        .order_by("commune_code")
        .values_list("commune_code", flat=True)
        .distinct()
    )
