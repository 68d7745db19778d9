"""The orientation panel of the beneficiary page, without touching beneficiaries/views.py."""

from __future__ import annotations

from django import template

from orientations.models import OrientationDecision

register = template.Library()


@register.simple_tag
def orientation_summary(beneficiary) -> dict:
    decisions = OrientationDecision.objects.filter(beneficiary=beneficiary)
    return {
        "current": decisions.filter(ended_on__isnull=True)
        .select_related("referent_body", "correspondent")
        .first(),
        "count": decisions.count(),
    }
