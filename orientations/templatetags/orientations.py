"""The orientation panel of the beneficiary page, without touching beneficiaries/views.py."""

from __future__ import annotations

from django import template

from orientations.models import OrientationDecision

register = template.Library()


@register.simple_tag
def orientation_summary(beneficiary) -> dict:
    # One query for both: a person has a handful of decisions, and at most one in force.
    decisions = list(
        OrientationDecision.objects.filter(beneficiary=beneficiary).select_related(
            "referent_body", "correspondent"
        )
    )
    return {
        "current": next((decision for decision in decisions if decision.ended_on is None), None),
        "count": len(decisions),
    }
